"""Consultations: who may take part, the chat, presence, and the end (pages and socket).

A consultation is started the short way: the agent is available and the citizen enters an
empty waiting room, so the free seat admits them at once.
"""

from __future__ import annotations

import datetime as dt

import pytest
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation

from buergerbuero.config.asgi import application
from buergerbuero.consult import services as consult_services
from buergerbuero.consult.models import ChatMessage, Consultation, ParticipantRole
from buergerbuero.consult.services import ConsultError, Participant
from buergerbuero.offices.models import Office
from buergerbuero.realtime.hub import hub
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import AgentPresence, PresenceState, Ticket, TicketStatus
from buergerbuero.waiting.services import calling, joining
from tests.consult.support import (
    OPEN,
    agent_page,
    body,
    citizen_url,
    connect,
    end_url,
    german,
    logged_in,
    receive_json,
    receive_until,
    refused,
    start_consultation,
)
from tests.support.realtime import hub_listening


# --- services -------------------------------------------------------------------------------
@pytest.mark.django_db
def test_participants_are_the_ticket_holder_and_the_agent_only(
    consultation: Consultation, agent: User, colleague: User
) -> None:
    pk, token = consultation.pk, consultation.ticket.token

    citizen = consult_services.participant(pk, token=token)
    staff = consult_services.participant(pk, member=agent.staff_member)

    assert citizen is not None
    assert citizen.role == ParticipantRole.CITIZEN
    assert staff is not None
    assert staff.role == ParticipantRole.AGENT
    assert consult_services.participant(pk, token="wrong") is None
    assert consult_services.participant(pk, member=colleague.staff_member) is None
    assert consult_services.participant(pk) is None
    assert consult_services.participant(pk + 1000, token=token) is None


@pytest.mark.django_db
def test_chat_messages_are_stored_and_validated(consultation: Consultation) -> None:
    who = Participant(consultation, ParticipantRole.CITIZEN)

    message = consult_services.post_message(who, "  Guten Tag  ", now=OPEN)
    with translation.override("en"), pytest.raises(ConsultError) as empty:
        consult_services.post_message(who, "   ")
    with translation.override("en"), pytest.raises(ConsultError) as too_long:
        consult_services.post_message(who, "x" * 2001)
    consult_services.post_message(who, "x" * 2000)

    assert message.text == "Guten Tag"
    assert (empty.value.code, too_long.value.code) == ("empty", "too_long")
    assert too_long.value.message == "Messages can be at most 2,000 characters long."
    assert [m["text"] for m in consult_services.history(consultation)] == ["Guten Tag", "x" * 2000]


@pytest.mark.django_db
def test_only_its_agent_ends_a_consultation_and_ending_twice_is_harmless(
    consultation: Consultation, agent: User, colleague: User
) -> None:
    with pytest.raises(ConsultError) as refused:
        consult_services.end_consultation(consultation, colleague.staff_member, now=OPEN)
    assert refused.value.code == "not_agent"

    later = OPEN + dt.timedelta(minutes=12)
    assert consult_services.end_consultation(consultation, agent.staff_member, now=later) is True
    assert consult_services.end_consultation(consultation, agent.staff_member, now=later) is False

    consultation.refresh_from_db()
    assert consultation.ended_at == later
    ticket = Ticket.objects.get(pk=consultation.ticket_id)
    assert (ticket.status, ticket.ended_at) == (TicketStatus.DONE, later)
    assert AgentPresence.objects.get(member=agent.staff_member).state == PresenceState.AVAILABLE


@pytest.mark.django_db
def test_ending_frees_the_seat_for_the_next_citizen(office: Office, agent: User) -> None:
    consultation = start_consultation(office, agent)
    waiting = joining.join(
        office, service=None, display_name="", language="de", mode="video", now=OPEN + dt.timedelta(seconds=1)
    )
    assert Ticket.objects.get(pk=waiting.pk).status == TicketStatus.WAITING

    consult_services.end_consultation(consultation, agent.staff_member, now=OPEN + dt.timedelta(seconds=600))

    called = calling.call_next(agent.staff_member, now=OPEN + dt.timedelta(seconds=601))
    assert called is not None
    assert called.pk == waiting.pk


# --- pages ----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_citizen_page_is_the_consultation_of_the_ticket(consultation: Consultation) -> None:
    response = Client().get(citizen_url("citizen", consultation))

    assert response.status_code == 200
    assert f'data-consultation="{consultation.pk}"' in body(response)
    assert 'data-role="citizen"' in body(response)


@pytest.mark.django_db
def test_citizen_page_sends_a_waiting_citizen_back_to_the_waiting_room(office: Office) -> None:
    ticket = joining.join(office, service=None, display_name="", language="de", mode="video", now=OPEN)

    response = Client().get(reverse("consult:citizen", kwargs={"token": ticket.token}))

    assert response.status_code == 302
    assert response["Location"] == reverse("waiting:room", kwargs={"token": ticket.token})
    assert Client().get("/w/no-such-token/consultation/").status_code == 404


@pytest.mark.django_db
def test_agent_page_only_for_the_consultations_agent(
    consultation: Consultation, agent: User, colleague: User, foreign_agent: User, outsider: User
) -> None:
    url = agent_page(consultation)

    response = logged_in(agent).get(url)
    assert response.status_code == 200
    assert 'data-role="agent"' in body(response)
    assert "Anna Beispiel" in body(response)  # the agent sees the name the citizen gave

    assert logged_in(colleague).get(url).status_code == 404
    assert logged_in(foreign_agent).get(url).status_code == 404
    assert logged_in(outsider).get(url).status_code == 404
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("staff:login"))


@pytest.mark.django_db
def test_end_takes_the_citizen_to_the_closing_page(consultation: Consultation, agent: User) -> None:
    response = logged_in(agent).post(end_url(consultation))

    assert response.status_code == 302
    assert response["Location"] == reverse("waiting:console")
    ticket = Ticket.objects.get(pk=consultation.ticket_id)
    assert ticket.status == TicketStatus.DONE
    assert Consultation.objects.get(pk=consultation.pk).ended_at is not None

    done = Client(headers={"accept-language": "en"}).get(citizen_url("done", consultation))
    assert done.status_code == 200
    assert "The consultation has ended" in body(done)
    assert Client().get(citizen_url("citizen", consultation))["Location"] == citizen_url("done", consultation)
    room = Client().get(reverse("waiting:room", kwargs={"token": ticket.token}))
    assert room["Location"] == citizen_url("done", consultation)
    assert logged_in(agent).get(agent_page(consultation))["Location"] == reverse("waiting:console")


@pytest.mark.django_db
def test_closing_page_only_after_the_end(consultation: Consultation) -> None:
    assert Client().get(citizen_url("done", consultation)).status_code == 404


@pytest.mark.django_db
def test_nobody_else_can_end_a_consultation(
    consultation: Consultation, colleague: User, outsider: User, agent: User
) -> None:
    assert logged_in(colleague).post(end_url(consultation)).status_code == 404
    assert logged_in(outsider).post(end_url(consultation)).status_code == 404
    assert Client().post(end_url(consultation)).status_code == 302  # to the login
    assert logged_in(agent).get(end_url(consultation)).status_code == 405

    assert Consultation.objects.get(pk=consultation.pk).is_open


# --- the consultation's socket ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_citizen_and_agent_chat_with_each_other(consultation: Consultation, agent: User) -> None:
    await hub_listening()
    citizen = await connect(consultation.pk, token=consultation.ticket.token)
    assert await receive_json(citizen) == {
        "type": "history",
        "role": "citizen",
        "messages": [],
        "documents": [],
        "form": None,  # no form of the office open (consult.filling)
        "forms": [],  # the forms the staff member could open: this office has none
        "ice_servers": [],  # no TURN configured: direct calls only
        "ice_transport_policy": "all",
    }
    staff = await connect(consultation.pk, user=agent)
    assert await receive_json(staff) == {
        "type": "history",
        "role": "agent",
        "messages": [],
        "documents": [],
        "form": None,  # no form of the office open (consult.filling)
        "forms": [],  # the forms the staff member could open: this office has none
        "ice_servers": [],  # no TURN configured: direct calls only
        "ice_transport_policy": "all",
    }

    await citizen.send_json_to({"type": "chat", "text": "Guten Tag, ich brauche einen Pass."})
    to_citizen = (await receive_until(citizen, type="chat"))[-1]
    to_agent = (await receive_until(staff, type="chat"))[-1]
    await staff.send_json_to({"type": "chat", "text": "Gern, einen Moment."})
    reply = (await receive_until(citizen, type="chat"))[-1]
    assert (await receive_until(staff, type="chat"))[-1] == reply

    assert to_citizen == to_agent
    assert (to_citizen["author"], to_citizen["text"]) == ("citizen", "Guten Tag, ich brauche einen Pass.")
    assert (reply["author"], reply["text"]) == ("agent", "Gern, einen Moment.")
    await citizen.disconnect()
    await staff.disconnect()
    assert hub.size(consult_services.consultation_group(consultation.pk)) == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_presence_is_announced_both_ways(consultation: Consultation, agent: User) -> None:
    await hub_listening()
    citizen = await connect(consultation.pk, token=consultation.ticket.token)
    await receive_until(citizen, type="history")

    staff = await connect(consultation.pk, user=agent)
    # The citizen learns that the agent came; the agent learns that the citizen is already there.
    await receive_until(citizen, type="presence", role="agent", online=True)
    await receive_until(staff, type="presence", role="citizen", online=True)

    await citizen.disconnect()
    await receive_until(staff, type="presence", role="citizen", online=False)
    await staff.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_presence_names_the_connection_so_a_late_offline_is_recognisable(
    consultation: Consultation, agent: User
) -> None:
    await hub_listening()
    staff = await connect(consultation.pk, user=agent)
    await receive_until(staff, type="history")
    first = await connect(consultation.pk, token=consultation.ticket.token)
    [*_, first_online] = await receive_until(staff, type="presence", role="citizen", online=True)

    # The citizen's page reloads: the new socket opens before the old one is reported closed.
    second = await connect(consultation.pk, token=consultation.ticket.token)
    [*_, second_online] = await receive_until(staff, type="presence", role="citizen", online=True)
    await first.disconnect()
    [*_, first_offline] = await receive_until(staff, type="presence", role="citizen", online=False)

    assert first_online["connection"] != second_online["connection"]
    assert first_offline["connection"] == first_online["connection"]
    await second.disconnect()
    [*_, second_offline] = await receive_until(staff, type="presence", role="citizen", online=False)
    assert second_offline["connection"] == second_online["connection"]
    await staff.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_history_is_sent_on_reconnect(consultation: Consultation) -> None:
    who = Participant(consultation, ParticipantRole.AGENT)
    await database_sync_to_async(consult_services.post_message)(who, "Sind Sie noch da?")

    citizen = await connect(consultation.pk, token=consultation.ticket.token)
    history = await receive_json(citizen)

    assert [(m["author"], m["text"]) for m in history["messages"]] == [("agent", "Sind Sie noch da?")]
    await citizen.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_everyone_else_is_refused(
    consultation: Consultation, colleague: User, foreign_agent: User, outsider: User, office: Office
) -> None:
    other_ticket = await database_sync_to_async(joining.join)(
        office, service=None, display_name="", language="de", mode="video", now=OPEN
    )

    assert await refused(consultation.pk)
    assert await refused(consultation.pk, token="not-the-token")
    assert await refused(consultation.pk, token=other_ticket.token)
    assert await refused(consultation.pk, user=colleague)
    assert await refused(consultation.pk, user=foreign_agent)
    assert await refused(consultation.pk, user=outsider)
    assert await refused(consultation.pk + 1000, token=consultation.ticket.token)
    foreign_origin = WebsocketCommunicator(
        application,
        f"/ws/consultations/{consultation.pk}/?ticket={consultation.ticket.token}",
        headers=[(b"host", b"localhost"), (b"origin", b"https://evil.example")],
    )
    assert (await foreign_origin.connect())[0] is False
    assert hub.size(consult_services.consultation_group(consultation.pk)) == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_ended_consultation_is_closed_to_everyone(
    consultation: Consultation, agent_member: StaffMember, agent: User
) -> None:
    await database_sync_to_async(consult_services.end_consultation)(consultation, agent_member)

    assert await refused(consultation.pk, token=consultation.ticket.token)
    assert await refused(consultation.pk, user=agent)


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_end_reaches_both_sockets(
    consultation: Consultation, agent_member: StaffMember, agent: User
) -> None:
    await hub_listening()
    citizen = await connect(consultation.pk, token=consultation.ticket.token)
    staff = await connect(consultation.pk, user=agent)

    await database_sync_to_async(consult_services.end_consultation)(consultation, agent_member)

    await receive_until(citizen, type="ended")
    await receive_until(staff, type="ended")
    await citizen.disconnect()
    await staff.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_empty_or_oversized_chat_gets_an_error_not_a_crash(consultation: Consultation) -> None:
    citizen = await connect(consultation.pk, token=consultation.ticket.token)
    await receive_until(citizen, type="history")

    await citizen.send_json_to({"type": "chat", "text": "   "})
    empty = (await receive_until(citizen, type="error"))[-1]
    await citizen.send_json_to({"type": "chat", "text": "x" * 2001})
    too_long = (await receive_until(citizen, type="error"))[-1]
    await citizen.send_json_to({"type": "chat", "text": 42})
    not_text = (await receive_until(citizen, type="error"))[-1]

    assert empty["message"] == german("Please write a message.")
    assert too_long["message"] == german("Messages can be at most 2,000 characters long.")
    assert not_text["message"] == german("Please write a message.")

    # Beyond the socket's size limit (the page's chat box cannot send that): refused to the page.
    await citizen.send_json_to({"type": "chat", "text": "x" * 200_000})
    assert (await receive_until(citizen, type="signal_refused"))[-1]["code"] == "too_large"
    # Not JSON at all, or of no known type: ignored.
    await citizen.send_to(text_data="{not json")
    await citizen.send_json_to({"type": "video-offer"})
    assert await citizen.receive_nothing(timeout=0.3)

    await citizen.send_json_to({"type": "chat", "text": "Noch da"})
    assert (await receive_until(citizen, type="chat"))[-1]["text"] == "Noch da"
    assert await database_sync_to_async(ChatMessage.objects.count)() == 1
    await citizen.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_chat_after_the_end_is_refused(consultation: Consultation, agent_member: StaffMember) -> None:
    citizen = await connect(consultation.pk, token=consultation.ticket.token)
    await receive_until(citizen, type="history")
    await database_sync_to_async(consult_services.end_consultation)(consultation, agent_member)
    await receive_until(citizen, type="ended")

    await citizen.send_json_to({"type": "chat", "text": "Hallo?"})
    answer = await receive_json(citizen)
    await citizen.disconnect()

    assert answer == {"type": "error", "message": german("This consultation has ended.")}
    assert await database_sync_to_async(ChatMessage.objects.count)() == 0


@pytest.mark.django_db
def test_non_ascii_token_is_no_participant_not_a_crash(consultation: Consultation) -> None:
    assert consult_services.participant(consultation.pk, token="ä") is None


@pytest.mark.django_db
def test_the_consoles_link_leads_to_the_staff_members_open_consultation(office: Office, agent: User) -> None:
    current = reverse("consult:current")
    assert logged_in(agent).get(current)["Location"] == reverse("waiting:console")

    consultation = start_consultation(office, agent)

    assert logged_in(agent).get(current)["Location"] == agent_page(consultation)
    assert Client().get(current)["Location"].startswith(reverse("staff:login"))

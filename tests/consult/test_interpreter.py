"""Interpreters: invited by the consultation's agent with a single-use, expiring link; the
browser that opens it becomes the third participant (by cookie) until the agent removes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings

from buergerbuero.consult import services as consult_services
from buergerbuero.consult.models import Consultation, InterpreterInvite, ParticipantRole
from buergerbuero.consult.services import ConsultError
from buergerbuero.realtime import publish as realtime_publish
from buergerbuero.staff.models import StaffMember
from tests.consult.support import (
    communicator,
    connect,
    english,
    logged_in,
    receive_json,
    receive_until,
)
from tests.support.realtime import hub_listening

INVALID_LINK = "This invitation link is not valid (any more)."
NOT_OPEN = "This consultation is not open to you (any more)."


def invite_url(consultation: Consultation) -> str:
    return reverse("consult:invite", kwargs={"consultation_id": consultation.pk})


def remove_url(consultation: Consultation) -> str:
    return reverse("consult:remove_interpreter", kwargs={"consultation_id": consultation.pk})


def link(secret: str) -> str:
    return reverse("consult:interpreter_invite", args=[secret])


def interpreter_page(consultation_id: int) -> str:
    return reverse("consult:interpreter", kwargs={"consultation_id": consultation_id})


def claimed(consultation: Consultation, member: StaffMember) -> str:
    """The session secret of a freshly invited and claimed interpreter."""
    secret = consult_services.invite_interpreter(consultation, member)
    _consultation, session = consult_services.claim_invite(secret)
    return session


def record_events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """What the services hand to ``publish`` (sent after the commit in production), decoded
    the way a socket would see it."""
    sent: list[tuple[str, dict[str, Any]]] = []

    def publish(group: str, payload: dict[str, Any]) -> None:
        sent.append((group, json.loads(realtime_publish.encode(payload))))

    monkeypatch.setattr(consult_services, "publish", publish)
    return sent


# --- invitations ----------------------------------------------------------------------------
@pytest.mark.django_db
def test_only_the_consultations_agent_invites(
    consultation: Consultation, colleague: User, foreign_agent: User, outsider: User, agent: User
) -> None:
    for member in (colleague.staff_member, foreign_agent.staff_member):
        with pytest.raises(ConsultError) as refused:
            consult_services.invite_interpreter(consultation, member)
        assert refused.value.code == "not_agent"

    assert logged_in(colleague).post(invite_url(consultation)).status_code == 404
    assert logged_in(foreign_agent).post(invite_url(consultation)).status_code == 404
    assert logged_in(outsider).post(invite_url(consultation)).status_code == 404
    anonymous = english().post(invite_url(consultation))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("staff:login"))
    assert english().post(invite_url(consultation), {"ticket": consultation.ticket.token}).status_code == 302
    assert logged_in(agent).get(invite_url(consultation)).status_code == 405
    assert not InterpreterInvite.objects.exists()


@pytest.mark.django_db
def test_agent_gets_a_link_whose_secret_is_stored_only_hashed(
    consultation: Consultation, agent: User, settings: Settings
) -> None:
    settings.INTERPRETER_INVITE_HOURS = 2

    response = logged_in(agent).post(invite_url(consultation))

    assert response.status_code == 200
    url = response.json()["link"]
    prefix = "http://testserver/interpret/"
    assert url.startswith(prefix)
    assert url.endswith("/")
    secret = url.removeprefix(prefix).removesuffix("/")
    assert len(secret) >= 40  # 32 random bytes, URL-safe
    invite = InterpreterInvite.objects.get()
    assert invite.consultation_id == consultation.pk
    assert invite.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {invite.token_hash, invite.session_hash}
    assert invite.expires_at - invite.created_at == dt.timedelta(hours=2)
    assert (invite.claimed_at, invite.removed_at, invite.session_hash) == (None, None, "")


@pytest.mark.django_db
def test_every_invite_is_a_different_secret(consultation: Consultation, agent_member: StaffMember) -> None:
    secrets_given = {consult_services.invite_interpreter(consultation, agent_member) for _ in range(5)}

    assert len(secrets_given) == 5
    assert InterpreterInvite.objects.count() == 5


@pytest.mark.django_db
def test_link_is_claimed_once(consultation: Consultation, agent_member: StaffMember) -> None:
    secret = consult_services.invite_interpreter(consultation, agent_member)

    got, session = consult_services.claim_invite(secret)
    with pytest.raises(ConsultError) as again:
        consult_services.claim_invite(secret)

    assert got.pk == consultation.pk
    assert again.value.code == "bad_invite"
    invite = InterpreterInvite.objects.get()
    assert invite.claimed_at is not None
    assert invite.session_hash == hashlib.sha256(session.encode()).hexdigest()
    assert session != secret


@pytest.mark.django_db
def test_second_browser_opening_the_link_is_refused(
    consultation: Consultation, agent_member: StaffMember
) -> None:
    secret = consult_services.invite_interpreter(consultation, agent_member)
    first, second = english(), english()

    assert first.post(link(secret)).status_code == 302
    response = second.post(link(secret))

    assert response.status_code == 410
    assert INVALID_LINK in response.content.decode()
    assert consult_services.interpreter_cookie(consultation.pk) not in response.cookies
    assert second.get(interpreter_page(consultation.pk)).status_code == 403
    assert first.get(interpreter_page(consultation.pk)).status_code == 200
    # Reloading the link in the first browser does not take the call away from it either.
    assert first.post(link(secret)).status_code == 410
    assert first.get(interpreter_page(consultation.pk)).status_code == 200


@pytest.mark.django_db
def test_expired_link_is_refused(consultation: Consultation, agent_member: StaffMember) -> None:
    invited = timezone.now()
    hours = dt.timedelta(hours=4)  # INTERPRETER_INVITE_HOURS
    late = consult_services.invite_interpreter(consultation, agent_member, now=invited)
    in_time = consult_services.invite_interpreter(consultation, agent_member, now=invited)

    with pytest.raises(ConsultError) as refused:
        consult_services.claim_invite(late, now=invited + hours)
    got, _session = consult_services.claim_invite(in_time, now=invited + hours - dt.timedelta(seconds=1))

    assert refused.value.code == "bad_invite"
    assert got.pk == consultation.pk


@pytest.mark.django_db
def test_expired_link_page(consultation: Consultation, agent_member: StaffMember) -> None:
    secret = consult_services.invite_interpreter(
        consultation, agent_member, now=timezone.now() - dt.timedelta(hours=5)
    )

    response = english().post(link(secret))

    assert response.status_code == 410
    assert INVALID_LINK in response.content.decode()
    assert consult_services.interpreter_cookie(consultation.pk) not in response.cookies


@pytest.mark.django_db
def test_removed_link_is_refused(consultation: Consultation, agent_member: StaffMember) -> None:
    secret = consult_services.invite_interpreter(consultation, agent_member)
    consult_services.remove_interpreter(consultation, agent_member)

    with pytest.raises(ConsultError) as refused:
        consult_services.claim_invite(secret)

    assert refused.value.code == "bad_invite"


@pytest.mark.django_db
def test_link_for_an_ended_consultation_is_refused(
    consultation: Consultation, agent_member: StaffMember, agent: User
) -> None:
    secret = consult_services.invite_interpreter(consultation, agent_member)
    consult_services.end_consultation(consultation, agent_member)
    consultation.refresh_from_db()

    with pytest.raises(ConsultError) as claim:
        consult_services.claim_invite(secret)
    with pytest.raises(ConsultError) as invite:
        consult_services.invite_interpreter(consultation, agent_member)
    response = logged_in(agent).post(invite_url(consultation))

    assert (claim.value.code, invite.value.code) == ("bad_invite", "ended")
    assert english().post(link(secret)).status_code == 410
    assert response.status_code == 409
    assert response.json() == {"error": "This consultation has ended."}
    assert InterpreterInvite.objects.count() == 1


@pytest.mark.django_db
def test_guessed_secrets_are_refused(consultation: Consultation, agent_member: StaffMember) -> None:
    secret = consult_services.invite_interpreter(consultation, agent_member)
    stored_hash = InterpreterInvite.objects.get().token_hash

    for guess in (secrets.token_urlsafe(32), stored_hash, secret[:-1], secret.upper(), ""):
        if guess == secret:
            continue
        with pytest.raises(ConsultError):
            consult_services.claim_invite(guess)
    response = english().post(link(secrets.token_urlsafe(32)))

    assert response.status_code == 410
    assert consult_services.interpreter_cookie(consultation.pk) not in response.cookies
    # None of that used up the real link.
    assert consult_services.claim_invite(secret)[0].pk == consultation.pk


@pytest.mark.django_db
def test_guessed_interpreter_cookies_are_no_participant(
    consultation: Consultation, agent_member: StaffMember
) -> None:
    claimed(consultation, agent_member)
    guesser = english()
    guesser.cookies[consult_services.interpreter_cookie(consultation.pk)] = secrets.token_urlsafe(32)

    assert (
        consult_services.participant(consultation.pk, interpreter_session=secrets.token_urlsafe(32)) is None
    )
    assert consult_services.participant(consultation.pk, interpreter_session="") is None
    assert guesser.get(interpreter_page(consultation.pk)).status_code == 403


# --- the claimed browser --------------------------------------------------------------------
@pytest.mark.django_db
def test_invite_page_sets_an_httponly_lax_cookie_and_shows_the_call(
    consultation: Consultation, agent_member: StaffMember
) -> None:
    secret = consult_services.invite_interpreter(consultation, agent_member)
    browser = english()

    response = browser.post(link(secret))

    assert response.status_code == 302
    assert response["Location"] == interpreter_page(consultation.pk)
    cookie = response.cookies[consult_services.interpreter_cookie(consultation.pk)]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["max-age"] == 12 * 3600
    assert cookie["secure"] == ""  # plain http in the test; see the next test
    assert cookie.value not in {secret, ""}
    invite = InterpreterInvite.objects.get()
    assert invite.session_hash == hashlib.sha256(cookie.value.encode()).hexdigest()

    page = browser.get(interpreter_page(consultation.pk))
    assert page.status_code == 200
    assert 'data-role="interpreter"' in page.content.decode()
    assert english().get(interpreter_page(consultation.pk)).status_code == 403


@pytest.mark.django_db
def test_cookie_is_secure_over_https(consultation: Consultation, agent_member: StaffMember) -> None:
    secret = consult_services.invite_interpreter(consultation, agent_member)

    response = english().post(link(secret), secure=True)

    assert response.cookies[consult_services.interpreter_cookie(consultation.pk)]["secure"] is True


@pytest.mark.django_db
def test_the_cookie_makes_a_participant_of_this_consultation_only(
    consultation: Consultation, other_consultation: Consultation, agent_member: StaffMember
) -> None:
    session = claimed(consultation, agent_member)

    who = consult_services.participant(consultation.pk, interpreter_session=session)
    assert who is not None
    assert (who.role, who.consultation.pk) == (ParticipantRole.INTERPRETER, consultation.pk)
    assert consult_services.participant(other_consultation.pk, interpreter_session=session) is None

    # The same secret under the other consultation's cookie name opens nothing there.
    browser = english()
    browser.cookies[consult_services.interpreter_cookie(other_consultation.pk)] = session
    assert browser.get(interpreter_page(other_consultation.pk)).status_code == 403
    assert browser.get(interpreter_page(consultation.pk)).status_code == 403  # wrong name here


@pytest.mark.django_db
def test_interpreter_page_closes_after_the_end(consultation: Consultation, agent_member: StaffMember) -> None:
    secret = consult_services.invite_interpreter(consultation, agent_member)
    browser = english()
    browser.post(link(secret))
    consult_services.end_consultation(consultation, agent_member)

    response = browser.get(interpreter_page(consultation.pk))

    assert response.status_code == 403
    assert NOT_OPEN in response.content.decode()
    done = english().get(reverse("consult:interpreter_done"))
    assert "Thank you for interpreting" in done.content.decode()


# --- removal --------------------------------------------------------------------------------
@pytest.mark.django_db
def test_only_the_agent_removes_the_interpreter(
    consultation: Consultation,
    agent_member: StaffMember,
    agent: User,
    colleague: User,
    outsider: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = claimed(consultation, agent_member)
    events = record_events(monkeypatch)

    with pytest.raises(ConsultError) as refused:
        consult_services.remove_interpreter(consultation, colleague.staff_member)
    assert refused.value.code == "not_agent"
    assert logged_in(colleague).post(remove_url(consultation)).status_code == 404
    assert logged_in(outsider).post(remove_url(consultation)).status_code == 404
    assert english().post(remove_url(consultation)).status_code == 302  # to the login
    assert consult_services.participant(consultation.pk, interpreter_session=session) is not None
    assert events == []

    response = logged_in(agent).post(remove_url(consultation))

    assert response.status_code == 200
    assert response.json() == {"removed": 1}
    assert consult_services.participant(consultation.pk, interpreter_session=session) is None
    assert events == [(f"consultation:{consultation.pk}", {"type": "interpreter_removed"})]


@pytest.mark.django_db
def test_removed_interpreter_loses_the_page_and_a_new_one_can_be_invited(
    consultation: Consultation, agent_member: StaffMember
) -> None:
    first = english()
    first.post(link(consult_services.invite_interpreter(consultation, agent_member)))
    consult_services.remove_interpreter(consultation, agent_member)

    second = english()
    second.post(link(consult_services.invite_interpreter(consultation, agent_member)))

    assert first.get(interpreter_page(consultation.pk)).status_code == 403
    assert second.get(interpreter_page(consultation.pk)).status_code == 200


# --- the socket -----------------------------------------------------------------------------
def interpreter_socket(consultation_id: int, session: str) -> Any:
    return communicator(
        consultation_id, cookie=f"{consult_services.interpreter_cookie(consultation_id)}={session}"
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_removal_closes_the_interpreters_socket_only(
    consultation: Consultation, agent_member: StaffMember, agent: User
) -> None:
    await hub_listening()
    session = await database_sync_to_async(claimed)(consultation, agent_member)
    citizen = await connect(consultation.pk, token=consultation.ticket.token)
    staff = await connect(consultation.pk, user=agent)
    await receive_until(citizen, type="presence", role="agent", online=True)
    interpreter = interpreter_socket(consultation.pk, session)
    connected, _code = await interpreter.connect()
    assert connected
    history = await receive_json(interpreter)
    assert history["role"] == "interpreter"
    await receive_until(staff, type="presence", role="interpreter", online=True)
    await receive_until(citizen, type="presence", role="interpreter", online=True)

    removed = await database_sync_to_async(consult_services.remove_interpreter)(consultation, agent_member)

    assert removed == 1
    heard: list[dict[str, Any]] = []
    while True:
        output = await interpreter.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            break
        heard.append(json.loads(output["text"]))
    assert output["code"] == 4403
    assert heard[-1] == {"type": "interpreter_removed"}
    await interpreter.disconnect()
    for socket in (staff, citizen):
        await receive_until(socket, type="interpreter_removed")
        await receive_until(socket, type="presence", role="interpreter", online=False)

    # Citizen and agent carry on.
    await citizen.send_json_to({"type": "chat", "text": "Weiter ohne Dolmetscher"})
    assert (await receive_until(staff, type="chat"))[-1]["text"] == "Weiter ohne Dolmetscher"
    await citizen.disconnect()
    await staff.disconnect()

    # Coming back with the same cookie is refused.
    connected, code = await interpreter_socket(consultation.pk, session).connect()
    assert (connected, code) == (False, 4403)


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_interpreter_cookie_does_not_open_another_consultations_socket(
    consultation: Consultation, other_consultation: Consultation, agent_member: StaffMember
) -> None:
    session = await database_sync_to_async(claimed)(consultation, agent_member)

    other = interpreter_socket(other_consultation.pk, session)
    assert await other.connect() == (False, 4403)
    own_name_elsewhere = communicator(
        other_consultation.pk, cookie=f"{consult_services.interpreter_cookie(consultation.pk)}={session}"
    )
    assert await own_name_elsewhere.connect() == (False, 4403)
    assert await interpreter_socket(consultation.pk, secrets.token_urlsafe(32)).connect() == (False, 4403)

    mine = interpreter_socket(consultation.pk, session)
    assert (await mine.connect())[0] is True
    await mine.disconnect()


@pytest.mark.django_db
def test_opening_the_link_only_shows_a_join_button(
    consultation: Consultation, agent_member: StaffMember
) -> None:
    """Mail and messenger previews open links too: a GET must not use up the invite."""
    secret = consult_services.invite_interpreter(consultation, agent_member)

    preview = english().get(link(secret))
    assert preview.status_code == 200
    assert "data-join-as-interpreter" in preview.content.decode()
    assert consult_services.invite_is_open(secret)

    assert english().post(link(secret)).status_code == 302
    assert not consult_services.invite_is_open(secret)

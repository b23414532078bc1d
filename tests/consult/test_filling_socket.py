"""Forms filled in together over the consultation's socket: open, edit, focus, refusals,
the state on (re)connection, and the groups empty after disconnect."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User

from buergerbuero.consult import services as consult_services
from buergerbuero.consult.consumers import ConsultationConsumer
from buergerbuero.consult.models import Consultation, SharedFormValue
from buergerbuero.forms.models import FormTemplate
from buergerbuero.realtime.hub import hub
from tests.consult.filling_support import registration_form
from tests.consult.support import communicator, connect, receive_until
from tests.support.realtime import hub_listening

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.anyio]


async def both(consultation: Consultation, agent: User) -> tuple[Any, Any]:
    await hub_listening()
    citizen = await connect(consultation.pk, token=consultation.ticket.token)
    await receive_until(citizen, type="history")
    staff = await connect(consultation.pk, user=agent)
    await receive_until(staff, type="history")
    return citizen, staff


async def test_the_agent_opens_a_form_and_edits_reach_everyone_with_their_version(
    consultation: Consultation, agent: User
) -> None:
    template: FormTemplate = await database_sync_to_async(registration_form)(consultation.office)
    citizen, staff = await both(consultation, agent)
    await staff.send_json_to({"type": "form.open", "template": template.pk})
    [*_, opened] = await receive_until(citizen, type="form.state")
    await receive_until(staff, type="form.state")
    form_id = opened["form"]["id"]
    assert opened["form"]["values"]["surname"] == {"value": "", "version": 0, "by": "", "confirmed": True}

    edit = {"type": "form.edit", "form": form_id, "field": "surname", "base": 0}
    await citizen.send_json_to({**edit, "value": "Beispiel", "client": "c", "seq": 1})
    await staff.send_json_to({**edit, "value": "Beispiel-Meier", "client": "a", "seq": 1})
    seen = {}
    for socket, name in ((citizen, "citizen"), (staff, "staff")):
        values = [
            m for m in await receive_until(socket, type="form.value", version=2) if m["type"] == "form.value"
        ]
        seen[name] = [(m["value"], m["version"], m["by"]) for m in values]
    # Both pages see both edits in the server's order; the later one wins everywhere.
    assert seen["citizen"] == seen["staff"] == [("Beispiel", 1, "citizen"), ("Beispiel-Meier", 2, "agent")]

    await citizen.disconnect()
    await staff.disconnect()
    assert hub.size(consult_services.consultation_group(consultation.pk)) == 0


async def test_focus_is_relayed_with_the_role_and_a_refusal_goes_to_the_sender_only(
    consultation: Consultation, agent: User
) -> None:
    template = await database_sync_to_async(registration_form)(consultation.office)
    citizen, staff = await both(consultation, agent)
    await staff.send_json_to({"type": "form.open", "template": template.pk})
    form_id = (await receive_until(citizen, type="form.state"))[-1]["form"]["id"]
    await receive_until(staff, type="form.state")

    await staff.send_json_to({"type": "form.focus", "form": form_id, "field": "street"})
    focus = (await receive_until(citizen, type="form.focus"))[-1]
    assert (focus["role"], focus["field"]) == ("agent", "street")

    await citizen.send_json_to(
        {
            "type": "form.edit",
            "form": form_id,
            "field": "moved_on",
            "value": "gestern",
            "client": "c",
            "seq": 3,
        }
    )
    refusal = (await receive_until(citizen, type="form.refused"))[-1]
    assert refusal["code"] == "date"
    assert refusal["seq"] == 3
    assert "Einzugsdatum" in refusal["message"]
    # The agent hears nothing of it: the next thing they get is the citizen's next edit.
    await citizen.send_json_to(
        {"type": "form.edit", "form": form_id, "field": "street", "value": "A", "seq": 4}
    )
    received = await receive_until(staff, type="form.value")
    assert all(message["type"] != "form.refused" for message in received)
    # The interpreter's read-only rule and the citizen-only confirmation hold on the socket too.
    await staff.send_json_to({"type": "form.confirm", "form": form_id})
    assert (await receive_until(staff, type="form.refused"))[-1]["code"] == "not_citizen"
    await citizen.disconnect()
    await staff.disconnect()


async def test_a_reconnecting_page_gets_the_forms_current_state(
    consultation: Consultation, agent: User
) -> None:
    template = await database_sync_to_async(registration_form)(consultation.office)
    citizen, staff = await both(consultation, agent)
    await staff.send_json_to({"type": "form.open", "template": template.pk})
    form_id = (await receive_until(citizen, type="form.state"))[-1]["form"]["id"]
    await staff.send_json_to(
        {
            "type": "form.edit",
            "form": form_id,
            "field": "street",
            "value": "Hauptstr. 1",
            "client": "a",
            "seq": 1,
        }
    )
    await receive_until(citizen, type="form.value")
    await citizen.disconnect()

    again = await connect(consultation.pk, token=consultation.ticket.token)
    history = (await receive_until(again, type="history"))[-1]
    assert history["form"]["id"] == form_id
    assert history["form"]["values"]["street"] == {
        "value": "Hauptstr. 1", "version": 1, "by": "agent", "confirmed": False,
    }  # fmt: skip
    assert history["forms"] == []  # the list of forms to open is the staff member's
    staff_again = await connect(consultation.pk, user=agent)
    staff_history = (await receive_until(staff_again, type="history"))[-1]
    assert staff_history["forms"] == [{"id": template.pk, "title": template.title}]
    await again.disconnect()
    await staff.disconnect()
    await staff_again.disconnect()


async def test_a_socket_that_floods_edits_is_refused_and_nothing_beyond_is_applied(
    consultation: Consultation, agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ConsultationConsumer, "form_edit_burst", 3.0)
    monkeypatch.setattr(ConsultationConsumer, "form_edits_per_second", 0.0)
    template = await database_sync_to_async(registration_form)(consultation.office)
    citizen, staff = await both(consultation, agent)
    await staff.send_json_to({"type": "form.open", "template": template.pk})
    form_id = (await receive_until(citizen, type="form.state"))[-1]["form"]["id"]
    for seq in range(1, 6):
        await citizen.send_json_to(
            {
                "type": "form.edit",
                "form": form_id,
                "field": "notes",
                "value": "x" * seq,
                "client": "c",
                "seq": seq,
            }
        )
    refusal = (await receive_until(citizen, type="form.refused"))[-1]
    assert refusal["code"] == "rate_limited"
    await receive_until(citizen, type="form.refused", seq=5)
    row = await database_sync_to_async(SharedFormValue.objects.get)(form_id=form_id, field="notes")
    assert (row.value, row.version) == ("xxx", 3)
    await citizen.disconnect()
    await staff.disconnect()


async def test_refusals_come_in_the_language_of_the_persons_page(
    consultation: Consultation, agent: User
) -> None:
    template = await database_sync_to_async(registration_form)(consultation.office)
    citizen, staff = await both(consultation, agent)
    await staff.send_json_to({"type": "form.open", "template": template.pk})
    opened = (await receive_until(citizen, type="form.state"))[-1]["form"]
    form_id = opened["id"]
    english = communicator(consultation.pk, token=consultation.ticket.token, cookie="bb_language=en")
    assert (await english.connect())[0]
    await receive_until(english, type="history")
    versions = {name: value["version"] for name, value in opened["values"].items()}
    refusal = {"type": "form.confirm", "form": form_id, "versions": versions}
    await english.send_json_to(refusal)
    assert (await receive_until(english, type="form.refused"))[-1]["message"].startswith("Please fill in:")
    await citizen.send_json_to(refusal)  # no language chosen: German, the default
    assert (await receive_until(citizen, type="form.refused"))[-1]["message"].startswith(
        "Bitte füllen Sie aus:"
    )
    for socket in (english, citizen, staff):
        await socket.disconnect()

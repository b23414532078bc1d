"""Typed events: consumers branch on the event's type, never on its serialised text.

The encoder's separators are changed to json's defaults (``", "`` and ``": "``) for the socket
tests: a consumer that searched the JSON for ``'"type":"signal"'`` or a snapshot spliced at
``'"live":null'`` would then fail. The same tests pass in the scaled mode (events through Redis).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from pytest_django import Settings

from buergerbuero.consult import services as consult_services
from buergerbuero.consult.models import Consultation
from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.realtime import bridge, events, publish
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.services import calling, sequence
from tests import factories
from tests.consult.support import start_consultation
from tests.consult.test_signalling import offer, three_sockets
from tests.support.realtime import hub_listening
from tests.waiting.test_consumers import WEEKDAYS, at, citizen_socket, join, receive_until

SPACED = (", ", ": ")


@pytest.fixture
def spaced_json(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setattr(publish, "SEPARATORS", SPACED)
    settings.REDIS_PREFIX = f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def agent_member(agent: User) -> StaffMember:
    return StaffMember.objects.select_related("user").get(user=agent)


@pytest.fixture
def second_office(org: Organization) -> Office:
    return factories.make_office(org, "standesamt", hours=WEEKDAYS, name="Standesamt")


@pytest.fixture
def consultation(office: Office, agent: User) -> Consultation:
    return start_consultation(office, agent)


# --- without sockets -------------------------------------------------------------------------
def test_every_constructor_names_its_event() -> None:
    made = [
        events.queue(1, "join", [0, 5], {}),
        events.live(1, {}),
        events.announcement(1, "Hallo"),
        events.changed(1),
        events.changed(),
        events.booked_arrived(3),
        events.called("2026-01-01T10:00:00+00:00", "Frau A."),
        events.admitted(4),
        events.requeued(),
        events.ended("left"),
        events.ended(),
        events.transferred(2, "Standesamt", True),
        events.interpreter_removed(),
        events.presence("citizen", True, "c0ffee", reply=True),
        events.resync([], []),
        events.signal_refused("too_large"),
        events.error("Nein"),
        events.content(events.CHAT, {"id": 1, "text": "x"}),
    ]
    kinds = [events.type_of(event) for event in made]
    assert kinds == [
        "queue", "live", "announcement", "changed", "changed", "booked_arrived", "called", "admitted",
        "requeued", "ended", "ended", "transferred", "interpreter_removed", "presence", "resync",
        "signal_refused", "error", "chat",
    ]  # fmt: skip
    assert next(iter(events.content(events.CHAT, {"id": 1}))) == "type"  # first, as pages read it


def test_the_status_after_an_event_comes_from_its_type() -> None:
    assert sequence.status_after_event(dict(events.called("x", "A")), "waiting") == "called"
    assert sequence.status_after_event(dict(events.admitted(1)), "called") == "admitted"
    assert sequence.status_after_event(dict(events.requeued()), "removed") == "waiting"
    assert sequence.status_after_event(dict(events.ended("no_show")), "called") == "no_show"
    assert sequence.status_after_event(dict(events.ended()), "called") == "called"
    # A chat message whose text looks like a call changes nothing.
    assert sequence.status_after_event({"type": "chat", "text": '"type":"called"'}, "waiting") == "waiting"


def test_the_bridge_carries_the_type_beside_the_text() -> None:
    text = publish.encode(events.requeued())
    assert bridge.unframe(bridge.frame("ticket:7", events.REQUEUED, text)) == ("ticket:7", "requeued", text)
    # A frame of the previous release (group, then the JSON): the type is read from the JSON.
    assert bridge.unframe(f"ticket:7\n{text}") == ("ticket:7", "requeued", text)


# --- through the real ASGI application, with spaced JSON ---------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
@pytest.mark.usefixtures("spaced_json")
async def test_waiting_room_works_with_other_separators(office: Office, agent_member: StaffMember) -> None:
    first, second = await join(office, 0, "Anna"), await join(office, 1, "Bernd")
    socket, snapshot = await citizen_socket(second)
    await hub_listening()
    assert snapshot["live"]["waiting"] == 2  # the figures spliced in: valid JSON

    await database_sync_to_async(calling.call_next)(agent_member, at(10))  # calls Anna
    text: str = await socket.receive_from(timeout=3)
    queued = json.loads(text)
    assert ": " in text  # the spaced encoder really was in use
    assert (queued["type"], queued["op"], queued["key"]) == ("queue", "leave", first.order_key)

    await socket.send_json_to({"type": "resync"})
    fresh = (await receive_until(socket, "snapshot"))[-1]
    assert (fresh["status"], fresh["position"], fresh["live"]["waiting"]) == ("waiting", 1, 1)
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
@pytest.mark.usefixtures("spaced_json")
async def test_called_and_transferred_citizens_follow_with_other_separators(
    office: Office, second_office: Office, agent_member: StaffMember
) -> None:
    ticket, other = await join(office, 0), await join(office, 1)
    socket, _ = await citizen_socket(ticket)
    moved, _ = await citizen_socket(other)
    await hub_listening()

    await database_sync_to_async(calling.call_next)(agent_member, at(10))
    called = (await receive_until(socket, "called"))[-1]
    assert called["agent"] == agent_member.public_name

    # The transferred page listens to its new office (the consumer saw the type, not a text).
    await database_sync_to_async(calling.transfer)(agent_member, other.pk, second_office, at(11))
    snapshot = (await receive_until(moved, "snapshot"))[-1]
    assert snapshot["office"] == second_office.pk
    newcomer = await join(second_office, 20)
    queued = (await receive_until(moved, "queue"))[-1]
    assert (queued["op"], queued["key"]) == ("join", newcomer.order_key)
    for each in (socket, moved):
        await each.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
@pytest.mark.usefixtures("spaced_json")
async def test_signals_reach_their_addressee_only_with_other_separators(
    consultation: Consultation, agent: User, agent_member: StaffMember
) -> None:
    citizen, staff, interpreter = await three_sockets(consultation, agent, agent_member)

    await citizen.send_json_to(offer(to="interpreter"))
    relayed = (await receive_until_type(interpreter, "signal"))[-1]
    await citizen.send_json_to({"type": "chat", "text": "danach"})
    staff_saw = await receive_until_type(staff, "chat")

    assert (relayed["from"], relayed["to"]) == ("citizen", "interpreter")
    assert [m for m in staff_saw if m["type"] == "signal"] == []  # not for the agent

    await database_sync_to_async(consult_services.remove_interpreter)(consultation, agent_member)
    assert (await receive_until_type(interpreter, "interpreter_removed"))[-1]["type"] == "interpreter_removed"
    assert (await interpreter.receive_output(timeout=3))["type"] == "websocket.close"
    for socket in (citizen, staff):
        await socket.disconnect()


async def receive_until_type(socket: Any, kind: str) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    while not received or received[-1]["type"] != kind:
        received.append(json.loads(await socket.receive_from(timeout=3)))
    return received

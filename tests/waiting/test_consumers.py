"""The waiting-room and console sockets, driven through the real ASGI application.

The same tests pass in the embedded mode (the hub delivers in-process) and in the scaled mode
(``REDIS_URL`` set: every event makes a round trip through Redis pub/sub); ``hub_listening``
waits until the hub's subscription is active, so that no event of a test is lost.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
import zoneinfo
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client
from pytest_django import Settings

from buergerbuero.config.asgi import application
from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.realtime.hub import hub
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting.models import PresenceState, Ticket
from buergerbuero.waiting.services import calling, groups, joining, staffing
from tests import factories
from tests.support.realtime import hub_listening

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.anyio]
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
OPEN = dt.datetime(2026, 11, 26, 10, 0, tzinfo=BERLIN)  # a Thursday, 08:00–16:00
WEEKDAYS = [(day, "08:00", "16:00") for day in range(5)]
LOCAL = b"http://localhost"


@pytest.fixture(autouse=True)
def _own_redis_channel(settings: Settings) -> None:
    """In the scaled mode, this test's events travel on a Redis channel of their own, so that
    other test runs on the same Redis cannot be heard (nor hear us)."""
    settings.REDIS_PREFIX = f"test-{uuid.uuid4().hex[:12]}"


# --- helpers --------------------------------------------------------------------------------
def at(seconds: float) -> dt.datetime:
    return OPEN + dt.timedelta(seconds=seconds)


def _join(office: Office, seconds: float, name: str) -> Ticket:
    return joining.join(office, service=None, display_name=name, language="de", mode="video", now=at(seconds))


async def join(office: Office, seconds: float = 0, name: str = "") -> Ticket:
    ticket: Ticket = await database_sync_to_async(_join)(office, seconds, name)
    return ticket


def _session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def session_cookie(user: User) -> str:
    cookie: str = await database_sync_to_async(_session_cookie)(user)
    return cookie


def communicator(path: str, *, origin: bytes = LOCAL, cookie: str = "") -> Any:
    headers = [(b"host", b"localhost"), (b"origin", origin)]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def citizen_socket(ticket: Ticket) -> tuple[Any, dict[str, Any]]:
    """A connected waiting-room socket and the snapshot it was greeted with."""
    socket = communicator(f"/ws/tickets/{ticket.token}/")
    connected, _ = await socket.connect()
    assert connected
    snapshot: dict[str, Any] = await socket.receive_json_from()
    assert snapshot["type"] == "snapshot"
    return socket, snapshot


async def console_socket(user: User) -> tuple[Any, dict[str, Any]]:
    socket = communicator("/ws/console/", cookie=await session_cookie(user))
    connected, _ = await socket.connect()
    assert connected
    state: dict[str, Any] = await socket.receive_json_from()
    assert state["type"] == "state"
    return socket, state


async def receive_text(socket: Any) -> str:
    text: str = await socket.receive_from(timeout=3)
    return text


async def receive_json(socket: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await receive_text(socket))
    return message


async def receive_until(socket: Any, message_type: str) -> list[dict[str, Any]]:
    """Messages up to and including the first of ``message_type``."""
    received: list[dict[str, Any]] = []
    while not received or received[-1]["type"] != message_type:
        received.append(await receive_json(socket))
    return received


@pytest.fixture
def agent_member(agent: User) -> StaffMember:
    """The agent persona's membership, loaded before the event loop runs."""
    return StaffMember.objects.select_related("user").get(user=agent)


@pytest.fixture
def second_office(org: Organization) -> Office:
    return factories.make_office(org, "standesamt", hours=WEEKDAYS, name="Standesamt")


# --- the citizen's socket -------------------------------------------------------------------
async def test_citizen_gets_a_snapshot_with_position_and_seq(office: Office) -> None:
    await join(office, 0, "Anna")
    second = await join(office, 1, "Bernd")

    socket, snapshot = await citizen_socket(second)

    assert snapshot["seq"] == 2
    assert snapshot["position"] == 2
    assert snapshot["status"] == "waiting"
    assert snapshot["key"] == second.order_key
    assert snapshot["live"]["waiting"] == 2
    await socket.disconnect()


async def test_citizens_hear_the_same_message_when_someone_joins_or_leaves(office: Office) -> None:
    anna, bernd = await join(office, 0, "Anna"), await join(office, 1, "Bernd")
    anna_socket, _ = await citizen_socket(anna)
    bernd_socket, _ = await citizen_socket(bernd)
    await hub_listening()

    carla = await join(office, 2, "Carla Geheim")
    joined = [await receive_text(anna_socket), await receive_text(bernd_socket)]
    await database_sync_to_async(calling.leave)(carla, at(3))
    left = [await receive_text(anna_socket), await receive_text(bernd_socket)]

    assert joined[0] == joined[1]
    assert left[0] == left[1]
    join_message, leave_message = json.loads(joined[0]), json.loads(left[0])
    assert join_message == {
        "type": "queue",
        "seq": 3,
        "op": "join",
        "key": carla.order_key,
        "live": {"waiting": 3, "seats": 1, "staffed": 0, "free": 0, "estimate": None},
    }
    assert (leave_message["seq"], leave_message["op"]) == (4, "leave")
    assert leave_message["key"] == carla.order_key
    assert leave_message["live"]["waiting"] == 2
    await anna_socket.disconnect()
    await bernd_socket.disconnect()
    assert hub.size(groups.waiting_group(office.pk)) == 0


async def test_citizen_socket_never_carries_other_citizens_names_or_tokens(
    office: Office, agent_member: StaffMember
) -> None:
    watcher = await join(office, 0)
    socket, _ = await citizen_socket(watcher)
    await hub_listening()

    others = [await join(office, 1 + i, f"Geheimname {i}") for i in range(3)]
    await database_sync_to_async(calling.leave)(others[0], at(10))
    # The watcher is called first: its own call reaches it; then it leaves the call.
    await database_sync_to_async(calling.call_next)(agent_member, at(11))
    received = [await receive_text(socket) for _ in range(6)]  # 3 joins, 1 leave, leave + called

    assert [json.loads(text)["type"] for text in received].count("called") == 1
    for text in received:
        for other in others:
            assert other.display_name not in text
            assert other.token not in text
            assert f'"id":{other.pk}' not in text
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


async def test_called_citizen_gets_the_call_on_its_socket(office: Office, agent_member: StaffMember) -> None:
    ticket = await join(office, 0)
    socket, _ = await citizen_socket(ticket)
    await hub_listening()

    await database_sync_to_async(calling.call_next)(agent_member, at(10))

    # The call comes first (the queue message goes to everyone and takes longer).
    messages = await receive_until(socket, "called")
    called = messages[-1]
    assert called["deadline"] == at(10 + office.call_confirm_seconds).isoformat()
    assert [m for m in messages if m["type"] == "queue"] == []
    assert (await receive_until(socket, "queue"))[-1]["op"] == "leave"
    await socket.disconnect()


async def test_unknown_or_ended_ticket_is_refused(office: Office) -> None:
    unknown = communicator("/ws/tickets/no-such-token/")
    assert await unknown.connect() == (False, 4404)

    ticket = await join(office, 0)
    await database_sync_to_async(calling.leave)(ticket, at(1))
    ended = communicator(f"/ws/tickets/{ticket.token}/")
    assert await ended.connect() == (False, 4404)
    assert hub.size(groups.waiting_group(office.pk)) == 0


async def test_foreign_origin_is_refused(office: Office) -> None:
    ticket = await join(office, 0)
    socket = communicator(f"/ws/tickets/{ticket.token}/", origin=b"https://evil.example")

    connected, _ = await socket.connect()

    assert not connected


async def test_resync_returns_a_fresh_snapshot(office: Office) -> None:
    first, second = await join(office, 0), await join(office, 1)
    socket, snapshot = await citizen_socket(second)
    assert (snapshot["position"], snapshot["seq"]) == (2, 2)
    await database_sync_to_async(calling.leave)(first, at(2))

    await socket.send_json_to({"type": "resync"})
    messages = await receive_until(socket, "snapshot")

    fresh = messages[-1]
    assert (fresh["position"], fresh["seq"]) == (1, 3)
    await socket.disconnect()


async def test_malformed_messages_are_ignored(office: Office) -> None:
    ticket = await join(office, 0)
    socket, _ = await citizen_socket(ticket)

    await socket.send_to(text_data="not json at all")
    await socket.send_to(text_data="[1, 2, 3]")
    await socket.send_json_to({"type": "nonsense"})
    await socket.send_json_to({"type": "resync", "padding": "x" * 20_000})  # over the size limit
    await socket.send_to(bytes_data=b"\x00\x01")

    assert await socket.receive_nothing(timeout=0.2)
    await socket.send_json_to({"type": "resync"})
    assert (await receive_json(socket))["type"] == "snapshot"  # still alive
    await socket.disconnect()


async def test_transferred_citizen_follows_the_new_office(
    office: Office, second_office: Office, agent_member: StaffMember
) -> None:
    ticket = await join(office, 0)
    await join(second_office, 5)
    socket, _ = await citizen_socket(ticket)
    await hub_listening()

    await database_sync_to_async(calling.transfer)(agent_member, ticket.pk, second_office, at(10))
    messages = await receive_until(socket, "snapshot")

    # Typed fields the page changes its heading and notice by; the snapshot names the new queue.
    assert {
        "type": "transferred",
        "office": second_office.pk,
        "office_name": second_office.name,
        "show_position": second_office.show_position,
    } in messages
    snapshot = messages[-1]
    assert snapshot["office"] == second_office.pk
    assert snapshot["position"] == 1  # arrived before the one already waiting there
    assert snapshot["live"]["waiting"] == 2

    newcomer = await join(second_office, 20)
    queued = await receive_json(socket)
    assert (queued["op"], queued["key"]) == ("join", newcomer.order_key)
    await socket.disconnect()
    assert hub.size(groups.waiting_group(second_office.pk)) == 0


# --- the staff console's socket ---------------------------------------------------------------
async def test_console_refuses_anonymous_visitors(office: Office) -> None:
    socket = communicator("/ws/console/")
    assert await socket.connect() == (False, 4403)


async def test_console_refuses_a_login_without_organisation(office: Office, outsider: User) -> None:
    socket = communicator("/ws/console/", cookie=await session_cookie(outsider))
    assert await socket.connect() == (False, 4403)


async def test_console_lists_waiting_citizens_of_the_agents_offices_only(
    office: Office, second_office: Office, agent: User
) -> None:
    mine = await join(office, 0, "Anna Hier")
    await join(second_office, 1, "Bernd Woanders")

    socket, state = await console_socket(agent)

    assert [entry["name"] for entry in state["waiting"]] == ["Anna Hier"]
    entry = state["waiting"][0]
    assert entry["id"] == mine.pk
    assert entry["office"] == office.pk
    assert entry["callable"] is True
    assert [o["id"] for o in state["offices"]] == [office.pk]
    assert state["presence"] == PresenceState.OFFLINE
    assert state["call"] is None
    assert state["in_consultation"] is False
    await socket.disconnect()


async def test_console_of_another_organisation_sees_none_of_our_citizens(
    office: Office, other_org: Organization
) -> None:
    foreign_office = await database_sync_to_async(factories.make_office)(other_org, "kfz", WEEKDAYS)
    stranger = await database_sync_to_async(factories.make_staff)(
        other_org, "fremd", Role.AGENT, [foreign_office]
    )
    await join(office, 0, "Anna Hier")

    socket, state = await console_socket(stranger)

    assert state["waiting"] == []
    assert office.pk not in [o["id"] for o in state["offices"]]
    assert office.pk not in [o["id"] for o in state["transfer_targets"]]
    await socket.disconnect()


async def test_console_refreshes_when_the_queue_changes(office: Office, agent: User) -> None:
    socket, state = await console_socket(agent)
    assert state["waiting"] == []
    await hub_listening()

    await join(office, 0, "Anna Neu")

    fresh = await receive_json(socket)
    assert fresh["type"] == "state"
    assert [entry["name"] for entry in fresh["waiting"]] == ["Anna Neu"]
    await socket.disconnect()
    assert hub.size(groups.staff_group(office.pk)) == 0


async def test_console_hears_when_a_free_seat_admits_a_citizen(
    office: Office, agent: User, agent_member: StaffMember
) -> None:
    await database_sync_to_async(staffing.set_presence)(agent_member, PresenceState.AVAILABLE, at(-60))
    socket, _ = await console_socket(agent)
    await hub_listening()

    ticket = await join(office, 0, "Anna")

    messages = await receive_until(socket, "admitted")
    consultation_id = await database_sync_to_async(lambda: ticket.consultation.pk)()
    assert messages[-1] == {"type": "admitted", "consultation": consultation_id}
    await socket.disconnect()


async def test_console_sends_its_state_on_request_and_ignores_nonsense(office: Office, agent: User) -> None:
    socket, _ = await console_socket(agent)

    await socket.send_to(text_data="{broken")
    await socket.send_json_to({"type": "call_everyone"})
    assert await socket.receive_nothing(timeout=0.2)
    await socket.send_json_to({"type": "refresh"})

    assert (await receive_json(socket))["type"] == "state"
    await socket.disconnect()

"""The event socket, driven through the real ASGI application: who may connect, what each side
hears (pending questions only the hosts), the stage, and the media rule (only the stage
publishes). Groups are empty after the sockets are gone."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client
from pytest_django import Settings

from buergerbuero.config.asgi import application
from buergerbuero.events import services
from buergerbuero.events.models import Attendee, Event, EventKind, Question, StageSeat
from buergerbuero.realtime.hub import hub
from buergerbuero.staff.models import StaffMember
from tests import factories
from tests.events.support import journalist, viewer
from tests.support.realtime import hub_listening

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.anyio]
LOCAL = b"http://localhost"


@pytest.fixture(autouse=True)
def _own_redis_channel(settings: Settings) -> None:
    settings.REDIS_PREFIX = f"test-{uuid.uuid4().hex[:12]}"


def _cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def communicator(path: str, cookie: str = "") -> Any:
    headers = [(b"host", b"localhost"), (b"origin", LOCAL)]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def receive(socket: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await socket.receive_from(timeout=3))
    return message


async def receive_until(socket: Any, kind: str) -> dict[str, Any]:
    while True:
        message = await receive(socket)
        if message["type"] == kind:
            return message


async def receive_all(socket: Any, *kinds: str) -> dict[str, dict[str, Any]]:
    """The first message of each of ``kinds``, in whatever order they come."""
    found: dict[str, dict[str, Any]] = {}
    while set(kinds) - set(found):
        message = await receive(socket)
        found.setdefault(message["type"], message)
    return found


async def viewer_socket(event: Event, attendee: Attendee) -> tuple[Any, dict[str, Any]]:
    socket = communicator(f"/ws/events/{event.pk}/?viewer={attendee.token}&lang=de")
    connected, _ = await socket.connect()
    assert connected
    snapshot = await receive(socket)
    assert snapshot["type"] == "snapshot"
    return socket, snapshot


async def host_socket(event: Event, user: User) -> tuple[Any, dict[str, Any]]:
    socket = communicator(f"/ws/events/{event.pk}/", cookie=await database_sync_to_async(_cookie)(user))
    connected, _ = await socket.connect()
    assert connected
    snapshot = await receive(socket)
    assert snapshot["type"] == "snapshot"
    return socket, snapshot


async def refused(path: str, cookie: str = "") -> int:
    socket = communicator(path, cookie)
    connected, code = await socket.connect(timeout=5)
    assert not connected, await socket.receive_output(timeout=1)
    return int(code)


@pytest.fixture
def host_user(host: StaffMember) -> User:
    return host.user


async def test_strangers_and_other_events_viewers_are_refused(
    live_event: Event, event_factory_second: Event, other_agent: User, outsider: User
) -> None:
    other_viewer = await database_sync_to_async(viewer)(event_factory_second)
    assert await refused(f"/ws/events/{live_event.pk}/") == 4403
    assert await refused(f"/ws/events/{live_event.pk}/?viewer={other_viewer.token}") == 4403
    assert await refused(f"/ws/events/{live_event.pk}/?viewer=x") == 4403
    for user in (other_agent, outsider):
        cookie = await database_sync_to_async(_cookie)(user)
        assert await refused(f"/ws/events/{live_event.pk}/", cookie) == 4403


@pytest.fixture
def event_factory_second(org: Any, host: StaffMember) -> Event:
    from tests.events.support import make_event

    return make_event(org, hosts=[host], title="Zweite")


async def test_questions_reach_the_hosts_first_and_viewers_once_approved(
    live_event: Event, host_user: User
) -> None:
    await hub_listening()
    anna = await database_sync_to_async(viewer)(live_event, "Anna")
    host, host_snapshot = await host_socket(live_event, host_user)
    socket, snapshot = await viewer_socket(live_event, anna)
    assert snapshot["status"] == "live"
    assert snapshot["may_raise_hand"] is True
    assert [seat["role"] for seat in snapshot["stage"]] == ["host"]
    assert "hands" in host_snapshot
    assert "hands" not in snapshot

    await socket.send_json_to({"type": "question", "text": "Wann kommt der Bus?"})
    pending = await receive_until(host, "question")
    assert pending["status"] == "pending"
    assert pending["author"] == "Anna"

    await host.send_json_to({"type": "moderate", "id": pending["id"], "action": "approve"})
    approved = await receive_until(socket, "question")  # the first the viewer hears of it
    assert approved == {**pending, "status": "approved"}

    await socket.disconnect()
    await host.disconnect()
    assert hub.size(services.event_group(live_event.pk)) == 0
    assert hub.size(services.hosts_group(live_event.pk)) == 0
    assert hub.size(services.attendee_group(anna.pk)) == 0


async def test_a_raised_hand_brought_on_stage(live_event: Event, host_user: User) -> None:
    await hub_listening()
    anna = await database_sync_to_async(viewer)(live_event, "Anna")
    host, _ = await host_socket(live_event, host_user)
    socket, _ = await viewer_socket(live_event, anna)

    await socket.send_json_to({"type": "hand", "raised": True})
    hand = await receive_until(host, "hand")
    assert hand == {"type": "hand", "attendee": anna.pk, "name": "Anna", "raised": True}

    await host.send_json_to({"type": "on_stage", "attendee": anna.pk})
    heard = await receive_all(socket, "on_stage", "stage")
    assert heard["on_stage"]["on"] is True
    assert [(seat["role"], seat["attendee"]) for seat in heard["stage"]["seats"]] == [
        ("host", None),
        ("guest", anna.pk),
    ]
    assert heard["stage"]["seats"][1]["name"] == "Anna"
    assert await database_sync_to_async(StageSeat.objects.filter(attendee=anna).exists)()
    await socket.disconnect()
    await host.disconnect()


async def test_only_the_stage_may_publish(live_event: Event) -> None:
    anna = await database_sync_to_async(viewer)(live_event, "Anna")
    socket, _ = await viewer_socket(live_event, anna)
    await socket.send_json_to({"type": "media", "op": "publish", "jsep": {"type": "offer", "sdp": "v=0"}})
    answer = await receive(socket)
    assert answer == {"type": "media", "op": "error", "reason": "not_on_stage"}
    await socket.disconnect()


async def test_the_public_of_a_press_conference_cannot_raise_a_hand(press: Event, host: StaffMember) -> None:
    await database_sync_to_async(services.go_live)(host, press)
    registration = await database_sync_to_async(services.register)(
        press, name="Public", email="public@example.org", language="de"
    )
    public = await database_sync_to_async(viewer)(press, "", registration)
    accredited = await database_sync_to_async(journalist)(press)
    socket, snapshot = await viewer_socket(press, public)
    assert snapshot["may_raise_hand"] is False

    await socket.send_json_to({"type": "hand", "raised": True})
    assert (await receive(socket))["type"] == "error"
    await socket.send_json_to({"type": "question", "text": "Darf ich?"})
    assert (await receive(socket))["type"] == "error"
    assert not await database_sync_to_async(Question.objects.exists)()

    journalist_socket, journalist_snapshot = await viewer_socket(press, accredited)
    assert journalist_snapshot["may_raise_hand"] is True
    await socket.disconnect()
    await journalist_socket.disconnect()


async def test_a_removed_viewer_is_closed(live_event: Event, host_user: User, host: StaffMember) -> None:
    await hub_listening()
    anna = await database_sync_to_async(viewer)(live_event, "Anna")
    socket, _ = await viewer_socket(live_event, anna)
    await database_sync_to_async(services.remove_viewer)(host, live_event, anna.pk)
    assert (await receive_until(socket, "ended"))["reason"] == "removed"
    output = await socket.receive_output(timeout=3)
    assert output["type"] == "websocket.close"
    assert await refused(f"/ws/events/{live_event.pk}/?viewer={anna.token}") == 4403


async def test_consultation_hours_take_turns_from_the_socket(
    org: Any, host: StaffMember, host_user: User
) -> None:
    """The citizen takes a turn (position from the waiting room), the host calls, the citizen
    answers “I'm here” and is on stage."""

    def setup() -> tuple[Event, Attendee]:
        from tests.events.support import make_event
        from tests.support.live import ALWAYS_OPEN, reset_join_limit

        office = factories.make_office(
            org, "rund-um-die-uhr", hours=ALWAYS_OPEN, observes_public_holidays=False
        )
        host.offices.add(office)
        reset_join_limit()
        hours = make_event(org, hosts=[host], kind=EventKind.CONSULTATION_HOURS, office=office)
        services.go_live(host, hours)
        return hours, viewer(hours, "Anna")

    await hub_listening()
    hours, anna = await database_sync_to_async(setup)()
    socket, snapshot = await viewer_socket(hours, anna)
    assert snapshot["turn"] is None
    host_page, _ = await host_socket(hours, host_user)

    await socket.send_json_to({"type": "queue"})
    turn = await receive_until(socket, "turn")
    assert (turn["status"], turn["position"]) == ("waiting", 1)

    await host_page.send_json_to({"type": "call_next"})
    assert (await receive_until(host_page, "called_next"))["called"] is True
    called = await receive_until(socket, "turn")
    while called["status"] != "called":
        called = await receive_until(socket, "turn")
    assert called["deadline"]

    await socket.send_json_to({"type": "here"})
    assert (await receive_until(socket, "on_stage"))["on"] is True
    assert await database_sync_to_async(StageSeat.objects.filter(attendee=anna).exists)()
    await socket.disconnect()
    await host_page.disconnect()

"""A live event survives its Janus being killed (SIGKILL) and started again: the room is made
again, pages join the media again on the same socket, and questions, hands, stage seats and chat
(in the database) go on meanwhile and are all still there afterwards. Real Janus throughout;
every test starts it again in its ``finally`` so that later tests have it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import anyio
import pytest
from channels.db import database_sync_to_async
from pytest_django import Settings

from buergerbuero.events import media, services
from buergerbuero.events.models import ChatMessage, Event, HandRaise, Question, StageSeat
from buergerbuero.sfu import rooms
from buergerbuero.sfu.peer import JanusPeer
from buergerbuero.staff.models import StaffMember
from tests.events.support import viewer
from tests.events.test_consumers import receive_until, viewer_socket
from tests.support.janus import JanusTestServer
from tests.support.realtime import hub_listening

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.anyio]
# Janus's long poll notices a killed Janus within a few seconds.
JANUS_GONE_SECONDS = 15


@pytest.fixture(autouse=True)
def _own_redis_channel(settings: Settings) -> None:
    settings.REDIS_PREFIX = f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def staged(live_event: Event, janus_settings: JanusTestServer) -> Event:
    """The live event with its room on the test run's Janus."""
    return media.open_stage(live_event)


def restart(janus: JanusTestServer) -> None:
    janus.start()
    rooms.forget_health()  # this process asked while it was down


def room_exists(event: Event) -> bool:
    return any(room.get("room") == event.room_id for room in rooms.live_rooms(event.janus_server))


async def media_answer(socket: Any, timeout: float = JANUS_GONE_SECONDS) -> dict[str, Any]:
    """The next media message (other messages of the socket are passed over)."""
    while True:
        message: dict[str, Any] = json.loads(await socket.receive_from(timeout=timeout))
        if message["type"] == "media":
            return message


class Recorder:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, event: dict[str, Any]) -> None:
        self.seen.append(event)

    async def first(self, timeout: float = 5) -> dict[str, Any]:
        with anyio.fail_after(timeout):
            while not self.seen:
                await anyio.sleep(0.05)
        return self.seen[0]


def test_recover_makes_the_room_again_after_a_restart(staged: Event, janus_settings: JanusTestServer) -> None:
    assert room_exists(staged)
    try:
        janus_settings.kill()
        rooms.forget_health()
        with pytest.raises(media.StageUnavailable):
            media.recover(staged)  # nothing answers: the page is told to try again later
        restart(janus_settings)
        assert not room_exists(staged)  # Janus keeps rooms in memory only

        recovered = media.recover(staged)

        assert (recovered.janus_server, recovered.room_id) == (staged.janus_server, staged.room_id)
        assert room_exists(staged)
        assert Event.objects.get(pk=staged.pk).janus_server == staged.janus_server
    finally:
        restart(janus_settings)


def test_recover_asks_janus_once_per_window_however_many_pages_come_back(
    staged: Event, janus_settings: JanusTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[int] = []
    real_create = rooms.create_room

    def counting(name: str, room_id: int, **options: Any) -> None:
        created.append(room_id)
        real_create(name, room_id, **options)

    monkeypatch.setattr(rooms, "create_room", counting)
    for _ in range(50):  # fifty viewers re-joining within the same moment
        media.recover(staged)
    assert len(created) <= 2  # one per window; the fifty may straddle two windows
    assert created


def test_a_recovery_racing_the_end_of_the_event_leaves_no_room_behind(
    staged: Event, host: StaffMember, janus_settings: JanusTestServer
) -> None:
    # The page read "live" just before the host ended the event (the room is still there here).
    services.end(host, staged)
    with pytest.raises(media.StageUnavailable):
        media.recover(staged)
    assert not room_exists(staged)


def test_an_event_whose_server_is_gone_moves_to_one_that_answers(
    staged: Event, janus_settings: JanusTestServer, settings: Settings
) -> None:
    second = JanusTestServer(name="second")
    second.start()
    try:
        settings.JANUS_SERVERS = [janus_settings.settings_entry(), second.settings_entry()]
        janus_settings.kill()
        rooms.forget_health()

        recovered = media.recover(staged)

        assert recovered.janus_server == "second"
        assert Event.objects.get(pk=staged.pk).janus_server == "second"
        assert room_exists(recovered)
    finally:
        second.remove()
        restart(janus_settings)


async def test_a_page_joins_the_media_again_on_the_same_socket_and_nothing_else_is_lost(
    staged: Event, host: StaffMember, janus_settings: JanusTestServer
) -> None:
    await hub_listening()
    anna = await database_sync_to_async(viewer)(staged, "Anna")
    ben = await database_sync_to_async(viewer)(staged, "Ben")
    await database_sync_to_async(services.ask)(ben, "Wann beginnt der Bau?")
    await database_sync_to_async(services.raise_hand)(ben)
    socket, _ = await viewer_socket(staged, anna)
    try:
        await socket.send_json_to({"type": "media", "op": "join"})
        assert (await media_answer(socket))["op"] == "publishers"

        janus_settings.kill()
        assert await media_answer(socket) == {"type": "media", "op": "error", "reason": "unavailable"}

        # Janus is down: the chat, questions and hands go on.
        await socket.send_json_to({"type": "chat", "text": "Ist das Bild weg?"})
        assert (await receive_until(socket, "chat"))["text"] == "Ist das Bild weg?"
        await socket.send_json_to({"type": "question", "text": "Und ohne Video?"})
        await socket.send_json_to({"type": "hand", "raised": True})
        # A re-join while nothing answers is told so (the page waits and tries again).
        rooms.forget_health()
        await socket.send_json_to({"type": "media", "op": "join"})
        assert await media_answer(socket) == {"type": "media", "op": "error", "reason": "unavailable"}

        await database_sync_to_async(restart)(janus_settings)
        await socket.send_json_to({"type": "media", "op": "join"})
        assert (await media_answer(socket))["op"] == "publishers"  # the room is back, Anna is in it

        assert await database_sync_to_async(room_exists)(staged)
        # Another peer (a page that reloaded) joins the re-created room too.
        seen = Recorder()
        peer = JanusPeer(staged.janus_server, staged.room_id or 0, seen)
        try:
            await peer.handle({"op": "join"})
            assert (await seen.first())["op"] == "publishers"
        finally:
            await peer.close()
    finally:
        await socket.disconnect()
        await database_sync_to_async(restart)(janus_settings)

    def kept() -> tuple[list[str], list[str], int, int]:
        questions = sorted(Question.objects.filter(event=staged).values_list("text", flat=True))
        chat = list(ChatMessage.objects.filter(event=staged).values_list("text", flat=True))
        hands = HandRaise.objects.filter(attendee__event=staged, lowered_at__isnull=True).count()
        return questions, chat, hands, StageSeat.objects.filter(event=staged).count()

    assert await database_sync_to_async(kept)() == (
        ["Und ohne Video?", "Wann beginnt der Bau?"],
        ["Ist das Bild weg?"],
        2,
        1,  # the host's seat
    )

"""JanusPeer against a real Janus: the browser is untrusted (every malformed message is refused
before anything reaches Janus), the room is entered and left cleanly, and a Janus that goes
away is reported, not raised. The media themselves are proven in ``tests/sfu/browser``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from buergerbuero.sfu import peer as peer_module
from buergerbuero.sfu import rooms
from buergerbuero.sfu.peer import MAX_SDP, JanusPeer
from tests.support.janus import JanusTestServer, room_number

pytestmark = pytest.mark.anyio

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
OFFER = {"type": "offer", "sdp": SDP}


class Browser:
    """What the socket would send to the browser."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    async def next(self, op: str, timeout: float = 5) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for event in self.events:
                if event["op"] == op:
                    self.events.remove(event)
                    return event
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {op!r} within {timeout}s; got {self.events}")


@pytest.fixture
def room(janus_settings: JanusTestServer) -> Iterator[int]:
    number = room_number()
    rooms.create_room(janus_settings.name, number, description="Infoabend", max_publishers=2)
    yield number
    rooms.destroy_room(janus_settings.name, number)


INVALID: list[Any] = [
    "publish",
    {"op": "record"},
    {"op": "publish"},
    {"op": "publish", "jsep": {"type": "answer", "sdp": SDP}},
    {"op": "publish", "jsep": {"type": "offer", "sdp": 42}},
    {"op": "publish", "jsep": {"type": "offer", "sdp": "hello"}},
    {"op": "publish", "jsep": {"type": "offer", "sdp": SDP + "a" * MAX_SDP}},
    {"op": "publish", "jsep": OFFER, "display": 7},
    {"op": "publish", "jsep": OFFER, "display": "x" * 65},
    {"op": "publish", "jsep": OFFER, "audio": "yes"},
    {"op": "configure", "audio": 1},
    {"op": "subscribe"},
    {"op": "subscribe", "feeds": []},
    {"op": "subscribe", "feeds": 5},
    {"op": "subscribe", "feeds": ["5"]},
    {"op": "subscribe", "feeds": [True]},
    {"op": "subscribe", "feeds": [0]},
    {"op": "subscribe", "feeds": [-3]},
    {"op": "subscribe", "feeds": [2**53]},
    {"op": "subscribe", "feeds": list(range(1, 18))},
    {"op": "answer", "jsep": {"type": "offer", "sdp": SDP}},
    {"op": "trickle", "target": "publisher", "candidate": "candidate:1"},
    {"op": "trickle", "target": "janus", "candidate": None},
    {"op": "trickle", "target": "publisher", "candidate": {"candidate": "c" * 2000}},
    {"op": "trickle", "target": "publisher", "candidate": {"candidate": "c", "sdpMLineIndex": "0"}},
]


@pytest.mark.parametrize("message", INVALID)
async def test_a_malformed_message_is_refused_before_janus_hears_of_it(
    janus_settings: JanusTestServer, room: int, message: Any
) -> None:
    browser = Browser()
    peer = JanusPeer(janus_settings.name, room, browser)
    try:
        await peer.handle(message)
        assert browser.events == [{"op": "error", "reason": "invalid"}]
        assert peer._session_url == ""  # no Janus session was even made
    finally:
        await peer.close()


async def test_an_answer_or_a_candidate_without_a_connection_is_refused(
    janus_settings: JanusTestServer, room: int
) -> None:
    browser = Browser()
    peer = JanusPeer(janus_settings.name, room, browser)
    try:
        await peer.handle({"op": "join"})
        await browser.next("publishers")
        await peer.handle({"op": "answer", "jsep": {"type": "answer", "sdp": SDP}})
        await peer.handle({"op": "trickle", "target": "subscriber", "candidate": None})
        assert browser.events == [{"op": "error", "reason": "invalid"}] * 2
    finally:
        await peer.close()


async def test_join_shows_the_stage_and_close_leaves_janus(
    janus_settings: JanusTestServer, room: int
) -> None:
    browser = Browser()
    peer = JanusPeer(janus_settings.name, room, browser)
    await peer.handle({"op": "join"})
    assert await browser.next("publishers") == {"op": "publishers", "feeds": []}
    assert len(rooms.participants(janus_settings.name, room)) == 1
    session = peer._session_url

    await peer.close()
    await peer.close()  # twice is fine
    assert rooms.participants(janus_settings.name, room) == []
    async with httpx.AsyncClient() as client:
        answer = (
            await client.post(
                session,
                json={"janus": "keepalive", "transaction": "t", "apisecret": janus_settings.api_secret},
            )
        ).json()
    assert answer["error"]["code"] == 458  # the session is gone
    await peer.handle({"op": "join"})  # a message after the close does nothing
    assert browser.events == []


async def test_viewers_can_only_watch_feeds_janus_announced_in_their_room(
    janus_settings: JanusTestServer, room: int
) -> None:
    browser = Browser()
    peer = JanusPeer(janus_settings.name, room, browser)
    try:
        await peer.handle({"op": "join"})
        await browser.next("publishers")
        await peer.handle({"op": "subscribe", "feeds": [123456789]})  # guessed: nobody publishes it here
        await asyncio.sleep(0.3)
        assert browser.events == []
        assert peer._subscriber_handle is None  # nothing was asked of Janus
        # the guesses a page may keep are bounded
        for start in range(1, 200, 16):
            await peer.handle({"op": "subscribe", "feeds": list(range(start, start + 16))})
        assert {"op": "error", "reason": "invalid"} in browser.events
        assert len(peer._wanted) <= peer_module.MAX_WANTED
    finally:
        await peer.close()


async def test_configure_and_unpublish_off_stage_say_so(janus_settings: JanusTestServer, room: int) -> None:
    browser = Browser()
    peer = JanusPeer(janus_settings.name, room, browser)
    try:
        await peer.handle({"op": "configure", "audio": False})
        await peer.handle({"op": "unpublish"})
        reasons = [event["reason"] for event in browser.events if event["op"] == "error"]
        assert reasons == ["not_publishing", "not_publishing"]
    finally:
        await peer.close()


async def test_a_room_that_does_not_exist_is_reported(janus_settings: JanusTestServer) -> None:
    browser = Browser()
    peer = JanusPeer(janus_settings.name, room_number(), browser)
    try:
        await peer.handle({"op": "join"})
        assert await browser.next("error") == {"op": "error", "reason": "room_closed"}
    finally:
        await peer.close()


async def test_a_room_ended_by_the_host_is_reported(janus_settings: JanusTestServer) -> None:
    number = room_number()
    rooms.create_room(janus_settings.name, number, description="x", max_publishers=1)
    browser = Browser()
    peer = JanusPeer(janus_settings.name, number, browser)
    try:
        await peer.handle({"op": "join"})
        await browser.next("publishers")
        await asyncio.to_thread(rooms.destroy_room, janus_settings.name, number)
        assert await browser.next("error") == {"op": "error", "reason": "room_closed"}
    finally:
        await peer.close()


async def test_janus_going_away_is_reported_not_raised(janus_settings: JanusTestServer, room: int) -> None:
    browser = Browser()
    peer = JanusPeer(janus_settings.name, room, browser)
    try:
        await peer.handle({"op": "join"})
        await browser.next("publishers")
        janus_settings.kill()
        assert await browser.next("error") == {"op": "error", "reason": "unavailable"}
        await peer.handle({"op": "subscribe", "feeds": [1]})
        await peer.handle({"op": "unpublish"})
    finally:
        await peer.close()
        janus_settings.start()

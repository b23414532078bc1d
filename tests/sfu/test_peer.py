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
        assert peer._session is None  # no Janus session was even asked for
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
    assert peer._session is not None
    session = peer._session.url

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
    assert answer["error"]["code"] == 458  # the session is gone with its last peer
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


async def test_the_peers_of_a_process_share_one_janus_session(
    janus_settings: JanusTestServer, room: int
) -> None:
    """One long poll for all: each peer still gets only its own events, and the session ends
    with the last peer."""
    first, second = Browser(), Browser()
    peers = [JanusPeer(janus_settings.name, room, first), JanusPeer(janus_settings.name, room, second)]
    try:
        for peer in peers:
            await peer.handle({"op": "join"})
        assert await first.next("publishers") == {"op": "publishers", "feeds": []}
        assert await second.next("publishers") == {"op": "publishers", "feeds": []}
        assert peers[0]._session is peers[1]._session
        assert len(rooms.participants(janus_settings.name, room)) == 2
        await peers[0].close()
        assert len(rooms.participants(janus_settings.name, room)) == 1  # the other stays
        await asyncio.sleep(0.2)
        assert first.events == second.events == []
        await peers[1].handle({"op": "subscribe", "feeds": [7]})  # its session still answers
        await asyncio.sleep(0.2)
        assert second.events == []
    finally:
        for peer in peers:
            await peer.close()
    assert rooms.participants(janus_settings.name, room) == []
    assert peer_module._sessions.get(asyncio.get_running_loop(), {}) == {}


async def test_a_lost_session_is_reported_to_every_peer_and_the_next_one_opens_anew(
    janus_settings: JanusTestServer,
) -> None:
    number = room_number()
    rooms.create_room(janus_settings.name, number, description="x", max_publishers=1)
    browsers = [Browser(), Browser()]
    peers = [JanusPeer(janus_settings.name, number, browser) for browser in browsers]
    try:
        for peer, browser in zip(peers, browsers, strict=True):
            await peer.handle({"op": "join"})
            await browser.next("publishers")
        session = peers[0]._session
        janus_settings.kill()
        for browser in browsers:
            assert await browser.next("error") == {"op": "error", "reason": "unavailable"}
        janus_settings.start()
        rooms.create_room(janus_settings.name, number, description="x", max_publishers=1)
        late = Browser()
        peers.append(JanusPeer(janus_settings.name, number, late))
        await peers[-1].handle({"op": "join"})
        assert await late.next("publishers") == {"op": "publishers", "feeds": []}
        assert peers[-1]._session is not session
    finally:
        for peer in peers:
            await peer.close()
        janus_settings.ensure_running()

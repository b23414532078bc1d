"""The media proof: one Chromium publishes through JanusPeer and stage.js into a real Janus,
three Chromium viewers decode its video; switching to the screen reaches them on the same
connections, leaving the stage reaches them, and so does coming back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from buergerbuero.sfu import rooms
from tests.sfu.browser.stage_app import StageServer
from tests.support.janus import JanusTestServer, room_number

pytestmark = pytest.mark.browser

VIDEO_PLAYS = "() => [...document.querySelectorAll('video')].some((video) => video.videoWidth > 0)"


@pytest.fixture
def stage_server(janus_settings: JanusTestServer) -> Iterator[StageServer]:
    server = StageServer(janus_settings.name)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def room(janus_settings: JanusTestServer) -> Iterator[int]:
    number = room_number()
    rooms.create_room(janus_settings.name, number, description="Infoabend", max_publishers=3)
    yield number
    rooms.destroy_room(janus_settings.name, number)


def open_stage(browser: Any, server: StageServer, room: int, role: str, **context: Any) -> Any:
    page = browser.new_context(**context).new_page()
    page.goto(f"{server.url}/stage/?room={room}&role={role}")
    page.wait_for_function("() => window.proof && window.proof.ready")
    return page


def test_one_publisher_three_viewers_decode_video(browser: Any, stage_server: StageServer, room: int) -> None:
    host = open_stage(browser, stage_server, room, "publisher")
    host.wait_for_function("() => window.proof.stage.feed !== null", timeout=15000)
    feed = host.evaluate("window.proof.stage.feed")
    viewers = [
        open_stage(browser, stage_server, room, "viewer"),
        open_stage(browser, stage_server, room, "viewer", viewport={"width": 360, "height": 740}),
        open_stage(browser, stage_server, room, "viewer", locale="ar"),
    ]
    for viewer in viewers:
        viewer.wait_for_function(VIDEO_PLAYS, timeout=20000)
        viewer.wait_for_function("async () => (await window.framesDecoded()) > 0", timeout=10000)
        assert viewer.evaluate("window.proof.announced.map((f) => f.id)") == [feed]
        assert viewer.evaluate("window.proof.announced[0].display") == "Bürgermeisterin"
        assert viewer.evaluate("window.proof.errors") == []
    assert {entry["id"] for entry in rooms.participants("test", room) if entry["publisher"]} == {feed}

    # Camera → screen: the same connections carry it (the fake screen is 1280 px wide).
    host.evaluate("window.shareScreen()")
    for viewer in viewers:
        viewer.wait_for_function(
            "() => [...document.querySelectorAll('video')].some((video) => video.videoWidth > 640)",
            timeout=20000,
        )

    # Off stage: every viewer hears that the feed left, and its video goes.
    host.evaluate("window.proof.stage.unpublish()")
    for viewer in viewers:
        viewer.wait_for_function(f"() => window.proof.gone.includes({feed})", timeout=10000)
        assert viewer.evaluate("document.querySelectorAll('video').length") == 0
    # Back on stage: Janus hands the feed the m-lines it had, and the viewers take them up.
    host.evaluate("window.publishCamera()")
    for viewer in viewers:
        viewer.wait_for_function(VIDEO_PLAYS, timeout=20000)
    assert host.evaluate("window.proof.errors") == [], [
        e for e in stage_server.app.sent if e["op"] == "error"
    ] + [{k: v for k, v in m.items() if k != "jsep"} for m in stage_server.app.received]


def test_a_removed_viewer_is_told_and_hung_up(browser: Any, stage_server: StageServer, room: int) -> None:
    host = open_stage(browser, stage_server, room, "publisher")
    host.wait_for_function("() => window.proof.stage.feed !== null", timeout=15000)
    feed = host.evaluate("window.proof.stage.feed")

    rooms.kick("test", room, feed)
    host.wait_for_function("() => window.proof.errors.includes('removed')", timeout=10000)
    assert host.evaluate("window.proof.stage.publisher") is None

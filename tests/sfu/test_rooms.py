"""Rooms against a real Janus: made and ended idempotently, guarded by secrets, assigned by load,
and the health check following Janus down and up again."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from buergerbuero.sfu import process, rooms
from buergerbuero.sfu.servers import JanusServer, server
from tests.support.janus import JanusTestServer, room_number


def room_ids(name: str) -> set[int]:
    return {entry["room"] for entry in rooms.live_rooms(name)}


def janus_request(
    janus: JanusTestServer, body: dict[str, Any], *, api_secret: str | None = None
) -> dict[str, Any]:
    """One VideoRoom request as anyone who reached Janus would send it (own session and handle)."""
    secret = janus.api_secret if api_secret is None else api_secret
    with httpx.Client(timeout=5) as client:

        def post(url: str, payload: dict[str, Any]) -> dict[str, Any]:
            answer: dict[str, Any] = client.post(
                url, json={**payload, "transaction": "t", "apisecret": secret}
            ).json()
            return answer

        created = post(janus.url, {"janus": "create"})
        if created["janus"] == "error":
            return created
        session = f"{janus.url}/{created['data']['id']}"
        handle = post(session, {"janus": "attach", "plugin": rooms.PLUGIN})["data"]["id"]
        answer = post(f"{session}/{handle}", {"janus": "message", "body": body})
        post(session, {"janus": "destroy"})
    data: dict[str, Any] = answer["plugindata"]["data"]
    return data


def test_create_and_destroy_are_idempotent(janus_settings: JanusTestServer) -> None:
    room = room_number()
    rooms.create_room("test", room, description="Bürgersprechstunde", max_publishers=4)
    rooms.create_room("test", room, description="Bürgersprechstunde", max_publishers=4)
    assert room in room_ids("test")
    listed = next(entry for entry in rooms.live_rooms("test") if entry["room"] == room)
    assert listed["max_publishers"] == 4
    assert listed["description"] == "Bürgersprechstunde"

    rooms.destroy_room("test", room)
    rooms.destroy_room("test", room)
    assert room not in room_ids("test")


def test_rooms_are_private_to_anyone_without_the_admin_key(janus_settings: JanusTestServer) -> None:
    room = room_number()
    rooms.create_room("test", room, description="Pressekonferenz", max_publishers=2)
    try:
        listed = janus_request(janus_settings, {"request": "list"})
        assert room not in {entry["room"] for entry in listed["list"]}
    finally:
        rooms.destroy_room("test", room)


def test_creating_a_room_needs_the_admin_key(janus_settings: JanusTestServer) -> None:
    room = room_number()
    without = janus_request(janus_settings, {"request": "create", "room": room, "publishers": 1})
    wrong = janus_request(
        janus_settings, {"request": "create", "room": room, "admin_key": "guess", "publishers": 1}
    )
    assert without["error_code"] == 429  # missing admin_key
    assert wrong["error_code"] == 433  # unauthorized
    assert room not in room_ids("test")


def test_a_room_is_ended_and_moderated_only_with_its_own_secret(janus_settings: JanusTestServer) -> None:
    room, other = room_number(), room_number()
    rooms.create_room("test", room, description="Infoabend", max_publishers=2)
    rooms.create_room("test", other, description="Infoabend", max_publishers=2)
    try:
        janus = server("test")
        wrong = janus_request(janus_settings, {"request": "destroy", "room": room, "secret": "guess"})
        # another room's secret does not open this one
        borrowed = janus_request(
            janus_settings, {"request": "destroy", "room": room, "secret": rooms.room_secret(janus, other)}
        )
        assert wrong["error_code"] == rooms.UNAUTHORIZED
        assert borrowed["error_code"] == rooms.UNAUTHORIZED
        assert room in room_ids("test")
    finally:
        rooms.destroy_room("test", room)
        rooms.destroy_room("test", other)


def test_janus_refuses_requests_without_the_api_secret(janus_settings: JanusTestServer) -> None:
    refused = janus_request(janus_settings, {"request": "list"}, api_secret="guess")
    assert refused["janus"] == "error"
    assert refused["error"]["code"] == 403


def test_a_wrong_api_secret_in_the_settings_is_an_error_not_a_crash(
    janus_settings: JanusTestServer, settings: Any
) -> None:
    settings.JANUS_SERVERS = [{**janus_settings.settings_entry(), "api_secret": "guess"}]
    rooms.forget_health()
    assert rooms.available() is False
    with pytest.raises(rooms.SfuError) as refused:
        rooms.create_room("test", room_number(), description="x", max_publishers=1)
    assert refused.value.code == "sfu_refused"
    assert "403" in str(refused.value)
    assert "403" not in refused.value.message  # Janus's words never reach a user


def test_kick_and_moderate_of_a_feed_that_is_gone_do_no_harm(janus_settings: JanusTestServer) -> None:
    room = room_number()
    rooms.create_room("test", room, description="x", max_publishers=1)
    try:
        rooms.kick("test", room, 12345)
        with pytest.raises(rooms.SfuError):
            rooms.moderate("test", room, 12345, audio=False)
        assert rooms.participants("test", room) == []
    finally:
        rooms.destroy_room("test", room)
    assert rooms.participants("test", room) == []


def test_an_event_goes_to_the_server_with_the_fewest_live_rooms(
    janus_settings: JanusTestServer, settings: Any
) -> None:
    second = JanusTestServer(rtp_ports=20, name="second")
    second.start()
    try:
        settings.JANUS_SERVERS = [janus_settings.settings_entry(), second.settings_entry()]
        rooms.forget_health()
        busy = [room_number() for _ in range(len(rooms.live_rooms("second")) + 1)]
        for room in busy:
            rooms.create_room("test", room, description="x", max_publishers=1)
        assert rooms.assign_server() == "second"

        for room in busy:
            rooms.destroy_room("test", room)
        taken = [room_number() for _ in range(len(rooms.live_rooms("test")) + 1)]
        for room in taken:
            rooms.create_room("second", room, description="x", max_publishers=1)
        assert rooms.assign_server() == "test"

        # a server that does not answer takes no event, however empty it is
        janus_settings.stop()
        rooms.forget_health()
        assert rooms.assign_server() == "second"
    finally:
        second.remove()
        janus_settings.start()
        rooms.forget_health()


def test_available_follows_janus_down_and_up_again(janus_settings: JanusTestServer) -> None:
    assert rooms.available() is True
    assert rooms.available("test") is True

    janus_settings.kill()  # SIGKILL, as a crash
    assert rooms.available() is True  # the answer is cached for a few seconds …
    rooms.forget_health()
    assert rooms.available() is False  # … and then the truth
    with pytest.raises(rooms.SfuError) as refused:
        rooms.assign_server()
    assert refused.value.code == "sfu_unavailable"
    with pytest.raises(rooms.SfuError):
        rooms.create_room("test", room_number(), description="x", max_publishers=1)

    janus_settings.start()
    rooms.forget_health()
    assert rooms.available() is True


def test_the_health_answer_is_cached(
    janus_settings: JanusTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    real_ping = process.ping

    def counting_ping(url: str, api_secret: str, *, timeout: float) -> bool:
        asked.append(url)
        return real_ping(url, api_secret, timeout=timeout)

    monkeypatch.setattr(rooms, "ping", counting_ping)
    for _ in range(5):
        assert rooms.available()
    assert len(asked) == 1


def test_the_server_must_be_configured() -> None:
    with pytest.raises(LookupError):
        server("nowhere")
    assert isinstance(JanusServer("a", "http://x", "s", "k"), JanusServer)

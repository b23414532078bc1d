"""The live status channel of the office directory."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from channels.testing.websocket import WebsocketCommunicator

from buergerbuero.config.asgi import application
from buergerbuero.offices.models import Office

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.anyio]
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def _communicator(path: str, origin: bytes = b"http://localhost") -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=[(b"host", b"localhost"), (b"origin", origin)])


@time_machine.travel(dt.datetime(2026, 11, 26, 15, 50, tzinfo=BERLIN), tick=False)
async def test_snapshot_on_connect_and_on_refresh(office: Office) -> None:
    communicator = _communicator("/ws/testhausen/status/?lang=de")
    connected, _ = await communicator.connect()
    assert connected

    snapshot = await communicator.receive_json_from()
    assert snapshot == {
        "type": "status",
        "offices": [
            {
                "office": "buergerbuero",
                "state": "closing",
                "label": "schließt in 10 Minuten",
                "today": "08:00–16:00",
                "next_change_at": "2026-11-26T15:51:00+01:00",
                "waiting": 0,
                "seats": 1,
                "staffed": 0,
                "free": 0,
                "estimate": None,
            }
        ],
    }

    await communicator.send_json_to({"type": "refresh"})
    assert (await communicator.receive_json_from())["type"] == "status"
    await communicator.disconnect()


@time_machine.travel(dt.datetime(2026, 11, 26, 10, 0, tzinfo=BERLIN), tick=False)
async def test_english_snapshot_when_the_page_is_english(office: Office) -> None:
    communicator = _communicator("/ws/testhausen/status/?lang=en")
    await communicator.connect()

    snapshot = await communicator.receive_json_from()
    assert snapshot["offices"][0]["label"] == "open until 4 p.m."
    await communicator.disconnect()


async def test_unknown_organisation_is_refused(db: None) -> None:
    communicator = _communicator("/ws/gibtsnicht/status/")
    connected, _ = await communicator.connect()
    assert not connected


async def test_foreign_origin_is_refused(office: Office) -> None:
    communicator = _communicator("/ws/testhausen/status/", origin=b"https://evil.example")
    connected, _ = await communicator.connect()
    assert not connected


async def test_unknown_messages_are_ignored(office: Office) -> None:
    communicator = _communicator("/ws/testhausen/status/")
    await communicator.connect()
    await communicator.receive_json_from()

    await communicator.send_json_to({"type": "nonsense"})
    await communicator.send_to(text_data="not json at all")
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()

"""Socket addresses with junk in them: every WebSocket route closes the handshake cleanly with
4404 (unknown) or 4403 (not yours) — no exception, nothing logged as an error, no 500.

The whole ASGI application is driven (origin check, routing, consumers), as a browser's
handshake would be.
"""

from __future__ import annotations

import logging

import pytest
from channels.testing.websocket import WebsocketCommunicator

from buergerbuero.config.asgi import application
from buergerbuero.offices.models import Office

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.anyio]

LONG = "x" * 5000
JUNK_PATHS = [
    "/ws/consultations/abc/",
    "/ws/consultations/-1/",
    "/ws/consultations/0/",
    "/ws/consultations/99999999999999999999999999/",
    "/ws/consultations/1e5/",
    f"/ws/consultations/{'9' * 5000}/",
    "/ws/consultations/",
    "/ws/tickets/",
    "/ws/tickets/unknown/",
    f"/ws/tickets/{LONG}/",
    "/ws/tickets/%00/",
    "/ws/tickets/a%2Fb/",
    "/ws/console/extra/",
    "/ws/unknown-org/status/",
    f"/ws/{LONG}/status/",
    "/ws/%C3%BC%00/status/",
    "/ws/",
    "/ws/nothing/here/at/all/",
    "/elsewhere/",
]


async def handshake(path: str) -> tuple[bool, int | None]:
    communicator = WebsocketCommunicator(
        application, path, headers=[(b"host", b"localhost"), (b"origin", b"http://localhost")]
    )
    connected, code = await communicator.connect(timeout=5)
    if connected:
        await communicator.disconnect()
    return connected, code


@pytest.mark.parametrize("path", JUNK_PATHS)
async def test_a_socket_address_with_junk_is_closed_cleanly(
    office: Office, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        connected, code = await handshake(path)

    assert not connected
    assert code in (4403, 4404)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_the_console_without_a_login_is_refused(office: Office) -> None:
    assert await handshake("/ws/console/") == (False, 4403)

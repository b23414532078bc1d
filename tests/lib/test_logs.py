"""Logs without secrets: ``lib.logs.redact`` on the addresses we serve, masked recipients, and
the real server's log (``manage.py serve``: uvicorn's access lines and WebSocket handshakes,
Django's “Not Found”) holding no ticket, appointment, invite or calendar-feed secret.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import httpx
import pytest
import websockets

from buergerbuero.lib.logs import mask_email, mask_phone, redact, shorten_address
from tests.support.server import AsgiServer

TOKEN = secrets.token_urlsafe(32)


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        (f'127.0.0.1:5 - "GET /w/{TOKEN}/ HTTP/1.1" 200', '127.0.0.1:5 - "GET /w/…/ HTTP/1.1" 200'),
        (f"POST /w/{TOKEN}/confirm/", "POST /w/…/confirm/"),
        (f"GET /a/{TOKEN}/termin.ics", "GET /a/…/termin.ics"),
        (f"GET /calendar/{TOKEN}.ics", "GET /calendar/….ics"),
        (f"GET /interpret/{TOKEN}/", "GET /interpret/…/"),
        ("GET /interpret/done/", "GET /interpret/done/"),
        ("GET /interpret/consultations/12/", "GET /interpret/consultations/12/"),
        (f'"WebSocket /ws/tickets/{TOKEN}/" [accepted]', '"WebSocket /ws/tickets/…/" [accepted]'),
        (f"/ws/consultations/3/?ticket={TOKEN}", "/ws/consultations/3/?ticket=…"),
        (f"/consultations/3/documents/4/?ticket={TOKEN}&x=1", "/consultations/3/documents/4/?ticket=…&x=1"),
        (f"Not Found: /somewhere/{TOKEN}", "Not Found: /somewhere/…"),
        (
            "/musterstadt/schwangerschaftsberatung/book/?service=3",
            "/musterstadt/schwangerschaftsberatung/book/?service=3",
        ),
        ("/staff/appointments/?date=2026-12-01&view=week", "/staff/appointments/?date=2026-12-01&view=week"),
        ("PermissionDeniedExceptionHandler", "PermissionDeniedExceptionHandler"),
    ],
)
def test_redact_hides_the_secrets_of_links_and_keeps_the_rest(line: str, shown: str) -> None:
    assert redact(line) == shown


@pytest.mark.parametrize(
    ("client", "shown"),
    [
        ("203.0.113.57:51234", "203.0.113.0"),
        ("[2001:db8:1:2::5]:443", "2001:db8:1::"),
        ("2001:db8:1:2::5", "2001:db8:1::"),
        ("unix-socket", "…"),
    ],
)
def test_client_addresses_are_shortened_to_their_network(client: str, shown: str) -> None:
    assert shorten_address(client) == shown


def test_recipients_are_masked() -> None:
    assert mask_email("berta.beispiel@example.de") == "b***@example.de"
    assert mask_phone("+4915123456789") == "+49 *** 89"
    assert mask_phone("12") == "***"


# --- the real server ------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_servers_log_holds_no_link_secrets(asgi_server: AsgiServer) -> None:
    server = asgi_server
    start = server.log_path.stat().st_size
    secrets_sent = {
        name: secrets.token_urlsafe(32) for name in ("ticket", "appointment", "feed", "invite", "ws")
    }
    with httpx.Client(base_url=server.url) as client:
        client.get(f"/w/{secrets_sent['ticket']}/")
        client.get(f"/a/{secrets_sent['appointment']}/")
        client.get(f"/calendar/{secrets_sent['feed']}.ics")
        client.get(f"/interpret/{secrets_sent['invite']}/")

    async def handshake() -> None:
        url = f"ws://localhost:{server.port}/ws/tickets/{secrets_sent['ws']}/"
        try:
            async with websockets.connect(url, origin=websockets.Origin(server.url)):
                pass
        except websockets.exceptions.InvalidStatus:  # refused: no such ticket
            return

    asyncio.run(handshake())
    time.sleep(0.5)  # the access lines are written after the responses
    log = server.log_path.read_bytes()[start:].decode(errors="replace")

    assert '"GET /w/…/ HTTP/1.1" 404' in log
    assert "/calendar/….ics" in log
    assert "127.0.0.0 - " in log  # the client address shortened to its network
    assert "127.0.0.1:" not in log
    for name, secret in secrets_sent.items():
        assert secret not in log, name

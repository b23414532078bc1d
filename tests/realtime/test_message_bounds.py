"""What browsers send over our sockets is bounded in size and depth.

``parse`` never raises (``"[" * 100000`` used to end in a RecursionError that killed the
consumer); the waiting-room, console, directory and consultation sockets shrug off deeply
nested and oversize messages and keep answering; the real server refuses frames above
``WS_MAX_BYTES`` (close code 1009) and still carries the largest legitimate message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from buergerbuero.config.asgi import application
from buergerbuero.consult.consumers import MAX_SIGNAL_BYTES
from buergerbuero.offices.models import Office
from buergerbuero.realtime.messages import MAX_DEPTH, MAX_MESSAGE_BYTES, parse
from buergerbuero.waiting.services import joining
from tests.consult.support import OPEN, connect, receive_until, start_consultation
from tests.support.server import AsgiServer

LOCAL = b"http://localhost"


def nested(levels: int, inner: str = "1") -> str:
    return '{"type":"refresh","a":' + "[" * levels + inner + "]" * levels + "}"


# --- parse ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "{" * 100_000,
        '{"a":' * 20_000,
        "[" * 5_000 + "]" * 5_000,
        nested(MAX_DEPTH),
        nested(900),  # parses in C without RecursionError, but far deeper than any message of ours
    ],
)
def test_parse_never_raises_and_refuses_deep_messages(text: str) -> None:
    assert parse(text, limit=len(text)) == {}


def test_parse_keeps_ordinary_nesting() -> None:
    message = parse(nested(MAX_DEPTH - 2))

    assert message["type"] == "refresh"


def test_parse_refuses_messages_above_the_limit() -> None:
    assert parse(json.dumps({"type": "refresh", "x": "y" * MAX_MESSAGE_BYTES})) == {}


# --- the sockets, driven through the whole ASGI application --------------------------------------------
def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def open_socket(path: str, cookie: str = "") -> Any:
    headers = [(b"host", b"localhost"), (b"origin", LOCAL)]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    socket = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await socket.connect()
    assert connected, code
    await socket.receive_from(timeout=3)  # the greeting (snapshot, state, status)
    return socket


def hostile(limit: int) -> list[str]:
    """Deeply nested texts just within the socket's size limit."""
    return ["[" * limit, "{" * limit, '{"a":' * (limit // 5), nested(limit // 2 - 40)]


async def assert_still_answers(socket: Any, request: dict[str, Any], answer_type: str) -> None:
    await socket.send_json_to(request)
    for _ in range(5):
        if json.loads(await socket.receive_from(timeout=3))["type"] == answer_type:
            return
    pytest.fail(f"no {answer_type} after the hostile messages")


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_waiting_room_socket_survives_deep_and_oversize_messages(office: Office) -> None:
    ticket = await database_sync_to_async(joining.join)(
        office, service=None, display_name="", language="de", mode="video", now=OPEN
    )
    socket = await open_socket(f"/ws/tickets/{ticket.token}/")

    for text in [*hostile(MAX_MESSAGE_BYTES), "[" * 1_000_000]:
        await socket.send_to(text_data=text)

    await assert_still_answers(socket, {"type": "resync"}, "snapshot")
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_console_socket_survives_deep_and_oversize_messages(office: Office, agent: User) -> None:
    socket = await open_socket("/ws/console/", cookie=await database_sync_to_async(session_cookie)(agent))

    for text in [*hostile(MAX_MESSAGE_BYTES), "[" * 1_000_000]:
        await socket.send_to(text_data=text)

    await assert_still_answers(socket, {"type": "refresh"}, "state")
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_directory_socket_survives_deep_and_oversize_messages(office: Office) -> None:
    socket = await open_socket(f"/ws/{office.organization.slug}/status/")

    for text in hostile(MAX_MESSAGE_BYTES):
        await socket.send_to(text_data=text)

    await assert_still_answers(socket, {"type": "refresh"}, "status")
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_consultation_socket_survives_deep_and_oversize_messages(office: Office, agent: User) -> None:
    consultation = await database_sync_to_async(start_consultation)(office, agent)
    token = await database_sync_to_async(lambda: consultation.ticket.token)()
    citizen = await connect(consultation.pk, token=token)
    await receive_until(citizen, type="history")

    for text in [*hostile(MAX_SIGNAL_BYTES), "[" * (MAX_SIGNAL_BYTES + 1)]:
        await citizen.send_to(text_data=text)

    await citizen.send_json_to({"type": "chat", "text": "Noch da?"})
    messages = await receive_until(citizen, type="chat")
    assert messages[-1]["text"] == "Noch da?"
    await citizen.disconnect()


# --- the server's own frame limit ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(django_db_setup: None, django_db_blocker: object) -> Iterator[AsgiServer]:
    running = AsgiServer()
    running.start()
    yield running
    running.stop()


async def close_code_after(url: str, text: str) -> int | None:
    """Send ``text`` as one frame, ask for a snapshot; the close code if the server hung up."""
    async with websockets.connect(url, origin="http://localhost", max_size=None) as socket:  # type: ignore[arg-type]
        await socket.recv()
        try:
            await socket.send(text)
            await asyncio.sleep(0.2)  # let the server judge the frame before the next one
            await socket.send(json.dumps({"type": "refresh"}))
            await asyncio.wait_for(socket.recv(), timeout=3)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else 1006
        return None


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_server_refuses_frames_above_the_limit(server: AsgiServer, office: Office) -> None:
    url = f"ws://localhost:{server.port}/ws/{office.organization.slug}/status/"

    assert await close_code_after(url, "x" * (1024 * 1024)) == 1009  # "message too big"
    assert await close_code_after(url, "x" * (MAX_SIGNAL_BYTES + 1024)) is None  # signalling fits

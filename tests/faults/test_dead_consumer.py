"""A consumer that dies leaves no ghost ticket; a socket that floods the server is closed.

Whatever kills a waiting-room consumer — an exception while handling a message (before
``messages.parse`` was hardened, ``"[" * 100000`` raised ``RecursionError``), a send into a
socket that is gone — its liveness count is released, so the process stops touching the
ticket and the ticket expires after the office's grace period like any other abandoned one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.utils import timezone
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from buergerbuero.config.asgi import application
from buergerbuero.orgs.models import Organization
from buergerbuero.realtime.hub import hub
from buergerbuero.waiting import consumers
from buergerbuero.waiting.liveness import liveness
from buergerbuero.waiting.models import Ticket, TicketStatus
from buergerbuero.waiting.services import groups, joining, periodic
from tests import factories
from tests.faults.support import waiting_tickets
from tests.support.server import AsgiServer
from tests.waiting.conftest import always_open_office

pytestmark = pytest.mark.django_db(transaction=True)


def _explode(text: str | None, limit: int = 0) -> dict[str, object]:
    raise RecursionError("maximum recursion depth exceeded while decoding a JSON array")


@pytest.mark.anyio
async def test_a_consumer_killed_by_a_bad_message_releases_its_ticket(
    org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    office = await database_sync_to_async(always_open_office)(org, "buergerbuero", hold_place_seconds=120)
    ticket = await database_sync_to_async(joining.join)(
        office, service=None, display_name="", language="de", mode="video", now=timezone.now()
    )
    socket = WebsocketCommunicator(
        application,
        f"/ws/tickets/{ticket.token}/",
        headers=[(b"host", b"localhost"), (b"origin", b"http://localhost")],
    )
    connected, _ = await socket.connect()
    assert connected
    await socket.receive_from(timeout=3)
    assert liveness.tickets[ticket.pk] == 1
    assert hub.size(groups.ticket_group(ticket.pk)) == 1

    monkeypatch.setattr(consumers, "parse", _explode)  # what "[" * 100000 used to do
    await socket.send_to(text_data="[" * 100)
    with pytest.raises(RecursionError):
        await socket.wait(timeout=3)

    assert ticket.pk not in liveness.tickets
    assert hub.size(groups.ticket_group(ticket.pk)) == 0
    await asyncio.sleep(0.1)  # the release's "last seen" write
    later = timezone.now() + dt.timedelta(seconds=office.hold_place_seconds + 1)
    assert await database_sync_to_async(periodic.expire_lost_tickets)(later) == 1
    assert (await Ticket.objects.aget(pk=ticket.pk)).status == TicketStatus.EXPIRED


async def _flood(port: int, token: str) -> int | None:
    async with connect(
        f"ws://127.0.0.1:{port}/ws/tickets/{token}/",
        origin=Origin(f"http://localhost:{port}"),
        compression=None,
        proxy=None,
    ) as socket:
        snapshot = json.loads(await socket.recv())
        assert snapshot["type"] == "snapshot"
        try:
            for _ in range(200):
                await socket.send('{"type":"resync"}')
            while True:
                await asyncio.wait_for(socket.recv(), 10)
        except ConnectionClosed:
            pass
        return socket.close_code


def test_a_waiting_room_socket_that_floods_the_server_is_closed() -> None:
    org = factories.make_org("testhausen")
    office = always_open_office(org, "buergerbuero")
    [ticket] = waiting_tickets(office, 1)
    server = AsgiServer(extra_env={"REDIS_PREFIX": f"faults-{uuid.uuid4().hex[:10]}"})
    server.start(timeout=60)
    try:
        code = asyncio.run(_flood(server.port, ticket.token))
    finally:
        server.stop()

    assert code == 1008  # policy violation: far more than a page ever sends

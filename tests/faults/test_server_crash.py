"""A server process SIGKILLed under 1,000 waiting citizens: all back with their places.

The citizens reconnect like the browser's ``socket.js`` (backoff from 0.5 s, doubling, with
jitter); the server process is killed without warning (no shutdown, no disconnects) and
started again on the same port. Within 30 s of the restart every citizen has a fresh
snapshot with its place — the same place as before, since all queue state is in the database
— and nobody's ticket was given up. Runs in either mode (one process: events need no Redis).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from buergerbuero.waiting.models import Ticket, TicketStatus
from tests import factories
from tests.faults.support import Citizen, behind, truth, until, waiting_tickets
from tests.support.server import AsgiServer
from tests.waiting.conftest import always_open_office

pytestmark = pytest.mark.django_db(transaction=True)

CITIZENS = 1000
BACK_WITHIN = 30.0


async def _crash(server: AsgiServer, tokens: list[str], expected: dict[str, Any]) -> dict[str, Any]:
    citizens = [Citizen(server.port, token) for token in tokens]
    tasks = [asyncio.create_task(citizen.run()) for citizen in citizens]
    try:
        connected_in = await until(lambda: all(citizen.snapshots for citizen in citizens), 180)
        assert not behind(citizens, expected)
        assert server.process is not None
        server.process.kill()  # SIGKILL: no shutdown, no disconnect, nothing written
        await asyncio.to_thread(server.process.wait)
        server.process = None
        await until(lambda: all(citizen.disconnects for citizen in citizens), 30)
        await asyncio.to_thread(server.start, 60)
        restarted = time.monotonic()
        try:
            seconds = await until(lambda: all(citizen.snapshots >= 2 for citizen in citizens), BACK_WITHIN)
        except TimeoutError:
            seconds = None
        return {
            "connected_in": connected_in,
            "seconds": seconds,
            "missing": sum(1 for citizen in citizens if citizen.snapshots < 2),
            "behind": [(c.token, c.status, c.position) for c in behind(citizens, expected)],
            "since_restart": time.monotonic() - restarted,
        }
    finally:
        for citizen in citizens:
            citizen.stopped = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def test_citizens_are_back_with_their_places_within_30_s_after_a_server_is_killed() -> None:
    org = factories.make_org("testhausen")
    office = always_open_office(org, "buergerbuero")
    tickets = waiting_tickets(office, CITIZENS)
    expected = truth(office)
    server = AsgiServer(extra_env={"REDIS_PREFIX": f"faults-{uuid.uuid4().hex[:10]}"})
    server.start(timeout=60)
    try:
        seen = asyncio.run(_crash(server, [ticket.token for ticket in tickets], expected))
    finally:
        server.stop()

    print(  # noqa: T201  (figures for the report, shown with -s)
        f"server crash: {CITIZENS} first connected in {seen['connected_in']:.1f} s; back after the "
        f"restart in {seen['seconds'] if seen['seconds'] is None else round(seen['seconds'], 1)} s"
    )
    assert seen["missing"] == 0
    assert seen["seconds"] is not None
    assert seen["seconds"] <= BACK_WITHIN
    assert seen["behind"] == []
    assert Ticket.objects.filter(office=office, status=TicketStatus.WAITING).count() == CITIZENS

"""The scaled mode: several server processes on PostgreSQL + Redis behave as one.

A waiting citizen connected to process A must hear of a change made through process B (and
the other way round) with no gap in the sequence numbers; events cross processes over one
Redis subscription per process. These tests only mean something with REDIS_URL set: the
embedded mode runs a single process by design.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from buergerbuero.waiting.models import Ticket, TicketStatus
from tests import factories
from tests.support.server import AsgiServer
from tests.waiting.conftest import (
    TIMEOUT,
    LiveBrowser,
    ServerFactory,
    WaitingSocket,
    always_open_office,
    citizen_address,
    make_live_agent,
    position_after,
    subscribed_processes,
)

REDIS_URL = os.environ.get("REDIS_URL", "")
DATABASE_URL = os.environ.get("DATABASE_URL", "")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not REDIS_URL,
        reason=(
            "scaled mode only (REDIS_URL unset): the embedded mode runs one server process by "
            "design, so no event has to cross processes; `make test` runs this in its scaled "
            "pass, which sets REDIS_URL"
        ),
    ),
]

ORG = "testhausen"
OFFICE = "buergerbuero"


def _enter(server: AsgiServer, name: str) -> str:
    browser = LiveBrowser(server.port, forwarded_for=citizen_address())
    try:
        return browser.enter(ORG, OFFICE, name)
    finally:
        browser.close()


def _leave(server: AsgiServer, token: str) -> int:
    browser = LiveBrowser(server.port, forwarded_for=citizen_address())
    try:
        return browser.post(f"/w/{token}/leave/").status
    finally:
        browser.close()


async def _across_processes(
    a: AsgiServer, b: AsgiServer, agent: LiveBrowser, tokens: list[str]
) -> dict[str, Any]:
    prefix = a.extra_env["REDIS_PREFIX"]
    second = await WaitingSocket.open(a.port, tokens[1])  # waits on A, second in line
    await subscribed_processes(prefix, 1)
    seq = second.snapshot["seq"]

    # An agent logged in on B calls the first citizen: the citizen on A moves up.
    called = await asyncio.to_thread(agent.post, "/staff/console/call-next/")
    call_event = await second.next_event(seq)

    # A newcomer enters through B: queued behind, the citizen on A stays first.
    newcomer = await asyncio.to_thread(_enter, b, "Neu über B")
    join_event = await second.next_event(seq + 1)

    # The newcomer waits on B; the citizen ahead leaves through A: the one on B moves up.
    third = await WaitingSocket.open(b.port, newcomer)
    await subscribed_processes(prefix, 2)
    left = await asyncio.to_thread(_leave, a, tokens[1])
    leave_event = await third.next_event(seq + 2)
    await third.connection.send('{"type": "resync"}')
    resync: dict[str, Any] = await third.next_event(seq + 2)

    for socket in (second, third):
        await socket.close()
    return {
        "called": called.json() if called.status == 200 else called.status,
        "second": second.snapshot,
        "third": third.snapshot,
        "events": [call_event, join_event, leave_event],
        "left": left,
        "resync": resync,
        "newcomer": newcomer,
    }


def test_a_citizen_on_one_process_hears_changes_made_through_another(live_servers: ServerFactory) -> None:
    org = factories.make_org(ORG)
    office = always_open_office(org, OFFICE)
    make_live_agent(org, "agent", [office])
    a, b = live_servers(), live_servers()
    tokens = [_enter(a, f"Bürger:in {number}") for number in range(2)]
    first = Ticket.objects.get(token=tokens[0])
    agent = LiveBrowser(b.port)
    agent.log_in("agent")  # not "available": entering citizens queue instead of being admitted

    try:
        seen = asyncio.run(_across_processes(a, b, agent, tokens))
    finally:
        agent.close()

    second, third = seen["second"], seen["third"]
    call_event, join_event, leave_event = seen["events"]
    seq = second["seq"]
    assert second["position"] == 2
    assert seen["called"] == {"ticket": first.pk}

    assert call_event["type"] == "queue"
    assert call_event["op"] == "leave"
    assert call_event["seq"] == seq + 1
    assert call_event["key"] == first.order_key
    assert call_event["live"]["waiting"] == 1
    position = position_after(2, second["key"], call_event)
    assert position == 1

    assert join_event["op"] == "join"
    assert join_event["seq"] == seq + 2
    assert join_event["key"] == third["key"]
    assert join_event["live"]["waiting"] == 2
    assert position_after(position, second["key"], join_event) == 1

    assert third["position"] == 2
    assert third["seq"] == seq + 2
    assert seen["left"] == 302
    assert leave_event["op"] == "leave"
    assert leave_event["seq"] == seq + 3
    assert leave_event["key"] == second["key"]
    assert position_after(2, third["key"], leave_event) == 1
    # What the page derived is what the server says on a fresh snapshot.
    assert seen["resync"]["type"] == "snapshot"
    assert seen["resync"]["seq"] == seq + 3
    assert seen["resync"]["position"] == 1

    statuses = dict(Ticket.objects.filter(office=office).values_list("token", "status"))
    assert statuses == {
        tokens[0]: TicketStatus.CALLED,
        tokens[1]: TicketStatus.LEFT,
        seen["newcomer"]: TicketStatus.WAITING,
    }


# --- database connections of a server process ---------------------------------------------------
CONCURRENCY = 8
REQUESTS_EACH = 25


@pytest.mark.skipif(not DATABASE_URL.startswith("postgres"), reason="PostgreSQL (scaled mode) only")
def test_a_server_process_holds_no_more_connections_than_requests_in_flight(
    live_servers: ServerFactory,
) -> None:
    application = f"bb-test-{uuid.uuid4().hex[:12]}"
    server = live_servers({"PGAPPNAME": application})  # libpq tags the server's connections
    peak = 0
    samples = 0
    sampler_errors: list[BaseException] = []  # a thread's exception is otherwise lost
    statuses: list[int] = []
    done = threading.Event()
    limit = 2 * CONCURRENCY  # in flight, plus backends that are still exiting

    def client() -> None:
        browser = LiveBrowser(server.port)
        try:
            for _ in range(REQUESTS_EACH):
                if done.is_set():  # enough seen: do not starve the shared PostgreSQL
                    return
                statuses.append(browser.get("/healthz").status)
        finally:
            browser.close()

    def sample() -> None:
        nonlocal peak, samples
        try:
            with connection.cursor() as cursor:
                while not done.is_set():
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [application]
                    )
                    row = cursor.fetchone()
                    peak = max(peak, int(row[0]) if row else 0)
                    samples += 1
                    if peak > limit:
                        done.set()
                    done.wait(0.02)
        except BaseException as error:
            sampler_errors.append(error)
            raise
        finally:
            connection.close()

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            for future in [pool.submit(client) for _ in range(CONCURRENCY)]:
                future.result(timeout=120)
    finally:
        done.set()
        sampler.join(TIMEOUT)

    assert not sampler.is_alive(), "the connection sampler did not stop"
    assert not sampler_errors, f"the connection sampler failed: {sampler_errors!r}"
    assert set(statuses) == {200}
    # Requests were in flight while it sampled, so the server held at least one connection:
    # a peak of 0 would mean the sampler looked at the wrong thing (e.g. the application name).
    assert samples > 0
    assert peak >= 1, f"no connection of the server seen in {samples} samples"
    assert peak <= limit, f"{peak} connections held by one server process for {CONCURRENCY} clients"

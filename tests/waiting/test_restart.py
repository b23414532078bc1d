"""All queue state is in the database: a real restart of the server process loses nobody.

Citizens enter through the real form, their waiting-room sockets read their snapshots, the
server process is stopped and started again (as an operator's deploy does), and the
reconnecting sockets must show the same places in the same order.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import Ticket, TicketStatus
from buergerbuero.waiting.services import calling
from tests import factories
from tests.support.server import AsgiServer
from tests.waiting.conftest import (
    TIMEOUT,
    LiveBrowser,
    ServerFactory,
    WaitingSocket,
    always_open_office,
    citizen_address,
    position_after,
    subscribed_processes,
)

pytestmark = pytest.mark.django_db(transaction=True)

CITIZENS = 5
ORG = "testhausen"
OFFICE = "buergerbuero"
KEPT = ("status", "position", "key", "seq", "deadline", "announcement")


def _enter(server: AsgiServer, name: str) -> str:
    browser = LiveBrowser(server.port, forwarded_for=citizen_address())
    try:
        return browser.enter(ORG, OFFICE, name)
    finally:
        browser.close()


def _place(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {name: snapshot[name] for name in KEPT}


async def _snapshots(port: int, tokens: list[str]) -> list[WaitingSocket]:
    return [await WaitingSocket.open(port, token) for token in tokens]


async def _restart_and_reconnect(server: AsgiServer, tokens: list[str]) -> dict[str, Any]:
    before = await _snapshots(server.port, tokens)

    assert server.process is not None
    old_pid = server.process.pid
    await asyncio.to_thread(server.restart)
    assert server.process is not None
    assert server.process.pid != old_pid  # a new process, with nothing in memory
    for socket in before:  # the old process is gone, and with it every socket it served
        await asyncio.wait_for(socket.connection.wait_closed(), TIMEOUT)
    after = await _snapshots(server.port, tokens)
    await subscribed_processes(server.extra_env["REDIS_PREFIX"], 1)

    # The restarted process carries on: a newcomer's entry reaches everyone still waiting.
    newcomer = await asyncio.to_thread(_enter, server, "Nachzügler:in")
    seq = after[0].snapshot["seq"]
    events = [await socket.next_event(seq) for socket in after]
    latest = await WaitingSocket.open(server.port, newcomer)
    for socket in [*after, latest]:
        await socket.close()
    return {
        "before": [socket.snapshot for socket in before],
        "after": [socket.snapshot for socket in after],
        "events": events,
        "newcomer": latest.snapshot,
        "newcomer_token": newcomer,
    }


def test_waiting_citizens_keep_their_places_across_a_server_restart(live_servers: ServerFactory) -> None:
    org = factories.make_org(ORG)
    office = always_open_office(org, OFFICE)
    agent = StaffMember.objects.get(user=factories.make_staff(org, "agent", offices=[office]))
    server = live_servers()
    tokens = [_enter(server, f"Bürger:in {number}") for number in range(CITIZENS)]
    called = calling.call_next(agent)  # the first one has been called and not yet answered
    assert called is not None
    assert called.token == tokens[0]

    seen = asyncio.run(_restart_and_reconnect(server, tokens))

    before, after = seen["before"], seen["after"]
    assert [snapshot["status"] for snapshot in before] == ["called"] + ["waiting"] * (CITIZENS - 1)
    assert [snapshot["position"] for snapshot in before] == [None, *range(1, CITIZENS)]
    assert before[0]["deadline"] is not None
    waiting_keys = [snapshot["key"] for snapshot in before[1:]]
    assert waiting_keys == sorted(waiting_keys)
    assert len({snapshot["seq"] for snapshot in before}) == 1
    # Nobody lost, nobody moved: the same place, key, call deadline and sequence number.
    assert [_place(snapshot) for snapshot in after] == [_place(snapshot) for snapshot in before]
    assert [snapshot["live"]["waiting"] for snapshot in after] == [CITIZENS - 1] * CITIZENS

    for index, event in enumerate(seen["events"]):
        assert event["type"] == "queue"
        assert event["op"] == "join"
        assert event["seq"] == before[0]["seq"] + 1
        assert event["live"]["waiting"] == CITIZENS
        if index > 0:  # the newcomer queues behind everyone
            assert position_after(before[index]["position"], before[index]["key"], event) == index
    assert seen["newcomer"]["position"] == CITIZENS
    assert seen["newcomer"]["seq"] == before[0]["seq"] + 1

    statuses = list(Ticket.objects.filter(office=office).order_by("queue_key").values_list("token", "status"))
    assert statuses == [
        (tokens[0], TicketStatus.CALLED),
        *[(token, TicketStatus.WAITING) for token in tokens[1:]],
        (seen["newcomer_token"], TicketStatus.WAITING),
    ]

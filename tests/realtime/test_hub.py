"""The hub's fan-out: a subscriber that cannot take a message holds up no one, keeps its order
while it catches up, and is evicted when it falls too far behind or stays stuck."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from buergerbuero.realtime import hub as hub_module
from buergerbuero.realtime.hub import Hub


class Fast:
    def __init__(self) -> None:
        self.got: list[str] = []

    async def deliver(self, group: str, kind: str, text: str) -> None:
        self.got.append(text)


class Stuck:
    """A socket whose buffer is full until ``drain`` is set (like uvicorn's ``writable``)."""

    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.got: list[str] = []
        self.evicted = False

    async def deliver(self, group: str, kind: str, text: str) -> None:
        await self.writable.wait()
        self.got.append(text)

    def evict(self) -> None:
        self.evicted = True


@pytest.fixture(autouse=True)
def _process_local_only(settings: Any) -> None:
    """These hubs are local: no Redis subscription and no outage poller (the scaled pass sets
    REDIS_URL; a listener started by join() kept the test's event loop from closing)."""
    settings.REDIS_URL = ""


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.anyio
async def test_a_stuck_subscriber_does_not_hold_up_the_others_and_catches_up_in_order() -> None:
    hub = Hub()
    fast, stuck = Fast(), Stuck()
    hub.join("g", stuck)
    hub.join("g", fast)

    for number in range(10):
        await hub.fan_out("g", "test", str(number))

    assert fast.got == [str(number) for number in range(10)]
    await _settle()  # its send is waiting in a task of its own now
    assert stuck.got == []
    stuck.writable.set()
    await _settle()
    assert stuck.got == [str(number) for number in range(10)]
    assert not stuck.evicted


@pytest.mark.anyio
async def test_a_subscriber_whose_backlog_overflows_is_evicted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "MAX_BACKLOG", 5)
    hub = Hub()
    fast, stuck = Fast(), Stuck()
    hub.join("g", stuck)
    hub.join("g", fast)

    for number in range(8):
        await hub.fan_out("g", "test", str(number))

    assert stuck.evicted
    assert hub.size("g") == 1
    assert len(fast.got) == 8
    assert hub.stats.evicted == 1


@pytest.mark.anyio
async def test_a_send_that_stays_stuck_is_evicted_after_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "SEND_TIMEOUT", 0.2)
    hub = Hub()
    stuck = Stuck()
    hub.join("g", stuck)

    await hub.fan_out("g", "test", "one")
    await asyncio.sleep(0.4)

    assert stuck.evicted
    assert hub.size("g") == 0


@pytest.mark.anyio
async def test_a_large_fan_out_yields_to_the_event_loop() -> None:
    hub = Hub()
    members = [Fast() for _ in range(1000)]
    for member in members:
        hub.join("g", member)
    ticks = 0

    async def other_work() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    before = ticks
    await hub.fan_out("g", "test", "x")
    during = ticks - before
    other.cancel()

    assert all(member.got == ["x"] for member in members)
    assert during >= 1000 // hub_module.YIELD_EVERY - 1


@pytest.mark.anyio
async def test_resync_asks_every_local_socket_once() -> None:
    hub = Hub()
    asked: list[Any] = []

    class Page(Fast):
        async def resync(self) -> None:
            asked.append(self)

    pages = [Page() for _ in range(3)]
    for page in pages:
        hub.join("a", page)
        hub.join("b", page)

    assert hub.resync_all() == 3
    await _settle()
    assert sorted(map(id, asked)) == sorted(map(id, pages))

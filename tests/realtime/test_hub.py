"""The hub's fan-out: a subscriber that cannot take a message holds up no one, keeps its order
while it catches up, and is evicted when it falls too far behind or stays stuck."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from buergerbuero.realtime import events
from buergerbuero.realtime import hub as hub_module
from buergerbuero.realtime.hub import Hub
from buergerbuero.realtime.publish import encode


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


# --- figures-only updates are merged into the group's next event ------------------------------
async def _deliver(hub: Hub, group: str, event: events.Event) -> None:
    hub.deliver_from_any_thread(group, event["type"], encode(event))
    await _settle()


@pytest.fixture
def quick_merge(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(hub_module, "LIVE_COALESCE_SECONDS", 0.2)
    return 0.2


@pytest.mark.anyio
async def test_a_queue_change_takes_the_place_of_the_figures_update_before_it(quick_merge: float) -> None:
    hub, page = Hub(), Fast()
    hub.join("office:1:waiting", page)

    await _deliver(hub, "office:1:waiting", events.live(7, {"waiting": 3}))
    await _deliver(hub, "office:1:waiting", events.queue(8, "leave", [0, 1, 2], {"waiting": 2}))
    await asyncio.sleep(quick_merge * 2)

    assert [json.loads(text) for text in page.got] == [
        {"covers": 7, **events.queue(8, "leave", [0, 1, 2], {"waiting": 2})}
    ]


@pytest.mark.anyio
async def test_a_figures_update_alone_is_sent_once_its_time_is_up(quick_merge: float) -> None:
    hub, page = Hub(), Fast()
    hub.join("office:1:waiting", page)

    await _deliver(hub, "office:1:waiting", events.live(7, {"waiting": 3}))
    assert page.got == []
    await _deliver(hub, "office:1:waiting", events.live(8, {"waiting": 3, "seats": 2}))
    await asyncio.sleep(quick_merge * 2)

    merged = {"covers": 7, **events.live(8, {"waiting": 3, "seats": 2})}
    assert [json.loads(text) for text in page.got] == [merged]


@pytest.mark.anyio
async def test_another_event_of_the_group_sends_the_held_update_first(quick_merge: float) -> None:
    hub, page, other = Hub(), Fast(), Fast()
    hub.join("office:1:waiting", page)
    hub.join("ticket:5", other)

    await _deliver(hub, "office:1:waiting", events.live(7, {"waiting": 3}))
    await _deliver(hub, "ticket:5", events.requeued())
    assert page.got == []  # another group's event changes nothing here
    await _deliver(hub, "office:1:waiting", events.announcement(8, "Heute bis 14 Uhr"))

    assert [json.loads(text)["type"] for text in page.got] == ["live", "announcement"]
    assert "covers" not in page.got[1]
    await asyncio.sleep(quick_merge * 2)
    assert len(page.got) == 2  # the held update is not sent again


@pytest.mark.anyio
async def test_a_stream_of_figures_updates_still_goes_out_once_per_interval(quick_merge: float) -> None:
    hub, page = Hub(), Fast()
    hub.join("office:1:waiting", page)

    for seq in range(7, 13):  # one every 0.06 s: none would ever be sent if each waited anew
        await _deliver(hub, "office:1:waiting", events.live(seq, {"waiting": seq}))
        await asyncio.sleep(quick_merge * 0.3)

    sent = [json.loads(text) for text in page.got]
    assert sent
    assert sent[0]["covers"] == 7
    await asyncio.sleep(quick_merge * 2)
    assert json.loads(page.got[-1])["seq"] == 12

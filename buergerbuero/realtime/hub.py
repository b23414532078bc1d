"""Process-local fan-out of real-time events (stock group_send measured ~400 µs of CPU per delivered message).

Each server process keeps a registry of its connected sockets per group (``office:7:waiting``,
``ticket:42`` …). A queue change is serialised once and the same text is written to every
local member of the group (with the event's type beside it, see ``events``, so that a
consumer branches without parsing), in order, by one delivery task per process. Across processes, one
Redis pub/sub subscription per process (not per socket) carries the events; without Redis
(the embedded mode) there is only one process and events are delivered directly.

Stock Channels ``group_send`` costs one task, one copy and a thread hop per member and was
measured ~400× slower at 1,000 sockets; that is why this exists.

Slow clients are isolated (one socket must never hold up the others):

- A healthy socket's send completes without waiting (uvicorn writes into the transport's
  buffer), so the delivery task steps each subscriber's ``deliver`` coroutine itself and
  only when it would wait — the socket's buffer is full because its client stopped reading —
  hands the rest to a task of its own. Messages for that socket queue behind it (at most
  ``MAX_BACKLOG``); a socket whose backlog overflows or whose send does not finish within
  ``SEND_TIMEOUT`` seconds is evicted: closed, so that its page reconnects and starts from a
  fresh snapshot.
- The delivery task yields to the event loop every ``YIELD_EVERY`` sockets, so that requests
  and handshakes are served during a large fan-out.

Figures-only updates are merged: an ``events.LIVE`` message (a seat was taken or freed, nobody's
place moved) waits up to ``LIVE_COALESCE_SECONDS`` for its group's next event. If that is a
queue change (it carries the figures too) or another figures-only update, the waiting one is
not sent at all, and the later message is stamped ``"covers": n`` — the first sequence number it
stands for — so that pages do not take the skipped numbers for a gap (``waiting-room.js``). Any
other event of the group sends the waiting one first, in order. In a busy office this saves one
fan-out to every waiting citizen per freed seat (at 10,000 sockets the second fan-out of each
call round held up the next agent's request); the figures arrive at most that much later.
Each process merges on its own: its pages get a consistent stream either way.

Resync: after the event path was interrupted (the process (re)subscribed to Redis, see
``bridge``), :meth:`Hub.resync_all` asks every local socket to send its page a fresh state
(``resync()``): events published in between are not replayed, but their effect is in the
database, and the snapshot carries it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import time
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any, Protocol

from buergerbuero.realtime import events

logger = logging.getLogger(__name__)

YIELD_EVERY = 256
MAX_BACKLOG = 64
SEND_TIMEOUT = 10.0
LIVE_COALESCE_SECONDS = 1.0
# The kind of the queue item that sends a group's held figures once their time is up.
_FLUSH = "hub:flush"
# Sequenced events whose figures make a held figures-only update needless.
_SUPERSEDES_LIVE = frozenset({events.LIVE, events.QUEUE})
_SEQ = re.compile(r'"seq":(\d+)')


@dataclass
class _Held:
    """A figures-only update waiting for its group's next event."""

    text: str
    covers: int  # the first sequence number it stands for
    due: float


def _stamped(text: str, covers: int) -> str:
    """``text`` (an encoded sequenced event) marked as standing for the numbers from ``covers``."""
    match = _SEQ.search(text)
    if match is None or int(match.group(1)) <= covers:
        return text
    return f'{text[:-1]},"covers":{covers}}}'  # last: the type stays first, as in every event


class Subscriber(Protocol):
    async def deliver(self, group: str, kind: str, text: str) -> None: ...


class Stats:
    """Figures for ``/metrics``: this process's fan-outs and evictions."""

    # Upper bounds (seconds) of the fan-out latency histogram: event queued → last local write.
    BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

    def __init__(self) -> None:
        self.fanout_counts = [0] * (len(self.BUCKETS) + 1)
        self.fanout_sum = 0.0
        self.fanouts = 0
        self.evicted = 0
        self.resyncs = 0
        self.publish_failures = 0

    def observe_fanout(self, seconds: float) -> None:
        self.fanouts += 1
        self.fanout_sum += seconds
        for index, bound in enumerate(self.BUCKETS):
            if seconds <= bound:
                self.fanout_counts[index] += 1
                return
        self.fanout_counts[-1] += 1


class Hub:
    def __init__(self) -> None:
        self._groups: dict[str, set[Subscriber]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[str, str, str, float]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # Subscribers whose send is waiting, with the messages queued behind it.
        self._backlog: dict[Subscriber, collections.deque[tuple[str, str, str]]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._held: dict[str, _Held] = {}
        self.stats = Stats()

    # --- membership (called from consumers, on the event loop) ---------------------------
    def join(self, group: str, subscriber: Subscriber) -> None:
        self._start()
        self._groups.setdefault(group, set()).add(subscriber)

    def leave(self, group: str, subscriber: Subscriber) -> None:
        members = self._groups.get(group)
        if members is not None:
            members.discard(subscriber)
            if not members:
                del self._groups[group]

    def size(self, group: str) -> int:
        return len(self._groups.get(group, ()))

    def members(self, group: str) -> tuple[Subscriber, ...]:
        return tuple(self._groups.get(group, ()))

    def subscribers(self) -> set[Subscriber]:
        """Every local subscriber, once."""
        return set().union(*self._groups.values()) if self._groups else set()

    # --- delivery -----------------------------------------------------------------------
    def deliver_from_any_thread(self, group: str, kind: str, text: str) -> None:
        """Queue the event ``text`` of type ``kind`` for local delivery; a no-op in a process
        without sockets."""
        loop, queue = self._loop, self._queue
        if loop is None or queue is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        item = (group, kind, text, time.monotonic())
        if running is loop:
            queue.put_nowait(item)
        else:
            loop.call_soon_threadsafe(queue.put_nowait, item)

    async def _deliver_forever(self) -> None:
        assert self._queue is not None  # noqa: S101  (set together with this task)
        while True:
            group, kind, text, queued_at = await self._queue.get()
            held = self._held.pop(group, None)
            if kind == _FLUSH:
                if held is not None and held.due > time.monotonic() + 0.05:  # held since this timer
                    self._held[group] = held
                elif held is not None:
                    await self._send(group, events.LIVE, held.text, time.monotonic())
                continue
            if kind == events.LIVE:
                self._hold(group, text, held)
                continue
            if held is not None and kind in _SUPERSEDES_LIVE:
                text = _stamped(text, held.covers)
            elif held is not None:
                await self._send(group, events.LIVE, held.text, time.monotonic())
            await self._send(group, kind, text, queued_at)

    async def _send(self, group: str, kind: str, text: str, queued_at: float) -> None:
        await self.fan_out(group, kind, text)
        self.stats.observe_fanout(time.monotonic() - queued_at)

    def _hold(self, group: str, text: str, earlier: _Held | None) -> None:
        """Keep a figures-only update back for ``LIVE_COALESCE_SECONDS`` (it replaces an
        earlier one still held, stands for its numbers too and keeps its time: a stream of
        figures-only updates still reaches the pages once a second)."""
        assert self._loop is not None  # noqa: S101  (started with the queue)
        assert self._queue is not None  # noqa: S101
        if earlier is not None:
            self._held[group] = _Held(_stamped(text, earlier.covers), earlier.covers, earlier.due)
            return
        match = _SEQ.search(text)
        covers = int(match.group(1)) if match else 0
        self._held[group] = _Held(text, covers, time.monotonic() + LIVE_COALESCE_SECONDS)
        self._loop.call_later(LIVE_COALESCE_SECONDS, self._queue.put_nowait, (group, _FLUSH, "", 0.0))

    async def fan_out(self, group: str, kind: str, text: str) -> None:
        """Write ``text`` to every local member of ``group`` without waiting for any one."""
        backlogs = self._backlog
        count = 0
        for subscriber in tuple(self._groups.get(group, ())):
            count += 1
            if count % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if backlogs and subscriber in backlogs:  # its earlier send still waits: keep the order
                backlog = backlogs[subscriber]
                if len(backlog) >= MAX_BACKLOG:
                    self.evict(subscriber, "its backlog overflowed")
                else:
                    backlog.append((group, kind, text))
                continue
            # Run ``deliver`` up to its first wait: the common case completes here (written at
            # once); only a send that waits gets a task of its own.
            coroutine = subscriber.deliver(group, kind, text)
            try:
                waits_for = coroutine.send(None)
            except StopIteration:
                continue
            except Exception:  # a dead socket must not stop the others
                logger.debug("dropping subscriber of %s", group, exc_info=True)
                self._drop(subscriber)
                continue
            backlogs[subscriber] = collections.deque()
            self._spawn(self._finish(subscriber, coroutine, waits_for))

    async def _finish(
        self, subscriber: Subscriber, coroutine: Coroutine[Any, Any, None], waits_for: Any
    ) -> None:
        """Complete a waiting send, then the messages queued behind it, within the timeout."""
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await _resume(coroutine, waits_for)
                backlog = self._backlog.get(subscriber)
                while backlog:
                    group, kind, text = backlog.popleft()
                    await subscriber.deliver(group, kind, text)
        except TimeoutError:
            coroutine.close()
            if subscriber in self._backlog:  # not evicted already (for its backlog)
                self.evict(subscriber, f"a send waited more than {SEND_TIMEOUT:.0f} s")
        except Exception:
            coroutine.close()
            logger.debug("dropping a subscriber after a failed send", exc_info=True)
            self._drop(subscriber)
        finally:
            self._backlog.pop(subscriber, None)

    def _drop(self, subscriber: Subscriber) -> None:
        # A consumer knows its groups (no scan of every group of a busy process).
        known: tuple[str, ...] | None = getattr(subscriber, "hub_groups", None)
        groups = (
            known
            if known is not None
            else [g for g, members in self._groups.items() if subscriber in members]
        )
        for group in groups:
            self.leave(group, subscriber)

    def evict(self, subscriber: Subscriber, why: str) -> None:
        """A socket that cannot keep up is closed (its page reconnects and resyncs)."""
        logger.info("closing a socket that falls behind: %s", why)
        self.stats.evicted += 1
        self._drop(subscriber)
        self._backlog.pop(subscriber, None)
        evict: Callable[[], None] | None = getattr(subscriber, "evict", None)
        if evict is not None:
            evict()

    # --- resync ---------------------------------------------------------------------------
    def resync_all(self) -> int:
        """Ask every local socket for a fresh state (the event path was interrupted)."""
        count = 0
        for subscriber in self.subscribers():
            resync: Callable[[], Coroutine[Any, Any, None]] | None = getattr(subscriber, "resync", None)
            if resync is not None:
                self._spawn(_quietly(resync()))
                count += 1
        self.stats.resyncs += 1
        logger.info("asked %d local sockets to resync", count)
        return count

    def resync_from_any_thread(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.resync_all)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        # First socket of this process (or a new loop, as in tests): start the machinery.
        self._loop = loop
        self._queue = asyncio.Queue()
        self._backlog = {}
        self._held = {}
        self._tasks = [loop.create_task(self._deliver_forever(), name="hub-deliver")]
        from buergerbuero.realtime import bridge

        self._tasks += bridge.start_listening(loop, self.deliver_from_any_thread, self.resync_all)


async def _resume(coroutine: Coroutine[Any, Any, None], waits_for: Any) -> None:
    """Drive a coroutine that another task started and that now waits for ``waits_for`` (what
    it yielded: an asyncio future, or None for a bare yield) until it returns."""
    while True:
        if waits_for is None:
            await asyncio.sleep(0)
        else:
            await _Awaiting(waits_for)
        try:
            waits_for = coroutine.send(None)
        except StopIteration:
            return


class _Awaiting:
    """Await a future that a coroutine yielded (the coroutine resumes once it is done)."""

    def __init__(self, future: Any) -> None:
        self.future = future

    def __await__(self) -> Generator[Any, None, None]:
        if not self.future.done():
            # It was yielded to us, not to a task: clear the mark the yield set (a task clears
            # it on receipt), else awaiting it again raises "await wasn't used with future".
            self.future._asyncio_future_blocking = False
            yield from self.future.__await__()


async def _quietly(coroutine: Coroutine[Any, Any, None]) -> None:
    try:
        await coroutine
    except Exception:
        logger.debug("a socket's resync failed", exc_info=True)


hub = Hub()

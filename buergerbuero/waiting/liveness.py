"""Which tickets and consoles have an open socket in this process.

Every ``TOUCH_EVERY`` seconds one task per process writes "still here" for all of them in two
queries (``services.touch``); the jobs give up places and seats whose last sign of life is
older than their grace period. This survives crashes and restarts, unlike counting
disconnects: a process that dies simply stops touching. A socket's arrival and end are
written within ``FLUSH_AFTER`` seconds, batched with the others of that moment (a connect
costs no query of its own).

The count cannot leak: :meth:`Liveness.connected` returns the release, which the consumer
registers with ``HubConsumer.at_end`` and which runs once however the consumer ends (a
consumer killed by an exception would otherwise keep its ticket alive for good).

While this process hears no events (Redis is down), :func:`recheck_tickets` looks up the
status of every ticket connected here in one query every few seconds and lets a socket whose
ticket changed (called, requeued, ended) resync: a call made during an outage still reaches
its citizen within seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async

from buergerbuero.realtime import bridge
from buergerbuero.realtime.hub import hub
from buergerbuero.waiting.models import Ticket
from buergerbuero.waiting.services import groups, periodic

logger = logging.getLogger(__name__)
TOUCH_EVERY = 20.0
# Connects and ends are written in batches: one query per FLUSH_AFTER seconds for all the
# sockets that came or went meanwhile (a reconnect storm of thousands costs a few queries).
FLUSH_AFTER = 0.5


class Liveness:
    def __init__(self) -> None:
        self.tickets: Counter[int] = Counter()
        self.members: Counter[int] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending_tickets: set[int] = set()
        self._pending_members: set[int] = set()
        self._flusher: asyncio.Task[None] | None = None

    def _ensure_task(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._task = loop.create_task(self._touch_forever(), name="liveness")

    async def _touch_forever(self) -> None:
        while True:
            await asyncio.sleep(TOUCH_EVERY)
            try:
                await database_sync_to_async(periodic.touch)(list(self.tickets), list(self.members))
            except Exception:
                logger.warning("could not record which sockets are connected", exc_info=True)

    async def connected(
        self, *, ticket_id: int | None = None, member_id: int | None = None
    ) -> Callable[[], None]:
        """Count a socket as connected; returns its release (idempotent)."""
        self._ensure_task()
        if ticket_id is not None:
            self.tickets[ticket_id] += 1
        if member_id is not None:
            self.members[member_id] += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._uncount(ticket_id, member_id)
            # The grace period counts from the moment the last connection ended.
            self._touch_soon(ticket_id, member_id)

        self._touch_soon(ticket_id, member_id)
        return release

    def _uncount(self, ticket_id: int | None, member_id: int | None) -> None:
        for counter, key in ((self.tickets, ticket_id), (self.members, member_id)):
            if key is not None:
                counter[key] -= 1
                if counter[key] <= 0:
                    del counter[key]

    def _touch_soon(self, ticket_id: int | None, member_id: int | None) -> None:
        """Record "seen now" for this socket within ``FLUSH_AFTER`` seconds, batched."""
        if ticket_id is not None:
            self._pending_tickets.add(ticket_id)
        if member_id is not None:
            self._pending_members.add(member_id)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush_soon(), name="liveness-flush")

    async def _flush_soon(self) -> None:
        await asyncio.sleep(FLUSH_AFTER)
        while self._pending_tickets or self._pending_members:
            tickets, self._pending_tickets = self._pending_tickets, set()
            members, self._pending_members = self._pending_members, set()
            try:
                await database_sync_to_async(periodic.touch)(list(tickets), list(members))
            except Exception:
                logger.warning("could not record which sockets came or went", exc_info=True)
                return

    async def flush(self) -> None:
        """Write what is pending now (tests, shutdown)."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
        tickets, self._pending_tickets = self._pending_tickets, set()
        members, self._pending_members = self._pending_members, set()
        if tickets or members:
            await database_sync_to_async(periodic.touch)(list(tickets), list(members))


liveness = Liveness()


def _statuses(ticket_ids: list[int]) -> dict[int, str]:
    return dict(Ticket.objects.filter(pk__in=ticket_ids).values_list("pk", "status"))


async def recheck_tickets() -> None:
    """One query for the tickets connected here; sockets whose ticket changed resync."""
    ticket_ids = list(liveness.tickets)
    if not ticket_ids:
        return
    statuses = await database_sync_to_async(_statuses)(ticket_ids)
    for ticket_id, status in statuses.items():
        for subscriber in hub.members(groups.ticket_group(ticket_id)):
            check: Callable[[str], Any] | None = getattr(subscriber, "ticket_status_is", None)
            if check is not None:
                await check(status)


bridge.while_down(recheck_tickets)

"""Which tickets and consoles have an open socket in this process.

Every ``TOUCH_EVERY`` seconds one task per process writes "still here" for all of them in two
queries (``services.touch``); the jobs give up places and seats whose last sign of life is
older than their grace period. This survives crashes and restarts, unlike counting
disconnects: a process that dies simply stops touching.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from channels.db import database_sync_to_async

from buergerbuero.waiting import services

logger = logging.getLogger(__name__)
TOUCH_EVERY = 20.0


class Liveness:
    def __init__(self) -> None:
        self.tickets: Counter[int] = Counter()
        self.members: Counter[int] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _ensure_task(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._task = loop.create_task(self._touch_forever(), name="liveness")

    async def _touch_forever(self) -> None:
        while True:
            await asyncio.sleep(TOUCH_EVERY)
            try:
                await database_sync_to_async(services.touch)(list(self.tickets), list(self.members))
            except Exception:
                logger.warning("could not record which sockets are connected", exc_info=True)

    async def connected(self, *, ticket_id: int | None = None, member_id: int | None = None) -> None:
        self._ensure_task()
        if ticket_id is not None:
            self.tickets[ticket_id] += 1
        if member_id is not None:
            self.members[member_id] += 1
        await self._touch_one(ticket_id, member_id)

    async def disconnected(self, *, ticket_id: int | None = None, member_id: int | None = None) -> None:
        for counter, key in ((self.tickets, ticket_id), (self.members, member_id)):
            if key is not None:
                counter[key] -= 1
                if counter[key] <= 0:
                    del counter[key]
        # The grace period counts from the moment the last connection ended.
        await self._touch_one(ticket_id, member_id)

    async def _touch_one(self, ticket_id: int | None, member_id: int | None) -> None:
        await database_sync_to_async(services.touch)(
            [ticket_id] if ticket_id is not None else [], [member_id] if member_id is not None else []
        )


liveness = Liveness()

"""Waiting for the real-time machinery in tests."""

from __future__ import annotations

import asyncio
import uuid

from buergerbuero.realtime.hub import hub
from buergerbuero.realtime.publish import publish_now


class _Probe:
    def __init__(self) -> None:
        self.heard = asyncio.Event()

    async def deliver(self, group: str, kind: str, text: str) -> None:
        self.heard.set()


async def hub_listening() -> None:
    """Wait until events published now reach this process's sockets (Redis: subscribed)."""
    probe, group = _Probe(), f"probe:{uuid.uuid4()}"
    hub.join(group, probe)
    try:
        for _attempt in range(200):
            publish_now(group, {"type": "probe"})
            try:
                await asyncio.wait_for(probe.heard.wait(), 0.05)
            except TimeoutError:
                continue
            return
        raise AssertionError("the hub never received its own events")
    finally:
        hub.leave(group, probe)

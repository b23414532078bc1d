"""Publishing never fails the caller: with Redis unreachable the event still reaches this
process's sockets, and Redis is not asked again for a moment."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from buergerbuero.realtime import bridge
from buergerbuero.realtime.hub import hub
from buergerbuero.realtime.publish import publish_now


class Probe:
    def __init__(self) -> None:
        self.got: list[str] = []

    async def deliver(self, group: str, kind: str, text: str) -> None:
        self.got.append(text)


@pytest.mark.anyio
async def test_an_event_published_while_redis_is_down_reaches_local_sockets(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    monkeypatch.setattr(bridge, "start_listening", lambda *args: [])  # publishing is the point
    bridge._publisher.cache_clear()
    probe = Probe()
    hub.join("probe:redis-down", probe)
    failures = hub.stats.publish_failures
    try:
        started = time.monotonic()
        publish_now("probe:redis-down", {"type": "x"})  # must not raise
        publish_now("probe:redis-down", {"type": "y"})  # within the pause: Redis not asked again
        took = time.monotonic() - started
        for _ in range(50):
            if len(probe.got) == 2:
                break
            await asyncio.sleep(0.01)
    finally:
        hub.leave("probe:redis-down", probe)
        bridge.state.publish_paused_until = 0.0
        bridge._publisher.cache_clear()

    assert probe.got == ['{"type":"x"}', '{"type":"y"}']
    assert hub.stats.publish_failures == failures + 2
    assert took < bridge.TIMEOUT

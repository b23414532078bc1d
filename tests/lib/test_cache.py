"""The Redis cache shares one connection pool per process: requests run in threads of their
own, and Django builds a cache object per thread (each used to connect anew)."""

from __future__ import annotations

import os
import threading
import uuid

from buergerbuero.lib.cache import SharedPoolRedisCache

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def test_cache_objects_of_two_threads_share_one_pool_and_see_each_others_values() -> None:
    key = f"test-cache-{uuid.uuid4().hex}"
    found: dict[str, object] = {}

    def in_thread(name: str, write: bool) -> None:
        cache = SharedPoolRedisCache(REDIS_URL, {"KEY_PREFIX": "test-cache"})  # as Django per thread
        if write:
            cache.set(key, "seen", timeout=30)
        found[name] = cache.get(key)
        found[f"{name}-pool"] = cache._cache._get_connection_pool(write=True)  # type: ignore[attr-defined]

    for name, write in (("first", True), ("second", False)):
        thread = threading.Thread(target=in_thread, args=(name, write))
        thread.start()
        thread.join()

    assert found["first-pool"] is found["second-pool"]
    assert found["second"] == "seen"

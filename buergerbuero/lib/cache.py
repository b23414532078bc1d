"""Django's Redis cache with one connection pool per process.

Django keeps a cache backend object per thread (per async context), and each object its own
Redis connection pool. Under ASGI every request runs in a thread of its own, so every request
that touched the cache (the opening-hours version of the enter form, the directory, the
join) opened a fresh TCP connection to Redis and dropped it: in a rush of joins 5 % of the
web workers' samples were spent connecting. redis-py's pools are thread-safe and notice a
fork, so one per process and server is shared here.
"""

from __future__ import annotations

import threading
from typing import Any

import redis
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_pools: dict[tuple[str, tuple[tuple[str, str], ...]], redis.ConnectionPool] = {}
_pools_lock = threading.Lock()


class SharedPoolRedisCacheClient(RedisCacheClient):
    _servers: list[str]
    _pool_class: type[redis.ConnectionPool]
    _pool_options: dict[str, Any]

    def _get_connection_pool(self, write: bool) -> redis.ConnectionPool:
        index: int = self._get_connection_pool_index(write)  # type: ignore[attr-defined]  # Django's, unstubbed
        server: str = self._servers[index]
        key = (server, tuple(sorted((name, repr(value)) for name, value in self._pool_options.items())))
        pool = _pools.get(key)
        if pool is None:
            with _pools_lock:
                pool = _pools.get(key)
                if pool is None:
                    pool = _pools[key] = self._pool_class.from_url(server, **self._pool_options)
        return pool


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient

"""A fixed-window limit per client, shared across processes through the cache (Redis when scaled)."""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.http import HttpRequest


def client_key(request: HttpRequest) -> str:
    # uvicorn resolves X-Forwarded-For from trusted proxies into the client address.
    address = request.META.get("REMOTE_ADDR", "")
    return hashlib.sha256(address.encode()).hexdigest()[:32]


def allow(request: HttpRequest, action: str, *, limit: int, window_seconds: int) -> bool:
    """Count this attempt; False once the client has used up ``limit`` in the window."""
    key = f"ratelimit:{action}:{client_key(request)}"
    cache.add(key, 0, timeout=window_seconds)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window_seconds)
        count = 1
    return count <= limit

"""Carries events between processes over Redis pub/sub: one subscription per process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import lru_cache

import redis
import redis.asyncio as aioredis
from django.conf import settings

logger = logging.getLogger(__name__)
SEPARATOR = "\n"


def channel() -> str:
    return f"{settings.REDIS_PREFIX}:events"


@lru_cache(maxsize=1)
def _publisher() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def publish(group: str, text: str) -> None:
    _publisher().publish(channel(), f"{group}{SEPARATOR}{text}")


def start_listening(
    loop: asyncio.AbstractEventLoop, deliver: Callable[[str, str], None]
) -> list[asyncio.Task[None]]:
    if not settings.REDIS_URL:
        return []
    return [loop.create_task(_listen(deliver), name="hub-redis")]


async def _listen(deliver: Callable[[str, str], None]) -> None:
    backoff = 0.5
    while True:
        client = aioredis.Redis.from_url(settings.REDIS_URL)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(channel())
                backoff = 0.5
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    group, _, text = message["data"].decode("utf-8").partition(SEPARATOR)
                    deliver(group, text)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("lost the Redis event subscription; reconnecting", exc_info=True)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10)
        finally:
            await client.aclose()

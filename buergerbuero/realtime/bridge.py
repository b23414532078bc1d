"""Carries events between processes over Redis pub/sub: one subscription per process.

Redis is a messenger here, never the record: every change is in the database before its
event is published. So when Redis fails, nothing is lost that a snapshot cannot restore:

- Publishing never fails the request that committed the change: a refused or timed-out
  publish is logged and counted, and the event still reaches this process's own sockets.
  After a failure, Redis is not asked again for ``PUBLISH_PAUSE`` seconds (a dead host must
  not add a timeout to every request).
- Each process's subscription reconnects with a short backoff (at most ``MAX_BACKOFF``
  seconds), and after every re-subscription tells its local sockets to resync: each sends
  its page a fresh snapshot, so the events published while the subscription was down reach
  everyone as their effect.
- While the subscription is down, ``while_down`` callbacks run every ``DOWN_POLL`` seconds
  (the waiting room uses one to find called citizens in one query, so that a call made
  during an outage reaches its citizen within seconds, not when Redis returns).

Why resync-on-reconnect and not an outbox table or Redis Streams with a replay window: the
state is already in the database and every page already knows how to start from a snapshot
(sequence numbers tell it when it missed something), so a resync restores exactly what a
replay would, with no second copy of each event. An outbox table would add a write and a
poller to every queue change (the hot path of a busy office) to protect messages whose
effect is in the database anyway; a Streams replay window is lost with Redis itself when it
restarts without persistence (the outage we guard against) and needs a cursor per process.
The price is a snapshot per socket after an outage, which is what a reconnect costs anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from functools import lru_cache

import redis
import redis.asyncio as aioredis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from buergerbuero.realtime import events
from buergerbuero.realtime.messages import parse

logger = logging.getLogger(__name__)
SEPARATOR = "\n"
TIMEOUT = 2.0
PUBLISH_PAUSE = 1.0
MAX_BACKOFF = 2.0
DOWN_POLL = 2.0
READ_WAIT = 1.0


class State:
    """This process's view of the event path (for ``/readyz`` and ``/metrics``)."""

    def __init__(self) -> None:
        self.subscribed = False
        self.publish_paused_until = 0.0
        self.lock = threading.Lock()


state = State()
_while_down: list[Callable[[], Awaitable[None]]] = []


def while_down(callback: Callable[[], Awaitable[None]]) -> None:
    """Run ``callback`` every ``DOWN_POLL`` seconds while this process hears no events."""
    _while_down.append(callback)


def channel() -> str:
    return f"{settings.REDIS_PREFIX}:events"


@lru_cache(maxsize=1)
def _publisher() -> redis.Redis:
    # No retries and short timeouts: the caller is a request that has already committed.
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=TIMEOUT,
        socket_connect_timeout=TIMEOUT,
        retry=Retry(NoBackoff(), 0),
    )


def frame(group: str, kind: str, text: str) -> str:
    """One Redis message: the group and the event's type (neither contains a newline), then
    the event's text."""
    return f"{group}{SEPARATOR}{kind}{SEPARATOR}{text}"


def unframe(data: str) -> tuple[str, str, str]:
    group, _, rest = data.partition(SEPARATOR)
    if rest.startswith("{"):  # a process of the previous release: no type in the frame
        return group, events.type_of(parse(rest)), rest
    kind, _, text = rest.partition(SEPARATOR)
    return group, kind, text


def publish(group: str, kind: str, text: str) -> bool:
    """Publish to every process; False (logged) when Redis could not take it."""
    if time.monotonic() < state.publish_paused_until:
        return False
    try:
        _publisher().publish(channel(), frame(group, kind, text))
    except (redis.RedisError, OSError):
        state.publish_paused_until = time.monotonic() + PUBLISH_PAUSE
        logger.warning("could not publish an event to Redis; the sockets resync when it is back")
        return False
    return True


def ping() -> None:
    """Raise when Redis does not answer (``/readyz``)."""
    _publisher().ping()


def start_listening(
    loop: asyncio.AbstractEventLoop,
    deliver: Callable[[str, str, str], None],
    resync: Callable[[], object],
) -> list[asyncio.Task[None]]:
    if not settings.REDIS_URL:
        state.subscribed = True  # one process: nothing to subscribe to, nothing to miss
        return []
    return [
        loop.create_task(_listen(deliver, resync), name="hub-redis"),
        loop.create_task(_poll_while_down(), name="hub-redis-down"),
    ]


async def _listen(deliver: Callable[[str, str, str], None], resync: Callable[[], object]) -> None:
    backoff = 0.25
    first = True
    while True:
        client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=TIMEOUT)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(channel())
            state.subscribed = True
            backoff = 0.25
            if not first:  # events may have been published while we were away
                logger.warning("Redis event subscription is back; local sockets resync")
                resync()
            first = False
            while True:  # reads with a timeout: see _stop_if_cancelled
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=READ_WAIT)
                _stop_if_cancelled()
                if message is not None and message.get("type") == "message":
                    deliver(*unframe(message["data"].decode("utf-8")))
        except asyncio.CancelledError:
            raise
        except Exception:
            _stop_if_cancelled()
            if state.subscribed:
                logger.warning("lost the Redis event subscription; reconnecting", exc_info=True)
            state.subscribed = False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
        finally:
            state.subscribed = False
            await _close(pubsub, client)


def _stop_if_cancelled() -> None:
    """redis-py may swallow a cancellation that meets its read timeout (returning nothing or
    raising its own error): a stopping process or event loop would then wait for this task
    forever. The task still counts the request, so honour it here."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _close(pubsub: aioredis.client.PubSub, client: aioredis.Redis) -> None:
    with contextlib.suppress(redis.RedisError, OSError):
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
        await client.aclose()


async def _poll_while_down() -> None:
    while True:
        await asyncio.sleep(DOWN_POLL)
        if state.subscribed:
            continue
        for callback in _while_down:
            try:
                await callback()
            except Exception:
                logger.warning("a check while Redis is down failed", exc_info=True)

"""The base of every WebSocket consumer that listens through the hub.

Whatever ends a consumer — the client's disconnect, an exception in a handler, a send into a
socket that is gone (``ClientDisconnected``, which uvicorn swallows without calling
``disconnect``), eviction by the hub, server shutdown — :meth:`HubConsumer.__call__` leaves
the hub's groups and runs every ``at_end`` callback exactly once, in a ``finally``. Liveness
counts are released that way, so a dead consumer cannot keep its ticket "connected".

Each socket is also held to a message rate (a token bucket: ``messages_per_second``, bursts
up to ``message_burst``; a socket that sends faster is closed with 1008, policy violation)
and size: a message above ``max_message_bytes`` is ignored unread (frames above
``WS_MAX_BYTES`` are refused by the server with 1009 before they get here).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer

from buergerbuero.realtime.hub import hub

logger = logging.getLogger(__name__)

# Not a configured layer: our sockets get their events from the hub, and a channel-layer
# channel per socket would cost a Redis subscription each (measured: 5,000 sockets could not all connect).
NO_CHANNEL_LAYER = "hub-only"
POLICY_VIOLATION = 1008

# Open sockets of this process by kind (``/metrics``).
open_sockets: Counter[str] = Counter()


class HubConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = NO_CHANNEL_LAYER
    hub_groups: tuple[str, ...] = ()
    # Limits of what a client may send (generous for the consultation's signalling, which
    # refuses large messages itself; the citizen's sockets set tighter ones).
    max_message_bytes: int | None = None
    messages_per_second = 50.0
    message_burst = 200.0
    kind = "other"  # names the socket in the metrics

    _task: asyncio.Task[Any] | None = None
    _evicted = False
    _counted = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self._task = asyncio.current_task()
        self._at_end: list[Callable[[], None]] = []
        self._tokens = self.message_burst
        self._tokens_at = time.monotonic()
        try:
            await super().__call__(scope, receive, send)
        except asyncio.CancelledError:
            if not self._evicted or self._task is None:
                raise
            self._task.uncancel()  # our own eviction: end quietly (uvicorn closes the socket)
        finally:
            self._end()

    def at_end(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once when this consumer ends, however it ends."""
        self._at_end.append(callback)

    def _end(self) -> None:
        self.stop_listening()
        if self._counted:
            self._counted = False
            open_sockets[self.kind] -= 1
        callbacks, self._at_end = self._at_end, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                logger.exception("cleanup of a socket failed")

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        await super().accept(subprotocol, headers)
        if not self._counted:
            self._counted = True
            open_sockets[self.kind] += 1

    def listen(self, *groups: str) -> None:
        self.hub_groups = (*self.hub_groups, *groups)
        for group in groups:
            hub.join(group, self)

    def stop_listening(self) -> None:
        for group in self.hub_groups:
            hub.leave(group, self)
        self.hub_groups = ()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its ``aclose_old_connections()`` before every handler (a
        thread hop per connect, message and disconnect: CPU and latency on the event loop that
        also fans out). Our handlers reach the database only through ``database_sync_to_async``
        (which closes old connections in the thread it uses, before and after) or the waiting
        room's kept connection (which tidies its own); nothing runs a query on the loop."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def deliver(self, group: str, kind: str, text: str) -> None:
        """Forward the broadcast as it is: serialised once for every receiver (``kind``: the
        event's type, see ``events``)."""
        await self.base_send({"type": "websocket.send", "text": text})

    async def resync(self) -> None:
        """The event path was interrupted: send the page a fresh state (if it has one)."""

    def evict(self) -> None:
        """Called by the hub when this socket falls behind: end the consumer; uvicorn then
        closes the connection, and the page reconnects and starts from a fresh snapshot."""
        self._evicted = True
        self.stop_listening()
        if self._task is not None and not self._task.done():
            self._task.cancel()

    # --- what the client may send -------------------------------------------------------
    async def websocket_receive(self, message: dict[str, Any]) -> None:
        data = message.get("text")
        size = len(data) if data is not None else len(message.get("bytes") or b"")
        if not self._take_token():
            logger.info("closing a %s socket that sends too many messages", self.kind)
            await self.close(code=POLICY_VIOLATION)
            return
        if self.max_message_bytes is not None and size > self.max_message_bytes:
            return  # none of ours is that large: ignored unread (it counted against the rate)
        await super().websocket_receive(message)

    def _take_token(self) -> bool:
        now = time.monotonic()
        self._tokens = min(
            self.message_burst, self._tokens + (now - self._tokens_at) * self.messages_per_second
        )
        self._tokens_at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    async def disconnect(self, code: int) -> None:
        self.stop_listening()

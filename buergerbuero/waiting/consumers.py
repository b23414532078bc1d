"""WebSockets of the waiting room (citizens), the staff console and the office directory.

They only forward: the hub writes each broadcast's text straight to the socket, without
Channels' per-message dispatch (which costs a thread hop per message: 35 % of all samples in a profile).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import connections
from django.utils import translation

from buergerbuero.orgs.models import Organization
from buergerbuero.realtime import events
from buergerbuero.realtime.consumers import HubConsumer
from buergerbuero.realtime.messages import parse
from buergerbuero.realtime.publish import encode
from buergerbuero.staff import sockets
from buergerbuero.staff.services import staff_member_of
from buergerbuero.waiting import console, directory
from buergerbuero.waiting.liveness import liveness
from buergerbuero.waiting.models import ACTIVE_STATUSES, Ticket
from buergerbuero.waiting.services import groups, sequence, snapshots

_A = TypeVar("_A")
_T = TypeVar("_T")
REFRESH_DELAY = 0.05
RESYNC_SPREAD_SECONDS = 5.0
# The waiting room's connect and snapshot keep their database connection this long: Channels'
# database_sync_to_async closes it after every call (CONN_MAX_AGE 0), and opening one cost a
# third of a connect's CPU. All consumers' calls run in asgiref's one shared thread, so this is
# one connection per process, closed when it is older or broken.
KEEP_CONNECTION_SECONDS = 60.0
_opened: dict[tuple[int, str], tuple[object, float]] = {}


def _tidy_connections() -> None:
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        raw = conn.connection
        if raw is None or conn.in_atomic_block:
            continue
        key = (threading.get_ident(), conn.alias)
        seen = _opened.get(key)
        if seen is None or seen[0] is not raw:
            _opened[key] = (raw, now)
        elif now - seen[1] > KEEP_CONNECTION_SECONDS or (conn.errors_occurred and not conn.is_usable()):
            conn.close()
            _opened.pop(key, None)


def _kept_connection(function: Callable[[_A], _T]) -> Callable[[_A], Awaitable[_T]]:
    """``function`` in the shared sync thread, its database connection kept (see above)."""

    def call(argument: _A) -> _T:
        _tidy_connections()
        try:
            return function(argument)
        finally:
            _tidy_connections()

    return sync_to_async(call, thread_sensitive=True)


_ticket_by_token = _kept_connection(snapshots.socket_ticket)
_snapshot_text = _kept_connection(snapshots.snapshot_text)


class WaitingRoomConsumer(HubConsumer):
    """``/ws/tickets/<token>/``: the queue of the ticket's office and the ticket's own events."""

    ticket: Ticket | None = None
    known_status = ""  # the ticket's status as the page last heard it
    _hours: asyncio.Task[None] | None = None
    # A page sends a "resync" now and then, nothing else.
    max_message_bytes = 1024
    messages_per_second = 2.0
    message_burst = 10.0
    kind = "waiting_room"

    async def connect(self) -> None:
        token = self.scope["url_route"]["kwargs"]["token"]
        ticket = await _ticket_by_token(token)
        if ticket is None or ticket.status not in ACTIVE_STATUSES:
            await self.close(code=4404)
            return
        self.ticket = ticket
        await self.accept()
        self._join_groups()
        self.at_end(await liveness.connected(ticket_id=ticket.pk))
        await self._send_snapshot()

    def _join_groups(self) -> None:
        assert self.ticket is not None  # noqa: S101
        self.listen(groups.waiting_group(self.ticket.office_id), groups.ticket_group(self.ticket.pk))

    async def _send_snapshot(self) -> None:
        assert self.ticket is not None  # noqa: S101
        self.known_status, text = await _snapshot_text(self.ticket)
        await self.send(text_data=text)

    async def resync(self) -> None:
        if self.ticket is not None:
            await self._send_snapshot()

    async def ticket_status_is(self, status: str) -> None:
        """Events may be lost (Redis down): a ticket that changed meanwhile resyncs."""
        if self.ticket is not None and status != self.known_status:
            await self._send_snapshot()

    async def deliver(self, group: str, kind: str, text: str) -> None:
        if kind == events.HOURS_CHANGED and self.ticket is not None:
            # Opened or closed on the spot: the closing time comes with a fresh snapshot (in a
            # task: the hub's delivery must not wait for a query).
            self._hours = asyncio.create_task(self._send_snapshot())
            return
        await super().deliver(group, kind, text)
        if self.ticket is not None and group == groups.ticket_group(self.ticket.pk):
            # This socket's own event (rare): parsed here for the reason of an ending.
            self.known_status = sequence.status_after_event(parse(text), self.known_status)
            if kind == events.TRANSFERRED:
                self._follow = asyncio.create_task(self._follow_transfer())

    async def _follow_transfer(self) -> None:
        """Now in another office's queue: listen to it and start from a fresh snapshot."""
        assert self.ticket is not None  # noqa: S101
        self.stop_listening()
        self.ticket = await database_sync_to_async(snapshots.ticket_by_token)(self.ticket.token)
        if self.ticket is not None:
            self._join_groups()
            await self._send_snapshot()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if parse(text_data).get("type") == "resync" and self.ticket is not None:
            await self._send_snapshot()

    async def disconnect(self, code: int) -> None:
        self.stop_listening()  # the liveness count is released by the base, however it ends


class ConsoleConsumer(HubConsumer):
    """``/ws/console/``: the staff console's live list; a change triggers a fresh list."""

    member_id: int | None = None
    login_group: str | None = None
    _dirty = False
    _refresher: asyncio.Task[None] | None = None
    _login_watch: asyncio.Task[None] | None = None
    max_message_bytes = 1024
    messages_per_second = 5.0
    message_burst = 20.0
    kind = "console"

    async def connect(self) -> None:
        member = await database_sync_to_async(staff_member_of)(self.scope["user"])
        self.login_group = sockets.login_group(self.scope)
        # Citizens' names go only to a login that still holds (not logged out or timed out,
        # second factor passed where required).
        if member is None or self.login_group is None or not await sockets.login_is_valid(self.scope):
            await self.close(code=4403)
            return
        self.member = member
        self.member_id = member.pk
        office_ids = await database_sync_to_async(console.office_ids)(member)
        await self.accept()
        self.listen(
            *(groups.staff_group(pk) for pk in office_ids), groups.member_group(member.pk), self.login_group
        )
        self._login_watch = sockets.watch(self.scope, self._login_ended)
        self.at_end(await liveness.connected(member_id=member.pk))
        await self._send_state()

    async def _login_ended(self) -> None:
        """Logged out or timed out: stop streaming at once."""
        if self.login_group is None:
            return  # already ended
        self.login_group = None
        self.stop_listening()
        self._dirty = False
        sockets.stop(self._login_watch)
        await self.close(code=4403)

    async def _send_state(self) -> None:
        if not await sockets.login_is_valid(self.scope):
            await self._login_ended()
            return
        payload = await database_sync_to_async(console.state)(self.member)
        await self.send(text_data=encode(payload))

    async def deliver(self, group: str, kind: str, text: str) -> None:
        if group == self.login_group:
            await self._login_ended()
            return
        if group.startswith(groups.MEMBER_PREFIX):
            await self.base_send({"type": "websocket.send", "text": text})
            return
        # Refresh outside the hub's delivery task (which must not wait for a query), and
        # turn a burst of changes into one refresh.
        self._dirty = True
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.create_task(self._refresh_while_dirty())

    async def resync(self) -> None:
        await self.deliver("", events.CHANGED, "")  # a fresh list, as after any change

    async def _refresh_while_dirty(self) -> None:
        while self._dirty:
            self._dirty = False
            await asyncio.sleep(REFRESH_DELAY)
            await self._send_state()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if parse(text_data).get("type") == "refresh":
            await self._send_state()

    async def disconnect(self, code: int) -> None:
        self.stop_listening()
        sockets.stop(self._login_watch)


class DirectoryStatusConsumer(HubConsumer):
    """Live status of an organisation's offices: opening status, free seats, people waiting.

    Sends a snapshot on connect and whenever the page asks (it asks at the ``next_change_at``
    the snapshot names, so “closes in 10 minutes” stays true without polling); queue changes
    arrive as they happen through the hub.
    """

    max_message_bytes = 1024
    messages_per_second = 2.0
    message_burst = 10.0
    kind = "directory"
    _hours: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.org_slug: str = self.scope["url_route"]["kwargs"]["org_slug"]
        self.language = _language_of(self.scope)
        organization = await database_sync_to_async(Organization.objects.filter(slug=self.org_slug).first)()
        if organization is None:
            await self.close(code=4404)
            return
        self.organization = organization
        await self.accept()
        self.listen(groups.directory_group(organization.pk))
        await self._send_snapshot()

    async def _send_snapshot(self) -> None:
        await self.send(text_data=encode(await database_sync_to_async(self._snapshot)()))

    def _snapshot(self) -> dict[str, Any]:
        return directory.status(self.organization, self.language)

    async def deliver(self, group: str, kind: str, text: str) -> None:
        if kind == events.HOURS_CHANGED:
            # Opened or closed on the spot: a fresh status in the page's language (in a task,
            # spread like a resync: the hub's delivery must not wait for queries).
            self._hours = asyncio.create_task(self.resync())
            return
        await super().deliver(group, kind, text)

    async def resync(self) -> None:
        # Directory pages are many and their snapshot costs the most: spread them out.
        await asyncio.sleep(random.uniform(0, RESYNC_SPREAD_SECONDS))  # noqa: S311
        await self._send_snapshot()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if parse(text_data).get("type") == "refresh":
            await self._send_snapshot()


def _language_of(scope: dict[str, Any]) -> str:
    """The language the page was rendered in: the query string's ``lang``, else German."""
    query = scope.get("query_string", b"").decode("ascii", "ignore")
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "lang" and translation.check_for_language(value):
            return str(value)
    return "de"

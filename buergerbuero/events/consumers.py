"""``/ws/events/<id>/``: an event's live page — stage, questions, hands, chat, the citizen's turn
in consultation hours, and the media relay to Janus.

Who: a viewer by their token (``?viewer=``), a host by their staff login (session). Anyone else
is closed with 4403. What each may send is checked by ``events.services``; the only decision
here is the media one: a ``publish`` goes to Janus only for someone on stage
(``services.may_publish``, asked at that moment), everything else a browser asks of Janus
(subscribe, answer, trickle, leave) is relayed for everybody, since watching is what a viewer
does. One Janus peer per socket (``sfu.peer.JanusPeer``), closed with the socket.

Janus restarted or crashed: when the peer reports ``unavailable`` or ``room_closed`` the socket
drops it (the page is told and re-joins with backoff), and the next ``join`` or ``publish`` first
has ``media.recover`` re-create the room (rules in ``events.media``). The rest of the socket
(questions, hands, chat, stage seats) never waits for Janus.

Resync (Redis was down): the page gets a fresh snapshot; stage, questions and chat start again
from the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings

from buergerbuero.consult import turn as ice
from buergerbuero.events import media, services
from buergerbuero.events.models import Attendee, Event, EventStatus
from buergerbuero.realtime import events
from buergerbuero.realtime.consumers import HubConsumer
from buergerbuero.realtime.messages import parse
from buergerbuero.realtime.publish import encode
from buergerbuero.staff.models import StaffMember
from buergerbuero.staff.services import staff_member_of
from buergerbuero.waiting.services import groups as waiting_groups

logger = logging.getLogger(__name__)
MAX_MEDIA_BYTES = 96 * 1024
FORBIDDEN = 4403
# Events of the citizen's own turn (consultation hours) that change what the turn shows.
TURN_EVENTS = frozenset({events.QUEUE, events.LIVE, events.CALLED, events.REQUEUED, events.ENDED})
# What a peer reports when Janus lost the room or went away: the page re-joins, the room comes back.
RECOVERABLE = frozenset({"unavailable", "room_closed"})
# Only these open a media peer; anything else without one (a leave, a late trickle) is dropped.
OPENING_OPS = frozenset({"join", "publish"})


class Peer(Protocol):
    async def handle(self, message: dict[str, Any]) -> None: ...
    async def close(self) -> None: ...


def janus_peer(server: str, room_id: int, on_event: Callable[[dict[str, Any]], Awaitable[None]]) -> Peer:
    """The server side of one socket's media (imported here: only live pages need it)."""
    from buergerbuero.sfu.peer import JanusPeer

    return JanusPeer(server, room_id, on_event)


class EventConsumer(HubConsumer):
    kind = "event"
    max_message_bytes = MAX_MEDIA_BYTES
    messages_per_second = 20.0
    message_burst = 100.0

    event: Event | None = None
    attendee: Attendee | None = None
    member: StaffMember | None = None
    language = "de"
    peer: Peer | None = None
    media_failed = False  # this socket's peer lost Janus: the next peer recovers the room first
    turn_groups: tuple[str, ...] = ()

    # --- connecting ----------------------------------------------------------------------------
    async def connect(self) -> None:
        event_id = int(self.scope["url_route"]["kwargs"]["event_id"])
        query = parse_qs(self.scope.get("query_string", b"").decode("ascii", "ignore"))
        token = query.get("viewer", [""])[0]
        self.language = query.get("lang", ["de"])[0][:8]
        found = await database_sync_to_async(self._identify)(event_id, token)
        if found is None:
            await self.close(code=FORBIDDEN)
            return
        self._tasks = set()
        await self.accept()
        self.at_end(self._stop_turn)
        groups = [services.event_group(event_id)]
        if self.attendee is not None:
            groups.append(services.attendee_group(self.attendee.pk))
        else:
            groups.append(services.hosts_group(event_id))
        self.listen(*groups)
        self.follow_turn()
        await self.send_snapshot()

    def _identify(self, event_id: int, token: str) -> Event | None:
        if token:
            attendee = services.attendee_by_token(token)
            if attendee is None or attendee.event_id != event_id:
                return None
            self.attendee, self.event = attendee, attendee.event
            return self.event
        member = staff_member_of(self.scope["user"])
        event = Event.objects.filter(pk=event_id).select_related("organization", "office").first()
        if event is None or not services.can_host(member, event):
            return None
        self.member, self.event = member, event
        return event

    def follow_turn(self) -> None:
        """A citizen with a turn in the office's waiting room hears its changes."""
        ticket = self.attendee.ticket if self.attendee is not None else None
        if ticket is None or self.turn_groups or self.event is None or self.event.office_id is None:
            return
        self.turn_groups = (
            waiting_groups.ticket_group(ticket.pk),
            waiting_groups.waiting_group(self.event.office_id),
        )
        self.listen(*self.turn_groups)

    def _snapshot(self) -> dict[str, Any]:
        assert self.event is not None  # noqa: S101
        event = Event.objects.select_related("organization", "office").get(pk=self.event.pk)
        self.event = event
        host = self.member is not None
        snapshot: dict[str, Any] = {
            "type": "snapshot",
            "status": event.status,
            "chat_enabled": event.chat_enabled,
            "stage": services.stage_json(event),
            "questions": services.questions_json(event, host=host),
            "chat": services.chat_json(event),
            "ice_servers": ice.ice_servers(f"event-{event.pk}"),
            "ice_transport_policy": settings.ICE_TRANSPORT_POLICY,
        }
        if host:
            snapshot["hands"] = services.raised_hands(event)
            snapshot["on_stage"] = services.seat_of(event, member=self.member) is not None
        elif self.attendee is not None:
            attendee = services.attendee_by_token(self.attendee.token)
            if attendee is None:  # removed meanwhile
                return {"type": events.ENDED, "reason": "removed"}
            self.attendee = attendee
            snapshot["on_stage"] = services.seat_of(event, attendee=attendee) is not None
            snapshot["hand"] = attendee.hands.filter(lowered_at__isnull=True).exists()
            snapshot["may_raise_hand"] = services.may_raise_hand(attendee)
            snapshot["turn"] = services.turn(attendee, self.language)
        return snapshot

    async def send_snapshot(self) -> None:
        snapshot = await database_sync_to_async(self._snapshot)()
        await self.send(text_data=encode(snapshot))
        if snapshot["type"] == events.ENDED:
            await self.close(code=FORBIDDEN)

    async def resync(self) -> None:
        if self.event is not None:
            await self.send_snapshot()

    # --- what the hub delivers -----------------------------------------------------------------
    async def deliver(self, group: str, kind: str, text: str) -> None:
        if self.event is None:
            return
        if group in self.turn_groups:
            if kind in TURN_EVENTS and self.attendee is not None:
                self.refresh_turn()
            return
        await super().deliver(group, kind, text)
        # Janus is asked in tasks of their own: the hub's delivery does not wait for it.
        if kind == events.ON_STAGE and not parse(text).get("on") and self.peer is not None:
            self._background(self.peer.handle({"op": "unpublish"}))
        elif kind == events.ENDED and self.attendee is not None:  # removed by a host
            await self.close(code=FORBIDDEN)
        elif kind == events.EVENT_STATUS and parse(text).get("status") == EventStatus.ENDED:
            self._background(self.close_peer())

    def refresh_turn(self) -> None:
        """Send the citizen's turn afresh, in a task of its own: the hub's delivery must not wait
        for the database. Changes while one is being read are covered by one more read."""
        if self._turn_task is not None and not self._turn_task.done():
            self._turn_stale = True
            return
        self._turn_task = asyncio.ensure_future(self._send_turn())

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)  # held until done (the loop keeps only weak references)
        task.add_done_callback(self._tasks.discard)

    def _stop_turn(self) -> None:
        if self._turn_task is not None:
            self._turn_task.cancel()

    async def _send_turn(self) -> None:
        self._turn_stale = True
        while self._turn_stale and self.attendee is not None:
            self._turn_stale = False
            turn = await database_sync_to_async(services.turn)(self.attendee, self.language)
            await self.send(text_data=encode(turn))

    _turn_task: asyncio.Task[None] | None = None
    _tasks: set[asyncio.Task[None]] = set()  # replaced per socket in connect
    _turn_stale = False

    # --- what the page sends -------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.event is None:
            return
        message = parse(text_data, limit=MAX_MEDIA_BYTES)
        kind = message.get("type")
        if kind == "media":
            await self.media(message)
            return
        try:
            if self.member is not None:
                reply = await database_sync_to_async(self.host_op)(str(kind), message)
            elif self.attendee is not None:
                reply = await database_sync_to_async(self.viewer_op)(str(kind), message)
            else:
                return
        except services.EventError as refused:
            await self.send(text_data=encode(events.error(refused.message)))
            return
        except Exception:  # a fault of ours: logged, and the page keeps its socket
            logger.exception("an event socket's %s failed", kind)
            return
        if reply is not None and reply.get("type") == "turn":
            self.follow_turn()  # on the event loop: the hub's groups live there
        if reply is not None:
            await self.send(text_data=encode(reply))

    def _fresh_event(self) -> Event:
        assert self.event is not None  # noqa: S101
        event = Event.objects.select_related("organization", "office").get(pk=self.event.pk)
        self.event = event
        return event

    def viewer_op(self, kind: str, message: dict[str, Any]) -> dict[str, Any] | None:
        """A viewer's action; the answer for this page alone, if any."""
        attendee = services.attendee_by_token(self.attendee.token) if self.attendee is not None else None
        if attendee is None:
            raise services.EventError("", "gone")
        self.attendee = attendee
        if kind == "question":
            services.ask(attendee, _text(message), anonymous=bool(message.get("anonymous")))
        elif kind == "upvote":
            services.upvote(attendee, _int(message.get("id")))
        elif kind == "hand":
            if message.get("raised"):
                services.raise_hand(attendee)
            else:
                services.lower_hand(attendee)
        elif kind == "chat":
            services.post_chat(attendee.event, _text(message), attendee=attendee)
        elif kind == "queue":
            services.ask_live(attendee, self.language)
            return services.turn(attendee, self.language)
        elif kind == "here":
            services.here(attendee)
        elif kind == "leave_stage":
            services.leave_stage(attendee.event, attendee)
        return None

    def host_op(self, kind: str, message: dict[str, Any]) -> dict[str, Any] | None:
        """A host's action; the answer for this page alone, if any."""
        member = self.member
        assert member is not None  # noqa: S101
        event = self._fresh_event()
        if kind == "moderate":
            services.moderate(member, event, _int(message.get("id")), str(message.get("action", "")))
        elif kind == "on_stage":
            services.bring_on_stage(member, event, _int(message.get("attendee")))
        elif kind == "off_stage":
            seat = services.take_off_stage(member, event, _int(message.get("seat")))
            media.hang_up(event, seat.feed)
        elif kind == "mute":
            seat = services.mute(member, event, _int(message.get("seat")), bool(message.get("muted", True)))
            media.silence(event, seat)
        elif kind == "pin":
            services.pin(member, event, _int(message.get("seat")), bool(message.get("pinned", True)))
        elif kind == "remove":
            services.remove_viewer(member, event, _int(message.get("attendee")))
        elif kind == "call_next":
            ticket = services.call_next(member, event)
            return {"type": "called_next", "called": ticket is not None}
        elif kind == "chat":
            services.post_chat(event, _text(message), member=member)
        return None

    # --- media ---------------------------------------------------------------------------------
    async def media(self, message: dict[str, Any]) -> None:
        """Relay one browser message to Janus; ``publish`` only from the stage."""
        op = {key: value for key, value in message.items() if key != "type"}
        if op.get("op") == "publish":
            display = await database_sync_to_async(self._stage_name)()
            if display is None:
                await self.send(text_data=encode({"type": "media", "op": "error", "reason": "not_on_stage"}))
                return
            op["display"] = display  # the others see the name the stage shows, not one the page chose
        if self.peer is None and op.get("op") not in OPENING_OPS:
            return
        peer = await self._peer()
        if peer is None:
            await self.send(text_data=encode({"type": "media", "op": "error", "reason": "unavailable"}))
            return
        await peer.handle(op)

    def _stage_name(self) -> str | None:
        """The name this socket publishes under, or None: not on stage (may not publish)."""
        event = self._fresh_event()
        if not services.may_publish(event, member=self.member, attendee=self.attendee):
            return None
        if self.member is not None:
            return self.member.public_name
        return services.attendee_name(self.attendee)

    async def _peer(self) -> Peer | None:
        if self.peer is not None:
            return self.peer
        event = await database_sync_to_async(self._fresh_event)()
        if event.status != EventStatus.LIVE:
            return None
        if not event.janus_server or event.room_id is None or self.media_failed:
            # Live without a room (the demo's event, or Janus was missing when it went live), or
            # this page's peer lost Janus: the room is made again first.
            try:
                event = await database_sync_to_async(media.recover)(event)
            except media.StageUnavailable:
                return None
            self.media_failed = False
        try:
            self.peer = janus_peer(event.janus_server, event.room_id, self.from_janus)
        except Exception:
            logger.warning("could not open a media peer for event %s", event.pk, exc_info=True)
            return None
        return self.peer

    async def from_janus(self, event: dict[str, Any]) -> None:
        if event.get("op") == "error" and event.get("reason") in RECOVERABLE and self.peer is not None:
            # Its Janus session is gone: the page's next join gets a new peer (and the room back).
            failed, self.peer = self.peer, None
            self.media_failed = True
            self._background(_close(failed))
        if event.get("op") in ("published", "unpublished") and self.event is not None:
            feed = event.get("feed") if event.get("op") == "published" else None
            await database_sync_to_async(self._published)(feed)
        relayed: dict[str, Any] = {"type": "media", **event}
        await self.send(text_data=encode(relayed))

    def _published(self, feed: object) -> None:
        event = self._fresh_event()
        seat = services.seat_of(event, member=self.member, attendee=self.attendee)
        if seat is not None:
            services.published(seat, feed if isinstance(feed, int) else None)

    async def close_peer(self) -> None:
        peer, self.peer = self.peer, None
        if peer is not None:
            await _close(peer)

    async def disconnect(self, code: int) -> None:
        await self.close_peer()
        self.stop_listening()


async def _close(peer: Peer) -> None:
    try:
        await peer.close()
    except Exception:
        logger.warning("closing a media peer failed", exc_info=True)


def _text(message: dict[str, Any]) -> str:
    text = message.get("text")
    return text if isinstance(text, str) else ""


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0

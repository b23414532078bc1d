"""The stage's media room on a Janus server (through ``sfu``): opened when the event goes live,
closed when it ends; a host's mute and removal also reach Janus, so that a browser that ignores
them is silenced anyway.

Which server: ``sfu.rooms.assign_server`` picks one when the event goes live and the event keeps
its name and room number for every later call. Without an answering Janus, the event page says
that live events need it and going live is refused with that message; nothing else breaks.

Recovery after a Janus restart (or crash): Janus keeps its rooms in memory only, so a restarted
Janus has lost the event's room and every page's session. Rules:

- A page's peer that reports ``unavailable`` or ``room_closed`` while the event is live is
  closed by the socket, and the page is told to re-join (it shows "reconnecting to the media
  server" meanwhile). The page retries with a growing, jittered delay (1 s doubling up to 30 s),
  so a thousand viewers do not come back at the same moment.
- Every re-join of a live event goes through :func:`recover` before a new peer is opened. It
  re-creates the room (idempotent ``create_room``) on the event's server, but at most once per
  ``RECOVER_WINDOW`` seconds per event across all processes (a database rate limit): the other
  pages of that window only join, and if the room is not back yet their peer reports
  ``room_closed`` again and they retry later.
- If the event's server does not answer and another configured server does, the event moves
  there (same room number; a conditional update, so concurrent recoveries agree on one server).
  A server that is only restarting is therefore left as soon as another one answers: simple,
  and harmless, since a restart has ended every session on it anyway.
- If no server answers, the page keeps retrying; questions, hands, stage seats and chat live in
  the database and go on without Janus.
"""

from __future__ import annotations

import logging
import secrets

from django.utils.translation import gettext as _

from buergerbuero.events.models import Event, EventStatus, StageSeat
from buergerbuero.limits import services as limits
from buergerbuero.sfu import rooms

logger = logging.getLogger(__name__)
# Hosts, co-speakers, the interpreter and a viewer or two brought up.
MAX_ON_STAGE = 8
ROOM_NUMBERS = 2**31
# At most one re-creation of an event's room per this many seconds (all processes together).
RECOVER_WINDOW = 2


class StageUnavailable(Exception):
    """Janus does not answer: the event cannot go live now."""


def available(server: str | None = None) -> bool:
    try:
        return rooms.available(server)
    except Exception:  # misconfigured servers count as missing, the page says so
        logger.warning("could not ask the media servers", exc_info=True)
        return False


def open_stage(event: Event) -> Event:
    """Create the event's room (idempotent: a room already assigned is only created again)."""
    try:
        server = event.janus_server or rooms.assign_server()
        room_id = event.room_id or 1000 + secrets.randbelow(ROOM_NUMBERS)
        rooms.create_room(server, room_id, description=event.title, max_publishers=MAX_ON_STAGE)
    except rooms.SfuError as failed:
        raise StageUnavailable(
            _("Live events need the media server (Janus), which does not answer.")
        ) from failed
    if (event.janus_server, event.room_id) != (server, room_id):
        Event.objects.filter(pk=event.pk).update(janus_server=server, room_id=room_id)
        event.janus_server, event.room_id = server, room_id
    return event


def recover(event: Event) -> Event:
    """Make sure a live event's room exists before a page (re-)joins its media (the caller
    checked that the event is live; the rules are in the module docstring).
    :class:`StageUnavailable` when no server answers or the event ended meanwhile."""
    event = _recreate(event)
    if not Event.objects.filter(pk=event.pk, status=EventStatus.LIVE).exists():
        close_stage(event)  # the host ended it while we re-created the room: leave none behind
        raise StageUnavailable(_("Live events need the media server (Janus), which does not answer."))
    return event


def _recreate(event: Event) -> Event:
    room_id = event.room_id
    if not event.janus_server or room_id is None:
        return open_stage(event)
    if not available(event.janus_server):
        event = _move(event)
    if not limits.hit("event-room-recover", str(event.pk), limit=1, window=RECOVER_WINDOW).allowed:
        return event  # someone re-created it a moment ago (or is doing it now)
    try:
        rooms.create_room(event.janus_server, room_id, description=event.title, max_publishers=MAX_ON_STAGE)
    except rooms.SfuError as failed:
        raise StageUnavailable(
            _("Live events need the media server (Janus), which does not answer.")
        ) from failed
    return event


def _move(event: Event) -> Event:
    """The event's server does not answer: the answering server with the fewest rooms takes it."""
    try:
        server = rooms.assign_server()
    except rooms.SfuError as failed:
        raise StageUnavailable(
            _("Live events need the media server (Janus), which does not answer.")
        ) from failed
    moved = Event.objects.filter(pk=event.pk, janus_server=event.janus_server).update(janus_server=server)
    if moved:
        logger.warning("event %s moved from media server %s to %s", event.pk, event.janus_server, server)
    event.janus_server = Event.objects.values_list("janus_server", flat=True).get(pk=event.pk)
    return event


def close_stage(event: Event) -> None:
    if not event.janus_server or event.room_id is None:
        return
    try:
        rooms.destroy_room(event.janus_server, event.room_id)
    except rooms.SfuError:
        logger.warning("could not destroy the room of event %s", event.pk, exc_info=True)


def silence(event: Event, seat: StageSeat) -> None:
    """The host's mute, applied by Janus too (the seat's page also turns its microphone off)."""
    if not event.janus_server or event.room_id is None or seat.feed is None:
        return
    try:
        rooms.moderate(event.janus_server, event.room_id, seat.feed, audio=not seat.muted)
    except rooms.SfuError:
        logger.warning("could not mute a feed of event %s", event.pk, exc_info=True)


def hang_up(event: Event, feed: int | None) -> None:
    """Someone taken off stage stops publishing even if their page does not stop by itself."""
    if not event.janus_server or event.room_id is None or feed is None:
        return
    try:
        rooms.kick(event.janus_server, event.room_id, feed)
    except rooms.SfuError:
        logger.warning("could not remove a feed of event %s", event.pk, exc_info=True)

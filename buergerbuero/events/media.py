"""The stage's media room on a Janus server (through ``sfu``): opened when the event goes live,
closed when it ends; a host's mute and removal also reach Janus, so that a browser that ignores
them is silenced anyway.

Which server: ``sfu.rooms.assign_server`` picks one when the event goes live and the event keeps
its name and room number for every later call. Without an answering Janus, the event page says
that live events need it and going live is refused with that message; nothing else breaks.
"""

from __future__ import annotations

import logging
import secrets

from django.utils.translation import gettext as _

from buergerbuero.events.models import Event, StageSeat
from buergerbuero.sfu import rooms

logger = logging.getLogger(__name__)
# Hosts, co-speakers, the interpreter and a viewer or two brought up.
MAX_ON_STAGE = 8
ROOM_NUMBERS = 2**31


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

"""How long a staff login lasts, and how its open WebSockets learn that it ended.

Rules:
- A login ends ``SESSION_IDLE_MINUTES`` after the person's last request (idle timeout) and
  ``SESSION_MAX_HOURS`` after the login, whatever happens (absolute timeout). A logged-in
  session without the login's timestamps (one from before these rules) counts as ended.
- The last request is noted at most once a minute (a session write per request would cost
  more than the minute of precision is worth).
- Each login gets a random id for its sockets; logging out or timing out publishes
  ``session_ended`` to that group, and every staff socket of the login closes. Sockets also
  re-check their session themselves (:mod:`buergerbuero.staff.sockets`), so a socket whose
  process missed the event still stops.
- An open consultation counts as activity: its staff socket notes the activity like a
  request, so that a long call does not end the login under the person's hands.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import MutableMapping
from typing import Any

from django.conf import settings
from django.utils import timezone

from buergerbuero.realtime.publish import publish_now

STARTED = "bb_login_started"
SEEN = "bb_login_seen"
SOCKETS = "bb_login_sockets"
TOUCH_EVERY_SECONDS = 60
IDLE = "idle"
EXPIRED = "expired"

Session = MutableMapping[str, Any]


def start(session: Session, now: dt.datetime | None = None) -> None:
    """Called at login: the clocks start and the login's sockets get their group."""
    moment = (now or timezone.now()).timestamp()
    session[STARTED] = moment
    session[SEEN] = moment
    session[SOCKETS] = secrets.token_urlsafe(18)


def ended(session: Session, now: dt.datetime | None = None, *, idle_counts: bool = True) -> str | None:
    """Why this login is over (``IDLE`` or ``EXPIRED``), or None while it lasts."""
    started, seen = session.get(STARTED), session.get(SEEN)
    if not isinstance(started, (int, float)) or not isinstance(seen, (int, float)):
        return EXPIRED
    moment = (now or timezone.now()).timestamp()
    if moment - started >= settings.SESSION_MAX_HOURS * 3600:
        return EXPIRED
    if idle_counts and moment - seen >= settings.SESSION_IDLE_MINUTES * 60:
        return IDLE
    return None


def touch(session: Session, now: dt.datetime | None = None) -> bool:
    """Note activity; True when the session changed (and must be saved)."""
    moment = (now or timezone.now()).timestamp()
    seen = session.get(SEEN)
    if isinstance(seen, (int, float)) and moment - seen < TOUCH_EVERY_SECONDS:
        return False
    session[SEEN] = moment
    return True


def socket_group(session: Session) -> str | None:
    """The hub group of this login's staff sockets."""
    sockets = session.get(SOCKETS)
    return f"staff-login:{sockets}" if isinstance(sockets, str) and sockets else None


def close_sockets(session: Session) -> None:
    """Tell every socket of this login, in every process, that the login is over."""
    group = socket_group(session)
    if group is not None:
        publish_now(group, {"type": "session_ended"})

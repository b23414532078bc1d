"""Fixed-window rate limits, counted in the database so that every server process (and the
job worker) sees the same counts, in the embedded mode (SQLite) as in the scaled one
(PostgreSQL).

Rules:

- A window is a fixed stretch of ``window`` seconds counted from the Unix epoch (a day
  window runs from 00:00 to 24:00 UTC). Each scope uses one window length.
- ``hit`` counts one attempt with a single atomic statement (``INSERT … ON CONFLICT … DO
  UPDATE SET count = count + 1 RETURNING count``; SQLite ≥ 3.35 and PostgreSQL), so that
  concurrent requests in any number of processes never let more than ``limit`` through.
  Refused attempts are counted too: hammering does not reopen the window.
- ``give_back`` undoes one allowed hit (an attempt that turned out not to cost anything,
  e.g. a booking of a time just taken by someone else).
- Subjects (client addresses, e-mail addresses, phone numbers) are stored only as an HMAC
  under the ``SECRET_KEY``.
- ``prune`` deletes windows that are over (the ``prune_rate_limits`` job).

``hit`` commits with the surrounding transaction: call it outside a transaction that may roll
back if the attempt must count anyway.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from buergerbuero.limits.models import Counter

MINUTE = 60
HOUR = 3600
DAY = 86400
# One client behind an IPv6 address usually holds the whole /64: counting single addresses
# would let it pick a fresh one for every request.
IPV6_PREFIX = 64


@dataclass(frozen=True)
class Verdict:
    """The outcome of counting (or peeking at) one attempt."""

    allowed: bool
    count: int  # attempts in this window, this one included (for ``peek``: so far)
    limit: int
    key: str
    window_start: int
    resets_at: dt.datetime

    @property
    def first_refusal(self) -> bool:
        """The attempt that used up the window (exactly one hit per window sees this)."""
        return self.count == self.limit + 1


def subject_key(scope: str, subject: str) -> str:
    """The stored name of ``subject`` within ``scope``: an HMAC, not the address itself."""
    message = f"{scope}\x00{subject}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def client_address(request: HttpRequest) -> str:
    """The client's address as the server sees it (uvicorn puts the forwarded address of a
    trusted proxy here); IPv6 addresses are reduced to their /64 network."""
    raw = request.META.get("REMOTE_ADDR") or ""
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


def _window(window: int, now: dt.datetime | None) -> tuple[int, dt.datetime]:
    instant = int((now or timezone.now()).timestamp())
    start = instant - instant % window
    return start, dt.datetime.fromtimestamp(start + window, tz=dt.UTC)


def hit(scope: str, subject: str, limit: int, window: int, now: dt.datetime | None = None) -> Verdict:
    """Count one attempt of ``subject`` in ``scope``; allowed while at most ``limit``
    attempts fell into the current window of ``window`` seconds."""
    key = subject_key(scope, subject)
    start, resets_at = _window(window, now)
    table = connection.ops.quote_name(Counter._meta.db_table)
    key_column, count_column = connection.ops.quote_name("key"), connection.ops.quote_name("count")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({key_column}, scope, window_start, expires, {count_column}) "  # noqa: S608
            f"VALUES (%s, %s, %s, %s, 1) "
            f"ON CONFLICT ({key_column}, window_start) "
            f"DO UPDATE SET {count_column} = {table}.{count_column} + 1 "
            f"RETURNING {count_column}",
            [key, scope[:40], start, start + window],
        )
        row = cursor.fetchone()
    count = int(row[0])
    return Verdict(count <= limit, count, limit, key, start, resets_at)


def peek(scope: str, subject: str, limit: int, window: int, now: dt.datetime | None = None) -> Verdict:
    """Whether one more attempt would be allowed now, without counting it."""
    key = subject_key(scope, subject)
    start, resets_at = _window(window, now)
    count = Counter.objects.filter(key=key, window_start=start).values_list("count", flat=True).first() or 0
    return Verdict(count < limit, count, limit, key, start, resets_at)


def give_back(verdict: Verdict) -> None:
    """Undo one allowed hit (in the window it was counted in)."""
    if verdict.allowed:
        Counter.objects.filter(key=verdict.key, window_start=verdict.window_start, count__gt=0).update(
            count=F("count") - 1
        )


def reset(scope: str, subject: str) -> int:
    """Forget every window of ``subject`` in ``scope`` (for operators and tests)."""
    deleted, _detail = Counter.objects.filter(key=subject_key(scope, subject)).delete()
    return deleted


def prune(now: dt.datetime | None = None) -> int:
    """Delete the windows that are over."""
    instant = int((now or timezone.now()).timestamp())
    deleted, _detail = Counter.objects.filter(expires__lte=instant).delete()
    return deleted

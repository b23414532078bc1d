"""Dates and times: read from addresses and forms (nonsense gives None, never an exception),
and written the way the active language writes them.

What is read is kept within ``EARLIEST`` and ``LATEST``: an address may say ``0001-01-01`` or
``9999-12-31``, and a week back, a day on or a time zone's offset from there overflows Python's
date range (a server error). No page of ours has anything to show that far away, so such a
date counts as nonsense like ``2026-02-30``; the pages then show their default (today, the
first bookable day) or ask for a choice again.
"""

from __future__ import annotations

import datetime as dt

from django.utils import formats, timezone
from django.utils.dateparse import parse_date, parse_datetime

EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2999, 12, 31)


def within_range(value: dt.date) -> bool:
    """Whether a date (or an instant, judged by its UTC date) is far enough from the ends of
    Python's calendar for date arithmetic and time zone conversions."""
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC).date() if value.tzinfo else value.date()
    return EARLIEST <= value <= LATEST


def date_or_none(value: str | None) -> dt.date | None:
    try:
        day = parse_date(value or "")
    except ValueError:  # well-formed but impossible, e.g. 2026-02-30
        return None
    return day if day is not None and within_range(day) else None


def aware_datetime_or_none(value: str | None) -> dt.datetime | None:
    try:
        moment = parse_datetime(value or "")
    except ValueError:
        return None
    if moment is None or timezone.is_naive(moment):
        return None
    # The year is checked before converting: 0001-01-01T00:30+14:00 has no UTC equivalent.
    if not EARLIEST.year < moment.year < LATEST.year:
        return None
    return moment if within_range(moment) else None


def long_date(value: dt.date) -> str:
    """“Montag, 30. November 2026” / “Monday, Nov. 30, 2026”: the weekday and the locale's
    DATE_FORMAT (a datetime as it is, in its own time zone)."""
    return f"{formats.date_format(value, 'l')}, {formats.date_format(value, 'DATE_FORMAT')}"

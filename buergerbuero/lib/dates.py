"""Dates and times: read from addresses and forms (nonsense gives None, never an exception),
and written the way the active language writes them."""

from __future__ import annotations

import datetime as dt

from django.utils import formats, timezone
from django.utils.dateparse import parse_date, parse_datetime


def date_or_none(value: str | None) -> dt.date | None:
    try:
        return parse_date(value or "")
    except ValueError:  # well-formed but impossible, e.g. 2026-02-30
        return None


def aware_datetime_or_none(value: str | None) -> dt.datetime | None:
    try:
        moment = parse_datetime(value or "")
    except ValueError:
        return None
    return moment if moment is not None and not timezone.is_naive(moment) else None


def long_date(value: dt.date) -> str:
    """“Montag, 30. November 2026” / “Monday, Nov. 30, 2026”: the weekday and the locale's
    DATE_FORMAT (a datetime as it is, in its own time zone)."""
    return f"{formats.date_format(value, 'l')}, {formats.date_format(value, 'DATE_FORMAT')}"

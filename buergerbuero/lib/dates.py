"""Dates and times from addresses and forms: nonsense gives None, never an exception."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
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

"""Dates as each language writes them: the locale's own formats (``DATE_FORMAT``,
``MONTH_DAY_FORMAT``; Russian and Ukrainian months in the genitive, see
``buergerbuero/formats``), never a German pattern for every language."""

from __future__ import annotations

import datetime as dt

from django import template
from django.template.defaultfilters import date as date_filter

from buergerbuero.lib import dates

register = template.Library()


@register.filter(expects_localtime=True)  # datetimes arrive in the page's time zone
def long_date(value: dt.date | dt.datetime) -> str:
    """“Montag, 30. November 2026” / “понедельник, 30 ноября 2026 г.”, in the page's time zone."""
    return dates.long_date(value)


@register.filter(expects_localtime=True)  # datetimes arrive in the page's time zone
def day_month(value: dt.date | dt.datetime) -> str:
    """“30. November” / “November 30” / “30 ноября”."""
    return str(date_filter(value, "MONTH_DAY_FORMAT"))


@register.filter(expects_localtime=True)  # datetimes arrive in the page's time zone
def short_day(value: dt.date | dt.datetime) -> str:
    """“Mo, 30. November”: the weekday abbreviated, for lists of times."""
    return f"{date_filter(value, 'D')}, {day_month(value)}"

"""Opening hours: which local times an office is open, and what its status is right now.

This module is the one place for the rules. Precedence on a given local date:

1. extra openings for that date replace everything else (even a holiday or a closure);
2. otherwise a closure covering the date closes the office all day;
3. otherwise a public holiday of the organisation's state closes it (if the office observes them);
4. otherwise the regular weekly intervals apply.

Times are local to the organisation (Europe/Berlin by default); every datetime leaving this
module is aware. A closing time of 00:00 means midnight, so an office can stay open past
midnight with one interval until 00:00 and one from 00:00 the next day: they are merged.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
import re
import time
import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import holidays
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import formats, timezone
from django.utils.translation import get_language, gettext, ngettext, pgettext
from django.utils.translation import gettext as _

from buergerbuero.lib.errors import ServiceError
from buergerbuero.offices.models import (
    MIDNIGHT,
    Closure,
    Office,
    OpeningInterval,
    SpecialOpening,
    Weekday,
)

logger = logging.getLogger(__name__)
CLOSING_SOON = dt.timedelta(minutes=15)
# How far ahead we look for the next opening before calling an office "closed" without a date.
SEARCH_HORIZON_DAYS = 60
UPCOMING_DAYS = 42


@dataclass(frozen=True)
class TimeSpan:
    opens: dt.time
    closes: dt.time


@dataclass(frozen=True)
class DayHours:
    """The hours of one local date, and why they differ from the regular week if they do."""

    date: dt.date
    spans: tuple[TimeSpan, ...]
    closed_reason: str = ""
    is_special: bool = False


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class OfficeStatus:
    now: dt.datetime
    is_open: bool
    closes_at: dt.datetime | None = None
    opens_at: dt.datetime | None = None
    closed_reason: str = ""

    @property
    def closing_soon(self) -> bool:
        return self.closes_at is not None and self.closes_at - self.now <= CLOSING_SOON

    @property
    def minutes_until_close(self) -> int | None:
        if self.closes_at is None:
            return None
        return max(1, math.ceil((self.closes_at - self.now).total_seconds() / 60))

    @property
    def next_change_at(self) -> dt.datetime | None:
        """When the status text shown to citizens changes next."""
        if self.closes_at is not None:
            if self.closing_soon:
                return min(self.closes_at, self.now + dt.timedelta(minutes=1))
            return self.closes_at - CLOSING_SOON
        return self.opens_at


@dataclass(frozen=True)
class UpcomingChange:
    """A date range on which the office keeps other hours than usual."""

    first_day: dt.date
    last_day: dt.date
    reason: str
    spans: tuple[TimeSpan, ...] = field(default=())


def _minutes(time: dt.time, *, is_end: bool) -> int:
    minutes = time.hour * 60 + time.minute
    return 24 * 60 if is_end and time == MIDNIGHT else minutes


def find_overlap(spans: Iterable[TimeSpan]) -> tuple[TimeSpan, TimeSpan] | None:
    """Two spans of one day that overlap or touch, or None (adjacent spans should be one)."""
    ordered = sorted(spans, key=lambda span: _minutes(span.opens, is_end=False))
    for earlier, later in itertools.pairwise(ordered):
        if _minutes(later.opens, is_end=False) <= _minutes(earlier.closes, is_end=True):
            return earlier, later
    return None


@lru_cache(maxsize=64)
def _holiday_calendar(state: str, language: str) -> holidays.HolidayBase:
    return holidays.country_holidays("DE", subdiv=state, language=language)


def holiday_language(language: str | None) -> str:
    """The ``holidays`` package's language for a page in ``language``: the page's own where the
    package has German holidays in it, otherwise German (the holidays' own language) — never
    English on a page that is not English."""
    code = (language or "de").split("-")[0].lower()
    if code == "en":
        return "en_US"
    return code if code in _german_holiday_languages() else "de"


@lru_cache(maxsize=1)
def _german_holiday_languages() -> tuple[str, ...]:
    # Asked once: building a holidays calendar to ask it cost 0.6 ms, and the office page asked
    # once per day of its upcoming-changes table (half the page's time).
    languages: tuple[str, ...] = holidays.country_holidays("DE").supported_languages
    return languages


def holiday_name(state: str, day: dt.date) -> str:
    """The public holiday's name in the active language (see ``holiday_language``), or ""."""
    return _holiday_calendar(state, holiday_language(get_language())).get(day) or ""


def offices_with_hours(offices: QuerySet[Office]) -> QuerySet[Office]:
    """Load everything an OpeningCalendar needs in a fixed number of queries."""
    return offices.select_related("organization").prefetch_related(
        Prefetch("opening_intervals", queryset=OpeningInterval.objects.order_by("weekday", "opens")),
        Prefetch("special_openings", queryset=SpecialOpening.objects.order_by("date", "opens")),
        Prefetch("closures", queryset=Closure.objects.order_by("starts_on")),
    )


class OpeningCalendar:
    """The opening hours of one office, computed from its (prefetched) rows."""

    def __init__(self, office: Office) -> None:
        self.office = office
        self.state = office.organization.state
        self.zone: zoneinfo.ZoneInfo = office.organization.zone
        self._weekly: dict[int, list[TimeSpan]] = {day: [] for day in range(7)}
        for interval in office.opening_intervals.all():
            self._weekly[interval.weekday].append(TimeSpan(interval.opens, interval.closes))
        self._special: dict[dt.date, list[SpecialOpening]] = {}
        for special in office.special_openings.all():
            self._special.setdefault(special.date, []).append(special)
        self._closures = list(office.closures.all())

    # --- one day -----------------------------------------------------------------------
    def day(self, date: dt.date) -> DayHours:
        specials = self._special.get(date)
        if specials:
            notes = [special.note for special in specials if special.note]
            spans = tuple(TimeSpan(special.opens, special.closes) for special in specials)
            return DayHours(date, spans, closed_reason="; ".join(notes), is_special=True)
        for closure in self._closures:
            if closure.starts_on <= date <= closure.ends_on:
                return DayHours(date, (), closed_reason=closure.reason, is_special=True)
        if self.office.observes_public_holidays:
            name = holiday_name(self.state, date)
            if name:
                return DayHours(date, (), closed_reason=name, is_special=True)
        return DayHours(date, tuple(self._weekly[date.weekday()]))

    def weekly(self) -> list[tuple[int, tuple[TimeSpan, ...]]]:
        return [(weekday, tuple(spans)) for weekday, spans in self._weekly.items()]

    # --- periods as aware datetimes -----------------------------------------------------
    def _instant(self, date: dt.date, time: dt.time) -> dt.datetime:
        """The UTC instant of a local wall-clock time. Arithmetic on datetimes that share a
        ZoneInfo ignores DST changes, so everything after this point is in UTC."""
        return dt.datetime.combine(date, time, tzinfo=self.zone).astimezone(dt.UTC)

    def local_periods(self, date: dt.date, spans: Iterable[TimeSpan]) -> Iterator[Period]:
        """The instants of local time spans on ``date`` (a closing time of 00:00 is midnight)."""
        for span in spans:
            end_date = date + dt.timedelta(days=1) if span.closes == MIDNIGHT else date
            yield Period(self._instant(date, span.opens), self._instant(end_date, span.closes))

    def _day_periods(self, date: dt.date) -> Iterator[Period]:
        return self.local_periods(date, self.day(date).spans)

    def periods(self, first_day: dt.date, days: int) -> Iterator[Period]:
        """Open periods from ``first_day`` on, adjacent ones merged (e.g. across midnight)."""
        pending: Period | None = None
        for offset in range(days):
            for period in self._day_periods(first_day + dt.timedelta(days=offset)):
                if pending is not None and period.start <= pending.end:
                    pending = Period(pending.start, max(pending.end, period.end))
                    continue
                if pending is not None:
                    yield pending
                pending = period
        if pending is not None:
            yield pending

    # --- status -------------------------------------------------------------------------
    def status(self, now: dt.datetime) -> OfficeStatus:
        if now.tzinfo is None:
            raise ValueError("status() needs an aware datetime")
        now = now.astimezone(dt.UTC)
        today_hours = self.day(now.astimezone(self.zone).date())
        # Only a day closed as a whole is closed "because of" something.
        reason = "" if today_hours.spans else today_hours.closed_reason
        today = today_hours.date
        # Start a day early: an interval of yesterday may run until after midnight.
        for period in self.periods(today - dt.timedelta(days=1), SEARCH_HORIZON_DAYS):
            if period.end <= now:
                continue
            if period.start <= now:
                return OfficeStatus(now=now, is_open=True, closes_at=period.end)
            return OfficeStatus(now=now, is_open=False, opens_at=period.start, closed_reason=reason)
        return OfficeStatus(now=now, is_open=False, closed_reason=reason)

    def upcoming_changes(self, today: dt.date, days: int = UPCOMING_DAYS) -> list[UpcomingChange]:
        """Closures, holidays and extra openings in the coming weeks, consecutive days joined."""
        changes: list[UpcomingChange] = []
        # A run continues over days the office is closed anyway (a closure over a weekend is
        # one entry); a regular working day ends it.
        run_open = False
        for offset in range(days):
            day = self.day(today + dt.timedelta(days=offset))
            regular = tuple(self._weekly[day.date.weekday()])
            if not day.is_special or day.spans == regular:
                run_open = run_open and not regular
                continue
            previous = changes[-1] if changes else None
            if (
                run_open
                and previous is not None
                and previous.reason == day.closed_reason
                and previous.spans == day.spans
            ):
                changes[-1] = UpcomingChange(previous.first_day, day.date, previous.reason, previous.spans)
            else:
                changes.append(UpcomingChange(day.date, day.date, day.closed_reason, day.spans))
            run_open = True
        return changes


# --- presentation of the status (the same text for the page and the live updates) ------
def format_time(moment: dt.datetime | dt.time) -> str:
    return formats.time_format(moment, "TIME_FORMAT")


def format_spans(spans: Sequence[TimeSpan]) -> str:
    if not spans:
        return gettext("closed")
    return ", ".join(
        pgettext("opening hours range", "%(opens)s–%(closes)s")
        % {"opens": format_time(span.opens), "closes": _closing_text(span.closes)}
        for span in spans
    )


def _closing_text(closes: dt.time) -> str:
    # “24:00” in German; English says “midnight”.
    return pgettext("closing time", "midnight") if closes == MIDNIGHT else format_time(closes)


def _day_text(date: dt.date) -> str:
    return f"{formats.date_format(date, 'D')}, {formats.date_format(date, 'SHORT_DATE_FORMAT')}"


def _weekday_name(date: dt.date) -> str:
    return formats.date_format(date, "l")


def _next_opening_text(opens_at: dt.datetime, today: dt.date) -> str:
    days_ahead = (opens_at.date() - today).days
    time = format_time(opens_at)
    if days_ahead == 0:
        return gettext("opens today at %(time)s") % {"time": time}
    if days_ahead == 1:
        return gettext("opens tomorrow at %(time)s") % {"time": time}
    if days_ahead < 7:
        return gettext("opens %(weekday)s at %(time)s") % {
            "weekday": _weekday_name(opens_at.date()),
            "time": time,
        }
    return gettext("opens on %(date)s at %(time)s") % {
        "date": formats.date_format(opens_at.date(), "SHORT_DATE_FORMAT"),
        "time": time,
    }


def status_label(status: OfficeStatus, zone: zoneinfo.ZoneInfo) -> str:
    """The short status line, e.g. “geöffnet bis 16:00” or “geschlossen — öffnet Montag 08:00”."""
    if status.closes_at is not None:
        if status.closing_soon:
            minutes = status.minutes_until_close or 1
            return ngettext("closes in %(minutes)d minute", "closes in %(minutes)d minutes", minutes) % {
                "minutes": minutes
            }
        closes_local = status.closes_at.astimezone(zone)
        return gettext("open until %(time)s") % {"time": _closing_text(closes_local.time())}
    closed = gettext("closed")
    if status.closed_reason:
        closed = gettext("closed (%(reason)s)") % {"reason": status.closed_reason}
    if status.opens_at is None:
        return closed
    today = status.now.astimezone(zone).date()
    return f"{closed} — {_next_opening_text(status.opens_at.astimezone(zone), today)}"


@dataclass(frozen=True)
class OfficeOverview:
    """What the directory and office pages show about an office at one moment."""

    office: Office
    status: OfficeStatus
    label: str
    today: DayHours
    today_text: str

    @property
    def state(self) -> str:
        if not self.status.is_open:
            return "closed"
        return "closing" if self.status.closing_soon else "open"

    def as_json(self) -> dict[str, object]:
        next_change = self.status.next_change_at
        return {
            "office": self.office.slug,
            "state": self.state,
            "label": self.label,
            "today": self.today_text,
            "next_change_at": next_change.astimezone(self.office.organization.zone).isoformat()
            if next_change
            else None,
        }


def overview(office: Office, now: dt.datetime, *, cached: bool = False) -> OfficeOverview:
    """The office's overview; ``cached``: from the process's calendar cache (``office`` then
    needs no prefetched hours)."""
    if cached:
        calendar = cached_calendar(office.pk, now)
        status = cached_status(office.pk, now)
    else:
        calendar = OpeningCalendar(office)
        status = calendar.status(now)
    zone = calendar.zone
    today = calendar.day(now.astimezone(zone).date())
    return OfficeOverview(
        office=office,
        status=status,
        label=status_label(status, zone),
        today=today,
        today_text=format_spans(today.spans),
    )


def overviews(offices: Iterable[Office], now: dt.datetime, *, cached: bool = False) -> list[OfficeOverview]:
    offices = list(offices)
    if cached:
        cached_calendars([office.pk for office in offices], now)  # one round trip for all
    return [overview(office, now, cached=cached) for office in offices]


def weekly_table(calendar: OpeningCalendar) -> list[tuple[str, str]]:
    """(weekday name, hours text) for Monday to Sunday, as the office page shows them."""
    return [(str(Weekday(weekday).label), format_spans(spans)) for weekday, spans in calendar.weekly()]


def upcoming_table(calendar: OpeningCalendar, today: dt.date) -> list[tuple[str, str, str]]:
    """(dates, hours text, reason) for each upcoming deviation from the regular week."""
    rows = []
    for change in calendar.upcoming_changes(today):
        dates = _day_text(change.first_day)
        if change.last_day != change.first_day:
            dates = f"{dates} – {_day_text(change.last_day)}"
        rows.append((dates, format_spans(change.spans), change.reason))
    return rows


# --- today's hours changed on the spot (the console's "open now" / "close now") ---------------
class HoursError(ServiceError):
    """A change of today's hours that is refused."""


_TIME_OF_DAY = re.compile(r"([01]?[0-9]|2[0-4]):([0-5][0-9])", re.ASCII)


def time_of_day(text: str) -> dt.time:
    """``HH:MM`` as a time field sends it (24:00 or 00:00: midnight); anything else is refused."""
    match = _TIME_OF_DAY.fullmatch(text.strip())
    if match is None or (match.group(1) == "24" and match.group(2) != "00"):
        raise HoursError(_("Please give a time such as 18:00."), "bad_until")
    return dt.time(int(match.group(1)) % 24, int(match.group(2)))


def _merged(spans: Iterable[TimeSpan]) -> list[TimeSpan]:
    """Spans of one day in order, overlapping or touching ones joined (00:00 closing = midnight)."""
    result: list[TimeSpan] = []
    for span in sorted(spans, key=lambda span: _minutes(span.opens, is_end=False)):
        if result and _minutes(span.opens, is_end=False) <= _minutes(result[-1].closes, is_end=True):
            last = result[-1]
            longer = _minutes(span.closes, is_end=True) > _minutes(last.closes, is_end=True)
            result[-1] = TimeSpan(last.opens, span.closes if longer else last.closes)
        else:
            result.append(span)
    return result


def _replace_today(office: Office, today: dt.date, spans: Sequence[TimeSpan], note: str) -> None:
    """Today's hours become ``spans``: extra openings for the date (they take precedence over
    everything), or a one-day closure when nothing is left (an empty day of extra openings
    would fall back to the regular hours)."""
    hours_changed_on_commit(office.pk)  # bulk_create sends no signal
    SpecialOpening.objects.filter(office=office, date=today).delete()
    if spans:
        SpecialOpening.objects.bulk_create(
            SpecialOpening(office=office, date=today, opens=span.opens, closes=span.closes, note=note)
            for span in spans
        )
    else:
        Closure.objects.create(office=office, starts_on=today, ends_on=today, reason=note)


def open_today_until(office: Office, until: dt.time, now: dt.datetime | None = None) -> OfficeStatus:
    """Open the office (with its hours, ``offices_with_hours``) from this minute until
    ``until`` today (local time; 00:00 = midnight), on top of today's other hours: they become
    today's extra openings. Refused unless ``until`` is later than now."""
    now = (now or timezone.now()).astimezone(office.organization.zone)
    start = now.time().replace(second=0, microsecond=0)
    if _minutes(until, is_end=True) <= _minutes(start, is_end=False):
        raise HoursError(_("Please choose a time later than now."), "bad_until")
    calendar = OpeningCalendar(office)
    today = calendar.day(now.date())
    spans = _merged([*today.spans, TimeSpan(start, until)])
    with transaction.atomic():
        _replace_today(office, now.date(), spans, today.closed_reason if today.is_special else "")
    return _status_of(office, now)


def close_rest_of_today(office: Office, now: dt.datetime | None = None) -> OfficeStatus:
    """Close the office (with its hours) from this minute for the rest of today: earlier hours
    of today stay as they were (as extra openings), later ones are dropped; a day with nothing
    left is a one-day closure. Citizens already waiting keep their place (staff end the queue)."""
    now = (now or timezone.now()).astimezone(office.organization.zone)
    stop = _minutes(now.time().replace(second=0, microsecond=0), is_end=False)
    calendar = OpeningCalendar(office)
    today = calendar.day(now.date())
    spans: list[TimeSpan] = []
    for span in today.spans:
        if _minutes(span.opens, is_end=False) >= stop:
            continue
        if _minutes(span.closes, is_end=True) <= stop:
            spans.append(span)
        else:
            spans.append(TimeSpan(span.opens, now.time().replace(second=0, microsecond=0)))
    with transaction.atomic():
        _replace_today(office, now.date(), spans, gettext("Closed at short notice"))
    return _status_of(office, now)


def _status_of(office: Office, now: dt.datetime) -> OfficeStatus:
    fresh = offices_with_hours(Office.objects.filter(pk=office.pk).select_related("organization")).get()
    return OpeningCalendar(fresh).status(now)


# --- cached opening status ----------------------------------------------------------------------
# An office's hours change rarely, but every page, join and waiting-room snapshot asks for its
# status: the calendar (four queries) is kept per process under the office's *hours version*,
# a token in the shared cache (Redis when scaled) that every change of hours replaces after
# its commit (``hours_changed``: signals of the hour rows and of the office and organisation,
# and "open now"/"close now"). The version is read before the rows are loaded, so a process
# never keeps old rows under a new version. A status is reused until it changes by itself (the
# next opening or closing, or the "closing soon" mark) and at most ``HOURS_MAX_AGE``: that
# bounds what an edit outside the servers' shared cache (a management command in the embedded
# mode, whose cache is per process) can leave stale. The version itself is read from the
# shared cache at most once per ``HOURS_VERSION_RECHECK_S`` per office and process: a reconnect
# storm of thousands of waiting rooms asked Redis once per socket (a fifth of a connect's CPU),
# and a change made in another process may well take a second to be seen here.
HOURS_MAX_AGE = dt.timedelta(seconds=60)
HOURS_VERSION_RECHECK_S = 1.0


@dataclass
class _CachedHours:
    version: str | None
    loaded_at: dt.datetime
    calendar: OpeningCalendar
    status: OfficeStatus | None = None
    status_until: dt.datetime | None = None


_hours: dict[int, _CachedHours] = {}
_versions_read: dict[int, tuple[float, str | None]] = {}  # office → (time.monotonic(), version)


def _hours_key(office_id: int) -> str:
    return f"offices:hours:{office_id}"


def _hours_versions(office_ids: Sequence[int]) -> dict[int, str | None]:
    """The current hours version of each office (None: never changed; "unavailable": the cache
    is away), as read within the last ``HOURS_VERSION_RECHECK_S``."""
    from django.core.cache import cache

    now = time.monotonic()
    versions: dict[int, str | None] = {}
    for pk in office_ids:
        read = _versions_read.get(pk)
        if read is not None and now - read[0] < HOURS_VERSION_RECHECK_S:
            versions[pk] = read[1]
    unread = [pk for pk in office_ids if pk not in versions]
    if not unread:
        return versions
    try:
        found = cache.get_many([_hours_key(pk) for pk in unread])
    except Exception:  # Redis away: no version means no reuse, never a failed page
        return {**versions, **dict.fromkeys(unread, "unavailable")}
    for pk in unread:
        versions[pk] = found.get(_hours_key(pk))
        _versions_read[pk] = (now, versions[pk])
    return versions


def hours_changed(*office_ids: int) -> None:
    """The hours of these offices changed (call after the commit): every process reloads them."""
    import secrets

    from django.core.cache import cache

    for pk in office_ids:
        _hours.pop(pk, None)
        _versions_read.pop(pk, None)
    try:
        cache.set_many({_hours_key(pk): secrets.token_hex(8) for pk in office_ids}, timeout=None)
    except Exception:  # Redis away: the other processes' entries expire within HOURS_MAX_AGE
        logger.warning("could not announce changed opening hours", exc_info=True)


def hours_changed_on_commit(*office_ids: int) -> None:
    transaction.on_commit(lambda: hours_changed(*office_ids))


def _fresh(entry: _CachedHours | None, version: str | None, now: dt.datetime) -> bool:
    return (
        entry is not None
        and version != "unavailable"
        and entry.version == version
        and entry.loaded_at <= now < entry.loaded_at + HOURS_MAX_AGE
    )


def cached_calendars(office_ids: Sequence[int], now: dt.datetime | None = None) -> dict[int, OpeningCalendar]:
    """The calendars of these offices, loaded only where their hours changed (one query set for
    all that need loading; one cache round trip for the versions)."""
    now = now or timezone.now()
    versions = _hours_versions(office_ids)
    stale = [pk for pk in office_ids if not _fresh(_hours.get(pk), versions[pk], now)]
    if stale:
        for office in offices_with_hours(Office.objects.filter(pk__in=stale)):
            _hours[office.pk] = _CachedHours(versions[office.pk], now, OpeningCalendar(office))
    return {pk: _hours[pk].calendar for pk in office_ids if pk in _hours}


def cached_calendar(office_id: int, now: dt.datetime | None = None) -> OpeningCalendar:
    return cached_calendars([office_id], now)[office_id]


def cached_status(office_id: int, now: dt.datetime | None = None) -> OfficeStatus:
    """The office's status now, as ``OpeningCalendar.status`` computes it, reused until it
    changes by itself or the hours change."""
    now = now or timezone.now()
    calendar = cached_calendar(office_id, now)
    entry = _hours[office_id]
    previous, until = entry.status, entry.status_until
    if previous is not None and until is not None and previous.now <= now < until:
        # The same status, seen from now (closing-soon minutes count from ``now``).
        return OfficeStatus(
            now=now.astimezone(dt.UTC),
            is_open=previous.is_open,
            closes_at=previous.closes_at,
            opens_at=previous.opens_at,
            closed_reason=previous.closed_reason,
        )
    status = calendar.status(now)
    until = status.closes_at or status.opens_at
    if status.closes_at is not None and not status.closing_soon:
        until = status.closes_at - CLOSING_SOON
    entry.status = status
    entry.status_until = until or now + HOURS_MAX_AGE
    return status


def office_token(office_id: int, now: dt.datetime | None = None) -> object:
    """An object that stays the same while nothing about the office changed: the office, its
    organisation, hours or services (everything that replaces its hours version). For keying
    what this process derives from them, by identity (``is``)."""
    cached_calendar(office_id, now)
    return _hours[office_id]


def forget_hours() -> None:
    """Drop this process's cached calendars (tests; a restored database)."""
    _hours.clear()
    _versions_read.clear()

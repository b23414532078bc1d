"""The statistics' rules: what each figure of a day means, when a day is aggregated, who sees it.

A day is a local calendar day of the office's organisation (its time zone, Europe/Berlin by
default), so a day is 23 or 25 hours long when the clocks change.

Figures of one office and day (``OfficeDay``):

- ``walk_ins``: tickets that arrived that day without an appointment; ``appointments``:
  appointments starting that day that were not cancelled.
- ``served``: tickets of the day that ended as done; ``left_before_call``: tickets that left or
  lost their connection before anyone called them; ``removed``: removed by staff;
  ``no_shows``: tickets ended as no-show plus appointments marked no-show that never became a
  ticket (so one person is never counted twice).
- waits: from arrival to the first call (or, when admitted without a call, to the start of the
  consultation), in minutes; median and 90th percentile with linear interpolation between the
  ordered values (``statistics.quantiles(..., method="inclusive")``).
- ``meetings``: consultations that started that day. Participants per meeting: the citizen, the
  staff member (when one took part) and each interpreter who opened their invitation.
- handling time: consultation start to end, median and total minutes.
- ``open_minutes``: from the opening calendar (``offices.services.OpeningCalendar``: weekly
  hours, extra openings, closures, public holidays with their precedence).
- ``staffed_minutes``: per staff member serving the office, the union of their periods
  "available" or "in consultation" (``waiting.PresencePeriod``) and their consultations,
  clipped to the day, summed over members. A member serving two offices staffs both.
  ``pause_minutes`` likewise for "pause". ``active_staff``: members with staffed minutes.
- ratings: the anonymous ratings given that day (count and sum; the mean is derived).

When: ``aggregate_pending`` aggregates every complete day (ended ``SETTLE`` ago) from the
office's oldest live data on that has no measured row yet; the retention jobs run only after it
(``after_aggregation``), so a day's personal data is never deleted before its figures exist.
Aggregating is idempotent (a day's rows are replaced as a whole); a day older than the retention
period that already has figures is never recomputed (its live data may be gone).

Demo rows (``is_demo``) are replaced by measured figures when a day is aggregated.
"""

from __future__ import annotations

import datetime as dt
import functools
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Exists, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from buergerbuero.booking.models import Appointment, AppointmentStatus
from buergerbuero.consult.models import Consultation, Feedback, InterpreterInvite
from buergerbuero.offices.models import Office
from buergerbuero.offices.services import OpeningCalendar, offices_with_hours
from buergerbuero.orgs.roles import Role
from buergerbuero.staff.models import StaffMember
from buergerbuero.staff.services import staff_member_of
from buergerbuero.stats.models import HourDemand, OfficeDay, ServiceDay
from buergerbuero.waiting.models import PresencePeriod, PresenceState, Ticket, TicketStatus

# A day is aggregated once it has been over for this long (late ends of the day's tickets).
SETTLE = dt.timedelta(hours=2)
STAFFED_STATES = (PresenceState.AVAILABLE, PresenceState.BUSY)
# The counts a sensitive office may hide when they are small (see ``suppressed``).
COUNT_FIELDS = (
    "meetings",
    "participants",
    "walk_ins",
    "appointments",
    "served",
    "left_before_call",
    "removed",
    "no_shows",
    "ratings",
)


# --- time ---------------------------------------------------------------------------------
def day_bounds(office: Office, date: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = office.organization.zone
    start = dt.datetime.combine(date, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    return start, end


def _minutes(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 60


def percentile(values: Sequence[float], q: int) -> float | None:
    """The q-th percentile (1..99) with linear interpolation; None without values."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


Span = tuple[dt.datetime, dt.datetime]


def _union_minutes(spans: Iterable[Span], start: dt.datetime, end: dt.datetime) -> float:
    """Minutes covered by the spans within [start, end), overlaps counted once."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in spans if a < end and b > start)
    total = 0.0
    current: Span | None = None
    for a, b in clipped:
        if current is not None and a <= current[1]:
            current = (current[0], max(current[1], b))
            continue
        if current is not None:
            total += _minutes(current[1] - current[0])
        current = (a, b)
    if current is not None:
        total += _minutes(current[1] - current[0])
    return total


# --- aggregation ----------------------------------------------------------------------------
@dataclass
class _Day:
    """Figures of one day being collected."""

    row: OfficeDay
    waits: list[float] = field(default_factory=list)
    handling: list[float] = field(default_factory=list)
    services: dict[int | None, ServiceDay] = field(default_factory=dict)
    hours: dict[int, HourDemand] = field(default_factory=dict)


def _members_of(office: Office) -> QuerySet[StaffMember]:
    """Who serves the office (as ``staff.services.offices_served`` sees it)."""
    return StaffMember.objects.filter(
        Q(offices=office) | Q(role=Role.ORG_ADMIN), organization_id=office.organization_id
    ).distinct()


def aggregate_range(office: Office, first: dt.date, last: dt.date, now: dt.datetime | None = None) -> int:
    """Aggregate the office's days ``first``..``last`` (inclusive) from the live tables, in a
    fixed number of queries; returns the number of days written."""
    now = now or timezone.now()
    protected = set(
        OfficeDay.objects.filter(
            office=office,
            is_demo=False,
            date__gte=first,
            date__lte=last,
            date__lt=_retention_day(office, now),
        ).values_list("date", flat=True)
    )
    dates = [
        first + dt.timedelta(days=offset)
        for offset in range((last - first).days + 1)
        if first + dt.timedelta(days=offset) not in protected
    ]
    if not dates:
        return 0
    zone = office.organization.zone
    start, _end = day_bounds(office, dates[0])
    _start, end = day_bounds(office, dates[-1])
    days = {date: _Day(OfficeDay(office=office, date=date)) for date in dates}

    def day_of(moment: dt.datetime) -> _Day | None:
        return days.get(moment.astimezone(zone).date())

    calendar = OpeningCalendar(office)
    for date, collected in days.items():
        collected.row.open_minutes = round(
            sum(_minutes(p.end - p.start) for p in calendar.local_periods(date, calendar.day(date).spans))
        )

    appointment_of_ticket = Appointment.objects.filter(ticket=OuterRef("pk"))
    tickets = (
        Ticket.objects.filter(office=office, arrived_at__gte=start, arrived_at__lt=end)
        .annotate(booked=Exists(appointment_of_ticket))
        .values(
            "service_id",
            "service__name",
            "status",
            "arrived_at",
            "called_at",
            "booked",
            "consultation__started_at",
        )
    )
    for ticket in tickets:
        day = day_of(ticket["arrived_at"])
        if day is None:
            continue
        row = day.row
        status = ticket["status"]
        if not ticket["booked"]:
            row.walk_ins += 1
        if status == TicketStatus.DONE:
            row.served += 1
        elif status in (TicketStatus.LEFT, TicketStatus.EXPIRED) and ticket["called_at"] is None:
            row.left_before_call += 1
        elif status == TicketStatus.REMOVED:
            row.removed += 1
        elif status == TicketStatus.NO_SHOW:
            row.no_shows += 1
        reached = ticket["called_at"] or ticket["consultation__started_at"]
        wait = _minutes(reached - ticket["arrived_at"]) if reached is not None else None
        service_id = ticket["service_id"]
        service = day.services.get(service_id)
        if service is None:
            service = day.services[service_id] = ServiceDay(
                service_id=service_id, service_name=ticket["service__name"] or ""
            )
        service.arrivals += 1
        service.served += status == TicketStatus.DONE
        hour_of_day = ticket["arrived_at"].astimezone(zone).hour
        hour = day.hours.get(hour_of_day)
        if hour is None:
            hour = day.hours[hour_of_day] = HourDemand(hour=hour_of_day)
        hour.arrivals += 1
        if wait is not None:
            day.waits.append(wait)
            service.waits_counted += 1
            service.wait_minutes += wait
            hour.waits_counted += 1
            hour.wait_minutes += wait

    appointments = (
        Appointment.objects.filter(office=office, starts_at__gte=start, starts_at__lt=end)
        .exclude(status=AppointmentStatus.CANCELLED)
        .values("starts_at", "status", "ticket_id")
    )
    for appointment in appointments:
        day = day_of(appointment["starts_at"])
        if day is None:
            continue
        day.row.appointments += 1
        if appointment["status"] == AppointmentStatus.NO_SHOW and appointment["ticket_id"] is None:
            day.row.no_shows += 1

    consultations = list(
        Consultation.objects.filter(office=office, started_at__gte=start, started_at__lt=end).values(
            "pk", "agent_id", "started_at", "ended_at", "ticket__service_id"
        )
    )
    interpreters: dict[int, int] = defaultdict(int)
    for consultation_id in InterpreterInvite.objects.filter(
        consultation__office=office,
        consultation__started_at__gte=start,
        consultation__started_at__lt=end,
        claimed_at__isnull=False,
    ).values_list("consultation_id", flat=True):
        interpreters[consultation_id] += 1
    for consultation in consultations:
        day = day_of(consultation["started_at"])
        if day is None:
            continue
        row = day.row
        row.meetings += 1
        row.citizens += 1
        row.staff_participants += consultation["agent_id"] is not None
        row.interpreters += interpreters[consultation["pk"]]
        if consultation["ended_at"] is not None:
            handling = _minutes(consultation["ended_at"] - consultation["started_at"])
            day.handling.append(handling)
            row.handling_minutes += handling
        service = day.services.get(consultation["ticket__service_id"])
        if service is not None:
            service.meetings += 1

    for given_on, rating in Feedback.objects.filter(office=office, given_on__in=dates).values_list(
        "given_on", "rating"
    ):
        days[given_on].row.ratings += 1
        days[given_on].row.rating_sum += rating

    _collect_staffing(office, days, start, end, now)

    for day in days.values():
        row = day.row
        row.waits_counted = len(day.waits)
        row.wait_p50_min = _rounded(percentile(day.waits, 50))
        row.wait_p90_min = _rounded(percentile(day.waits, 90))
        row.handling_p50_min = _rounded(percentile(day.handling, 50))
        row.handling_minutes = round(row.handling_minutes, 1)
    _write(office, days)
    return len(days)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _collect_staffing(
    office: Office, days: dict[dt.date, _Day], start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> None:
    members = _members_of(office).values_list("pk", flat=True)
    staffed: dict[int, list[Span]] = defaultdict(list)
    pauses: dict[int, list[Span]] = defaultdict(list)
    periods = PresencePeriod.objects.filter(member__in=members, started_at__lt=end).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=start)
    )
    for member_id, state, started_at, ended_at in periods.values_list(
        "member_id", "state", "started_at", "ended_at"
    ):
        span = (started_at, ended_at or now)
        (staffed if state in STAFFED_STATES else pauses)[member_id].append(span)
    # Anyone in a consultation staffs the office, whatever their presence said.
    in_consultation = Consultation.objects.filter(agent_id__in=members, started_at__lt=end).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=start)
    )
    for agent_id, started_at, ended_at in in_consultation.values_list("agent_id", "started_at", "ended_at"):
        staffed[agent_id].append((started_at, ended_at or now))
    for day in days.values():
        day_start, day_end = day_bounds(office, day.row.date)
        for spans in staffed.values():
            minutes = _union_minutes(spans, day_start, day_end)
            if minutes > 0:
                day.row.staffed_minutes += round(minutes)
                day.row.active_staff += 1
        for spans in pauses.values():
            day.row.pause_minutes += round(_union_minutes(spans, day_start, day_end))


@transaction.atomic
def _write(office: Office, days: dict[dt.date, _Day]) -> None:
    OfficeDay.objects.filter(office=office, date__in=list(days)).delete()
    rows = OfficeDay.objects.bulk_create([day.row for day in days.values()])
    services: list[ServiceDay] = []
    hours: list[HourDemand] = []
    for row, day in zip(rows, days.values(), strict=True):
        for service in day.services.values():
            service.day = row
            services.append(service)
        for hour in day.hours.values():
            hour.day = row
            hours.append(hour)
    ServiceDay.objects.bulk_create(services)
    HourDemand.objects.bulk_create(hours)


def aggregate_day(office: Office, date: dt.date, now: dt.datetime | None = None) -> OfficeDay | None:
    """Aggregate one day; the row (None if the day is protected, see the module docstring)."""
    office = offices_with_hours(Office.objects.filter(pk=office.pk)).get()
    aggregate_range(office, date, date, now)
    return OfficeDay.objects.filter(office=office, date=date).first()


def _retention_day(office: Office, now: dt.datetime) -> dt.date:
    """Days before this local date may have lost their live data to the retention jobs."""
    cutoff = now - dt.timedelta(
        days=min(settings.CONSULTATION_RETENTION_DAYS, settings.APPOINTMENT_RETENTION_DAYS)
    )
    return cutoff.astimezone(office.organization.zone).date()


def last_complete_day(office: Office, now: dt.datetime) -> dt.date:
    return (now - SETTLE).astimezone(office.organization.zone).date() - dt.timedelta(days=1)


def _oldest_live_data(office: Office) -> dt.datetime | None:
    members = _members_of(office).values_list("pk", flat=True)
    candidates = [
        Ticket.objects.filter(office=office).aggregate(m=Min("arrived_at"))["m"],
        Appointment.objects.filter(office=office).aggregate(m=Min("starts_at"))["m"],
        PresencePeriod.objects.filter(member__in=members).aggregate(m=Min("started_at"))["m"],
    ]
    given = Feedback.objects.filter(office=office).aggregate(m=Min("given_on"))["m"]
    if given is not None:
        candidates.append(day_bounds(office, given)[0])
    found = [moment for moment in candidates if moment is not None]
    return min(found) if found else None


def aggregate_pending(now: dt.datetime | None = None) -> int:
    """The job: every complete day with live data and no measured row yet, per office."""
    now = now or timezone.now()
    written = 0
    for office in offices_with_hours(Office.objects.all()):
        oldest = _oldest_live_data(office)
        if oldest is None:
            continue
        first = oldest.astimezone(office.organization.zone).date()
        last = last_complete_day(office, now)
        if first > last:
            continue
        measured = set(
            OfficeDay.objects.filter(
                office=office, is_demo=False, date__gte=first, date__lte=last
            ).values_list("date", flat=True)
        )
        missing = [
            first + dt.timedelta(days=offset)
            for offset in range((last - first).days + 1)
            if first + dt.timedelta(days=offset) not in measured
        ]
        if missing:
            written += aggregate_range(office, missing[0], missing[-1], now)
    return written


def after_aggregation(prune: Callable[[], int]) -> Callable[[], int]:
    """A retention job that runs only after every complete day is aggregated: if aggregating
    fails, nothing is deleted (the job fails and is retried at its next turn)."""

    @functools.wraps(prune)  # keeps the job's docstring and names the wrapped job (``__wrapped__``)
    def guarded() -> int:
        aggregate_pending()
        return prune()

    guarded.__name__ = f"{prune.__name__}_after_aggregation"
    return guarded


# --- who sees what --------------------------------------------------------------------------
def visible_offices(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Office] | None:
    """The offices whose statistics a login may see, or None when it may see none.

    The platform operator (superuser) sees every office; an org admin their organisation's;
    an office lead the offices they lead. Agents see none: the figures are for steering
    staffing, which is the leads' task, and an office with few agents would reveal a
    colleague's working times.
    """
    if getattr(user, "is_superuser", False):
        return Office.objects.all()
    member = staff_member_of(user)
    if member is None:
        return None
    if member.role == Role.ORG_ADMIN:
        return Office.objects.filter(organization=member.organization)
    if member.role == Role.OFFICE_LEAD:
        return member.offices.filter(organization=member.organization)
    return None


def suppressed(value: int | None, threshold: int) -> int | None:
    """A small count of a sensitive office is hidden (None): 0 < value < threshold."""
    if value is None or (0 < value < threshold):
        return None
    return value


# --- reading ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DayLine:
    """One office and day as shown and exported, small counts already suppressed."""

    date: dt.date
    office_id: int
    office: str
    is_demo: bool
    meetings: int | None
    participants: int | None
    open_minutes: int
    staffed_minutes: int
    walk_ins: int | None
    appointments: int | None
    served: int | None
    left_before_call: int | None
    removed: int | None
    no_shows: int | None
    wait_p50_min: float | None
    wait_p90_min: float | None
    handling_p50_min: float | None
    active_staff: int
    ratings: int | None
    rating_mean: float | None


def day_lines(rows: Iterable[OfficeDay]) -> list[DayLine]:
    """Rows (with ``office`` selected) as lines; counts below the office's threshold hidden."""
    lines = []
    for row in rows:
        threshold = row.office.statistics_suppress_below

        def hide(value: int, threshold: int = threshold) -> int | None:
            return suppressed(value, threshold)

        hidden_ratings = hide(row.ratings)
        lines.append(
            DayLine(
                date=row.date,
                office_id=row.office_id,
                office=row.office.name,
                is_demo=row.is_demo,
                meetings=hide(row.meetings),
                participants=hide(row.participants),
                open_minutes=row.open_minutes,
                staffed_minutes=row.staffed_minutes,
                walk_ins=hide(row.walk_ins),
                appointments=hide(row.appointments),
                served=hide(row.served),
                left_before_call=hide(row.left_before_call),
                removed=hide(row.removed),
                no_shows=hide(row.no_shows),
                # A median of fewer waits than the threshold would reveal a single person's.
                wait_p50_min=row.wait_p50_min if hide(row.waits_counted) is not None else None,
                wait_p90_min=row.wait_p90_min if hide(row.waits_counted) is not None else None,
                handling_p50_min=row.handling_p50_min if hide(row.meetings) is not None else None,
                active_staff=row.active_staff,
                ratings=hidden_ratings,
                rating_mean=round(row.rating_sum / row.ratings, 2) if hidden_ratings else None,
            )
        )
    return lines


def rows_between(offices: QuerySet[Office], first: dt.date, last: dt.date) -> QuerySet[OfficeDay]:
    return (
        OfficeDay.objects.filter(office__in=offices, date__gte=first, date__lte=last)
        .select_related("office")
        .order_by("date", "office__organization_id", "office__position", "office__name")
    )

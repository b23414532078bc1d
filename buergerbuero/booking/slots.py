"""Free appointment slots: the one place that says when a staff member can be booked.

A staff member's bookable windows on a local date are the office's open periods (the rules of
``offices.services.OpeningCalendar``: extra openings, closures, holidays, weekly hours)
intersected with their weekly working times (all of the office's hours if they have none),
minus their absences and blocked times. Slots start at a window's start and follow each other
at the service's length plus buffer; after a booked appointment (of any length) the next slot
starts when that appointment and the buffer are over. A slot must start after the service's
lead time and within its booking horizon.

Everything a search needs is loaded in a fixed number of queries (hours, working times,
absences, appointments), then computed in memory, so a search across 90 days for ten staff
members costs the same few queries as one for a day.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from buergerbuero.booking.models import Absence, Appointment, AppointmentStatus, WorkingTime
from buergerbuero.offices.models import Office, Service
from buergerbuero.offices.services import OpeningCalendar, Period, TimeSpan, offices_with_hours
from buergerbuero.staff.models import StaffMember

STEP_ROUNDING = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Slot:
    start: dt.datetime  # UTC
    end: dt.datetime
    agent_ids: tuple[int, ...]  # the staff members free at this time


def bookable_agents(office: Office, service: Service) -> QuerySet[StaffMember]:
    """Staff members listed for the office who handle the service (all services if none set).
    (Org admins may serve every office in the console, but take appointments only where
    they are listed.)"""
    members = StaffMember.objects.filter(organization=office.organization_id, offices=office)
    members = members.filter(Q(services=service) | Q(services__isnull=True))
    return members.distinct().order_by("display_name", "pk")


def _intersect(first: Sequence[Period], second: Sequence[Period]) -> list[Period]:
    result = []
    for a in first:
        for b in second:
            start, end = max(a.start, b.start), min(a.end, b.end)
            if start < end:
                result.append(Period(start, end))
    return result


def _round_up(moment: dt.datetime) -> dt.datetime:
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    steps = -(-(moment - epoch) // STEP_ROUNDING)
    return epoch + steps * STEP_ROUNDING


class SlotFinder:
    """Free slots of one service, for some staff members, between two instants."""

    def __init__(
        self,
        office: Office,
        service: Service,
        agents: Iterable[StaffMember],
        now: dt.datetime,
        *,
        ignore: Appointment | None = None,
    ) -> None:
        self.office = offices_with_hours(Office.objects.filter(pk=office.pk)).get()
        self.calendar = OpeningCalendar(self.office)
        self.zone = self.calendar.zone
        self.service = service
        self.agent_ids = [agent.pk for agent in agents]
        self.length = dt.timedelta(minutes=service.slot_minutes)
        self.buffer = dt.timedelta(minutes=service.buffer_minutes)
        self.earliest = now + dt.timedelta(minutes=service.lead_minutes)
        self.latest = now + dt.timedelta(days=service.horizon_days)
        self._working: dict[int, dict[int, list[TimeSpan]]] = defaultdict(lambda: defaultdict(list))
        for row in WorkingTime.objects.filter(member__in=self.agent_ids).values(
            "member", "weekday", "opens", "closes"
        ):
            self._working[row["member"]][row["weekday"]].append(TimeSpan(row["opens"], row["closes"]))
        # Busy intervals per staff member, sorted by start: appointments (with the buffer on
        # both sides) and absences.
        busy: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
        appointments = Appointment.objects.filter(
            agent__in=self.agent_ids,
            status=AppointmentStatus.BOOKED,
            ends_at__gt=now - dt.timedelta(days=1),
            starts_at__lt=self.latest + dt.timedelta(days=1),
        )
        if ignore is not None:
            appointments = appointments.exclude(pk=ignore.pk)
        for agent_id, starts_at, ends_at in appointments.values_list("agent", "starts_at", "ends_at"):
            busy[agent_id].append((starts_at - self.buffer, ends_at + self.buffer))
        absences = Absence.objects.filter(
            member__in=self.agent_ids, ends_at__gt=now, starts_at__lt=self.latest + dt.timedelta(days=1)
        )
        for member_id, starts_at, ends_at in absences.values_list("member", "starts_at", "ends_at"):
            busy[member_id].append((starts_at, ends_at))
        # Sorted starts, and the latest end among the intervals up to each index: one bisect
        # then answers "does anything overlap, and until when?".
        self._busy_starts: dict[int, list[dt.datetime]] = {}
        self._latest_end: dict[int, list[dt.datetime]] = {}
        for agent_id, intervals in busy.items():
            intervals.sort()
            self._busy_starts[agent_id] = [start for start, _end in intervals]
            latest: list[dt.datetime] = []
            for _start, end in intervals:
                latest.append(max(end, latest[-1]) if latest else end)
            self._latest_end[agent_id] = latest
        self._days: dict[dt.date, list[Slot]] = {}

    # --- windows ------------------------------------------------------------------------------
    def _office_periods(self, date: dt.date) -> list[Period]:
        return list(self.calendar.periods(date, 1))

    def _working_periods(self, agent_id: int, date: dt.date) -> list[Period] | None:
        spans = self._working.get(agent_id)
        if not spans:
            return None  # no working times: the office's hours
        return list(self.calendar.local_periods(date, spans.get(date.weekday(), [])))

    def windows(
        self, agent_id: int, date: dt.date, office_periods: list[Period] | None = None
    ) -> list[Period]:
        office_periods = self._office_periods(date) if office_periods is None else office_periods
        working = self._working_periods(agent_id, date)
        return office_periods if working is None else _intersect(office_periods, working)

    # --- slots --------------------------------------------------------------------------------
    def conflict_end(self, agent_id: int, start: dt.datetime, end: dt.datetime) -> dt.datetime | None:
        """The end of the busy interval latest to end among those overlapping [start, end)."""
        before = bisect.bisect_left(self._busy_starts.get(agent_id, []), end)  # busy starts before `end`
        if before == 0:
            return None
        latest = self._latest_end[agent_id][before - 1]
        return latest if latest > start else None

    def _agent_slots(
        self, agent_id: int, date: dt.date, office_periods: list[Period]
    ) -> Iterator[dt.datetime]:
        step = self.length + self.buffer
        for window in self.windows(agent_id, date, office_periods):
            start = window.start
            while start + self.length <= window.end:
                conflict = self.conflict_end(agent_id, start, start + self.length)
                if conflict is not None:
                    start = _round_up(max(conflict, start + STEP_ROUNDING))
                    continue
                if self.earliest <= start <= self.latest:
                    yield start
                start += step

    def slots_on(self, date: dt.date) -> list[Slot]:
        """Free slots on a local date, each with the staff members free then, in time order."""
        if date not in self._days:
            self._days[date] = self._compute_day(date)
        return self._days[date]

    def _compute_day(self, date: dt.date) -> list[Slot]:
        office_periods = self._office_periods(date)
        if not office_periods:
            return []
        free: dict[dt.datetime, list[int]] = defaultdict(list)
        for agent_id in self.agent_ids:
            for start in self._agent_slots(agent_id, date, office_periods):
                free[start].append(agent_id)
        return [Slot(start, start + self.length, tuple(free[start])) for start in sorted(free)]

    def first_day(self) -> dt.date:
        return self.earliest.astimezone(self.zone).date()

    def last_day(self) -> dt.date:
        return self.latest.astimezone(self.zone).date()

    def days(self, first: dt.date | None = None) -> Iterator[dt.date]:
        day = max(self.first_day(), first) if first is not None else self.first_day()
        while day <= self.last_day():
            yield day
            day += dt.timedelta(days=1)

    def next_free(self, limit: int, after: dt.datetime | None = None) -> list[Slot]:
        """The first ``limit`` free slots (from ``after`` on, if given)."""
        found: list[Slot] = []
        for day in self.days(after.astimezone(self.zone).date() if after is not None else None):
            for slot in self.slots_on(day):
                if after is not None and slot.start < after:
                    continue
                found.append(slot)
                if len(found) == limit:
                    return found
        return found

    def free_at(self, start: dt.datetime) -> Slot | None:
        """The free slot starting at ``start``, if there is one."""
        day = start.astimezone(self.zone).date()
        return next((slot for slot in self.slots_on(day) if slot.start == start), None)

    def is_working(self, agent_id: int, start: dt.datetime) -> bool:
        """Whether [start, start + length) lies in one of the staff member's windows at all."""
        day = start.astimezone(self.zone).date()
        end = start + self.length
        return any(window.start <= start and end <= window.end for window in self.windows(agent_id, day))

"""Eleven weeks of plausible statistics for the demo town, so that a newcomer sees a filled
statistics page. Every row is marked ``is_demo`` (the page says so); a day that already has a
row (measured or demo) is left alone, so loading again changes nothing, and the aggregation job
replaces demo rows with measured figures for the days it aggregates."""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from buergerbuero.offices.models import Office, Service
from buergerbuero.offices.services import OpeningCalendar, Period, offices_with_hours
from buergerbuero.orgs.models import Organization
from buergerbuero.stats.models import HourDemand, OfficeDay, ServiceDay

WEEKS = 11
# The town whose statistics page is filled (the other tenant shows the empty state).
DEMO_ORGANIZATION = "musterstadt"
# Counselling of this kind is sensitive: its small daily counts are hidden in the statistics.
SENSITIVE_OFFICES = {"schwangerschaftsberatung": 5}
# Demand is highest at the start of the week and on the long Thursday (as in real offices).
WEEKDAY_DEMAND = [1.3, 1.0, 0.9, 1.2, 0.8, 0.6, 0.5]


def add_statistics_history(organization: Organization, now: dt.datetime | None = None) -> int:
    """Demo rows for the last ``WEEKS`` weeks up to yesterday; returns how many were added."""
    now = now or timezone.now()
    added = 0
    for office in offices_with_hours(Office.objects.filter(organization=organization)):
        threshold = SENSITIVE_OFFICES.get(office.slug)
        if threshold and not office.statistics_suppress_below:
            Office.objects.filter(pk=office.pk).update(statistics_suppress_below=threshold)
        added += _office_history(office, now)
    return added


def _office_history(office: Office, now: dt.datetime) -> int:
    zone = office.organization.zone
    yesterday = now.astimezone(zone).date() - dt.timedelta(days=1)
    dates = [yesterday - dt.timedelta(days=back) for back in range(WEEKS * 7)]
    taken = set(OfficeDay.objects.filter(office=office, date__in=dates).values_list("date", flat=True))
    calendar = OpeningCalendar(office)
    services = list(office.services.all())
    # The same history on every load (seeded by office), so screenshots and docs stay comparable.
    rng = random.Random(f"demo-statistics-{office.slug}")  # noqa: S311 (demo figures, no secret)
    rows: list[tuple[OfficeDay, list[ServiceDay], list[HourDemand]]] = []
    for date in sorted(dates):
        periods = list(calendar.local_periods(date, calendar.day(date).spans))
        open_minutes = round(sum((p.end - p.start).total_seconds() / 60 for p in periods))
        if date in taken or not open_minutes:
            rng.random()  # keep the sequence of the other days unchanged
            continue
        rows.append(_day(office, date, open_minutes, periods, services, rng))
    created = OfficeDay.objects.bulk_create([row for row, _services, _hours in rows])
    for day, (_row, day_services, hours) in zip(created, rows, strict=True):
        for service_day in day_services:
            service_day.day = day
        for hour in hours:
            hour.day = day
    ServiceDay.objects.bulk_create([entry for _row, day_services, _hours in rows for entry in day_services])
    HourDemand.objects.bulk_create([entry for _row, _services, hours in rows for entry in hours])
    return len(created)


def _day(
    office: Office,
    date: dt.date,
    open_minutes: int,
    periods: list[Period],
    services: list[Service],
    rng: random.Random,
) -> tuple[OfficeDay, list[ServiceDay], list[HourDemand]]:
    # Around the clock offices see few people at night: count their day as ten busy hours.
    busy_minutes = min(open_minutes, 600)
    arrivals = max(0, round(busy_minutes / 25 * WEEKDAY_DEMAND[date.weekday()] * rng.uniform(0.6, 1.3)))
    appointments = round(arrivals * rng.uniform(0.2, 0.4))
    walk_ins = arrivals - appointments
    left = round(walk_ins * rng.uniform(0.02, 0.1))
    no_shows = round(appointments * rng.uniform(0.0, 0.15))
    meetings = max(0, arrivals - left - no_shows)
    staff = max(1, min(office.seats, round(arrivals / 12) or 1))
    wait_p50 = round(rng.lognormvariate(1.8, 0.4), 1) if meetings else None
    row = OfficeDay(
        office=office,
        date=date,
        is_demo=True,
        meetings=meetings,
        citizens=meetings,
        interpreters=round(meetings * rng.uniform(0.0, 0.08)),
        staff_participants=meetings,
        walk_ins=walk_ins,
        appointments=appointments,
        served=meetings,
        left_before_call=left,
        no_shows=no_shows,
        waits_counted=meetings,
        wait_p50_min=wait_p50,
        wait_p90_min=round(wait_p50 * rng.uniform(2.0, 3.0), 1) if wait_p50 is not None else None,
        handling_p50_min=round(rng.uniform(9, 18), 1) if meetings else None,
        handling_minutes=round(meetings * rng.uniform(10, 16), 1),
        open_minutes=open_minutes,
        staffed_minutes=round(min(busy_minutes, open_minutes) * staff * rng.uniform(0.75, 0.95)),
        pause_minutes=round(30 * staff * rng.uniform(0.5, 1.0)),
        active_staff=staff,
        ratings=round(meetings * rng.uniform(0.2, 0.4)),
    )
    row.rating_sum = round(row.ratings * rng.uniform(4.0, 4.8))
    day_services = []
    remaining = arrivals
    for index, service in enumerate(services):
        share = (
            remaining
            if index == len(services) - 1
            else round(arrivals * rng.uniform(0.2, 0.6) / len(services) * 2)
        )
        share = min(share, remaining)
        remaining -= share
        day_services.append(
            ServiceDay(
                service_id=service.pk,
                service_name=str(service),
                arrivals=share,
                served=round(share * meetings / arrivals) if arrivals else 0,
                meetings=round(share * meetings / arrivals) if arrivals else 0,
                waits_counted=share,
                wait_minutes=round(share * (wait_p50 or 0), 1),
            )
        )
    hours = []
    opening_hours = sorted(
        {
            (period.start + dt.timedelta(minutes=15 * step)).astimezone(office.organization.zone).hour
            for period in periods
            for step in range(int((period.end - period.start).total_seconds() // 900))
        }
    )
    daytime = [hour for hour in opening_hours if 7 <= hour < 19] or opening_hours
    weights = [2.0 if hour in (9, 10) else 1.0 for hour in daytime]
    for hour, weight in zip(daytime, weights, strict=True):
        count = round(arrivals * weight / sum(weights))
        hours.append(
            HourDemand(
                hour=hour,
                arrivals=count,
                waits_counted=count,
                wait_minutes=round(count * (wait_p50 or 0) * weight, 1),
            )
        )
    return row, day_services, hours

"""The aggregation rules against a week computed by hand (``tests/stats/support.py``), re-runs,
and the retention jobs: figures remain after the personal data is gone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.forms.models import model_to_dict

from buergerbuero.booking.models import Appointment
from buergerbuero.consult.models import Consultation
from buergerbuero.jobs.registry import JOBS
from buergerbuero.stats import services as stats
from buergerbuero.stats.models import HourDemand, OfficeDay, ServiceDay
from buergerbuero.waiting.models import PresencePeriod, Ticket
from tests.stats.support import KNOWN_MONDAY, MONDAY, OPEN_MINUTES, WEEK, at, make_known_week

pytestmark = pytest.mark.django_db
AFTER_THE_WEEK = at(WEEK[-1], "12:00") + dt.timedelta(days=1)


def _aggregate_week() -> dict[dt.date, OfficeDay]:
    week = make_known_week()
    office = week.office
    for date in WEEK:
        stats.aggregate_day(office, date, now=AFTER_THE_WEEK)
    return {row.date: row for row in OfficeDay.objects.filter(office=office)}


def _figures(row: OfficeDay) -> dict[str, object]:
    return {name: getattr(row, name) for name in KNOWN_MONDAY}


def test_a_known_monday_gives_every_figure_computed_by_hand() -> None:
    rows = _aggregate_week()

    assert _figures(rows[MONDAY]) == KNOWN_MONDAY
    assert rows[MONDAY].participants == 7  # 3 citizens, 3 staff seats, 1 interpreter


def test_open_minutes_follow_the_calendar_with_holiday_closure_and_extra_opening() -> None:
    rows = _aggregate_week()

    assert {date: row.open_minutes for date, row in rows.items()} == OPEN_MINUTES


def test_the_rest_of_the_week_is_counted_too() -> None:
    rows = _aggregate_week()
    tuesday = rows[WEEK[1]]

    assert (tuesday.walk_ins, tuesday.removed, tuesday.appointments, tuesday.meetings) == (1, 1, 0, 0)
    assert tuesday.wait_p50_min is None
    assert tuesday.staffed_minutes == 0
    assert all(rows[date].walk_ins == 0 and rows[date].staffed_minutes == 0 for date in WEEK[2:])


def test_services_and_hours_of_the_day() -> None:
    rows = _aggregate_week()

    services = {
        entry.service_name: (
            entry.arrivals,
            entry.served,
            entry.meetings,
            entry.waits_counted,
            entry.wait_minutes,
        )
        for entry in ServiceDay.objects.filter(day=rows[MONDAY])
    }
    assert services == {"Reisepass": (2, 2, 2, 2, 12.0), "": (3, 1, 1, 2, 35.0)}
    hours = {
        entry.hour: (entry.arrivals, entry.waits_counted, entry.wait_minutes)
        for entry in HourDemand.objects.filter(day=rows[MONDAY])
    }
    assert hours == {8: (1, 1, 10.0), 9: (2, 1, 30.0), 11: (2, 2, 7.0)}


def test_the_other_offices_colleague_does_not_staff_this_office() -> None:
    week = make_known_week()
    stats.aggregate_day(week.other_office, MONDAY, now=AFTER_THE_WEEK)

    other = OfficeDay.objects.get(office=week.other_office, date=MONDAY)
    assert (other.staffed_minutes, other.active_staff, other.meetings) == (240, 1, 0)


def test_aggregating_again_gives_the_same_rows() -> None:
    week = make_known_week()

    def snapshot() -> list[dict[str, object]]:
        return [
            {key: value for key, value in model_to_dict(row).items() if key != "id"}
            for row in OfficeDay.objects.filter(office=week.office).order_by("date")
        ]

    assert stats.aggregate_pending(AFTER_THE_WEEK) > 0
    first = snapshot()
    services = ServiceDay.objects.count()
    for date in WEEK:
        stats.aggregate_day(week.office, date, now=AFTER_THE_WEEK)

    assert snapshot() == first
    assert ServiceDay.objects.count() == services
    assert stats.aggregate_pending(AFTER_THE_WEEK) == 0  # nothing left to do


def test_the_job_waits_until_a_day_is_over() -> None:
    week = make_known_week()

    stats.aggregate_pending(at(MONDAY, "23:59"))
    assert not OfficeDay.objects.filter(office=week.office, date=MONDAY).exists()

    stats.aggregate_pending(at(WEEK[1], "03:00"))
    assert OfficeDay.objects.filter(office=week.office, date=MONDAY).exists()


def _job(name: str) -> object:
    return next(job.run for job in JOBS if job.name == name)


def test_the_retention_jobs_aggregate_first_and_the_figures_remain() -> None:
    week = make_known_week()
    assert not OfficeDay.objects.exists()

    # The registry's prune jobs, as the job loop runs them (on the real clock: the week is
    # months past the retention period).
    for name in ("prune_consultations", "prune_appointments", "prune_presence_history"):
        _job(name)()  # type: ignore[operator]

    assert not Ticket.objects.filter(office=week.office).exists()
    assert not Consultation.objects.exists()
    assert not Appointment.objects.exists()
    assert not PresencePeriod.objects.filter(member=week.agent).exists()
    monday = OfficeDay.objects.get(office=week.office, date=MONDAY)
    assert _figures(monday) == KNOWN_MONDAY
    # Once the live data is gone, no re-run can overwrite the figures with zeros.
    stats.aggregate_pending()
    stats.aggregate_day(week.office, MONDAY)
    assert _figures(OfficeDay.objects.get(office=week.office, date=MONDAY)) == KNOWN_MONDAY


def test_the_aggregation_job_runs_before_the_retention_jobs() -> None:
    names = [job.name for job in JOBS]

    assert names.index("aggregate_statistics") < names.index("prune_consultations")
    assert names.index("aggregate_statistics") < names.index("prune_appointments")


def test_a_demo_row_is_replaced_by_measured_figures() -> None:
    week = make_known_week()
    OfficeDay.objects.create(office=week.office, date=MONDAY, is_demo=True, meetings=99)

    stats.aggregate_pending(AFTER_THE_WEEK)

    assert _figures(OfficeDay.objects.get(office=week.office, date=MONDAY)) == KNOWN_MONDAY


def test_small_counts_of_a_sensitive_office_are_hidden() -> None:
    rows = _aggregate_week()
    office = rows[MONDAY].office
    office.statistics_suppress_below = 3
    office.save()

    (line,) = stats.day_lines(OfficeDay.objects.filter(pk=rows[MONDAY].pk).select_related("office"))

    assert (line.meetings, line.participants, line.walk_ins) == (3, 7, 4)  # at the threshold: shown
    assert (line.appointments, line.no_shows, line.left_before_call, line.ratings) == (None, None, None, None)
    assert line.rating_mean is None
    assert line.wait_p50_min == 7.5  # four waits: enough

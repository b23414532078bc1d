"""Aggregating a year of history for 20 offices (issue #17).

Writes the live rows of ``--days`` days (default 365) for ``--offices`` offices (default 20):
per open day ``--per-day`` tickets (walk-ins and appointments, waits, no-shows, people who
left), their consultations, ratings and two staff members' presence with a pause. Then, in the
same run and on the same rows:

* baseline: the raw count query a naive report would run (tickets per office and day, one
  grouped query over all rows);
* statistics: ``stats.services.aggregate_pending`` — every figure of every office and day
  (open minutes from the calendar, waits' percentiles, staffed minutes, per service and hour),
  written as rows.

Each is timed ``--repeat`` times (the statistics' rows are deleted between runs); the JSON's
last line has the median times, their spread and the ratio statistics / baseline.

    .venv/bin/python bench/stats_history.py [--mode embedded|scaled] [--days 365] [--offices 20]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    # Run as a script, this file's folder comes first on the path, and this file would hide
    # the standard library's ``statistics`` (which Django's SQLite backend imports).
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import datetime as dt  # noqa: E402
import random  # noqa: E402
import statistics as pystats  # noqa: E402
import time  # noqa: E402
import zoneinfo  # noqa: E402
from typing import Any  # noqa: E402

from bench.support import cli  # noqa: E402
from bench.support.environment import BenchEnvironment, postgres_url  # noqa: E402
from bench.support.report import run_and_report, say  # noqa: E402
from bench.support.stats import ratio, rounded  # noqa: E402

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def build_history(days: int, offices: int, per_day: int, now: dt.datetime) -> int:
    """The live rows, bulk-written; returns the number of tickets."""
    import secrets

    from buergerbuero.booking.models import Appointment, AppointmentStatus
    from buergerbuero.consult.models import Consultation, Feedback
    from buergerbuero.offices.models import OpeningInterval, Service
    from buergerbuero.orgs.models import Organization
    from buergerbuero.staff.models import StaffMember
    from buergerbuero.waiting.models import PresencePeriod, PresenceState, Ticket, TicketStatus
    from tests import factories

    rng = random.Random(17)  # noqa: S311 (bench data)
    organization = Organization.objects.create(slug="benchstadt", name="Benchstadt", state="BY")
    today = now.astimezone(BERLIN).date()
    tickets = 0
    key = 0
    for number in range(offices):
        office = factories.make_office(organization, f"amt-{number}", name=f"Amt {number}")
        OpeningInterval.objects.bulk_create(
            [
                OpeningInterval(office=office, weekday=day, opens=dt.time(8), closes=dt.time(16))
                for day in range(5)
            ]
        )
        services = [Service.objects.create(office=office, name=f"Leistung {n}") for n in range(3)]
        agents = [
            StaffMember.objects.get(
                user=factories.make_staff(organization, f"agent-{number}-{n}", offices=[office])
            )
            for n in range(2)
        ]
        new_tickets: list[Ticket] = []
        plans: list[tuple[int, dt.datetime, dt.datetime | None]] = []  # ticket index, start, end
        appointments: list[tuple[int, dt.datetime, str]] = []
        periods: list[PresencePeriod] = []
        feedback: list[Feedback] = []
        for back in range(1, days + 1):
            date = today - dt.timedelta(days=back)
            if date.weekday() >= 5:
                continue
            for agent in agents:
                day_start = dt.datetime.combine(date, dt.time(8), tzinfo=BERLIN)
                periods += [
                    PresencePeriod(
                        member=agent,
                        state=PresenceState.AVAILABLE,
                        started_at=day_start,
                        ended_at=day_start + dt.timedelta(hours=4),
                    ),
                    PresencePeriod(
                        member=agent,
                        state=PresenceState.PAUSE,
                        started_at=day_start + dt.timedelta(hours=4),
                        ended_at=day_start + dt.timedelta(hours=4, minutes=30),
                    ),
                    PresencePeriod(
                        member=agent,
                        state=PresenceState.AVAILABLE,
                        started_at=day_start + dt.timedelta(hours=4, minutes=30),
                        ended_at=day_start + dt.timedelta(hours=8),
                    ),
                ]
            for _ in range(per_day):
                arrived = dt.datetime.combine(date, dt.time(8), tzinfo=BERLIN) + dt.timedelta(
                    minutes=rng.uniform(0, 450)
                )
                roll = rng.random()
                status = (
                    TicketStatus.LEFT
                    if roll < 0.05
                    else TicketStatus.NO_SHOW
                    if roll < 0.08
                    else TicketStatus.DONE
                )
                called = (
                    None
                    if status == TicketStatus.LEFT
                    else arrived + dt.timedelta(minutes=rng.expovariate(1 / 8))
                )
                key += 1
                new_tickets.append(
                    Ticket(
                        office=office,
                        service=rng.choice(services),
                        token=secrets.token_hex(16),
                        status=status,
                        arrived_at=arrived,
                        queue_key=key,
                        called_at=called,
                        last_seen_at=arrived,
                        ended_at=arrived + dt.timedelta(hours=1),
                    )
                )
                index = len(new_tickets) - 1
                if status == TicketStatus.DONE and called is not None:
                    plans.append((index, called, called + dt.timedelta(minutes=rng.uniform(5, 25))))
                if rng.random() < 0.3:
                    appointments.append((index if status == TicketStatus.DONE else -1, arrived, status))
                if rng.random() < 0.3:
                    feedback.append(Feedback(office=office, rating=rng.randint(3, 5), given_on=date))
        created = Ticket.objects.bulk_create(new_tickets, batch_size=2000)
        tickets += len(created)
        Consultation.objects.bulk_create(
            [
                Consultation(
                    ticket=created[index],
                    office=office,
                    agent=agents[index % 2],
                    started_at=start,
                    ended_at=end,
                )
                for index, start, end in plans
            ],
            batch_size=2000,
        )
        Appointment.objects.bulk_create(
            [
                Appointment(
                    office=office,
                    service=services[0],
                    agent=agents[0],
                    starts_at=start,
                    ends_at=start + dt.timedelta(minutes=15),
                    token=secrets.token_hex(16),
                    name="Bench",
                    email="bench@example.org",
                    status=AppointmentStatus.ATTENDED if index >= 0 else AppointmentStatus.NO_SHOW,
                    consented_at=start,
                    created_at=start,
                    scheduled_at=start,
                    ticket=created[index] if index >= 0 else None,
                )
                for index, start, status in appointments
            ],
            batch_size=2000,
        )
        PresencePeriod.objects.bulk_create(periods, batch_size=2000)
        Feedback.objects.bulk_create(feedback, batch_size=2000)
    return tickets


def baseline() -> float:
    """The naive report's query: tickets per office and day."""
    from django.db.models import Count
    from django.db.models.functions import TruncDate

    from buergerbuero.waiting.models import Ticket

    started = time.perf_counter()
    rows = list(
        Ticket.objects.annotate(day=TruncDate("arrived_at", tzinfo=BERLIN))
        .values("office_id", "day")
        .annotate(count=Count("id"))
    )
    elapsed = time.perf_counter() - started
    assert rows  # noqa: S101
    return elapsed


def aggregation(now: dt.datetime) -> tuple[float, int]:
    from buergerbuero.stats import services as stats
    from buergerbuero.stats.models import OfficeDay

    OfficeDay.objects.all().delete()
    started = time.perf_counter()
    written = stats.aggregate_pending(now)
    return time.perf_counter() - started, written


def main() -> int:
    parser = cli.parser(__doc__)
    cli.add_mode(parser)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--offices", type=int, default=20)
    parser.add_argument("--per-day", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    environment = BenchEnvironment(
        "statistics", database_url=postgres_url("bench_statistics") if args.mode == "scaled" else None
    )

    def measure() -> dict[str, Any]:
        environment.setup()
        environment.migrate()
        now = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        tickets = build_history(args.days, args.offices, args.per_day, now)
        say(f"history written: {tickets} tickets in {time.perf_counter() - started:.1f} s")
        baselines, runs, written = [], [], 0
        for attempt in range(args.repeat):
            baselines.append(baseline())
            seconds, written = aggregation(now)
            runs.append(seconds)
            say(f"run {attempt + 1}: baseline {baselines[-1]:.3f} s, aggregation {seconds:.2f} s ({written})")
        base, agg = pystats.median(baselines), pystats.median(runs)
        return {
            "bench": "statistics",
            "mode": args.mode,
            "database": environment.label,
            "offices": args.offices,
            "days": args.days,
            "tickets": tickets,
            "office_days_written": written,
            "baseline_count_query_s": rounded(base, 3),
            "aggregation_s": rounded(agg, 2),
            "aggregation_runs_s": [rounded(run, 2) for run in runs],
            "baseline_runs_s": [rounded(run, 3) for run in baselines],
            "ms_per_office_day": rounded(agg * 1000 / max(written, 1), 2),
            "ratio_aggregation_to_baseline": ratio(agg, base, 1),
        }

    return run_and_report(measure, environment.cleanup)


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of appointment booking: the free-slot search, and 200 citizens racing for one slot.

(a) Free-slot search (``booking.slots.SlotFinder``, in this process). An office of a Bavarian
town, open Monday to Friday 08:00–16:00 (Thursday until 18:00, public holidays closed), ten
staff members: four take the office's hours, three work mornings, two have split weeks, one
works Tuesday to Thursday; each has a week or two of leave and a few sick days in the 90 days,
everybody a team meeting on Tuesdays 09:00–11:00. The service takes 20 minutes plus 5 minutes
buffer, 60 minutes lead time, 90 days horizon. Of the free slots, 30 % are booked (chosen at
random with a fixed seed; some cancelled appointments lie around too). “Now” is fixed, so the
figures do not depend on the day the bench runs. Each repetition does what a request does:
build a ``SlotFinder`` for the ten staff members (its few queries included), then

* ``next_free_5``: ``next_free(5)`` (the first free times, as the booking page shows them);
* ``next_free_5_far``: ``next_free(5, after=<day 80>)`` (free times far away: the finder
  walks every day before, so this costs about a full scan);
* ``scan_90_days``: ``slots_on(day)`` for every day of the horizon.

``slot_search_p95_ms`` is the wall-clock p95 of the heaviest of them (``max`` over the three);
CPU times are reported too, since this 2-core machine is often shared. Baselines,
measured in the same run on the same data: ``one_agent_one_day`` (a finder for one staff
member, ``slots_on`` for one day: the fixed cost of any search) and ``naive_scan_90_days``: the
same 90-day scan with one database query per candidate slot for appointments and one for
absences (what the finder's “load once, compute in memory” avoids; fewer repetitions, it is
slow; one repetition by default). The naive scan must find exactly the finder's slots (``naive_agrees``).

(b) The race (``tests/support/booking_race.py``, the same machinery as
``tests/booking/test_races.py``): ``--servers`` server processes (``manage.py serve``) on the
bench database, 200 citizens submit the booking form for the same slot of one staff member at
the same instant → ``successes`` (302 to the appointment), ``taken`` (409 “just taken”),
``server_errors`` (5xx or dropped connections), and the booked appointments in the database.

Database: a temporary SQLite file (WAL, ``IMMEDIATE`` transactions), migrated for the run; or,
when ``DATABASE_URL`` is set, a PostgreSQL database ``<its name>_bench_<pid>`` on that server,
created and dropped by the bench (with ``REDIS_URL`` set, the servers use Redis under a prefix
of their own, deleted afterwards). Output: lines, then one JSON object as the last line.

    cd /work/main && .venv/bin/python bench/booking.py [--reps N] [--naive-reps M]
        [--attempts 200] [--servers 3] [--seed S] [--skip-race] [--profile]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mybench REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/booking.py
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the project importable (not only this folder)
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import contextlib
import datetime as dt
import os
import random
import re
import secrets
import statistics
import time
import zoneinfo
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent

from bench.support import cli  # noqa: E402
from bench.support.environment import BenchEnvironment, beside  # noqa: E402
from bench.support.report import emit, say, with_all  # noqa: E402
from bench.support.servers import running_servers  # noqa: E402
from bench.support.stats import percentile  # noqa: E402

if TYPE_CHECKING:
    from buergerbuero.booking.slots import SlotFinder
    from buergerbuero.offices.models import Office, Service
    from buergerbuero.staff.models import StaffMember
    from tests.support.server import AsgiServer

ZONE = zoneinfo.ZoneInfo("Europe/Berlin")
# Monday, 1 March 2027, 07:00: the 90 days hold Easter, 1 May, Ascension, Whit Monday and
# Corpus Christi (public holidays in Bavaria).
NOW = dt.datetime(2027, 3, 1, 7, 0, tzinfo=ZONE)
HORIZON_DAYS = 90
FAR_DAY = 80  # next_free(5) from this day of the horizon on
BOOKED_SHARE = 0.30
CANCELLED_SHARE = 0.05
STEP_ROUNDING = dt.timedelta(minutes=5)  # as booking.slots rounds a start after a conflict

TARGET_SEARCH_P95_MS = 100.0

Key = tuple[dt.datetime, int]  # (start, staff member)


@dataclass
class Timing:
    name: str
    samples_ms: list[float]  # wall-clock time
    cpu_ms: list[float]  # CPU time of this process (the machine is often shared)

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 0.95)

    @property
    def cpu_p95(self) -> float:
        return percentile(self.cpu_ms, 0.95)

    def line(self) -> str:
        return (
            f"{self.name:<20} n={len(self.samples_ms):<3} p50 {self.p50:8.1f} ms  p95 {self.p95:8.1f} ms  "
            f"max {max(self.samples_ms):8.1f} ms  (CPU p50 {statistics.median(self.cpu_ms):7.1f} ms, "
            f"p95 {self.cpu_p95:7.1f} ms)"
        )


def timed(name: str, reps: int, run: Callable[[], object]) -> Timing:
    """``run`` once to warm up (not counted), then ``reps`` times measured."""
    run()
    samples, cpu = [], []
    for _ in range(reps):
        started, started_cpu = time.perf_counter(), time.process_time()
        run()
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return Timing(name, samples, cpu)


def profile(name: str, run: Callable[[], object], top: int = 12) -> None:
    """Where the time of ``run`` goes (cProfile, by own time), printed as lines."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    say(f"profile of {name} (cProfile, sorted by own time):")
    for line in out.getvalue().splitlines():
        if line.strip() and not line.lstrip().startswith(("Ordered by", "List reduced")):
            say("  " + line.rstrip())


# --- (a) the search -----------------------------------------------------------------------------
@dataclass
class SearchScene:
    office: Office
    service: Service
    agents: list[StaffMember]
    booked: int
    cancelled: int
    absences: int
    free_before: int


def _local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


def build_search_scene(seed: int) -> SearchScene:
    from django.contrib.auth.models import User

    from buergerbuero.booking.models import Absence, AbsenceKind, Appointment, AppointmentStatus, WorkingTime
    from buergerbuero.booking.slots import SlotFinder
    from buergerbuero.offices.models import Office, OpeningInterval, Service
    from buergerbuero.orgs.models import Organization
    from buergerbuero.staff.models import Role, StaffMember

    rng = random.Random(seed)  # noqa: S311 — test data
    org = Organization.objects.create(slug="benchstadt", name="Stadt Benchstadt", state="BY")
    office = Office.objects.create(organization=org, slug="buergerbuero", name="Bürgerbüro")
    for weekday in range(5):
        closes = dt.time(18) if weekday == 3 else dt.time(16)
        OpeningInterval.objects.create(office=office, weekday=weekday, opens=dt.time(8), closes=closes)
    service = Service.objects.create(
        office=office,
        name="Personalausweis",
        slot_minutes=20,
        buffer_minutes=5,
        lead_minutes=60,
        horizon_days=HORIZON_DAYS,
    )
    # (weekday, opens, closes) per staff member; None: the office's hours.
    mornings = [(day, dt.time(8), dt.time(12, 30)) for day in range(5)]
    split = [(day, dt.time(8), dt.time(16)) for day in (0, 2, 4)] + [
        (day, dt.time(12), dt.time(18)) for day in (1, 3)
    ]
    midweek = [(day, dt.time(8), dt.time(16)) for day in (1, 2, 3)]
    plans: list[list[tuple[int, dt.time, dt.time]] | None] = [
        None,
        None,
        None,
        None,
        mornings,
        mornings,
        mornings,
        split,
        split,
        midweek,
    ]
    agents: list[StaffMember] = []
    absences: list[Absence] = []
    first_day = NOW.date()
    for number, plan in enumerate(plans):
        user = User.objects.create(username=f"bench-agent-{number:02d}")
        member = StaffMember.objects.create(
            user=user, organization=org, role=Role.AGENT, display_name=f"Sachbearbeiter:in {number + 1:02d}"
        )
        member.offices.add(office)
        for weekday, opens, closes in plan or []:
            WorkingTime.objects.create(member=member, weekday=weekday, opens=opens, closes=closes)
        agents.append(member)
        # Leave: one or two weeks, somewhere in the 90 days.
        leave_start = first_day + dt.timedelta(days=rng.randrange(3, HORIZON_DAYS - 14))
        leave_days = rng.choice((7, 14))
        absences.append(
            Absence(
                member=member,
                starts_at=_local(leave_start, 0),
                ends_at=_local(leave_start + dt.timedelta(days=leave_days), 0),
                note="Urlaub",
            )
        )
        # Sick days.
        for _ in range(rng.randrange(1, 4)):
            day = first_day + dt.timedelta(days=rng.randrange(1, HORIZON_DAYS))
            absences.append(
                Absence(
                    member=member, starts_at=_local(day, 0), ends_at=_local(day + dt.timedelta(days=1), 0)
                )
            )
        # Team meeting every Tuesday 09:00–11:00.
        for offset in range(HORIZON_DAYS + 1):
            day = first_day + dt.timedelta(days=offset)
            if day.weekday() == 1:
                absences.append(
                    Absence(
                        member=member,
                        kind=AbsenceKind.BLOCKED,
                        starts_at=_local(day, 9),
                        ends_at=_local(day, 11),
                        note="Teambesprechung",
                    )
                )
    Absence.objects.bulk_create(absences)

    # 30 % of the free slots are booked, a few more were booked and cancelled.
    free = sorted(full_scan(SlotFinder(office, service, agents, NOW)))
    chosen = rng.sample(free, round(len(free) * (BOOKED_SHARE + CANCELLED_SHARE)))
    cancelled = set(rng.sample(chosen, round(len(free) * CANCELLED_SHARE)))
    length = dt.timedelta(minutes=service.slot_minutes)
    rows = []
    for number, (start, agent_id) in enumerate(chosen):
        status = AppointmentStatus.CANCELLED if (start, agent_id) in cancelled else AppointmentStatus.BOOKED
        created = NOW - dt.timedelta(days=rng.randrange(1, 30))
        rows.append(
            Appointment(
                office=office,
                service=service,
                agent_id=agent_id,
                starts_at=start,
                ends_at=start + length,
                token=secrets.token_urlsafe(16),
                name=f"Bürger:in {number}",
                email=f"buerger{number}@example.org",
                status=status,
                consented_at=created,
                created_at=created,
                scheduled_at=created,
            )
        )
    Appointment.objects.bulk_create(rows, batch_size=500)
    return SearchScene(
        office=office,
        service=service,
        agents=agents,
        booked=len(rows) - len(cancelled),
        cancelled=len(cancelled),
        absences=len(absences),
        free_before=len(free),
    )


def full_scan(finder: SlotFinder) -> set[Key]:
    """Every free (start, staff member) of the horizon, day by day."""
    return {
        (slot.start, agent)
        for day in finder.days()
        for slot in finder.slots_on(day)
        for agent in slot.agent_ids
    }


def _round_up(moment: dt.datetime) -> dt.datetime:
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return epoch + -(-(moment - epoch) // STEP_ROUNDING) * STEP_ROUNDING


def naive_scan(office: Office, service: Service, agents: Sequence[StaffMember], now: dt.datetime) -> set[Key]:
    """The baseline: the same rules, but each candidate slot asks the database whether an
    appointment or an absence is in the way (two queries per candidate)."""
    from django.db.models import Max

    from buergerbuero.booking.models import Absence, Appointment, AppointmentStatus
    from buergerbuero.booking.slots import SlotFinder

    windows = SlotFinder(office, service, agents, now)  # opening hours and working times only
    length = dt.timedelta(minutes=service.slot_minutes)
    buffer = dt.timedelta(minutes=service.buffer_minutes)
    found: set[Key] = set()
    for day in windows.days():
        office_periods = list(windows.calendar.periods(day, 1))
        if not office_periods:
            continue
        for agent in agents:
            for window in windows.windows(agent.pk, day, office_periods):
                start = window.start
                while start + length <= window.end:
                    end = start + length
                    booked_end = Appointment.objects.filter(
                        agent=agent.pk,
                        status=AppointmentStatus.BOOKED,
                        starts_at__lt=end + buffer,
                        ends_at__gt=start - buffer,
                    ).aggregate(end=Max("ends_at"))["end"]
                    absent_end = Absence.objects.filter(
                        member=agent.pk, starts_at__lt=end, ends_at__gt=start
                    ).aggregate(end=Max("ends_at"))["end"]
                    conflicts = [moment for moment in (absent_end,) if moment is not None]
                    if booked_end is not None:
                        conflicts.append(booked_end + buffer)
                    if conflicts:
                        start = _round_up(max(max(conflicts), start + STEP_ROUNDING))
                        continue
                    if windows.earliest <= start <= windows.latest:
                        found.add((start, agent.pk))
                    start += length + buffer
    return found


def bench_search(args: argparse.Namespace) -> dict[str, Any]:
    from buergerbuero.booking.slots import SlotFinder

    started = time.monotonic()
    scene = build_search_scene(args.seed)
    office, service, agents = scene.office, scene.service, scene.agents
    probe = SlotFinder(office, service, agents, NOW)
    days = list(probe.days())
    far = dt.datetime.combine(days[FAR_DAY], dt.time(0), tzinfo=ZONE)
    free_now = full_scan(probe)
    say(
        f"search scene: {len(agents)} staff members, {len(days)} days, {scene.booked} booked "
        f"(+{scene.cancelled} cancelled) of {scene.free_before} free slots, {scene.absences} absences "
        f"and blocked times, {len(free_now)} slots still free ({time.monotonic() - started:.1f}s)"
    )

    def first_five() -> object:
        return SlotFinder(office, service, agents, NOW).next_free(5)

    def far_five() -> object:
        return SlotFinder(office, service, agents, NOW).next_free(5, after=far)

    def scan() -> object:
        finder = SlotFinder(office, service, agents, NOW)
        return [finder.slots_on(day) for day in finder.days()]

    busiest_day = max(days, key=lambda day: len(probe.slots_on(day)))

    def one_agent_one_day() -> object:
        return SlotFinder(office, service, agents[:1], NOW).slots_on(busiest_day)

    timings = [
        timed("next_free_5", args.reps, first_five),
        timed("next_free_5_far", args.reps, far_five),
        timed("scan_90_days", args.reps, scan),
        timed("one_agent_one_day", args.reps, one_agent_one_day),
    ]
    for timing in timings:
        say(timing.line())
    naive_found: set[Key] = set()

    def naive() -> object:
        nonlocal naive_found
        naive_found = naive_scan(office, service, agents, NOW)
        return naive_found

    naive_timing = timed("naive_scan_90_days", args.naive_reps, naive)
    say(naive_timing.line())
    if args.profile:
        profile("scan_90_days", scan)
    by_name = {timing.name: timing for timing in [*timings, naive_timing]}
    searches = [by_name[name] for name in ("next_free_5", "next_free_5_far", "scan_90_days")]
    heaviest = max(searches, key=lambda timing: timing.p95)
    scan_p95 = by_name["scan_90_days"].p95
    result: dict[str, Any] = {
        "slot_search_p95_ms": round(heaviest.p95, 1),
        "slot_search_heaviest": heaviest.name,
        "staff_members": len(agents),
        "days": len(days),
        "appointments_booked": scene.booked,
        "free_slots": len(free_now),
        "naive_agrees": naive_found == free_now,
        "scan_vs_naive_ratio": round(scan_p95 / naive_timing.p95, 4),
        "scan_vs_one_agent_one_day_ratio": round(scan_p95 / by_name["one_agent_one_day"].p95, 1),
    }
    for timing in by_name.values():
        result[f"{timing.name}_p50_ms"] = round(timing.p50, 1)
        result[f"{timing.name}_p95_ms"] = round(timing.p95, 1)
        result[f"{timing.name}_cpu_p95_ms"] = round(timing.cpu_p95, 1)
    say(
        f"heaviest search p95 {heaviest.p95:.1f} ms ({heaviest.name}); 90-day scan vs naive per-slot "
        f"queries: {result['scan_vs_naive_ratio']:.4f}× (naive agrees: {result['naive_agrees']}); "
        f"vs one staff member and one day: {result['scan_vs_one_agent_one_day_ratio']}×"
    )
    return result


# --- (b) the race -------------------------------------------------------------------------------
# Every attempt comes from 127.0.0.1 with one mobile number: lift the booking limits.
UNLIMITED = {"BOOKING_LIMIT_PER_ADDRESS_HOUR": "1000000", "BOOKING_LIMIT_PER_CONTACT_DAY": "1000000"}


def logged_errors(servers: Sequence[AsgiServer]) -> Counter[str]:
    """Exception lines in the servers' logs (of a chained traceback, each link), counted."""
    errors: Counter[str] = Counter()
    for server in servers:
        with contextlib.suppress(OSError):
            for line in server.log_path.read_text(errors="replace").splitlines():
                if re.match(r"^[\w.]+(Error|Exception): ", line):
                    errors[line[:200]] += 1
    return errors


def bench_race(args: argparse.Namespace, environment: BenchEnvironment) -> dict[str, Any]:
    from buergerbuero.booking.messages import topic
    from buergerbuero.booking.models import Appointment, AppointmentStatus
    from buergerbuero.notify.models import Notification
    from tests.support.booking_race import make_scene, race

    scene = make_scene(agents=1)
    (agent_id,) = scene.agent_ids
    started = time.monotonic()
    env = {**environment.env, **UNLIMITED}
    with running_servers(args.servers, env, environment.tmp) as servers:
        say(f"race: {args.servers} server processes up ({time.monotonic() - started:.1f}s)")
        result = race([server.port for server in servers], scene.details_path(agent_id), args.attempts)
    errors = logged_errors(servers)
    booked = Appointment.objects.filter(
        agent_id=agent_id, starts_at=scene.start, status=AppointmentStatus.BOOKED
    )
    in_database = booked.count()
    messages = Notification.objects.filter(
        topic__in=[topic(pk) for pk in booked.values_list("pk", flat=True)]
    ).count()
    replies = sorted(attempt.seconds for attempt in result.attempts)
    say(
        f"race: {args.attempts} attempts on one slot over {args.servers} processes in {result.seconds:.2f}s: "
        f"{result.kinds['booked']} booked, {result.kinds['taken']} taken, {result.server_errors} server "
        f"errors, {result.kinds['unexpected']} unexpected; {in_database} booked in the database, "
        f"{messages} messages in the outbox; reply p50 {statistics.median(replies) * 1000:.0f} ms, "
        f"max {replies[-1] * 1000:.0f} ms"
    )
    for problem in result.problems()[:3]:
        say(f"  e.g. {problem[:200]}")
    for error, times in errors.most_common(3):
        say(f"  logged by the servers {times}×: {error}")
    return {
        "concurrent_attempts": args.attempts,
        "server_processes": args.servers,
        "successes": result.kinds["booked"],
        "taken": result.kinds["taken"],
        "server_errors": result.server_errors,
        "unexpected": result.kinds["unexpected"],
        "booked_in_database": in_database,
        "outbox_messages": messages,
        "race_seconds": round(result.seconds, 2),
        "reply_p50_ms": round(statistics.median(replies) * 1000, 1),
        "reply_max_ms": round(replies[-1] * 1000, 1),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = cli.parser(__doc__)
    parser.add_argument("--reps", type=int, default=30, help="measured repetitions per search (30)")
    parser.add_argument("--naive-reps", type=int, default=1, help="repetitions of the naive baseline (1)")
    parser.add_argument("--attempts", type=int, default=200, help="concurrent booking attempts (200)")
    parser.add_argument("--servers", type=int, default=3, help="server processes of the race (3)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the search scene (1)")
    parser.add_argument("--skip-race", action="store_true", help="only the search")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the 90-day scan")
    args = parser.parse_args(argv)
    if min(args.reps, args.naive_reps, args.attempts, args.servers) < 1:
        parser.error("--reps, --naive-reps, --attempts and --servers must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # With DATABASE_URL: a database of the bench's own beside that one, created and dropped.
    database_url = os.environ.get("DATABASE_URL", "")
    environment = BenchEnvironment(
        "booking",
        database_url=beside(database_url, f"bench_{os.getpid()}") if database_url else None,
        redis_url=os.environ.get("REDIS_URL") or None,
    )
    try:
        environment.setup(JOBS_IN_WEB_PROCESS="false")  # the servers only answer requests
        environment.migrate()
        say(f"booking bench on {environment.label} (seed {args.seed}, {args.reps} repetitions)")
        result: dict[str, Any] = {"bench": "booking", "database": environment.label}
        result.update(bench_search(args))
        if not args.skip_race:
            result.update(bench_race(args, environment))
    finally:
        environment.cleanup()
    targets = {"slot_search_p95_le_100ms": result["slot_search_p95_ms"] <= TARGET_SEARCH_P95_MS}
    if not args.skip_race:
        targets["exactly_one_success"] = result["successes"] == 1 and result["booked_in_database"] == 1
        targets["no_server_errors"] = result["server_errors"] == 0 and result["unexpected"] == 0
    result["targets_met"] = with_all(targets)
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

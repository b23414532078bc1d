"""Overlapping bookings with different starts: races that only the staff member's lock wins.

The partial unique index on (staff member, start) refuses a second booking of the *same* start
by itself; it cannot see a 30-minute appointment at 09:00 overlapping a 20-minute one at 08:50.
That is what ``booking.services`` locks the staff member's row for (``book`` and ``reschedule``
look at the free times again under it). Here citizens book two services of different lengths
whose times overlap, for one staff member, at the same instant; and a citizen books a time while
another moves their appointment onto an overlapping one.

In-process threads on the test database, each with its own connection (PostgreSQL in the scaled
mode, SQLite in the embedded one), released by a barrier; the write of each appointment is held
for ``HOLD`` seconds inside its transaction (``lock_race.hold``), so the requests are measurably
in flight together. Each race has a control with the locks disabled (``lock_race.without_locks``,
a monkeypatch of the test): on PostgreSQL the staff member ends up booked twice at once; on
SQLite (which never writes on a stale snapshot) the second writer fails with “database is
locked” instead of waiting its turn. The same races through three server processes are in
``test_races.py``.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from typing import Any

import pytest
from django.db import OperationalError, connection

from buergerbuero.booking import services as booking
from buergerbuero.booking.models import Appointment, AppointmentStatus
from buergerbuero.offices.models import Office, Service
from buergerbuero.staff.models import StaffMember
from tests.support import lock_race
from tests.support.booking_race import Scene, make_scene

pytestmark = pytest.mark.django_db(transaction=True)

CITIZENS = 6  # half book the short service at 08:50, half the long one at 09:00
HOLD = 0.3  # seconds between deciding and writing


def _long_service(scene: Scene) -> Service:
    """30 minutes without buffer: its times are 08:00, 08:30, 09:00 … (the short service's
    20 + 5 minutes: 08:00, 08:25, 08:50 …), so 09:00–09:30 overlaps 08:50–09:10."""
    office = Office.objects.get(pk=scene.office_id)
    return Service.objects.create(
        office=office, name="Ausführliche Beratung", slot_minutes=30, buffer_minutes=0
    )


def _contact(number: int) -> booking.Contact:
    return booking.Contact(name=f"Bürger:in {number}", email=f"buerger{number}@example.org", consent=True)


def _book(scene: Scene, service_id: int, start: dt.datetime, number: int) -> Appointment:
    office = Office.objects.get(pk=scene.office_id)
    service = Service.objects.get(pk=service_id)
    (agent_id,) = scene.agent_ids
    agent = StaffMember.objects.get(pk=agent_id)
    return booking.book(office, service, start=start, contact=_contact(number), agent=agent)


def _reschedule(appointment_id: int, start: dt.datetime) -> Appointment:
    return booking.reschedule(Appointment.objects.get(pk=appointment_id), start)


def _overlapping_race(scene: Scene, *, deferred_sqlite: bool = False) -> list[lock_race.Run[Appointment]]:
    short_start = scene.start  # 08:50
    long_start = scene.start + dt.timedelta(minutes=10)  # 09:00
    long_service = _long_service(scene)
    calls = [
        functools.partial(_book, scene, scene.service_id, short_start, number)
        if number % 2 == 0
        else functools.partial(_book, scene, long_service.pk, long_start, number)
        for number in range(CITIZENS)
    ]
    with lock_race.hold(Appointment, HOLD):
        return lock_race.at_once(calls, deferred_sqlite=deferred_sqlite)


def _booked_spans(scene: Scene) -> list[tuple[dt.datetime, dt.datetime]]:
    return list(
        Appointment.objects.filter(agent_id__in=scene.agent_ids, status=AppointmentStatus.BOOKED)
        .order_by("starts_at")
        .values_list("starts_at", "ends_at")
    )


def _overlaps(spans: list[tuple[dt.datetime, dt.datetime]]) -> list[tuple[Any, Any]]:
    return [(first, second) for first, second in itertools.pairwise(spans) if second[0] < first[1]]


def _outcomes(runs: list[lock_race.Run[Appointment]]) -> list[str]:
    """booked, the refusal's code, or the error's type and text."""
    outcomes = []
    for run in runs:
        if isinstance(run.error, booking.BookingError):
            outcomes.append(run.error.code)
        elif run.error is not None:
            outcomes.append(f"{type(run.error).__name__}: {run.error}")
        else:
            outcomes.append("booked")
    return outcomes


def test_overlapping_bookings_with_different_starts_book_the_staff_member_once() -> None:
    scene = make_scene(agents=1)

    runs = _overlapping_race(scene)

    lock_race.assert_raced(runs)
    outcomes = _outcomes(runs)
    assert sorted(outcomes) == ["booked"] + ["taken"] * (CITIZENS - 1), outcomes
    booked = _booked_spans(scene)
    assert len(booked) == 1, booked


def test_control_overlapping_bookings_without_the_lock_double_book_or_fail(monkeypatch: Any) -> None:
    scene = make_scene(agents=1)
    lock_race.without_locks(monkeypatch)

    runs = _overlapping_race(scene, deferred_sqlite=True)

    lock_race.assert_raced_control(runs)
    outcomes = _outcomes(runs)
    if connection.vendor == "sqlite":
        # No double booking (SQLite refuses a write on a stale snapshot), but errors instead of
        # a clean “just taken”: what IMMEDIATE transactions prevent.
        assert any(isinstance(run.error, OperationalError) for run in runs), outcomes
        assert _overlaps(_booked_spans(scene)) == []
    else:
        booked = _booked_spans(scene)
        assert _overlaps(booked) != [], (outcomes, booked)
        assert outcomes.count("booked") >= 2, outcomes


# --- a booking against a reschedule --------------------------------------------------------------
ROUNDS = 3


def _booking_against_reschedule(
    scene: Scene, day: int, *, deferred_sqlite: bool = False
) -> tuple[list[lock_race.Run[Appointment]], Appointment]:
    """Day ``day`` after the scene's: one citizen's appointment at 10:55 is moved to 08:50 while
    another books the long service at 09:00 (overlapping), at the same instant."""
    offset = dt.timedelta(days=day)
    office = Office.objects.get(pk=scene.office_id)
    short = Service.objects.get(pk=scene.service_id)
    (agent_id,) = scene.agent_ids
    agent = StaffMember.objects.get(pk=agent_id)
    existing = booking.book(
        office,
        short,
        start=scene.start + offset + dt.timedelta(hours=2, minutes=5),  # 10:55, on the grid
        contact=_contact(1000 + day),
        agent=agent,
    )
    long_service = Service.objects.filter(office=office, slot_minutes=30).first() or _long_service(scene)
    calls: list[Any] = [
        functools.partial(_reschedule, existing.pk, scene.start + offset),
        functools.partial(
            _book, scene, long_service.pk, scene.start + offset + dt.timedelta(minutes=10), day
        ),
    ]
    with lock_race.hold(Appointment, HOLD):
        return lock_race.at_once(calls, deferred_sqlite=deferred_sqlite), existing


def _day_spans(scene: Scene, day: int) -> list[tuple[dt.datetime, dt.datetime]]:
    start = scene.start + dt.timedelta(days=day) - dt.timedelta(hours=1)
    return [span for span in _booked_spans(scene) if start <= span[0] < start + dt.timedelta(hours=12)]


def test_a_booking_racing_a_reschedule_onto_an_overlapping_time_wins_only_one() -> None:
    scene = make_scene(agents=1)
    for day in range(ROUNDS):
        runs, _existing = _booking_against_reschedule(scene, day)

        lock_race.assert_raced(runs)
        outcomes = _outcomes(runs)
        assert sorted(outcomes) == ["booked", "taken"], outcomes
        spans = _day_spans(scene, day)
        # The move won (one appointment, at 08:50) or the booking did (09:00, and 10:55 stays).
        booking_won = outcomes[1] == "booked"
        assert len(spans) == (2 if booking_won else 1), (outcomes, spans)
        assert _overlaps(spans) == [], spans


def test_control_a_booking_racing_a_reschedule_without_the_lock_overlaps_or_fails(monkeypatch: Any) -> None:
    scene = make_scene(agents=1)
    lock_race.without_locks(monkeypatch)

    runs, _existing = _booking_against_reschedule(scene, 0, deferred_sqlite=True)

    lock_race.assert_raced_control(runs)
    outcomes = _outcomes(runs)
    if connection.vendor == "sqlite":
        assert any(isinstance(run.error, OperationalError) for run in runs), outcomes
        assert _overlaps(_day_spans(scene, 0)) == []
    else:
        assert outcomes == ["booked", "booked"], outcomes
        assert _overlaps(_day_spans(scene, 0)) != []

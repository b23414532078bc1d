"""No double booking under real concurrency: 200 citizens submit the booking form for the same
slot at the same instant, through three server processes.

The servers are real (``manage.py serve``, one process each, on the test database: SQLite in WAL
mode with ``IMMEDIATE`` transactions, or PostgreSQL with the staff member's row lock). Each
citizen has a connection of their own and the cookies (CSRF, language) of a browser that opened
the form on that server; a barrier releases all 200 POSTs together, round-robin over the three
servers (``tests/support/booking_race.py``). The booking limits per address and per contact are
raised for these servers (all citizens come from 127.0.0.1 with one mobile number), so every
attempt reaches the booking rules; ``tests/booking/test_limits.py`` tests the limits.

For one staff member exactly one citizen gets the appointment (302 to its page), the other 199
the 409 page “this slot was just taken” with the next free times, none a server error; the
database holds one booked appointment for that staff member and start, and the outbox one
e-mail and one SMS for it. With “anyone” and three staff members free, exactly three citizens
get an appointment, each with a different staff member.

The partial unique index alone refuses a second booking of the same start, so the same race is
also run with overlapping times of *different* starts (a 20-minute service at 08:50 and a
30-minute one at 09:00, half the citizens each), which only the staff member's lock decides. Those
servers read the test-only settings ``tests.support.race_settings``: every appointment's write is
held ``HOLD`` seconds inside its transaction, so that the requests are measurably in flight
together (their start/end times are recorded), and a control runs the race on servers without
the locks (``RACE_WITHOUT_LOCKS``) and expects the staff member to be booked twice at once
(PostgreSQL) or citizens to get server errors (“database is locked”: SQLite without
``IMMEDIATE`` transactions).

The booking rules are asserted first and for themselves, server errors last, so that a server
error cannot hide a double booking. (On PostgreSQL the 200 simultaneous requests need more
connections than the server allows unless each process draws from a bounded pool: settings
``DB_POOL_SIZE``.)
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from buergerbuero.booking.messages import topic
from buergerbuero.booking.models import Appointment, AppointmentStatus
from buergerbuero.notify.models import Notification
from buergerbuero.offices.models import Service
from tests.support.booking_race import RaceResult, Scene, make_scene, race
from tests.support.lock_race import peak_in_flight
from tests.support.server import AsgiServer

ATTEMPTS = 200
SERVERS = 3
SMS_RECIPIENT = "+4915123456789"  # "0151 23456789" as the booking stores it (E.164)

pytestmark = pytest.mark.django_db(transaction=True)


def _servers(**settings: str) -> Iterator[list[int]]:
    """Three server processes on the test database (started together); their ports."""
    environment = {
        "JOBS_IN_WEB_PROCESS": "false",  # the outbox is checked as written, not as sent
        "BOOKING_LIMIT_PER_ADDRESS_HOUR": str(10 * ATTEMPTS),
        "BOOKING_LIMIT_PER_CONTACT_DAY": str(10 * ATTEMPTS),
        "REDIS_PREFIX": f"test-booking-{uuid.uuid4().hex[:12]}",
        **settings,
    }
    servers = [AsgiServer(extra_env=environment) for _ in range(SERVERS)]
    try:
        with ThreadPoolExecutor(max_workers=SERVERS) as pool:
            list(pool.map(lambda server: server.start(timeout=60), servers))
        yield [server.port for server in servers]
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="module")
def race_servers(django_db_setup: None, django_db_blocker: Any) -> Iterator[list[int]]:
    yield from _servers()


HOLD = "0.3"  # seconds each appointment's write is held inside its transaction
RACE_SETTINGS = "tests.support.race_settings"


@pytest.fixture
def held_servers(django_db_setup: None, django_db_blocker: Any) -> Iterator[list[int]]:
    yield from _servers(DJANGO_SETTINGS_MODULE=RACE_SETTINGS, RACE_HOLD_SECONDS=HOLD)


@pytest.fixture
def unlocked_servers(django_db_setup: None, django_db_blocker: Any) -> Iterator[list[int]]:
    yield from _servers(
        DJANGO_SETTINGS_MODULE=RACE_SETTINGS, RACE_HOLD_SECONDS=HOLD, RACE_WITHOUT_LOCKS="true"
    )


def _booked_at_start(scene: Scene) -> list[Appointment]:
    return list(
        Appointment.objects.filter(
            office_id=scene.office_id, starts_at=scene.start, status=AppointmentStatus.BOOKED
        ).order_by("agent_id")
    )


def _outbox() -> list[tuple[str, str, str, str]]:
    return sorted(Notification.objects.values_list("topic", "kind", "channel", "recipient"))


def _assert_every_answer_books_or_refuses(result: RaceResult, ports: list[int], winners: int) -> None:
    """Each reply that is no server error is a booking or the “just taken” refusal, from every
    server, each refusal with free times to choose from instead."""
    assert result.kinds["booked"] == winners
    assert result.kinds["booked"] + result.kinds["taken"] + result.server_errors == ATTEMPTS
    refused = [attempt for attempt in result.attempts if attempt.kind == "taken"]
    assert {attempt.port for attempt in refused} == set(ports)
    assert all(attempt.status == 409 and attempt.suggestions > 0 for attempt in refused)


def _assert_no_server_errors(result: RaceResult) -> None:
    problems = result.problems()
    assert problems == [], f"{len(problems)} of {ATTEMPTS} attempts failed, e.g. {problems[:3]}"


def test_two_hundred_citizens_racing_for_one_staff_members_slot_book_it_exactly_once(
    race_servers: list[int],
) -> None:
    scene = make_scene(agents=1)
    (agent_id,) = scene.agent_ids

    result = race(race_servers, scene.details_path(agent_id), ATTEMPTS)

    booked = _booked_at_start(scene)
    assert [(appointment.agent_id, appointment.token) for appointment in booked] == [
        (agent_id, token) for token in result.tokens
    ]
    assert Appointment.objects.count() == 1  # nothing booked at another time either
    (appointment,) = booked
    assert appointment.ends_at == scene.start + dt.timedelta(minutes=20)
    winner = next(attempt for attempt in result.attempts if attempt.kind == "booked")
    assert appointment.name == f"Bürger:in {winner.number}"
    # Exactly one set of messages: the winner's confirmation by e-mail and by SMS.
    assert _outbox() == [
        (topic(appointment.pk), "booked", "email", f"buerger{winner.number}@example.org"),
        (topic(appointment.pk), "booked", "sms", SMS_RECIPIENT),
    ]
    _assert_every_answer_books_or_refuses(result, race_servers, winners=1)
    _assert_no_server_errors(result)
    assert result.kinds == {"booked": 1, "taken": ATTEMPTS - 1}


def test_two_hundred_citizens_racing_for_anyone_get_each_of_three_free_staff_members_once(
    race_servers: list[int],
) -> None:
    scene = make_scene(agents=3)

    result = race(race_servers, scene.details_path(None), ATTEMPTS)

    booked = _booked_at_start(scene)
    assert [appointment.agent_id for appointment in booked] == sorted(scene.agent_ids)
    assert sorted(appointment.token for appointment in booked) == sorted(result.tokens)
    assert Appointment.objects.count() == 3
    winners = {attempt.token: attempt.number for attempt in result.attempts if attempt.kind == "booked"}
    expected = []
    for appointment in booked:
        number = winners[appointment.token]
        assert appointment.name == f"Bürger:in {number}"
        expected += [
            (topic(appointment.pk), "booked", "email", f"buerger{number}@example.org"),
            (topic(appointment.pk), "booked", "sms", SMS_RECIPIENT),
        ]
    assert _outbox() == sorted(expected)
    _assert_every_answer_books_or_refuses(result, race_servers, winners=3)
    _assert_no_server_errors(result)
    assert result.kinds == {"booked": 3, "taken": ATTEMPTS - 3}


# --- overlapping times with different starts: only the lock decides ------------------------------
OVERLAPPING = 60


def _overlapping_paths(scene: Scene) -> list[str]:
    """Half the citizens ask for the 20-minute service at 08:50, half for a 30-minute one at
    09:00 (its times: 08:00, 08:30, 09:00 …): different starts, overlapping times."""
    long_service = Service.objects.create(
        office_id=scene.office_id, name="Ausführliche Beratung", slot_minutes=30, buffer_minutes=0
    )
    (agent_id,) = scene.agent_ids
    return [
        scene.details_path(agent_id),
        scene.details_path(
            agent_id, service_id=long_service.pk, start=scene.start + dt.timedelta(minutes=10)
        ),
    ]


def _booked_spans(scene: Scene) -> list[tuple[dt.datetime, dt.datetime]]:
    return list(
        Appointment.objects.filter(agent_id__in=scene.agent_ids, status=AppointmentStatus.BOOKED)
        .order_by("starts_at")
        .values_list("starts_at", "ends_at")
    )


def _assert_in_flight_together(result: RaceResult) -> None:
    """Most requests were in flight at one moment (measured, not assumed)."""
    peak = peak_in_flight(result.spans)
    assert peak >= OVERLAPPING // 2, f"only {peak} of {OVERLAPPING} requests were in flight at once"


def test_citizens_racing_for_overlapping_times_of_different_lengths_book_the_staff_member_once(
    held_servers: list[int],
) -> None:
    scene = make_scene(agents=1)

    result = race(held_servers, _overlapping_paths(scene), OVERLAPPING)

    _assert_in_flight_together(result)
    booked = _booked_spans(scene)
    assert len(booked) == 1, booked
    assert result.tokens == [Appointment.objects.get().token]
    _assert_no_server_errors(result)
    assert result.kinds == {"booked": 1, "taken": OVERLAPPING - 1}


def test_control_without_the_lock_overlapping_times_are_booked_twice_or_fail(
    unlocked_servers: list[int],
) -> None:
    scene = make_scene(agents=1)

    result = race(unlocked_servers, _overlapping_paths(scene), OVERLAPPING)

    _assert_in_flight_together(result)
    booked = _booked_spans(scene)
    if connection.vendor == "sqlite":
        assert result.server_errors > 0, result.kinds  # "database is locked" instead of waiting
    else:
        assert len(booked) >= 2, (result.kinds, booked)
        assert booked[1][0] < booked[0][1], booked  # the staff member is booked twice at once

"""Waiting-room races that only the locks can win (``waiting/services.py``'s docstring says what
is locked and why).

- **The last places of a full office:** many citizens enter at once; the office's queue row,
  locked by every join, keeps the number waiting at the limit.
- **Agents calling next at once:** the compare-and-set on ``status = waiting`` alone makes sure
  no ticket is called twice, but an agent who loses it gets *nobody* although citizens are
  still waiting. The first ticket's row lock makes agents calling together take different
  citizens: whoever waited for it goes on to the next, and each agent gets one.
- **A heartbeat in flight** (a process writing "still here" for its sockets' tickets) neither
  hides the waiting citizens from a call nor changes who is first.
- **The last seat:** agents admitting different citizens at once in a “knock” office with one
  seat; the office's row, locked before the seats are counted, lets only one take it.
- **Two consoles of one agent** admitting two citizens at once: the agent's presence row, locked
  first, leaves them with one call, never two.

In-process threads released by a barrier, each with its own connection (PostgreSQL in the
scaled mode, SQLite in the embedded one), with the decisive moment held inside the transaction
(``tests.support.lock_race``: the ticket's write for joins; for calls, the moment right after the
seats were counted) so that the calls are measurably in flight together. Each race has a control
with the locks taken away (``lock_race.without_locks``: on PostgreSQL ``locked`` is the identity;
on SQLite the transactions are ``DEFERRED`` and the join's turn lock is off) that expects the
invariant to break: on PostgreSQL the limit, the seats or the one call per agent are exceeded,
or agents go empty-handed; on SQLite the second writer fails with “database is locked”. The same
calling through two server processes over HTTP is ``test_races.py``.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import threading
import time
from collections import Counter
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction

from buergerbuero.offices.models import AdmissionMode, Office
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import PresenceState, QueueState, Ticket, TicketStatus
from buergerbuero.waiting.services import calling, joining, periodic, seating, staffing
from buergerbuero.waiting.services.errors import QueueError
from tests import factories
from tests.support import lock_race
from tests.waiting.conftest import always_open_office, now

pytestmark = pytest.mark.django_db(transaction=True)

HOLD = 0.3  # seconds between deciding and writing


def _waiting(office: Office, count: int, first: int = 0) -> list[Ticket]:
    """``count`` citizens already waiting, in this order."""
    start = now() - dt.timedelta(minutes=5)
    tickets = []
    for number in range(first, first + count):
        arrived = start + dt.timedelta(milliseconds=number)
        tickets.append(
            Ticket.objects.create(
                office=office,
                token=secrets.token_urlsafe(32),
                display_name=f"Bürger:in {number}",
                arrived_at=arrived,
                queue_key=int(arrived.timestamp() * 1_000_000) * 1000,
                last_seen_at=now(),
            )
        )
    return tickets


def _outcome(run: lock_race.Run[Any]) -> str:
    if isinstance(run.error, QueueError):
        return run.error.code
    if run.error is not None:
        return f"{type(run.error).__name__}: {run.error}"
    return "nobody" if run.value is None else "ticket"


def _assert_sqlite_failed(runs: list[lock_race.Run[Any]]) -> None:
    """Without IMMEDIATE transactions SQLite lets the second writer fail instead of wait."""
    assert any(isinstance(run.error, OperationalError) for run in runs), [_outcome(run) for run in runs]


# --- the last places of a full office -------------------------------------------------------------
LIMIT = 5
FREE_PLACES = 2
ENTRANTS = 8


def _rush_for_the_last_places(*, deferred_sqlite: bool = False) -> tuple[Office, list[lock_race.Run[Ticket]]]:
    office = always_open_office(factories.make_org(), "buergerbuero", waiting_room_limit=LIMIT)
    _waiting(office, LIMIT - FREE_PLACES)
    QueueState.objects.create(office=office)  # as after the office's first change

    def enter(number: int) -> Ticket:
        return joining.join(office, service=None, display_name=f"Neu {number}", language="de", mode="video")

    calls = [functools.partial(enter, number) for number in range(ENTRANTS)]
    with lock_race.hold(Ticket, HOLD):
        return office, lock_race.at_once(calls, deferred_sqlite=deferred_sqlite)


def _number_waiting(office: Office) -> int:
    return Ticket.objects.filter(office=office, status=TicketStatus.WAITING).count()


def test_citizens_rushing_for_the_last_places_never_exceed_the_limit() -> None:
    office, runs = _rush_for_the_last_places()

    lock_race.assert_raced(runs)
    outcomes = Counter(_outcome(run) for run in runs)
    assert outcomes == {"ticket": FREE_PLACES, "full": ENTRANTS - FREE_PLACES}
    assert _number_waiting(office) == LIMIT


def test_control_citizens_rushing_without_the_lock_exceed_the_limit(monkeypatch: Any) -> None:
    lock_race.without_locks(monkeypatch)

    office, runs = _rush_for_the_last_places(deferred_sqlite=True)

    lock_race.assert_raced_control(runs)
    if connection.vendor == "sqlite":
        _assert_sqlite_failed(runs)
        assert _number_waiting(office) <= LIMIT
    else:
        assert _number_waiting(office) > LIMIT, Counter(_outcome(run) for run in runs)


# --- agents at once -------------------------------------------------------------------------------
AGENTS = 4


def _agents(office: Office, count: int) -> list[StaffMember]:
    members = []
    for number in range(count):
        user = factories.make_staff(office.organization, f"agent{number:02d}", offices=[office])
        member = StaffMember.objects.get(user=user)
        staffing.set_presence(member, PresenceState.AVAILABLE)
        members.append(member)
    return members


def _hold_after_counting_seats(monkeypatch: Any) -> None:
    """A call sleeps right after it counted the free seats, with its ticket chosen: the window
    between deciding and the compare-and-set."""
    lock_race.hold_after(monkeypatch, seating, "seat_free", HOLD)


def _agents_call_next(
    monkeypatch: Any, *, deferred_sqlite: bool = False
) -> list[lock_race.Run[Ticket | None]]:
    office = always_open_office(factories.make_org(), "buergerbuero", seats=AGENTS)
    members = _agents(office, AGENTS)
    _waiting(office, AGENTS + 2)
    _hold_after_counting_seats(monkeypatch)
    calls = [functools.partial(calling.call_next, member) for member in members]
    return lock_race.at_once(calls, deferred_sqlite=deferred_sqlite)


def test_agents_calling_next_at_once_each_get_a_different_citizen() -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        runs = _agents_call_next(monkeypatch)

    lock_race.assert_raced(runs)
    called = [run.value.pk for run in runs if run.value is not None]
    assert [_outcome(run) for run in runs] == ["ticket"] * AGENTS  # nobody empty-handed
    assert len(set(called)) == AGENTS
    assert Ticket.objects.filter(status=TicketStatus.CALLED).count() == AGENTS


def test_control_agents_calling_next_without_the_locks_go_empty_handed(monkeypatch: Any) -> None:
    lock_race.without_locks(monkeypatch)

    runs = _agents_call_next(monkeypatch, deferred_sqlite=True)

    lock_race.assert_raced_control(runs)
    if connection.vendor == "sqlite":
        _assert_sqlite_failed(runs)
    else:
        # Everyone chose the first citizen; the compare-and-set let one have them.
        assert Counter(_outcome(run) for run in runs) == {"ticket": 1, "nobody": AGENTS - 1}
        assert Ticket.objects.filter(status=TicketStatus.WAITING).count() == AGENTS + 1
    # Still never a citizen called twice.
    assert Ticket.objects.filter(status=TicketStatus.CALLED).count() <= AGENTS


def test_a_heartbeat_in_flight_neither_hides_nor_reorders_the_waiting() -> None:
    """``periodic.touch`` writes the waiting tickets' rows (for thousands of sockets, tens of
    milliseconds); a call at that moment waits for it and takes the first citizen. With
    ``SKIP LOCKED`` it skipped the touched rows: the second in line, or "nobody waits"."""
    office = always_open_office(factories.make_org(), "buergerbuero", seats=1)
    [member] = _agents(office, 1)
    first, second = _waiting(office, 2)
    touching = threading.Event()

    def heartbeat() -> None:
        try:
            with transaction.atomic():
                periodic.touch([first.pk, second.pk], [])
                touching.set()
                time.sleep(HOLD)
        finally:
            connection.close()

    thread = threading.Thread(target=heartbeat)
    thread.start()
    assert touching.wait(lock_race.TIMEOUT)
    started = time.monotonic()
    called = calling.call_next(member)
    waited = time.monotonic() - started
    thread.join()

    assert called is not None, "nobody called although two citizens wait"
    assert called.pk == first.pk
    assert waited > HOLD / 2  # it really met the heartbeat's write


def _admit_at_once(
    monkeypatch: Any, *, seats: int, agents: int, tickets: int, deferred_sqlite: bool = False
) -> tuple[list[StaffMember], list[lock_race.Run[Ticket]]]:
    """Each of ``tickets`` citizens is admitted by agent ``i % agents``, all at once."""
    office = always_open_office(
        factories.make_org(), "buergerbuero", seats=seats, admission_mode=AdmissionMode.KNOCK
    )
    members = _agents(office, agents)
    waiting = _waiting(office, tickets)
    _hold_after_counting_seats(monkeypatch)
    calls = [
        functools.partial(calling.call_ticket, members[number % agents], ticket.pk)
        for number, ticket in enumerate(waiting)
    ]
    return members, lock_race.at_once(calls, deferred_sqlite=deferred_sqlite)


def _active_calls() -> int:
    return Ticket.objects.filter(status__in=[TicketStatus.CALLED, TicketStatus.ADMITTED]).count()


def test_agents_admitting_at_once_take_the_last_seat_only_once() -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        _members, runs = _admit_at_once(monkeypatch, seats=1, agents=AGENTS, tickets=AGENTS)

    lock_race.assert_raced(runs)
    assert Counter(_outcome(run) for run in runs) == {"ticket": 1, "no_seat": AGENTS - 1}
    assert _active_calls() == 1


def test_control_agents_admitting_without_the_locks_take_more_seats_than_there_are(
    monkeypatch: Any,
) -> None:
    lock_race.without_locks(monkeypatch)

    _members, runs = _admit_at_once(monkeypatch, seats=1, agents=AGENTS, tickets=AGENTS, deferred_sqlite=True)

    lock_race.assert_raced_control(runs)
    if connection.vendor == "sqlite":
        _assert_sqlite_failed(runs)
        assert _active_calls() <= 1
    else:
        assert _active_calls() > 1, [_outcome(run) for run in runs]


def test_one_agents_two_consoles_admitting_at_once_get_one_call() -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        _members, runs = _admit_at_once(monkeypatch, seats=2, agents=1, tickets=2)

    lock_race.assert_raced(runs)
    assert sorted(_outcome(run) for run in runs) == ["busy", "ticket"]
    assert _active_calls() == 1


def test_control_one_agents_two_consoles_without_the_locks_get_two_calls(monkeypatch: Any) -> None:
    lock_race.without_locks(monkeypatch)

    _members, runs = _admit_at_once(monkeypatch, seats=2, agents=1, tickets=2, deferred_sqlite=True)

    lock_race.assert_raced_control(runs)
    if connection.vendor == "sqlite":
        _assert_sqlite_failed(runs)
        assert _active_calls() <= 1
    else:
        assert _active_calls() == 2, [_outcome(run) for run in runs]

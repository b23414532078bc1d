"""An event's last places, taken by many at once: the event's row, locked while a place is
counted and taken (``events.services._hold_places``), keeps viewers and registrations at the
capacity. As in ``tests/waiting/test_lock_races.py``: threads released together, each with its
own connection, the write held so that the calls are in flight together, and a control with the
locks taken away that expects the capacity to break (PostgreSQL) or the second writer to fail
with “database is locked” (SQLite without ``IMMEDIATE``)."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.db.models import Model

from buergerbuero.events import services
from buergerbuero.events.models import Attendee, Event, Registration
from buergerbuero.orgs.models import Organization
from tests.events.support import make_event
from tests.support import lock_race

pytestmark = pytest.mark.django_db(transaction=True)

HOLD = 0.3  # seconds between counting the places and taking one
CAPACITY = 3
TAKEN = 1  # places taken before the rush
ARRIVING = 6


def _outcome(run: lock_race.Run[Any]) -> str:
    if isinstance(run.error, services.EventError):
        return run.error.code
    if run.error is not None:
        return type(run.error).__name__
    return "place"


def _join(event: Event, number: int) -> Attendee:
    return services.join(event, display_name=f"Zuschauer:in {number}")


def _register(event: Event, number: int) -> Registration:
    return services.register(event, name=f"Bürger:in {number}", email=f"b{number}@example.org", language="de")


def _rush(
    org: Organization, model: type[Model], take: Callable[[Event, int], Any], *, deferred_sqlite: bool = False
) -> tuple[Event, list[lock_race.Run[Any]]]:
    event = make_event(org, capacity=CAPACITY)
    for number in range(TAKEN):
        take(event, -1 - number)
    calls = [functools.partial(take, event, number) for number in range(ARRIVING)]
    with lock_race.hold(model, HOLD):
        return event, lock_race.at_once(calls, deferred_sqlite=deferred_sqlite)


@pytest.mark.parametrize(("model", "take"), [(Attendee, _join), (Registration, _register)])
def test_many_taking_the_last_places_never_exceed_the_capacity(
    org: Organization, model: type[Model], take: Callable[[Event, int], Any]
) -> None:
    event, runs = _rush(org, model, take)

    lock_race.assert_raced(runs)
    assert Counter(_outcome(run) for run in runs) == {
        "place": CAPACITY - TAKEN,
        "full": ARRIVING - CAPACITY + TAKEN,
    }
    assert model._default_manager.filter(event=event).count() == CAPACITY


@pytest.mark.parametrize(("model", "take"), [(Attendee, _join), (Registration, _register)])
def test_control_without_the_lock_the_capacity_breaks(
    org: Organization, model: type[Model], take: Callable[[Event, int], Any], monkeypatch: Any
) -> None:
    lock_race.without_locks(monkeypatch)

    event, runs = _rush(org, model, take, deferred_sqlite=True)

    lock_race.assert_raced_control(runs)
    taken = model._default_manager.filter(event=event).count()
    if connection.vendor == "sqlite":
        assert any(isinstance(run.error, OperationalError) for run in runs), [_outcome(r) for r in runs]
        assert taken <= CAPACITY
    else:
        assert taken > CAPACITY, Counter(_outcome(run) for run in runs)

"""Races that only the locks can win, and the seams that take the locks away in tests.

The services state what they lock and why (``booking/services.py``: the staff member's row;
``waiting/services/``: the office's queue row, the agent's presence row, the first ticket in
line). A race proves a lock only if, without it, the invariant breaks: each race test
here has a control test that runs the same race with the locks disabled and expects the
invariant to break. Two things make that possible:

- **A hold inside the transaction** (``hold``): the racing requests sleep at the point where a
  service has decided (free slot, room for one more, this ticket, a free seat) and is about to
  write. With the locks, whoever comes second waits for the first's commit and decides again;
  without them, everyone decides on the same old state. Without the hold the window is a few
  milliseconds and a control would pass by luck of timing.
- **Disabling the locks** (``without_locks``), from the test only, never in production code:
  on PostgreSQL ``buergerbuero.lib.locking.locked`` becomes the identity in every module that
  imported it (plain ``SELECT`` instead of ``SELECT … FOR UPDATE``); on SQLite, where ``locked``
  already is the identity and the lock is the ``IMMEDIATE`` write transaction (plus the join's
  turn lock of the process, ``waiting.services._join_turn``), the racing threads' connections
  begin ``DEFERRED`` transactions and the turn lock becomes a no-op. In both, the join's
  ``sequence.lock_and_bump`` (which locks by writing first) becomes a plain read. SQLite still never
  writes on a stale snapshot: without ``IMMEDIATE`` the second writer fails with “database is
  locked” (a server error for a citizen) instead of waiting, which is what its controls expect.

``at_once`` runs the racing calls in threads released by a barrier, each with a connection of
its own, and records when each call started and ended, so that a test can assert that the calls
really were in flight at the same time (``all_in_flight_together``; ``one_in_flight_with_all``
where losers fail at once, ``peak_in_flight`` for many requests): a race
whose calls ran one after another proves nothing.

Server processes take the same seams from the environment through the test-only settings module
``tests.support.race_settings`` (``RACE_HOLD_SECONDS``, ``RACE_WITHOUT_LOCKS``).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connection
from django.db.models import Model
from django.db.models.signals import pre_save

from buergerbuero.lib import locking
from buergerbuero.offices.models import Office
from buergerbuero.waiting.models import QueueState
from buergerbuero.waiting.services import joining, sequence

TIMEOUT = 60.0  # all threads at the barrier within this time (two shared cores)
Result = TypeVar("Result")


@dataclass
class Run(Generic[Result]):
    """One racing call: what it returned (or raised) and when it ran (monotonic seconds)."""

    index: int
    started: float = 0.0
    finished: float = 0.0
    value: Result | None = None
    error: BaseException | None = None


def at_once(calls: Sequence[Callable[[], Result]], *, deferred_sqlite: bool = False) -> list[Run[Result]]:
    """Run ``calls`` in threads released together; each thread uses (and closes) its own
    database connection. ``deferred_sqlite``: on SQLite, those connections begin ``DEFERRED``
    transactions (the lock taken away, see the module docstring)."""
    release = threading.Barrier(len(calls))
    runs: list[Run[Result]] = [Run(index) for index in range(len(calls))]

    def run(index: int) -> None:
        record = runs[index]
        try:
            if deferred_sqlite and connection.vendor == "sqlite":
                connection.ensure_connection()  # reads the settings' mode; overridden below
                connection.transaction_mode = "DEFERRED"  # type: ignore[attr-defined]
            release.wait(TIMEOUT)
            record.started = time.monotonic()
            try:
                record.value = calls[index]()
            except Exception as error:  # the test judges every outcome
                record.error = error
            record.finished = time.monotonic()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    assert not any(thread.is_alive() for thread in threads), "a racing call did not finish"
    return runs


def all_in_flight_together(intervals: Iterable[tuple[float, float]]) -> bool:
    """Whether one moment lies within every interval: the last start precedes the first end."""
    spans = list(intervals)
    return bool(spans) and max(start for start, _end in spans) < min(end for _start, end in spans)


def one_in_flight_with_all(intervals: Iterable[tuple[float, float]]) -> bool:
    """Whether one interval overlaps every other: what a race whose losers fail at once (instead of
    waiting) leaves, when the winner was held in flight while all of them ran."""
    spans = list(intervals)
    return any(all(max(start, begin) < min(end, finish) for begin, finish in spans) for start, end in spans)


def peak_in_flight(intervals: Iterable[tuple[float, float]]) -> int:
    """The most intervals that overlap one moment."""
    events = sorted(
        [(start, 1) for start, _end in intervals] + [(end, -1) for _start, end in intervals],
        key=lambda event: (event[0], event[1]),  # an end before a start at the same instant
    )
    peak = current = 0
    for _moment, change in events:
        current += change
        peak = max(peak, current)
    return peak


def spans(runs: Iterable[Run[Any]]) -> list[tuple[float, float]]:
    return [(run.started, run.finished) for run in runs]


@contextlib.contextmanager
def hold(model: type[Model], seconds: float) -> Iterator[None]:
    """Every save of a ``model`` row sleeps ``seconds`` first: inside the service's transaction,
    after it decided and before it writes."""

    def sleep(**_kwargs: Any) -> None:
        time.sleep(seconds)

    uid = f"lock-race-hold-{id(sleep)}"
    pre_save.connect(sleep, sender=model, weak=False, dispatch_uid=uid)
    try:
        yield
    finally:
        pre_save.disconnect(sender=model, dispatch_uid=uid)


def unlocked(queryset: Any, *, skip_locked: bool = False) -> Any:
    """``locked`` without the lock: the queryset unchanged."""
    return queryset


def modules_using_locked() -> list[str]:
    """The product's modules that imported ``locking.locked`` by name."""
    return [
        name
        for name, module in list(sys.modules.items())
        if name.startswith("buergerbuero.") and getattr(module, "locked", None) is locking.locked
    ]


def without_locks(monkeypatch: Any) -> None:
    """Take the locks away for the rest of the test (see the module docstring); the threads of
    ``at_once`` must be started with ``deferred_sqlite=True`` for SQLite's part."""
    patched = modules_using_locked()
    assert patched, "no module uses locking.locked: the seam no longer reaches the locks"
    for name in patched:
        monkeypatch.setattr(sys.modules[name], "locked", unlocked)
    monkeypatch.setattr(joining, "_join_turn", lambda _office_id: contextlib.nullcontext())
    monkeypatch.setattr(sequence, "lock_and_bump", _bump_without_lock)


def _bump_without_lock(office: Office) -> tuple[int, int]:
    """``sequence.lock_and_bump`` (a locking ``UPDATE``) without the lock: the row read plainly
    and its next number taken, nothing written."""
    state_id, seq = QueueState.objects.filter(office=office).values_list("pk", "seq").get()
    return state_id, seq + 1


def hold_after(monkeypatch: Any, module: Any, name: str, seconds: float) -> None:
    """``module.name`` sleeps ``seconds`` after it returned (still inside the caller's transaction)."""
    original: Callable[..., Any] = getattr(module, name)

    def then_held(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        time.sleep(seconds)
        return result

    monkeypatch.setattr(module, name, then_held)


def assert_raced(runs: list[Run[Any]]) -> None:
    """Every call was in flight at one moment (the first write was held while all had begun)."""
    assert all_in_flight_together(spans(runs)), spans(runs)


def assert_raced_control(runs: list[Run[Any]]) -> None:
    """As ``assert_raced``; on SQLite without IMMEDIATE the losers fail at once, so only the held
    winner is in flight with each of them."""
    if connection.vendor != "sqlite":
        assert_raced(runs)
    assert one_in_flight_with_all(spans(runs)), spans(runs)

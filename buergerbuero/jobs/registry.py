"""Periodic background jobs and the loops that run them.

The embedded mode runs the loops in threads of the web process (`manage.py serve`); the
scaled mode runs them in their own process (`manage.py worker`).

Jobs run in two lanes, each a thread of its own, so that they cannot starve each other:

- ``timers``: the queue's timers (unanswered calls every 2 s, lost tickets, absent agents),
  reminders to write, pruning — database work only, quick;
- ``network``: sending the outbox (SMTP, the SMS gateway). A mail host that does not answer
  costs this lane its timeouts, never the queue's timers.

Each lane writes a heartbeat row (``jobs.Heartbeat``) at least every ``BEAT_EVERY`` seconds —
also between two messages of a long outbox run — with how late its jobs started (the lag);
``/readyz`` fails when a lane's heartbeat is older than ``JOBS_HEARTBEAT_MAX_AGE``.

Stopping (SIGTERM, Ctrl-C): each lane finishes the job or the message it is at and stops
before the next one; a message is never abandoned mid-send by a clean stop. A worker killed
mid-send leaves its claim, which runs out (``notify.services.CLAIM``), and the message is
sent again: at least once, never lost (the e-mail keeps its Message-ID, so a repeat is
recognisable as the same message).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.sessions.models import Session
from django.db import close_old_connections
from django.utils import timezone

from buergerbuero.audit import services as audit
from buergerbuero.booking import messages as appointment_messages
from buergerbuero.booking import services as booking
from buergerbuero.consult import services as consult
from buergerbuero.events import messages as event_messages
from buergerbuero.events import services as events
from buergerbuero.jobs.models import Heartbeat
from buergerbuero.limits import services as limits
from buergerbuero.notify import services as notify
from buergerbuero.stats import services as stats
from buergerbuero.waiting import presence_history
from buergerbuero.waiting.services import periodic, staffing

logger = logging.getLogger(__name__)
TIMERS = "timers"
NETWORK = "network"
LANES = (TIMERS, NETWORK)
BEAT_EVERY = 5.0


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: dt.timedelta
    run: Callable[[], object]
    lane: str = TIMERS


def prune_sessions() -> int:
    """Staff sessions past their expiry are personal data we no longer need."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


class Lane:
    """The running state of one lane: when to stop, when it last beat, how late it runs."""

    def __init__(self, name: str, stop: threading.Event, *, beats: bool = True) -> None:
        self.name = name
        self.stop = stop
        self.beats = beats
        self.beaten_at = 0.0
        self.lag = 0.0

    def beat(self, force: bool = False) -> None:
        if not self.beats or (not force and time.monotonic() - self.beaten_at < BEAT_EVERY):
            return
        try:
            Heartbeat.objects.update_or_create(
                lane=self.name, defaults={"beat_at": timezone.now(), "lag_seconds": round(self.lag, 3)}
            )
        except Exception:
            logger.warning("could not write the %s lane's heartbeat", self.name, exc_info=True)
            return
        self.beaten_at = time.monotonic()
        self.lag = 0.0

    def keep_going(self) -> bool:
        """Between two pieces of a long job: beat, and tell whether to go on."""
        self.beat()
        return not self.stop.is_set()


_current = threading.local()


def keep_going() -> bool:
    """For long jobs, between two pieces of work (e.g. two messages of the outbox)."""
    lane: Lane | None = getattr(_current, "lane", None)
    return lane.keep_going() if lane is not None else True


def deliver_notifications() -> int:
    return notify.deliver_due(keep_going=keep_going)


JOBS: list[PeriodicJob] = [
    PeriodicJob("prune_sessions", dt.timedelta(hours=1), prune_sessions),
    # Statistics first: the prune jobs delete a day's data only once its figures exist.
    PeriodicJob("aggregate_statistics", dt.timedelta(hours=1), stats.aggregate_pending),
    PeriodicJob(
        "prune_consultations", dt.timedelta(hours=1), stats.after_aggregation(consult.prune_consultations)
    ),
    PeriodicJob(
        "prune_appointments", dt.timedelta(hours=1), stats.after_aggregation(booking.prune_appointments)
    ),
    PeriodicJob(
        "prune_presence_history", dt.timedelta(hours=1), stats.after_aggregation(presence_history.prune)
    ),
    PeriodicJob("prune_events", dt.timedelta(hours=1), events.prune_events),
    PeriodicJob("prune_rate_limits", dt.timedelta(hours=1), limits.prune),
    PeriodicJob("prune_audit", dt.timedelta(hours=1), audit.prune_audit),
    PeriodicJob("enqueue_reminders", dt.timedelta(minutes=1), appointment_messages.enqueue_reminders),
    PeriodicJob("enqueue_event_reminders", dt.timedelta(minutes=1), event_messages.enqueue_reminders),
    PeriodicJob("deliver_notifications", dt.timedelta(seconds=5), deliver_notifications, NETWORK),
    PeriodicJob("expire_unanswered_calls", dt.timedelta(seconds=2), periodic.expire_unanswered_calls),
    PeriodicJob("expire_lost_tickets", dt.timedelta(seconds=15), periodic.expire_lost_tickets),
    PeriodicJob("mark_absent_agents_offline", dt.timedelta(seconds=10), staffing.mark_absent_agents_offline),
]


def run_jobs(
    stop: threading.Event, jobs: list[PeriodicJob] | None = None, tick: float = 1.0, lane: str = TIMERS
) -> None:
    """Run each job when it is due until ``stop`` is set; a failing job is logged, not fatal.
    Without ``jobs``: the registry's jobs of ``lane``, with the lane's heartbeat."""
    beats = jobs is None
    jobs = [job for job in JOBS if job.lane == lane] if jobs is None else jobs
    state = Lane(lane, stop, beats=beats)
    _current.lane = state
    due = {job.name: time.monotonic() for job in jobs}
    try:
        while not stop.is_set():
            for job in jobs:
                started = time.monotonic()
                if started < due[job.name] or stop.is_set():
                    continue
                state.lag = max(state.lag, started - due[job.name])
                try:
                    result = job.run()
                    logger.debug("job %s done: %s", job.name, result)
                except Exception:
                    logger.exception("job %s failed; will try again at its next turn", job.name)
                finally:
                    close_old_connections()
                due[job.name] = time.monotonic() + job.every.total_seconds()
            state.beat()
            stop.wait(tick)
    finally:
        _current.lane = None
        close_old_connections()


def start_lanes(stop: threading.Event) -> list[threading.Thread]:
    """One thread per lane, all stopping when ``stop`` is set (join them to wait)."""
    threads = [
        threading.Thread(
            target=run_jobs, args=(stop,), kwargs={"lane": lane}, name=f"jobs-{lane}", daemon=True
        )
        for lane in LANES
    ]
    for thread in threads:
        thread.start()
    return threads


def join_lanes(threads: list[threading.Thread], timeout: float) -> None:
    """Wait for the lanes to stop (a send in progress may take its timeout to finish)."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            logger.warning("the %s thread did not stop in time", thread.name)

"""Periodic background jobs and the loop that runs them.

The embedded mode runs the loop in a thread of the web process (`manage.py serve`); the
scaled mode runs it in its own process (`manage.py worker`).
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
from buergerbuero.booking import services as booking
from buergerbuero.consult import services as consult
from buergerbuero.limits import services as limits
from buergerbuero.notify import services as notify
from buergerbuero.waiting import services as waiting

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: dt.timedelta
    run: Callable[[], object]


def prune_sessions() -> int:
    """Staff sessions past their expiry are personal data we no longer need."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


JOBS: list[PeriodicJob] = [
    PeriodicJob("prune_sessions", dt.timedelta(hours=1), prune_sessions),
    PeriodicJob("prune_consultations", dt.timedelta(hours=1), consult.prune_consultations),
    PeriodicJob("prune_appointments", dt.timedelta(hours=1), booking.prune_appointments),
    PeriodicJob("prune_rate_limits", dt.timedelta(hours=1), limits.prune),
    PeriodicJob("prune_audit", dt.timedelta(hours=1), audit.prune_audit),
    PeriodicJob("enqueue_reminders", dt.timedelta(minutes=1), notify.enqueue_reminders),
    PeriodicJob("deliver_notifications", dt.timedelta(seconds=5), notify.deliver_due),
    PeriodicJob("expire_unanswered_calls", dt.timedelta(seconds=2), waiting.expire_unanswered_calls),
    PeriodicJob("expire_lost_tickets", dt.timedelta(seconds=15), waiting.expire_lost_tickets),
    PeriodicJob("mark_absent_agents_offline", dt.timedelta(seconds=10), waiting.mark_absent_agents_offline),
]


def run_jobs(stop: threading.Event, jobs: list[PeriodicJob] | None = None, tick: float = 1.0) -> None:
    """Run each job when it is due until ``stop`` is set; a failing job is logged, not fatal."""
    jobs = JOBS if jobs is None else jobs
    due = {job.name: time.monotonic() for job in jobs}
    while not stop.is_set():
        for job in jobs:
            if time.monotonic() < due[job.name]:
                continue
            try:
                result = job.run()
                logger.debug("job %s done: %s", job.name, result)
            except Exception:
                logger.exception("job %s failed; will try again at its next turn", job.name)
            finally:
                close_old_connections()
            due[job.name] = time.monotonic() + job.every.total_seconds()
        stop.wait(tick)

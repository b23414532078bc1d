from __future__ import annotations

import datetime as dt
import threading

from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from buergerbuero.jobs.registry import PeriodicJob, prune_sessions, run_jobs


def test_prune_sessions_deletes_only_expired_ones(db: None) -> None:
    # Server processes of browser tests may have left sessions of their own: count ours only.
    keys = []
    for expiry in (-60, 3600):
        store = SessionStore()
        store["staff"] = "x"
        store.set_expiry(expiry)
        store.create()
        Session.objects.filter(session_key=store.session_key).update(
            expire_date=timezone.now() + dt.timedelta(seconds=expiry)
        )
        keys.append(store.session_key)
    Session.objects.exclude(session_key__in=keys).delete()

    assert prune_sessions() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [keys[1]]


def test_a_failing_job_does_not_stop_the_others(db: None) -> None:
    stop = threading.Event()
    ran: list[str] = []

    def broken() -> None:
        ran.append("broken")
        raise RuntimeError("mail server down")

    def healthy() -> None:
        ran.append("healthy")
        if ran.count("healthy") == 2:
            stop.set()

    jobs = [
        PeriodicJob("broken", dt.timedelta(seconds=0), broken),
        PeriodicJob("healthy", dt.timedelta(seconds=0), healthy),
    ]
    thread = threading.Thread(target=run_jobs, args=(stop, jobs), kwargs={"tick": 0.01})
    thread.start()
    thread.join(timeout=5)

    assert not thread.is_alive()
    assert ran.count("broken") >= 1
    assert ran.count("healthy") == 2

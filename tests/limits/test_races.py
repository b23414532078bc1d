"""Concurrent hits never let more through than the limit: many threads, each with a database
connection of its own, hit one counter at the same instant (SQLite in the embedded run,
PostgreSQL in the scaled one).

A read-then-write counter loses updates here (two threads read 7 and both write 8): the
total falls short of the hits made and more than ``LIMIT`` are allowed.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from buergerbuero.limits import services as limits
from buergerbuero.limits.models import Counter

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 8
HITS_PER_THREAD = 25
LIMIT = 60
NOW = dt.datetime(2026, 12, 1, 10, 30, tzinfo=dt.UTC)  # one window for the whole race


def test_concurrent_hits_never_exceed_the_limit() -> None:
    release = threading.Barrier(THREADS)

    def hammer(_number: int) -> int:
        try:
            release.wait(30)
            return sum(
                limits.hit("race", "one client", LIMIT, limits.HOUR, NOW).allowed
                for _ in range(HITS_PER_THREAD)
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        allowed = sum(pool.map(hammer, range(THREADS)))

    assert Counter.objects.get().count == THREADS * HITS_PER_THREAD  # no hit lost
    assert allowed == LIMIT

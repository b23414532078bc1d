"""The database-backed fixed-window counters of ``buergerbuero.limits``."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import RequestFactory

from buergerbuero.jobs.registry import JOBS
from buergerbuero.limits import services as limits
from buergerbuero.limits.models import Counter

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 12, 1, 10, 0, 5, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _no_counters_of_other_tests() -> None:
    """Server processes of other tests commit their own counters into the shared test
    database; these tests count rows (undone with the test's transaction)."""
    Counter.objects.all().delete()


def test_hits_are_allowed_up_to_the_limit_and_refused_beyond() -> None:
    verdicts = [limits.hit("test", "10.0.0.1", 3, limits.HOUR, NOW) for _ in range(5)]

    assert [verdict.allowed for verdict in verdicts] == [True, True, True, False, False]
    assert [verdict.count for verdict in verdicts] == [1, 2, 3, 4, 5]
    assert [verdict.first_refusal for verdict in verdicts] == [False, False, False, True, False]
    assert verdicts[-1].resets_at == dt.datetime(2026, 12, 1, 11, 0, tzinfo=dt.UTC)


def test_the_next_window_starts_afresh_and_other_subjects_and_scopes_are_apart() -> None:
    for _ in range(3):
        limits.hit("test", "10.0.0.1", 3, limits.HOUR, NOW)

    assert not limits.hit("test", "10.0.0.1", 3, limits.HOUR, NOW).allowed
    assert limits.hit("test", "10.0.0.2", 3, limits.HOUR, NOW).allowed
    assert limits.hit("other", "10.0.0.1", 3, limits.HOUR, NOW).allowed
    assert limits.hit("test", "10.0.0.1", 3, limits.HOUR, NOW + dt.timedelta(hours=1)).allowed


def test_subjects_are_stored_only_as_a_keyed_hash() -> None:
    limits.hit("booking-email", "erika@example.org", 3, limits.DAY, NOW)

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM limits_counter")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert "erika" not in stored
    assert limits.subject_key("booking-email", "erika@example.org") in stored


def test_peek_does_not_count() -> None:
    limits.hit("test", "x", 2, limits.HOUR, NOW)

    assert limits.peek("test", "x", 2, limits.HOUR, NOW).allowed
    assert limits.peek("test", "x", 2, limits.HOUR, NOW).count == 1
    assert limits.hit("test", "x", 2, limits.HOUR, NOW).allowed
    assert not limits.peek("test", "x", 2, limits.HOUR, NOW).allowed


def test_give_back_undoes_an_allowed_hit_only() -> None:
    first = limits.hit("test", "x", 1, limits.HOUR, NOW)
    limits.give_back(first)
    second = limits.hit("test", "x", 1, limits.HOUR, NOW)
    refused = limits.hit("test", "x", 1, limits.HOUR, NOW)
    limits.give_back(refused)

    assert (first.allowed, second.allowed, refused.allowed) == (True, True, False)
    assert Counter.objects.get().count == 2


def test_pruning_deletes_windows_that_are_over_and_is_a_job() -> None:
    limits.hit("test", "old", 1, limits.HOUR, NOW - dt.timedelta(hours=2))
    limits.hit("test", "current", 1, limits.HOUR, NOW)

    assert limits.prune(NOW) == 1
    assert Counter.objects.count() == 1
    assert "prune_rate_limits" in {job.name for job in JOBS}


def test_reset_forgets_a_subject() -> None:
    limits.hit("test", "x", 1, limits.HOUR, NOW)
    limits.reset("test", "x")

    assert limits.hit("test", "x", 1, limits.HOUR, NOW).allowed


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("", "unknown"),
    ],
)
def test_the_client_address_groups_an_ipv6_network(remote: str, expected: str) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR=remote)

    assert limits.client_address(request) == expected

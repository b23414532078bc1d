"""Unit tests of the wait estimate (plain Python, no database)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from django.utils import translation

from buergerbuero.waiting.estimate import (
    PRIOR_WEIGHT,
    EstimateInputs,
    Handling,
    Wait,
    busy_seat,
    elapsed_seconds,
    estimate_seconds,
    naive_estimate_seconds,
    office_inputs,
    service_handling,
    shown_range,
    wait_at,
    wait_text,
)

MINUTE = 60.0
PASSPORT, PICKUP = 1, 2


def inputs(
    queue: Sequence[tuple[int | None, int | None]],
    *,
    idle: int = 0,
    busy: Sequence[tuple[float | None, int | None, int | None]] = (),
    paused: Sequence[float] = (),
    history: Sequence[tuple[int | None, float]] = (),
    seats: int = 4,
) -> EstimateInputs:
    return office_inputs(queue=queue, busy=busy, idle=idle, paused=paused, history=history, seats=seats)


def test_known_from_the_first_citizen_by_the_services_configured_durations() -> None:
    """A new office has no finished consultation, yet every service has a configured duration."""
    estimate = inputs([(PASSPORT, 20)] * 3, busy=[(5 * MINUTE, PASSPORT, 20)])
    assert estimate.known
    first, second, fourth = wait_at(1, estimate), wait_at(2, estimate), wait_at(4, estimate)
    assert first is not None
    assert second is not None
    assert fourth is not None
    assert 5 * MINUTE < first.median < 20 * MINUTE  # the rest of the running consultation
    assert first.median + 15 * MINUTE < second.median < first.median + 25 * MINUTE
    assert fourth.median > second.median  # position 4 is the citizen arriving now
    assert estimate.as_json() is not None


def test_not_known_while_nobody_is_staffed() -> None:
    estimate = inputs([(PASSPORT, 20)] * 2)
    assert not estimate.known
    assert estimate.as_json() is None
    assert wait_at(1, estimate) is None
    assert estimate_seconds(1, estimate) is None
    assert wait_text(None)  # "not yet known", in the active language


def test_an_idle_agent_calls_position_one_now() -> None:
    estimate = inputs([(PASSPORT, 20)], idle=1)
    assert wait_at(1, estimate) == Wait(0.0, 0.0, 0.0)
    assert shown_range(0.0, 0.0) == (0, 1)


def test_the_prior_gives_way_to_measured_handling_times() -> None:
    assert service_handling(20 * MINUTE, []).mean == 20 * MINUTE
    few = service_handling(20 * MINUTE, [10 * MINUTE] * 4)
    many = service_handling(20 * MINUTE, [10 * MINUTE] * 100)
    assert few.mean == pytest.approx(15 * MINUTE)  # the prior counts as PRIOR_WEIGHT = 4
    assert PRIOR_WEIGHT == 4
    assert many.mean < 10.5 * MINUTE
    # No configured duration (no service chosen): a default, replaced by measurement just as well.
    assert service_handling(None, [7 * MINUTE] * 100).mean < 7.5 * MINUTE


def test_measured_handling_times_count_per_service() -> None:
    history = [(PASSPORT, 30 * MINUTE)] * 30 + [(PICKUP, 3 * MINUTE)] * 30
    behind_passports = inputs([(PASSPORT, 20)] * 3, idle=1, history=history, seats=1)
    behind_pickups = inputs([(PICKUP, 5)] * 3, idle=1, history=history, seats=1)
    slow, quick = estimate_seconds(4, behind_passports), estimate_seconds(4, behind_pickups)
    assert slow is not None
    assert quick is not None
    assert 75 * MINUTE < slow < 95 * MINUTE
    assert 7 * MINUTE < quick < 11 * MINUTE


def test_the_range_is_as_wide_as_the_measured_spread() -> None:
    steady = [(PASSPORT, m * MINUTE) for m in (9, 10, 11) * 20]
    erratic = [(PASSPORT, m * MINUTE) for m in (2, 10, 18) * 20]
    narrow = wait_at(4, inputs([(PASSPORT, 10)] * 3, idle=1, history=steady, seats=1))
    wide = wait_at(4, inputs([(PASSPORT, 10)] * 3, idle=1, history=erratic, seats=1))
    assert narrow is not None
    assert wide is not None
    assert narrow.low < narrow.median < narrow.high
    assert narrow.median == pytest.approx(wide.median, rel=0.15)
    assert (wide.high - wide.low) > 1.5 * (narrow.high - narrow.low)


def test_an_overrunning_consultation_still_ends() -> None:
    h = Handling(10 * MINUTE, (6 * MINUTE) ** 2)
    assert busy_seat(h, 0.0).mean == pytest.approx(10 * MINUTE)
    assert busy_seat(h, 5 * MINUTE).mean < 10 * MINUTE
    overrun = busy_seat(h, 40 * MINUTE)
    assert overrun.mean > 2 * MINUTE  # a long case: still some time to go
    assert busy_seat(h, 10_000 * MINUTE).mean > 0


def test_seats_about_to_start_on_pause_and_beyond_the_office_seats() -> None:
    # A called citizen who has not answered yet: that seat is busy for a whole consultation.
    called = inputs([(PASSPORT, 20)], busy=[(None, None, None)])
    assert called.known
    assert len(inputs([], paused=[3 * MINUTE]).seats) == 1  # an agent on pause comes back
    assert len(inputs([], idle=3, seats=2).seats) == 2


def test_positions_beyond_the_list_continue_it() -> None:
    estimate = inputs([(PASSPORT, 20)] * 2, idle=2)
    last, beyond = wait_at(3, estimate), wait_at(5, estimate)
    assert last is not None
    assert beyond is not None
    assert beyond.median == pytest.approx(last.median + 2 * estimate.step_seconds)
    assert estimate.step_seconds == round(estimate.newcomer.mean / 2)
    assert wait_at(0, estimate) is None


@pytest.mark.parametrize(
    ("low", "high", "shown"),
    [
        (0, 20, (0, 1)),
        (140, 290, (2, 5)),
        (10 * MINUTE, 19 * MINUTE, (10, 20)),
        (10.5 * MINUTE, 11 * MINUTE, (5, 10)),  # both round to 10: never a range of nothing
        (55 * MINUTE, 95 * MINUTE, (55, 100)),
    ],
)
def test_shown_range_in_minutes_as_people_say_them(low: float, high: float, shown: tuple[int, int]) -> None:
    assert shown_range(low, high) == shown


def test_wait_text_is_a_range_with_plural_forms() -> None:
    with translation.override("en"):
        assert wait_text(Wait(10 * MINUTE, 14 * MINUTE, 19 * MINUTE)) == "about 10–20 minutes"
        assert wait_text(Wait(0, 0, 20)) == "up to 1 minute"
        assert wait_text(None) == "not yet known"
    with translation.override("de"):
        assert wait_text(Wait(10 * MINUTE, 14 * MINUTE, 19 * MINUTE)) == "etwa 10–20 Minuten"
        assert wait_text(Wait(0, 0, 20)) == "bis zu 1 Minute"


def test_naive_estimate() -> None:
    assert naive_estimate_seconds(6, 600.0, 3) == 1200.0
    assert naive_estimate_seconds(1, 600.0, 1) == 600.0
    assert naive_estimate_seconds(2, 600.0, 0) == 1200.0  # no agent: counted as one


def test_elapsed_never_negative() -> None:
    now = dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC)
    assert elapsed_seconds(now + dt.timedelta(seconds=5), now) == 0.0
    assert elapsed_seconds(now - dt.timedelta(seconds=5), now) == 5.0

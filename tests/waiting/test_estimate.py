"""Unit tests of the wait estimate (plain Python, no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from buergerbuero.waiting.estimate import (
    MIN_RESIDUAL_SHARE,
    MIN_SAMPLES,
    EstimateInputs,
    elapsed_seconds,
    estimate_seconds,
    naive_estimate_seconds,
    rounded_minutes,
    seat_free_in,
    typical_handling_seconds,
)

MINUTE = 60.0


def test_not_yet_known_below_min_samples() -> None:
    assert typical_handling_seconds([600.0] * (MIN_SAMPLES - 1)) is None
    assert typical_handling_seconds([600.0] * MIN_SAMPLES) == 600.0
    inputs = EstimateInputs(None, seat_free_in(None, [], 2))
    assert not inputs.known
    assert inputs.as_json() is None
    assert estimate_seconds(1, inputs) is None


def test_no_staffed_seat_is_not_known() -> None:
    inputs = EstimateInputs(600.0, seat_free_in(600.0, [], 0))
    assert not inputs.known
    assert estimate_seconds(1, inputs) is None


def test_typical_handling_is_robust_to_one_outlier() -> None:
    usual = [540.0, 570.0, 600.0, 630.0, 660.0]
    assert typical_handling_seconds([*usual, 2 * 3600.0]) == pytest.approx(615.0)
    for n in (5, 12, 40):
        durations = [600.0] * (n - 1) + [2 * 3600.0]
        assert typical_handling_seconds(durations) == pytest.approx(600.0)


def test_window_keeps_only_recent_consultations() -> None:
    durations = [3600.0] * 100 + [600.0] * 40
    assert typical_handling_seconds(durations) == pytest.approx(600.0)


def test_idle_seat_gives_zero_for_position_one() -> None:
    seats = seat_free_in(600.0, [120.0], idle_seats=1)
    assert seats == (0.0, 480.0)
    assert estimate_seconds(1, EstimateInputs(600.0, seats)) == 0.0


def test_rounds_formula_for_position_after_all_seats() -> None:
    seats = (0.0, 120.0, 300.0)
    inputs = EstimateInputs(600.0, seats)
    assert [estimate_seconds(p, inputs) for p in (1, 2, 3)] == [0.0, 120.0, 300.0]
    assert estimate_seconds(4, inputs) == 0.0 + 600.0  # c + 1: the first seat's second round
    assert estimate_seconds(5, inputs) == 120.0 + 600.0
    assert estimate_seconds(7, inputs) == 0.0 + 2 * 600.0
    assert estimate_seconds(0, inputs) is None


def test_busy_seat_residual_has_a_floor() -> None:
    handling = 600.0
    seats = seat_free_in(handling, [100.0, 590.0, 3 * 3600.0], idle_seats=0)
    floor = handling * MIN_RESIDUAL_SHARE
    assert seats == (floor, floor, 500.0)
    assert 0 < floor < handling


def test_naive_formula() -> None:
    assert naive_estimate_seconds(6, 600.0, 3) == 1200.0
    assert naive_estimate_seconds(1, 600.0, 1) == 600.0
    assert naive_estimate_seconds(2, 600.0, 0) == 1200.0  # no agent: counted as one


def test_rounded_minutes_never_zero() -> None:
    assert rounded_minutes(0.0) == 1
    assert rounded_minutes(89.0) == 1
    assert rounded_minutes(91.0) == 2
    assert rounded_minutes(14.6 * MINUTE) == 15


def test_elapsed_seconds_not_negative() -> None:
    start = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)
    assert elapsed_seconds(start, start + dt.timedelta(minutes=5)) == 300.0
    assert elapsed_seconds(start, start - dt.timedelta(seconds=3)) == 0.0


def test_as_json_rounds_seconds() -> None:
    inputs = EstimateInputs(600.4, (0.0, 123.6))
    assert inputs.as_json() == {"handling_s": 600, "free_in_s": [0, 124]}

"""The wait estimate: when will the citizen at a given position be called?

Inputs, all measured: the typical handling time of the office (a rolling window of recent
consultations) and, for every staffed seat, when it is expected to be free — now for an idle
agent, the remaining part of the typical handling time for one in a consultation (at least a
little: overrunning consultations do end). Agents on pause are not counted.

With every seat freeing up within one handling time, the seats are taken in rounds, so the
citizen at position ``p`` (1 = next) is called when seat ``(p-1) % c`` frees up for the
``(p-1) // c``-th time. The waiting-room page repeats this formula in JavaScript
(``static/waiting/waiting-room.js``, ``estimateSeconds``) so that one broadcast serves every
position; keep the two in step.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# Below this many finished consultations in the window we say "not yet known".
MIN_SAMPLES = 5
WINDOW_SIZE = 40
# Share of the window dropped at each end before averaging (at least one case each side).
TRIM_SHARE = 0.1
# A running consultation is assumed to need at least this share of a handling time more: one
# that has already overrun the typical time tends to be a long case (for gamma-, lognormal- and
# mixed-service handling times its median remaining time is 0.25–0.9 handling times).
MIN_RESIDUAL_SHARE = 0.3


@dataclass(frozen=True)
class EstimateInputs:
    handling_seconds: float | None
    seat_free_in: tuple[float, ...]  # seconds from now, sorted; one per staffed seat

    @property
    def known(self) -> bool:
        return self.handling_seconds is not None and bool(self.seat_free_in)

    def as_json(self) -> dict[str, object] | None:
        if not self.known:
            return None
        return {
            "handling_s": round(self.handling_seconds or 0),
            "free_in_s": [round(s) for s in self.seat_free_in],
        }


def typical_handling_seconds(durations: Sequence[float]) -> float | None:
    """A robust centre of the recent handling times: the trimmed mean (the shortest and longest
    10 %, at least one each, dropped), so one two-hour case does not make everyone's estimate
    jump. Not the median: handling times are skewed to the right, and the rounds of the estimate
    add up handling times, whose sum grows with the mean; the median made long waits too short."""
    recent = sorted(list(durations)[-WINDOW_SIZE:])
    if len(recent) < MIN_SAMPLES:
        return None
    trim = max(1, round(len(recent) * TRIM_SHARE))
    return statistics.fmean(recent[trim:-trim])


def seat_free_in(
    handling_seconds: float | None, busy_elapsed: Sequence[float], idle_seats: int
) -> tuple[float, ...]:
    """Seconds until each staffed seat is free: idle seats now, busy ones after the rest of
    a typical consultation."""
    if handling_seconds is None:
        return ()
    floor = handling_seconds * MIN_RESIDUAL_SHARE
    busy = [max(handling_seconds - elapsed, floor) for elapsed in busy_elapsed]
    return tuple(sorted([0.0] * idle_seats + busy))


def estimate_seconds(position: int, inputs: EstimateInputs) -> float | None:
    """Expected seconds until the citizen at ``position`` (1-based) is called."""
    handling = inputs.handling_seconds
    if handling is None or not inputs.seat_free_in or position < 1:
        return None
    rounds, seat = divmod(position - 1, len(inputs.seat_free_in))
    return inputs.seat_free_in[seat] + rounds * handling


def naive_estimate_seconds(position: int, average_seconds: float, agents: int) -> float:
    """The textbook estimate we must beat: position × average handling time ÷ agents."""
    return position * average_seconds / max(agents, 1)


def rounded_minutes(seconds: float) -> int:
    """What we tell citizens: whole minutes, never “0 minutes” while still waiting."""
    return max(1, round(seconds / 60))


def elapsed_seconds(since: dt.datetime, now: dt.datetime) -> float:
    return max(0.0, (now - since).total_seconds())

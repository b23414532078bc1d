"""The wait estimate: when will the citizen at a given position be called — as a range.

The rule, in three steps, all from what the office knows at this moment:

1. **Handling time per service** (``service_handling``): the service's configured duration
   (its appointment length) is a prior worth ``PRIOR_WEIGHT`` consultations; measured handling
   times of the service's recent consultations move the mean and the spread away from it as they
   accumulate (a Bayesian-style blend by count). So the estimate is known from the first citizen
   and becomes the office's own with experience.
2. **When each staffed seat is free** (``busy_seat``, ``paused_seat``): now for an idle agent;
   for one in a consultation, the rest of that service's handling time given how long it has
   lasted (a lognormal model: a consultation that has overrun tends to be a long one); for one
   on pause, the rest of a typical pause.
3. **The people ahead** (``wait_ranges``): they take the seats in order, each the seat that is
   expected free first, with their own service's handling time (list scheduling of means). The
   citizen's call time then has a mean and a variance (the spreads of the work before it, shared
   by the seats); a lognormal with these moments gives the median we state and the range
   (``RANGE_Z`` standard deviations either side, widened by ``MODEL_ERROR`` for what the office
   cannot know; about 80–85 % of actual waits fall inside).

The server computes the waits of every position once per change (``wait_ranges``) and sends
them; the pages only pick their position and word it (``static/waiting/estimate.js`` mirrors
``shown_range`` and ``wait_text``; tests/waiting/test_estimate_js.py holds the two equal).
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext, ngettext

# Recent consultations per service that count, out of the office's last HISTORY_ROWS.
WINDOW_SIZE = 100
HISTORY_ROWS = 400
# The configured duration counts as this many consultations (the prior's weight).
PRIOR_WEIGHT = 4.0
# Without measurements we assume this spread (coefficient of variation) of handling times.
PRIOR_CV = 0.6
# Without a configured duration (citizens who picked no service): this.
DEFAULT_HANDLING_SECONDS = 15 * 60.0
# An agent on pause is expected back after the rest of a typical pause, at least a little later.
PAUSE_TYPICAL_SECONDS = 20 * 60.0
PAUSE_MIN_REST_SECONDS = 5 * 60.0
# The range: this many (log-)standard deviations either side of the median.
RANGE_Z = 1.42
# What the model cannot know (future pauses, the means' own error): this share of the wait.
MODEL_ERROR = 0.15
# The spread of a seat's call time is shared with the other seats (their work is pooled).
SEAT_SHARE_EXPONENT = 1.0


@dataclass(frozen=True)
class Handling:
    """The handling time of one service (or a seat's remaining time): mean and variance, s."""

    mean: float
    var: float


@dataclass(frozen=True)
class Wait:
    """Seconds until the call: the range shown and its middle."""

    low: float
    median: float
    high: float

    def as_json(self) -> list[int]:
        return [round(self.low), round(self.median), round(self.high)]


# Positions whose wait range goes out with every queue message (see EstimateInputs.as_json);
# far beyond any office's usual waiting-room limit.
WAITS_SENT = 100


@dataclass(frozen=True)
class EstimateInputs:
    """What the estimate needs: one entry per staffed seat (when it is free) and one per
    waiting citizen in queue order (their service's handling time)."""

    seats: tuple[Handling, ...]
    queue: tuple[Handling, ...]
    # For someone not yet in the queue (the directory's “wait if you come now”).
    newcomer: Handling = Handling(DEFAULT_HANDLING_SECONDS, (PRIOR_CV * DEFAULT_HANDLING_SECONDS) ** 2)

    @property
    def known(self) -> bool:
        return bool(self.seats)

    @property
    def step_seconds(self) -> int:
        """Each position beyond the list waits this much longer (whole seconds, as sent)."""
        return round(self.newcomer.mean / max(len(self.seats), 1))

    def waits(self) -> list[Wait]:
        """The wait of every position, 1 … len(queue) + 1 (the last: someone arriving now)."""
        return wait_ranges(self.seats, self.queue)

    def as_json(self) -> dict[str, object] | None:
        """What the pages get: ``waits[p - 1]`` = [low, median, high] seconds for position p;
        ``step_s`` continues the list for positions beyond it (one more handling time shared
        by the seats). The list stops after ``WAITS_SENT`` positions: every waiting citizen
        gets this message on every change, and a list as long as the queue made it O(N) bytes
        to N sockets (220 KB per message in a queue of 10,000). A position's wait depends only
        on the people ahead, so the positions sent are exact."""
        if not self.known:
            return None
        return {
            "waits": [wait.as_json() for wait in wait_ranges(self.seats, self.queue[:WAITS_SENT])],
            "step_s": self.step_seconds,
        }


def service_handling(configured_seconds: float | None, measured: Sequence[float]) -> Handling:
    """The blend of the configured duration (worth ``PRIOR_WEIGHT`` consultations, spread
    ``PRIOR_CV``) with the service's last ``WINDOW_SIZE`` measured handling times."""
    prior = configured_seconds if configured_seconds and configured_seconds > 0 else DEFAULT_HANDLING_SECONDS
    recent = list(measured)[-WINDOW_SIZE:]
    n = len(recent)
    weight = PRIOR_WEIGHT + n
    mean = (PRIOR_WEIGHT * prior + sum(recent)) / weight
    # Second moments blend the same way: the prior's, then each measurement's.
    prior_second = prior**2 * (1 + PRIOR_CV**2)
    second = (PRIOR_WEIGHT * prior_second + sum(x * x for x in recent)) / weight
    return Handling(mean, max(second - mean * mean, 0.0))


def _lognormal(h: Handling) -> tuple[float, float]:
    """(mu, sigma) of the lognormal with this mean and variance."""
    sigma2 = math.log1p(h.var / (h.mean * h.mean))
    return math.log(h.mean) - sigma2 / 2, math.sqrt(sigma2)


def _upper(x: float) -> float:
    """P(Z > x) for a standard normal Z."""
    return 0.5 * math.erfc(x / math.sqrt(2))


def busy_seat(h: Handling, elapsed: float) -> Handling:
    """When a seat in a consultation of handling time ``h`` that has lasted ``elapsed`` seconds
    is free: the rest of a lognormal handling time given that it is longer than ``elapsed``."""
    if h.mean <= 0:
        return Handling(0.0, 0.0)
    if elapsed <= 0 or h.var <= 0:
        return Handling(max(h.mean - max(elapsed, 0.0), 0.0), h.var)
    mu, sigma = _lognormal(h)
    d = (mu - math.log(elapsed)) / sigma
    survive = _upper(-d)  # P(X > elapsed)
    if survive < 1e-12:  # far beyond anything the model expects: assume a long case
        rest = h.mean * 0.5
        return Handling(rest, rest * rest)
    first = h.mean * _upper(-(d + sigma)) / survive  # E[X | X > elapsed]
    second = math.exp(2 * mu + 2 * sigma * sigma) * _upper(-(d + 2 * sigma)) / survive
    return Handling(max(first - elapsed, 0.0), max(second - first * first, 0.0))


def paused_seat(elapsed: float) -> Handling:
    """A seat whose agent has been on pause ``elapsed`` seconds: free after the rest of a
    typical pause (at least ``PAUSE_MIN_REST_SECONDS``)."""
    rest = max(PAUSE_TYPICAL_SECONDS - elapsed, PAUSE_MIN_REST_SECONDS)
    return Handling(rest, (0.5 * rest) ** 2)


def _shown(mean: float, var: float) -> Wait:
    """The median and range of a lognormal with this mean and variance."""
    if mean <= 0:
        return Wait(0.0, 0.0, 0.0)
    sigma = math.sqrt(math.log1p(var / (mean * mean)))
    median = mean * math.exp(-sigma * sigma / 2)
    return Wait(median * math.exp(-RANGE_Z * sigma), median, median * math.exp(RANGE_Z * sigma))


def _cdf(h: Handling, t: float) -> float:
    """P(free by ``t``) for a seat whose free time has these moments (lognormal; 0 = now)."""
    if h.mean <= 0 or (t >= h.mean and h.var <= 0):
        return 1.0
    if h.var <= 0:
        return 0.0
    mu, sigma = _lognormal(h)
    return 1 - _upper((math.log(t) - mu) / sigma)


def _first_free(seats: Sequence[Handling]) -> list[float]:
    """When the k-th of the seats (sorted by mean) is typically free: the time by which
    k - 1/2 seats are expected free. Earlier than the k-th smallest mean: whichever seat
    happens to finish first takes the next citizen."""
    firsts = []
    for k in range(1, len(seats) + 1):
        target = k - 0.5
        low, high = 0.0, max(s.mean + 4 * math.sqrt(s.var) for s in seats) + 1.0
        if sum(_cdf(s, 1e-9) for s in seats) >= target:
            firsts.append(0.0)
            continue
        for _ in range(30):
            mid = (low + high) / 2
            if sum(_cdf(s, mid) for s in seats) >= target:
                high = mid
            else:
                low = mid
        firsts.append(min(high, seats[k - 1].mean))
    return firsts


def wait_ranges(seats: Sequence[Handling], queue: Sequence[Handling]) -> list[Wait]:
    """The wait of positions 1 … len(queue) + 1. The people ahead take the seats in order, each
    the one expected free first; the variance of a seat's free time is shared by the ``c``
    seats (the call goes to whichever seat is free first, so spreads average out)."""
    if not seats:
        return []
    c = len(seats)
    share = c**SEAT_SHARE_EXPONENT
    ordered = sorted(seats, key=lambda s: s.mean)
    firsts = _first_free(ordered)
    heap = [(first, s.var, i) for i, (first, s) in enumerate(zip(firsts, ordered, strict=True))]
    heapq.heapify(heap)
    waits = []
    for person in [*queue, None]:
        mean, var, index = heap[0]
        waits.append(_shown(mean, var / share + (MODEL_ERROR * mean) ** 2))
        if person is not None:
            heapq.heapreplace(heap, (mean + person.mean, var + person.var, index))
    return waits


def wait_at(position: int, inputs: EstimateInputs, waits: Sequence[Wait] | None = None) -> Wait | None:
    """The wait of the citizen at ``position`` (1-based); None if nobody is staffed."""
    if not inputs.known or position < 1:
        return None
    waits = inputs.waits() if waits is None else waits
    if position <= len(waits):
        return waits[position - 1]
    extra = (position - len(waits)) * inputs.step_seconds
    last = waits[-1]
    return Wait(last.low + extra, last.median + extra, last.high + extra)


def estimate_seconds(position: int, inputs: EstimateInputs) -> float | None:
    """The middle of the wait of the citizen at ``position``, seconds (None if not known)."""
    wait = wait_at(position, inputs)
    return wait.median if wait is not None else None


# --- what citizens are told (mirrored in static/waiting/estimate.js) ---------------------------
def _nice(minutes: float) -> int:
    """Whole minutes below 10, then steps of 5, above an hour steps of 10 (as people say them)."""
    step = 1 if minutes < 10 else 5 if minutes < 60 else 10
    return int(math.floor(minutes / step + 0.5) * step)


def shown_range(low_s: float, high_s: float) -> tuple[int, int]:
    """The range in minutes as shown: rounded as people say them; never “0–0”."""
    low, high = _nice(low_s / 60), _nice(high_s / 60)
    high = max(high, 1)
    if low >= high:
        low = max(0, high - (1 if high < 10 else 5))
    return low, high


ServiceKey = int | None  # a service's id; None for citizens who chose none


def office_inputs(
    *,
    queue: Sequence[tuple[ServiceKey, int | None]],
    busy: Sequence[tuple[float | None, ServiceKey, int | None]],
    idle: int,
    paused: Sequence[float],
    history: Sequence[tuple[ServiceKey, float]],
    seats: int,
) -> EstimateInputs:
    """The estimate's inputs from an office's rows: ``queue`` = (service, configured minutes)
    of each waiting citizen in order; ``busy`` = (seconds the consultation has lasted, or None
    for a call not yet answered; service; configured minutes) per busy agent; ``paused`` =
    seconds each agent on pause has been away; ``history`` = (service, handling seconds) of
    finished consultations, newest first. At most ``seats`` seats count (those free first)."""
    configured: dict[ServiceKey, float | None] = {}
    for service, minutes in [*queue, *((s, m) for _, s, m in busy)]:
        configured[service] = minutes * 60.0 if minutes else None
    measured: dict[ServiceKey, list[float]] = {}
    for service, seconds in reversed(history):
        measured.setdefault(service, []).append(seconds)
    handling = {s: service_handling(c, measured.get(s, ())) for s, c in configured.items()}
    newcomer = service_handling(None, [seconds for _, seconds in reversed(history)])
    free: list[Handling] = [Handling(0.0, 0.0)] * idle
    for elapsed, service, _ in busy:
        h = handling[service]
        free.append(Handling(h.mean, h.var) if elapsed is None else busy_seat(h, elapsed))
    free += [paused_seat(elapsed) for elapsed in paused]
    free = sorted(free, key=lambda h: h.mean)[: max(seats, 0)]
    return EstimateInputs(tuple(free), tuple(handling[s] for s, _ in queue), newcomer)


def wait_text(wait: Wait | None) -> str:
    """The wait in words, e.g. “about 10–20 minutes”, in the active language."""
    if wait is None:
        return gettext("not yet known")
    low, high = shown_range(wait.low, wait.high)
    if low == 0:
        return ngettext("up to %(high)s minute", "up to %(high)s minutes", high) % {"high": high}
    return ngettext("about %(low)s–%(high)s minute", "about %(low)s–%(high)s minutes", high) % {
        "low": low,
        "high": high,
    }


def naive_estimate_seconds(position: int, average_seconds: float, agents: int) -> float:
    """The textbook estimate we must beat: position × average handling time ÷ agents."""
    return position * average_seconds / max(agents, 1)


def elapsed_seconds(since: dt.datetime, now: dt.datetime) -> float:
    return max(0.0, (now - since).total_seconds())

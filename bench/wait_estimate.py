"""Benchmark of the waiting-room estimate against the naive “position × average ÷ agents” and
against an oracle, the best any estimator can do with what the office knows.

Replays simulated office days (a small discrete-event simulation): citizens arrive as a Poisson
process whose rate changes hour by hour, each with a service; agents call the next citizen in
arrival order as soon as they are free, go on pause and come back. Whenever a citizen arrives —
and every few minutes for everybody waiting — we record the estimate that citizen would be
shown, ours (``buergerbuero.waiting.estimate``) and the naive one, both from the information
the office has at that moment: the services' configured durations, the handling times of
finished consultations (ours: the last ones per service, kept from earlier days like the
database does, except in the “new office” scenario; naive: the last 40 of the day after a warm
start of 10 from the previous day, as before), the agents staffed, on pause (since when) and
how long the running consultations have lasted. Later the citizen is called and we know the
actual wait.

The oracle: for a random subsample of the recorded moments (``--oracle-moments`` per scenario),
the median of ``--futures`` simulated futures from the true state — the services of the people
ahead, how long each running consultation (of which service) has lasted, who is on pause since
when — with handling and pause times drawn from the scenario's true distributions (conditioned
on what has already elapsed). Future pauses and shift ends are not known to the office and so
not to the oracle either. ``ratio_to_oracle`` is our MAE over the oracle's on that subsample.

Our estimate is a range; MAE scores its middle (the median), ``range_coverage`` the share of
actual waits inside the range as shown (rounded minutes), ``range_median_width_minutes`` its
median width as shown.

Output: one line per scenario, then a JSON object as the last line. Deterministic for a seed.

    cd /work/main && .venv/bin/python bench/wait_estimate.py [--days N] [--seed S] [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the project importable (not only this folder)
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import bisect
import heapq
import math
import random
import statistics
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.support import cli
from bench.support.report import emit, say
from buergerbuero.waiting.estimate import (
    HISTORY_ROWS,
    EstimateInputs,
    Wait,
    naive_estimate_seconds,
    office_inputs,
    shown_range,
)

MINUTE = 60.0
HOUR = 3600.0
DAY_HOURS = 8  # the office is open 8 hours; citizens who arrived before closing are still served
WARM_START = 10  # handling times carried over from the previous day (the naive estimate)
NAIVE_WINDOW = 40  # the naive estimate averages the last this many handling times of the office
SAMPLE_EVERY = 5 * MINUTE  # sampled moments: every waiting citizen is asked again
POOL = 20_000  # pre-drawn handling times per service for the oracle's futures

Draw = Callable[[random.Random], float]  # one handling time in seconds


# --- handling-time distributions ---------------------------------------------------------------


def gamma(mean_minutes: float, shape: float) -> Draw:
    return lambda rng: rng.gammavariate(shape, mean_minutes * MINUTE / shape)


def lognormal(median_minutes: float, sigma: float) -> Draw:
    mu = math.log(median_minutes * MINUTE)
    return lambda rng: rng.lognormvariate(mu, sigma)


# --- scenarios ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentPlan:
    """Absences as (start hour, minutes); a pause due during a consultation starts when it ends.
    ``leaves_at`` ends the agent's shift (hours after opening)."""

    pauses: tuple[tuple[float, float], ...] = ()
    leaves_at: float | None = None
    random_pauses: int = 0  # additionally this many pauses of 15–30 min at random times


RANDOM_PAUSE_MINUTES = (15.0, 30.0)


@dataclass(frozen=True)
class ServiceSpec:
    """A service: its share of arrivals, its true handling times and its configured duration
    (the appointment length staff entered, usually a little generous)."""

    share: float
    handling: Draw
    configured_minutes: int


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    agents: tuple[AgentPlan, ...]
    arrivals_per_hour: tuple[float, ...]  # one rate per opening hour
    services: tuple[ServiceSpec, ...]
    new_office: bool = False  # every day is an office's first: no history at all


def one(handling: Draw, configured: int) -> tuple[ServiceSpec, ...]:
    return (ServiceSpec(1.0, handling, configured),)


SCENARIOS = (
    Scenario(
        "quiet",
        "small office, 2 agents until noon then 1 (lunch closes the counter 30 min)",
        agents=(AgentPlan(pauses=((4.25, 30),)), AgentPlan(leaves_at=4.0)),
        arrivals_per_hour=(6, 7, 6, 5, 3, 4, 4, 3),
        services=one(gamma(12, 3), 15),
    ),
    Scenario(
        "rush",
        "registration office, 4 agents, morning rush",
        agents=(AgentPlan(), AgentPlan(), AgentPlan(pauses=((4.0, 30),)), AgentPlan(pauses=((4.5, 30),))),
        arrivals_per_hour=(42, 38, 30, 22, 16, 20, 15, 10),
        services=one(gamma(8, 4), 10),
    ),
    Scenario(
        "pauses",
        "3 agents, each on pause 1–2 times for 15–30 min",
        agents=(AgentPlan(random_pauses=2), AgentPlan(random_pauses=1), AgentPlan(random_pauses=2)),
        arrivals_per_hour=(16, 18, 15, 14, 12, 15, 13, 10),
        services=one(gamma(10, 3), 10),
    ),
    Scenario(
        "heavy_tail",
        "3 agents, lognormal handling (median 7 min, σ 0.9)",
        agents=(AgentPlan(), AgentPlan(pauses=((4.0, 30),)), AgentPlan(pauses=((4.5, 30),))),
        arrivals_per_hour=(14, 18, 16, 14, 12, 15, 13, 10),
        services=one(lognormal(7, 0.9), 10),
    ),
    Scenario(
        "service_mix",
        "3 agents; 35 % pick-ups (4 min), 45 % applications (12 min), 20 % registrations (30 min)",
        agents=(AgentPlan(), AgentPlan(pauses=((4.0, 20),)), AgentPlan(pauses=((4.5, 20),))),
        arrivals_per_hour=(12, 16, 14, 12, 10, 12, 11, 8),
        services=(
            ServiceSpec(0.35, gamma(4, 4), 5),
            ServiceSpec(0.45, gamma(12, 4), 15),
            ServiceSpec(0.20, gamma(30, 3), 30),
        ),
    ),
    Scenario(
        "new_office",
        "first day of a new office (no history): 2 agents, passports (15 min) and ID cards (8 min)",
        agents=(AgentPlan(pauses=((4.0, 30),)), AgentPlan(pauses=((4.5, 30),))),
        arrivals_per_hour=(10, 12, 10, 9, 7, 9, 8, 6),
        services=(ServiceSpec(0.4, gamma(15, 3), 20), ServiceSpec(0.6, gamma(8, 3), 10)),
        new_office=True,
    ),
    Scenario(
        "services_differ",
        "3 agents; 50 % pick-ups (3 min), 35 % applications (15 min), 15 % naturalisation (60 min)",
        agents=(AgentPlan(), AgentPlan(pauses=((4.0, 30),)), AgentPlan(pauses=((4.5, 30),))),
        arrivals_per_hour=(12, 14, 12, 10, 9, 11, 10, 8),
        services=(
            ServiceSpec(0.50, gamma(3, 4), 5),
            ServiceSpec(0.35, gamma(15, 4), 15),
            ServiceSpec(0.15, gamma(60, 4), 60),
        ),
    ),
)


# --- the simulation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pause:
    start: float
    duration: float
    random: bool  # drawn from RANDOM_PAUSE_MINUTES (else a planned, fixed length)


@dataclass
class Agent:
    pauses: list[Pause]
    leaves_at: float | None
    busy_since: float | None = None
    serving: int = 0  # the service of the running consultation
    on_pause: Pause | None = None
    pause_since: float = 0.0
    gone: bool = False
    pending_pause: Pause | None = None  # a pause due once the consultation ends

    @property
    def staffed(self) -> bool:
        return not (self.on_pause or self.gone)


@dataclass(frozen=True)
class State:
    """What the office knows at a moment (and the oracle starts from)."""

    queue: tuple[int, ...]  # services of the waiting citizens in order
    busy: tuple[tuple[float, int], ...]  # (elapsed, service) of running consultations
    paused: tuple[tuple[float, bool, float], ...]  # (elapsed, random length?, planned length)
    idle: int


@dataclass
class Sample:
    citizen: int
    at: float
    ours: Wait | None
    naive: float | None
    on_arrival: bool
    state: State
    position: int


@dataclass
class DayResult:
    samples: list[Sample]
    called_at: dict[int, float]
    arrived_at: dict[int, float]
    finished: list[float] = field(default_factory=list)  # in order, for the naive estimate


def arrival_times(rng: random.Random, rates: Sequence[float]) -> list[float]:
    """Poisson arrivals with a piecewise constant rate (per opening hour)."""
    times: list[float] = []
    for hour, rate in enumerate(rates):
        t, end = hour * HOUR, (hour + 1) * HOUR
        while rate > 0:
            t += rng.expovariate(rate / HOUR)
            if t >= end:
                break
            times.append(t)
    return times


def make_agents(rng: random.Random, plans: Sequence[AgentPlan]) -> list[Agent]:
    agents = []
    for plan in plans:
        pauses = [Pause(h * HOUR, m * MINUTE, False) for h, m in plan.pauses]
        for _ in range(plan.random_pauses):
            start = rng.uniform(0.75, DAY_HOURS - 1) * HOUR
            pauses.append(Pause(start, rng.uniform(*RANDOM_PAUSE_MINUTES) * MINUTE, True))
        leaves_at = plan.leaves_at * HOUR if plan.leaves_at is not None else None
        agents.append(Agent(sorted(pauses, key=lambda p: p.start), leaves_at))
    return agents


def our_inputs(
    scenario: Scenario,
    history: Sequence[tuple[int, float]],
    agents: Sequence[Agent],
    queue: Sequence[int],
    now: float,
) -> EstimateInputs:
    """The estimate's inputs as the product builds them from its rows (waiting.services.live_figures)."""
    minutes = [spec.configured_minutes for spec in scenario.services]
    present = [a for a in agents if not a.gone]
    return office_inputs(
        queue=[(s, minutes[s]) for s in queue],
        busy=[
            (now - a.busy_since, a.serving, minutes[a.serving])
            for a in present
            if a.on_pause is None and a.busy_since is not None
        ],
        idle=sum(1 for a in present if a.on_pause is None and a.busy_since is None),
        paused=[now - a.pause_since for a in present if a.on_pause is not None],
        history=history[::-1],
        seats=len(present),
    )


def simulate_day(
    scenario: Scenario, rng: random.Random, warm: Sequence[float], history: list[tuple[int, float]]
) -> DayResult:
    """One day; ``history`` ((service, seconds) as the office's database holds them, oldest
    first) grows in place."""
    agents = make_agents(rng, scenario.agents)
    arrivals = arrival_times(rng, scenario.arrivals_per_hour)
    shares = [s.share for s in scenario.services]
    service_of = [rng.choices(range(len(shares)), shares)[0] for _ in arrivals]
    handling = [scenario.services[s].handling(rng) for s in service_of]
    result = DayResult(samples=[], called_at={}, arrived_at={})
    queue: deque[int] = deque()

    events: list[tuple[float, int, str, int]] = []  # (time, order, kind, citizen or agent)
    order = 0

    def schedule(time: float, kind: str, who: int) -> None:
        nonlocal order
        heapq.heappush(events, (time, order, kind, who))
        order += 1

    for citizen, t in enumerate(arrivals):
        schedule(t, "arrive", citizen)
    for index, agent in enumerate(agents):
        for pause in agent.pauses:
            schedule(pause.start, "pause", index)
        if agent.leaves_at is not None:
            schedule(agent.leaves_at, "leave", index)
    for k in range(1, int(DAY_HOURS * HOUR / SAMPLE_EVERY)):
        schedule(k * SAMPLE_EVERY, "sample", 0)

    def record(now: float, citizens: Sequence[tuple[int, int]], on_arrival: bool) -> None:
        """The estimates the citizens (id, position) are shown now, ours and the naive one."""
        waits = our_inputs(scenario, history, agents, [service_of[c] for c in queue], now).waits()
        window = [*warm, *result.finished][-NAIVE_WINDOW:]
        staffed = sum(1 for a in agents if a.staffed)
        state = State(
            queue=tuple(service_of[c] for c in queue),
            busy=tuple(
                (now - a.busy_since, a.serving) for a in agents if a.staffed and a.busy_since is not None
            ),
            paused=tuple(
                (now - a.pause_since, a.on_pause.random, a.on_pause.duration)
                for a in agents
                if a.on_pause is not None and not a.gone
            ),
            idle=sum(1 for a in agents if a.staffed and a.busy_since is None),
        )
        for citizen, position in citizens:
            naive = None
            if window and staffed:
                naive = naive_estimate_seconds(position, statistics.fmean(window), staffed)
            ours = waits[position - 1] if waits else None
            result.samples.append(Sample(citizen, now, ours, naive, on_arrival, state, position))

    def start_pause(agent: Agent, index: int, pause: Pause, now: float) -> None:
        agent.on_pause, agent.pause_since = pause, now
        schedule(now + pause.duration, "back", index)

    def call_next(now: float) -> None:
        for index, agent in enumerate(agents):
            if not queue:
                return
            if agent.staffed and agent.busy_since is None:
                citizen = queue.popleft()
                result.called_at[citizen] = now
                agent.busy_since, agent.serving = now, service_of[citizen]
                schedule(now + handling[citizen], "finish", index)

    while events:
        now, _, kind, who = heapq.heappop(events)
        if kind == "arrive":
            result.arrived_at[who] = now
            queue.append(who)
            record(now, [(who, len(queue))], on_arrival=True)
        elif kind == "sample":
            record(now, [(c, p) for p, c in enumerate(queue, start=1)], on_arrival=False)
        elif kind == "finish":
            agent = agents[who]
            assert agent.busy_since is not None  # noqa: S101
            result.finished.append(now - agent.busy_since)
            history.append((agent.serving, now - agent.busy_since))
            del history[:-HISTORY_ROWS]
            agent.busy_since = None
            if agent.pending_pause is not None:
                start_pause(agent, who, agent.pending_pause, now)
                agent.pending_pause = None
            elif agent.leaves_at is not None and now >= agent.leaves_at:
                agent.gone = True
        elif kind == "pause":
            agent = agents[who]
            pause = next(p for p in agent.pauses if p.start == now)
            if agent.busy_since is None and agent.on_pause is None:
                start_pause(agent, who, pause, now)
            else:  # finish the consultation (or the current pause) first
                agent.pending_pause = pause
        elif kind == "back":
            agent = agents[who]
            agent.on_pause = None
            if agent.pending_pause is not None:  # two pauses overlapped: take the second one now
                start_pause(agent, who, agent.pending_pause, now)
                agent.pending_pause = None
        elif kind == "leave":
            agent = agents[who]
            if agent.busy_since is None:
                agent.gone = True
        call_next(now)
    return result


# --- the oracle --------------------------------------------------------------------------------


class Oracle:
    """Medians of simulated futures from a true state, with the scenario's true distributions."""

    def __init__(self, scenario: Scenario, rng: random.Random, futures: int) -> None:
        self.rng = rng
        self.futures = futures
        self.pools = [sorted(s.handling(rng) for _ in range(POOL)) for s in scenario.services]

    def _rest_of(self, service: int, elapsed: float) -> float:
        """A handling time of ``service`` given that it is longer than ``elapsed``: its rest."""
        pool = self.pools[service]
        first = bisect.bisect_right(pool, elapsed)
        if first >= len(pool):  # beyond every pooled draw: the longest one's tail
            return max(pool[-1] - elapsed, 0.0) + MINUTE
        return pool[self.rng.randrange(first, len(pool))] - elapsed

    def _pause_rest(self, elapsed: float, random_length: bool, planned: float) -> float:
        if not random_length:
            return max(planned - elapsed, 0.0)
        low, high = (m * MINUTE for m in RANDOM_PAUSE_MINUTES)
        low = max(low, elapsed)
        return self.rng.uniform(low, high) - elapsed if low < high else 0.0

    def medians(self, state: State, positions: Sequence[int]) -> dict[int, float]:
        """The median call time of each position (1-based) over the futures."""
        if not (state.idle or state.busy or state.paused):
            return {}
        last = max(positions)
        wanted = set(positions)
        calls: dict[int, list[float]] = {p: [] for p in wanted}
        random_ = self.rng.random
        ahead = state.queue[: last - 1]
        pools = self.pools
        sizes = [len(p) for p in pools]
        for _ in range(self.futures):
            seats = [0.0] * state.idle
            seats += [self._rest_of(s, e) for e, s in state.busy]
            seats += [self._pause_rest(e, r, d) for e, r, d in state.paused]
            heapq.heapify(seats)
            for position in range(1, last + 1):
                if position in wanted:
                    calls[position].append(seats[0])
                if position < last:
                    s = ahead[position - 1]
                    heapq.heapreplace(seats, seats[0] + pools[s][int(random_() * sizes[s])])
        return {p: statistics.median(c) for p, c in calls.items()}


# --- scoring -----------------------------------------------------------------------------------


@dataclass
class Score:
    samples: int = 0
    skipped: int = 0  # one of the two estimates was “not yet known”
    ours_unknown: int = 0
    error_ours: float = 0.0
    error_naive: float = 0.0
    arrivals: int = 0
    arrival_error_ours: float = 0.0
    arrival_error_naive: float = 0.0
    covered: int = 0  # actual wait inside our range as shown
    widths: list[float] = field(default_factory=list)  # shown width, minutes
    oracle_moments: int = 0
    oracle_error: float = 0.0
    oracle_error_ours: float = 0.0

    def add(self, sample: Sample, actual: float) -> None:
        self.samples += 1
        if sample.ours is None:
            self.ours_unknown += 1
        else:
            low, high = shown_range(sample.ours.low, sample.ours.high)
            self.covered += low * MINUTE <= actual <= high * MINUTE
            self.widths.append(high - low)
        if sample.ours is None or sample.naive is None:
            self.skipped += 1
            return
        ours, naive = abs(sample.ours.median - actual), abs(sample.naive - actual)
        self.error_ours += ours
        self.error_naive += naive
        if sample.on_arrival:
            self.arrivals += 1
            self.arrival_error_ours += ours
            self.arrival_error_naive += naive

    def merge(self, other: Score) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def compared(self) -> int:
        return self.samples - self.skipped

    @property
    def known(self) -> int:
        return self.samples - self.ours_unknown

    @property
    def known_share(self) -> float:
        return self.known / self.samples if self.samples else 0.0

    @property
    def coverage(self) -> float:
        return self.covered / self.known if self.known else 0.0

    @property
    def median_width(self) -> float:
        return statistics.median(self.widths) if self.widths else 0.0

    def _versus(self, ours: float, reference: float, moments: int) -> Versus:
        return Versus(ours / max(moments, 1) / MINUTE, reference / max(moments, 1) / MINUTE)

    @property
    def naive(self) -> Versus:
        """Where both ours and the naive estimate are known."""
        return self._versus(self.error_ours, self.error_naive, self.compared)

    @property
    def arrival(self) -> Versus:
        """Against the naive estimate at arrival, the wait a citizen is told first."""
        return self._versus(self.arrival_error_ours, self.arrival_error_naive, self.arrivals)

    @property
    def oracle(self) -> Versus:
        """Against the oracle, on its subsample."""
        return self._versus(self.oracle_error_ours, self.oracle_error, self.oracle_moments)


@dataclass(frozen=True)
class Versus:
    """Mean absolute errors in minutes: ours and a reference's, on the same moments."""

    ours: float
    reference: float

    @property
    def ratio(self) -> float:
        return self.ours / self.reference if self.reference else float("inf")


def run_scenario(scenario: Scenario, days: int, seed: int, moments: int, futures: int) -> tuple[Score, float]:
    """Returns the score and the mean actual wait (minutes) of all arrivals."""
    score = Score()
    rng = random.Random(f"{seed}/{scenario.name}/previous day")  # noqa: S311 — a simulation
    shares = [s.share for s in scenario.services]
    previous = [rng.choices(range(len(shares)), shares)[0] for _ in range(WARM_START)]
    warm = [scenario.services[s].handling(rng) for s in previous]
    history: list[tuple[int, float]] = [] if scenario.new_office else list(zip(previous, warm, strict=True))
    # The oracle's subsample: a reservoir over all known samples of all days.
    pick = random.Random(f"{seed}/{scenario.name}/oracle")  # noqa: S311
    reservoir: list[tuple[Sample, float]] = []
    seen = 0
    waits: list[float] = []
    for day in range(days):
        rng = random.Random(f"{seed}/{scenario.name}/{day}")  # noqa: S311
        if scenario.new_office:
            history, warm = [], []
        result = simulate_day(scenario, rng, warm, history)
        for sample in result.samples:
            actual = result.called_at[sample.citizen] - sample.at
            score.add(sample, actual)
            if sample.ours is None:
                continue
            seen += 1
            if len(reservoir) < moments:
                reservoir.append((sample, actual))
            elif (slot := pick.randrange(seen)) < moments:
                reservoir[slot] = (sample, actual)
        waits += [result.called_at[c] - t for c, t in result.arrived_at.items()]
        warm = (list(warm) + result.finished)[-WARM_START:]
    oracle = Oracle(scenario, random.Random(f"{seed}/{scenario.name}/futures"), futures)  # noqa: S311
    by_state: dict[int, list[tuple[Sample, float]]] = {}
    for sample, actual in reservoir:
        by_state.setdefault(id(sample.state), []).append((sample, actual))
    for group in by_state.values():
        medians = oracle.medians(group[0][0].state, [s.position for s, _ in group])
        for sample, actual in group:
            if sample.position not in medians or sample.ours is None:
                continue
            score.oracle_moments += 1
            score.oracle_error += abs(medians[sample.position] - actual)
            score.oracle_error_ours += abs(sample.ours.median - actual)
    return score, statistics.fmean(waits) / MINUTE if waits else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.parser(__doc__)
    parser.add_argument("--days", type=int, default=100, help="simulated days per scenario (100)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    parser.add_argument("--oracle-moments", type=int, default=2000, help="oracle subsample per scenario")
    parser.add_argument("--futures", type=int, default=200, help="simulated futures per oracle moment")
    parser.add_argument("--quick", action="store_true", help="a small run (tests): 4 days, 200 × 40")
    args = parser.parse_args(argv)
    if args.quick:
        args.days, args.oracle_moments, args.futures = 4, 200, 40
    if args.days < 1 or args.oracle_moments < 1 or args.futures < 1:
        parser.error("--days, --oracle-moments and --futures must be at least 1")

    say(
        f"wait estimate vs naive and oracle: {len(SCENARIOS)} scenarios × {args.days} days, seed "
        f"{args.seed}, samples at arrival and every {SAMPLE_EVERY / MINUTE:.0f} min; oracle: "
        f"{args.oracle_moments} moments × {args.futures} futures per scenario"
    )
    say(
        f"{'scenario':<16} {'samples':>7} {'known':>6} {'wait':>5} {'MAE':>6} {'naive':>6} "
        f"{'ratio':>6} {'oracle':>6} {'/orac':>6} {'cover':>6} {'width':>5}"
    )
    total = Score()
    beaten = 0
    per_scenario: dict[str, dict[str, float]] = {}
    for scenario in SCENARIOS:
        score, mean_wait = run_scenario(scenario, args.days, args.seed, args.oracle_moments, args.futures)
        total.merge(score)
        beaten += score.naive.ratio < 1
        say(
            f"{scenario.name:<16} {score.samples:>7} {score.known_share:>6.1%} {mean_wait:>5.1f} "
            f"{score.naive.ours:>6.2f} {score.naive.reference:>6.2f} {score.naive.ratio:>6.3f} "
            f"{score.oracle.reference:>6.2f} "
            f"{score.oracle.ratio:>6.3f} {score.coverage:>6.1%} {score.median_width:>5.0f}"
        )
        per_scenario[scenario.name] = {
            "mae_minutes": round(score.naive.ours, 3),
            "naive_mae_minutes": round(score.naive.reference, 3),
            "ratio": round(score.naive.ratio, 3),
            "oracle_mae_minutes": round(score.oracle.reference, 3),
            "oracle_moments": score.oracle_moments,
            "ratio_to_oracle": round(score.oracle.ratio, 3),
            "range_coverage": round(score.coverage, 3),
            "range_median_width_minutes": score.median_width,
            "known_share": round(score.known_share, 4),
        }
    say(
        f"{'all':<16} {total.samples:>7} {total.known_share:>6.1%} {'':>5} {total.naive.ours:>6.2f} "
        f"{total.naive.reference:>6.2f} {total.naive.ratio:>6.3f} {total.oracle.reference:>6.2f} "
        f"{total.oracle.ratio:>6.3f} {total.coverage:>6.1%} {total.median_width:>5.0f}"
    )
    say(
        "(minutes; MAE of our range's middle where both ours and the naive estimate are known; "
        "oracle = MAE of the oracle on its subsample, /orac = ours ÷ oracle there; cover = actual "
        "waits inside the range as shown; width = its median width; wait = mean actual wait)"
    )
    emit(
        {
            "bench": "wait_estimate",
            "scenarios": len(SCENARIOS),
            "days": args.days,
            "seed": args.seed,
            "samples": total.compared,
            "skipped_unknown": total.skipped,
            "mae_minutes": round(total.naive.ours, 3),
            "naive_mae_minutes": round(total.naive.reference, 3),
            "ratio": round(total.naive.ratio, 3),
            "arrival_mae_minutes": round(total.arrival.ours, 3),
            "arrival_naive_mae_minutes": round(total.arrival.reference, 3),
            "scenarios_beaten": beaten,
            "beats_naive": total.naive.ratio < 1 and beaten * 2 > len(SCENARIOS),
            "oracle_moments": total.oracle_moments,
            "oracle_futures": args.futures,
            "oracle_mae_minutes": round(total.oracle.reference, 3),
            "ratio_to_oracle": round(total.oracle.ratio, 3),
            "ratio_to_oracle_worst": max(s["ratio_to_oracle"] for s in per_scenario.values()),
            "range_coverage": round(total.coverage, 3),
            "range_median_width_minutes": total.median_width,
            "cold_start_known_share": round(total.known_share, 4),
            "per_scenario": per_scenario,
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

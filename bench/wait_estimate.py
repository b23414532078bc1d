"""Benchmark of the waiting-room estimate against the naive “position × average ÷ agents”.

Replays simulated office days (a small discrete-event simulation): citizens arrive as a Poisson
process whose rate changes hour by hour, agents call the next citizen in arrival order as soon
as they are free, go on pause and come back. Whenever a citizen arrives — and every few minutes
for everybody waiting — we record the estimate that citizen would be shown, ours
(``buergerbuero.waiting.estimate``) and the naive one, both from the information the office has
at that moment: handling times of the consultations finished so far that day (plus a warm start
from the previous day), the agents staffed and not on pause, and how long the running
consultations have lasted. Later the citizen is called and we know the actual wait.

Output: one line per scenario, then a JSON object as the last line. Deterministic for a seed.

    cd /work/main && .venv/bin/python bench/wait_estimate.py [--days N] [--seed S]
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import statistics
import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from buergerbuero.waiting.estimate import (
    WINDOW_SIZE,
    EstimateInputs,
    estimate_seconds,
    naive_estimate_seconds,
    seat_free_in,
    typical_handling_seconds,
)

MINUTE = 60.0
HOUR = 3600.0
DAY_HOURS = 8  # the office is open 8 hours; citizens who arrived before closing are still served
WARM_START = 10  # handling times carried over from the previous day
SAMPLE_EVERY = 5 * MINUTE  # sampled moments: every waiting citizen is asked again

Draw = Callable[[random.Random], float]  # one handling time in seconds


# --- handling-time distributions ---------------------------------------------------------------


def gamma(mean_minutes: float, shape: float) -> Draw:
    return lambda rng: rng.gammavariate(shape, mean_minutes * MINUTE / shape)


def lognormal(median_minutes: float, sigma: float) -> Draw:
    mu = math.log(median_minutes * MINUTE)
    return lambda rng: rng.lognormvariate(mu, sigma)


def mix(*parts: tuple[float, Draw]) -> Draw:
    weights = [w for w, _ in parts]
    draws = [d for _, d in parts]
    return lambda rng: rng.choices(draws, weights)[0](rng)


# --- scenarios ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentPlan:
    """Absences as (start hour, minutes); a pause due during a consultation starts when it ends.
    ``leaves_at`` ends the agent's shift (hours after opening)."""

    pauses: tuple[tuple[float, float], ...] = ()
    leaves_at: float | None = None
    random_pauses: int = 0  # additionally this many pauses of 15–30 min at random times


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    agents: tuple[AgentPlan, ...]
    arrivals_per_hour: tuple[float, ...]  # one rate per opening hour
    handling: Draw


SCENARIOS = (
    Scenario(
        "quiet",
        "small office, 2 agents until noon then 1 (lunch closes the counter 30 min)",
        agents=(AgentPlan(pauses=((4.25, 30),)), AgentPlan(leaves_at=4.0)),
        arrivals_per_hour=(6, 7, 6, 5, 3, 4, 4, 3),
        handling=gamma(12, 3),
    ),
    Scenario(
        "rush",
        "registration office, 4 agents, morning rush",
        agents=(AgentPlan(), AgentPlan(), AgentPlan(pauses=((4.0, 30),)), AgentPlan(pauses=((4.5, 30),))),
        arrivals_per_hour=(42, 38, 30, 22, 16, 20, 15, 10),
        handling=gamma(8, 4),
    ),
    Scenario(
        "pauses",
        "3 agents, each on pause 1–2 times for 15–30 min",
        agents=(AgentPlan(random_pauses=2), AgentPlan(random_pauses=1), AgentPlan(random_pauses=2)),
        arrivals_per_hour=(16, 18, 15, 14, 12, 15, 13, 10),
        handling=gamma(10, 3),
    ),
    Scenario(
        "heavy_tail",
        "3 agents, lognormal handling (median 7 min, σ 0.9)",
        agents=(AgentPlan(), AgentPlan(pauses=((4.0, 30),)), AgentPlan(pauses=((4.5, 30),))),
        arrivals_per_hour=(14, 18, 16, 14, 12, 15, 13, 10),
        handling=lognormal(7, 0.9),
    ),
    Scenario(
        "service_mix",
        "3 agents; 35 % pick-ups (4 min), 45 % applications (12 min), 20 % registrations (30 min)",
        agents=(AgentPlan(), AgentPlan(pauses=((4.0, 20),)), AgentPlan(pauses=((4.5, 20),))),
        arrivals_per_hour=(12, 16, 14, 12, 10, 12, 11, 8),
        handling=mix((0.35, gamma(4, 4)), (0.45, gamma(12, 4)), (0.20, gamma(30, 3))),
    ),
)


# --- the simulation ----------------------------------------------------------------------------


@dataclass
class Agent:
    pauses: list[tuple[float, float]]  # (start, duration) in seconds
    leaves_at: float | None
    busy_since: float | None = None
    on_pause: bool = False
    gone: bool = False
    pending_pause: float | None = None  # duration of a pause due once the consultation ends

    @property
    def staffed(self) -> bool:
        return not (self.on_pause or self.gone)


@dataclass
class Sample:
    citizen: int
    at: float
    ours: float | None
    naive: float | None
    on_arrival: bool


@dataclass
class DayResult:
    samples: list[Sample]
    called_at: dict[int, float]
    arrived_at: dict[int, float]
    finished: list[float] = field(default_factory=list)


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
        pauses = [(h * HOUR, m * MINUTE) for h, m in plan.pauses]
        for _ in range(plan.random_pauses):
            pauses.append((rng.uniform(0.75, DAY_HOURS - 1) * HOUR, rng.uniform(15, 30) * MINUTE))
        leaves_at = plan.leaves_at * HOUR if plan.leaves_at is not None else None
        agents.append(Agent(sorted(pauses), leaves_at))
    return agents


def simulate_day(scenario: Scenario, rng: random.Random, warm: Sequence[float]) -> DayResult:
    agents = make_agents(rng, scenario.agents)
    arrivals = arrival_times(rng, scenario.arrivals_per_hour)
    handling = [scenario.handling(rng) for _ in arrivals]
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
        for start, _ in agent.pauses:
            schedule(start, "pause", index)
        if agent.leaves_at is not None:
            schedule(agent.leaves_at, "leave", index)
    for k in range(1, int(DAY_HOURS * HOUR / SAMPLE_EVERY)):
        schedule(k * SAMPLE_EVERY, "sample", 0)

    def record(now: float, citizen: int, position: int, on_arrival: bool) -> None:
        """The estimate the citizen at ``position`` is shown now, ours and the naive one."""
        durations = [*warm, *result.finished]
        handling_s = typical_handling_seconds(durations)
        busy = [now - a.busy_since for a in agents if a.staffed and a.busy_since is not None]
        idle = sum(1 for a in agents if a.staffed and a.busy_since is None)
        inputs = EstimateInputs(handling_s, seat_free_in(handling_s, busy, idle))
        window = durations[-WINDOW_SIZE:]
        staffed = len(busy) + idle
        naive = None
        if window and staffed:
            naive = naive_estimate_seconds(position, statistics.fmean(window), staffed)
        ours = estimate_seconds(position, inputs)
        result.samples.append(Sample(citizen, now, ours, naive, on_arrival))

    def call_next(now: float) -> None:
        for index, agent in enumerate(agents):
            if not queue:
                return
            if agent.staffed and agent.busy_since is None:
                citizen = queue.popleft()
                result.called_at[citizen] = now
                agent.busy_since = now
                schedule(now + handling[citizen], "finish", index)

    while events:
        now, _, kind, who = heapq.heappop(events)
        if kind == "arrive":
            result.arrived_at[who] = now
            queue.append(who)
            record(now, who, len(queue), on_arrival=True)
        elif kind == "sample":
            for position, citizen in enumerate(queue, start=1):
                record(now, citizen, position, on_arrival=False)
        elif kind == "finish":
            agent = agents[who]
            assert agent.busy_since is not None  # noqa: S101
            result.finished.append(now - agent.busy_since)
            agent.busy_since = None
            if agent.pending_pause is not None:
                agent.on_pause = True
                schedule(now + agent.pending_pause, "back", who)
                agent.pending_pause = None
            elif agent.leaves_at is not None and now >= agent.leaves_at:
                agent.gone = True
        elif kind == "pause":
            agent = agents[who]
            duration = next(d for s, d in agent.pauses if s == now)
            if agent.busy_since is None and not agent.on_pause:
                agent.on_pause = True
                schedule(now + duration, "back", who)
            else:  # finish the consultation (or the current pause) first
                agent.pending_pause = duration
        elif kind == "back":
            agent = agents[who]
            agent.on_pause = False
            if agent.pending_pause is not None:  # two pauses overlapped: take the second one now
                agent.on_pause = True
                schedule(now + agent.pending_pause, "back", who)
                agent.pending_pause = None
        elif kind == "leave":
            agent = agents[who]
            if agent.busy_since is None:
                agent.gone = True
        call_next(now)
    return result


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

    def add(self, sample: Sample, actual: float) -> None:
        self.samples += 1
        if sample.ours is None:
            self.ours_unknown += 1
        if sample.ours is None or sample.naive is None:
            self.skipped += 1
            return
        ours, naive = abs(sample.ours - actual), abs(sample.naive - actual)
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
    def known_share(self) -> float:
        return 1 - self.ours_unknown / self.samples if self.samples else 0.0

    @property
    def mae(self) -> float:
        return self.error_ours / max(self.compared, 1) / MINUTE

    @property
    def naive_mae(self) -> float:
        return self.error_naive / max(self.compared, 1) / MINUTE

    @property
    def ratio(self) -> float:
        return self.mae / self.naive_mae if self.naive_mae else float("inf")

    @property
    def arrival_mae(self) -> float:
        return self.arrival_error_ours / max(self.arrivals, 1) / MINUTE

    @property
    def arrival_naive_mae(self) -> float:
        return self.arrival_error_naive / max(self.arrivals, 1) / MINUTE


def run_scenario(scenario: Scenario, days: int, seed: int) -> tuple[Score, float]:
    """Returns the score and the mean actual wait (minutes) of all arrivals."""
    score = Score()
    rng = random.Random(f"{seed}/{scenario.name}/previous day")  # noqa: S311 — a simulation
    warm = [scenario.handling(rng) for _ in range(WARM_START)]
    waits: list[float] = []
    for day in range(days):
        rng = random.Random(f"{seed}/{scenario.name}/{day}")  # noqa: S311
        result = simulate_day(scenario, rng, warm)
        for sample in result.samples:
            score.add(sample, result.called_at[sample.citizen] - sample.at)
        waits += [result.called_at[c] - t for c, t in result.arrived_at.items()]
        warm = (list(warm) + result.finished)[-WARM_START:]
    return score, statistics.fmean(waits) / MINUTE if waits else 0.0


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--days", type=int, default=100, help="simulated days per scenario (100)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")

    emit(
        f"wait estimate vs naive: {len(SCENARIOS)} scenarios × {args.days} days, seed {args.seed}, "
        f"warm start {WARM_START} samples, samples at arrival and every {SAMPLE_EVERY / MINUTE:.0f} min"
    )
    header = (
        f"{'scenario':<12} {'samples':>8} {'skipped':>8} {'known':>6} {'wait':>6} "
        f"{'MAE':>6} {'naive':>6} {'ratio':>6}   {'arrivals':>8} {'MAE':>6} {'naive':>6}"
    )
    emit(header)
    total = Score()
    beaten = 0
    for scenario in SCENARIOS:
        score, mean_wait = run_scenario(scenario, args.days, args.seed)
        total.merge(score)
        beaten += score.ratio < 1
        emit(
            f"{scenario.name:<12} {score.samples:>8} {score.skipped:>8} {score.known_share:>6.1%} "
            f"{mean_wait:>6.1f} {score.mae:>6.2f} {score.naive_mae:>6.2f} {score.ratio:>6.3f}   "
            f"{score.arrivals:>8} {score.arrival_mae:>6.2f} {score.arrival_naive_mae:>6.2f}"
        )
    emit(
        f"{'all':<12} {total.samples:>8} {total.skipped:>8} {total.known_share:>6.1%} {'':>6} "
        f"{total.mae:>6.2f} {total.naive_mae:>6.2f} {total.ratio:>6.3f}   "
        f"{total.arrivals:>8} {total.arrival_mae:>6.2f} {total.arrival_naive_mae:>6.2f}"
    )
    emit(
        "(MAE in minutes where both estimates are known; skipped = “not yet known” (no staffed "
        "seat, or < 5 handling times); wait = mean actual wait of arrivals in minutes)"
    )
    ratio = round(total.ratio, 3)
    emit(
        json.dumps(
            {
                "bench": "wait_estimate",
                "scenarios": len(SCENARIOS),
                "days": args.days,
                "seed": args.seed,
                "samples": total.compared,
                "skipped_unknown": total.skipped,
                "mae_minutes": round(total.mae, 3),
                "naive_mae_minutes": round(total.naive_mae, 3),
                "ratio": ratio,
                "arrival_mae_minutes": round(total.arrival_mae, 3),
                "arrival_naive_mae_minutes": round(total.arrival_naive_mae, 3),
                "scenarios_beaten": beaten,
                "beats_naive": total.ratio < 1 and beaten * 2 > len(SCENARIOS),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

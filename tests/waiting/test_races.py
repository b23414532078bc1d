"""Exactly-once calling under real concurrency.

Eight agents, half on one server process and half on another, call citizens from one queue of
500 as fast as they can, each through the real HTTP endpoints with a real login; the citizens
confirm and the agents end the consultations over HTTP too. Every citizen must be admitted
exactly once. Runs on SQLite (IMMEDIATE transactions) and PostgreSQL (row locks).

At the service level, threads released by a barrier make two agents call (or admit) the same
single citizen at the same instant, and several citizens enter a nearly full waiting room at once.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import User
from django.db import connection

from buergerbuero.consult.models import Consultation
from buergerbuero.offices.models import AdmissionMode, Office
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import AgentPresence, PresenceState, QueueState, Ticket, TicketStatus
from buergerbuero.waiting.services import calling, joining, staffing
from buergerbuero.waiting.services.errors import QueueError
from tests import factories
from tests.waiting.conftest import (
    TIMEOUT,
    LiveBrowser,
    ServerFactory,
    always_open_office,
    citizen_address,
    make_live_agent,
    now,
)

pytestmark = pytest.mark.django_db(transaction=True)

AGENTS = 8
TICKETS = 500


def _waiting_tickets(office: Office, count: int) -> dict[int, str]:
    """``count`` citizens already waiting (as if they had joined earlier); id → token."""
    start = now() - dt.timedelta(minutes=5)
    tickets = [
        Ticket(
            office=office,
            token=secrets.token_urlsafe(32),
            display_name=f"Bürger:in {number}",
            status=TicketStatus.WAITING,
            arrived_at=start + dt.timedelta(milliseconds=number),
            queue_key=int((start + dt.timedelta(milliseconds=number)).timestamp() * 1_000_000) * 1000,
            last_seen_at=now(),
        )
        for number in range(count)
    ]
    Ticket.objects.bulk_create(tickets)
    return dict(Ticket.objects.filter(office=office).values_list("pk", "token"))


@dataclass
class AgentRun:
    username: str
    port: int
    called: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    call_started: list[float] = field(default_factory=list)  # monotonic, of each call that got a ticket
    nobody_at: float = 0.0  # monotonic: the reply "nobody to call" was read


def _work(run: AgentRun, tokens: dict[int, str], start: threading.Barrier) -> AgentRun:
    """One agent at their console, with the called citizens' browsers answering at once."""
    agent = LiveBrowser(run.port)
    citizens = LiveBrowser(run.port, forwarded_for=citizen_address())
    try:
        agent.log_in(run.username)
        presence = agent.post("/staff/console/presence/", {"state": "available"})
        assert presence.status == 200, presence.text()
        assert presence.json() == {"presence": "available"}
        citizens.get("/staff/login/")  # the citizens' CSRF cookie, before the race starts
        start.wait(TIMEOUT)
        while True:
            started = time.monotonic()
            called = agent.post("/staff/console/call-next/")
            if called.status != 200:
                run.failures.append(f"call-next: {called.status} {called.text()[:300]}")
                return run
            ticket = called.json()["ticket"]
            if ticket is None:
                run.nobody_at = time.monotonic()
                return run
            run.called.append(ticket)
            run.call_started.append(started)
            token = tokens[ticket]
            confirmed = citizens.post(f"/w/{token}/confirm/")
            if confirmed.status != 302 or confirmed.location != f"/w/{token}/consultation/":
                run.failures.append(f"confirm #{ticket}: {confirmed.status} {confirmed.location}")
                return run
            # The console learns the consultation over its socket; here a look-up will do.
            consultation = Consultation.objects.filter(ticket_id=ticket).values_list("pk", flat=True).get()
            ended = agent.post(f"/staff/consultations/{consultation}/end/")
            if ended.status != 302 or ended.location != "/staff/console/":
                run.failures.append(f"end of #{ticket}: {ended.status} {ended.text()[:300]}")
                return run
    finally:
        agent.close()
        citizens.close()
        connection.close()  # this thread's own database connection


def test_each_citizen_is_admitted_exactly_once_by_agents_on_two_servers(
    live_servers: ServerFactory,
) -> None:
    org = factories.make_org()
    office = always_open_office(org, "buergerbuero", seats=AGENTS)
    users = [make_live_agent(org, f"agent{number:02d}", [office]) for number in range(AGENTS)]
    tokens = _waiting_tickets(office, TICKETS)
    assert len(tokens) == TICKETS
    # The background jobs are not under test; their grace periods (e.g. an agent idle for
    # 45 s goes offline) would add queue events and make the sequence count below inexact.
    servers = [live_servers({"JOBS_IN_WEB_PROCESS": "false"}) for _ in range(2)]

    runs = [AgentRun(user.username, servers[number % 2].port) for number, user in enumerate(users)]
    start = threading.Barrier(AGENTS)
    with ThreadPoolExecutor(max_workers=AGENTS) as pool:
        futures = [pool.submit(_work, run, tokens, start) for run in runs]
        finished = [future.result(timeout=300) for future in futures]

    assert [failure for run in finished for failure in run.failures] == []
    called = [ticket for run in finished for ticket in run.called]
    duplicates = [ticket for ticket, times in Counter(called).items() if times > 1]
    assert duplicates == [], "tickets called by more than one agent (or twice)"
    assert sorted(called) == sorted(tokens)
    # They really raced: every agent on both servers admitted citizens, and calls of different
    # agents were in flight at the same time (measured).
    assert all(run.called for run in finished), {run.username: len(run.called) for run in finished}
    assert min(run.nobody_at for run in finished) > max(run.call_started[0] for run in finished)
    # No agent went empty-handed while a citizen was still waiting (what the first ticket's row
    # locks give beyond the compare-and-set): no call that got a ticket began after any agent
    # was told there was nobody to call.
    first_nobody = min(run.nobody_at for run in finished)
    late = [start for run in finished for start in run.call_started if start > first_nobody]
    assert late == [], f"{len(late)} citizens were called after an agent was told nobody waited"

    members = {user.username: StaffMember.objects.get(user=user).pk for user in users}
    caller = {ticket: members[run.username] for run in finished for ticket in run.called}
    tickets = dict(Ticket.objects.filter(office=office).values_list("pk", "status"))
    assert Counter(tickets.values()) == {TicketStatus.DONE: TICKETS}
    consultations = list(
        Consultation.objects.filter(office=office).values_list("ticket_id", "agent_id", "ended_at")
    )
    assert len(consultations) == TICKETS
    assert {ticket: agent for ticket, agent, _ended in consultations} == caller
    assert all(ended is not None for _ticket, _agent, ended in consultations)
    called_by = dict(Ticket.objects.filter(office=office).values_list("pk", "called_by_id"))
    assert called_by == caller
    presences = AgentPresence.objects.filter(member_id__in=members.values()).values_list("state", flat=True)
    assert Counter(presences) == {PresenceState.AVAILABLE: AGENTS}
    # One queue event per change, none lost: going available, each call, each end.
    assert QueueState.objects.get(office=office).seq == AGENTS + 2 * TICKETS


# --- two agents, one citizen, the same instant (service level) ---------------------------------
ROUNDS = 25


def _at_once(calls: list[Callable[[], Ticket | None]]) -> list[Ticket | Exception | None]:
    """Run the calls in threads released together; each thread uses its own connection."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Ticket | None]) -> Ticket | Exception | None:
        try:
            start.wait(TIMEOUT)
            return call()
        except QueueError as refused:
            return refused
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _two_agents(admission_mode: str) -> tuple[Office, list[StaffMember]]:
    org = factories.make_org()
    office = always_open_office(org, "buergerbuero", seats=2, admission_mode=admission_mode)
    users: list[User] = [factories.make_staff(org, name, offices=[office]) for name in ("anna", "ben")]
    members = [StaffMember.objects.get(user=user) for user in users]
    for member in members:
        staffing.set_presence(member, PresenceState.AVAILABLE)
    return office, members


def _one_waiting(office: Office, number: int) -> Ticket:
    arrived = now()
    return Ticket.objects.create(
        office=office,
        token=secrets.token_urlsafe(32),
        display_name=f"Bürger:in {number}",
        arrived_at=arrived,
        queue_key=int(arrived.timestamp() * 1_000_000) * 1000,
        last_seen_at=arrived,
    )


def test_two_agents_calling_next_at_the_same_instant_get_one_citizen_once() -> None:
    office, members = _two_agents(AdmissionMode.QUEUE)
    for number in range(ROUNDS):
        ticket = _one_waiting(office, number)
        results = _at_once([functools.partial(calling.call_next, member) for member in members])

        winners = [index for index, result in enumerate(results) if isinstance(result, Ticket)]
        assert len(winners) == 1, results
        assert results[1 - winners[0]] is None
        ticket.refresh_from_db()
        assert ticket.status == TicketStatus.CALLED
        assert ticket.called_by_id == members[winners[0]].pk
        calling.leave(ticket)  # frees the winner's seat for the next round


def test_two_agents_admitting_the_same_citizen_at_the_same_instant_only_one_succeeds() -> None:
    office, members = _two_agents(AdmissionMode.KNOCK)
    for number in range(ROUNDS):
        ticket = _one_waiting(office, number)
        results = _at_once([functools.partial(calling.call_ticket, member, ticket.pk) for member in members])

        winners = [index for index, result in enumerate(results) if isinstance(result, Ticket)]
        assert len(winners) == 1, results
        refused = results[1 - winners[0]]
        assert isinstance(refused, QueueError)
        assert refused.code == "gone"
        ticket.refresh_from_db()
        assert ticket.called_by_id == members[winners[0]].pk
        calling.leave(ticket)


# --- the waiting-room limit under simultaneous entries (service level) ------------------------
ENTRANTS = 8
LIMIT = 2


def test_the_waiting_room_limit_holds_when_citizens_enter_at_the_same_instant() -> None:
    office = always_open_office(factories.make_org(), "buergerbuero", waiting_room_limit=LIMIT)
    start = threading.Barrier(ENTRANTS)

    def enter(number: int) -> str:
        try:
            start.wait(TIMEOUT)
            name = f"Bürger:in {number}"
            joining.join(office, service=None, display_name=name, language="de", mode="video")
        except QueueError as refused:
            return refused.code
        finally:
            connection.close()
        return "waiting"

    with ThreadPoolExecutor(max_workers=ENTRANTS) as pool:
        outcomes = Counter(pool.map(enter, range(ENTRANTS)))

    assert outcomes == {"waiting": LIMIT, "full": ENTRANTS - LIMIT}
    assert Ticket.objects.filter(office=office, status=TicketStatus.WAITING).count() == LIMIT

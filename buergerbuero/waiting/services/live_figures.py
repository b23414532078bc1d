"""An office's live figures (waiting, seats, staffed, free, the estimate's inputs) and the
queue order they and the positions follow: priority, then arrival (queue key), then id."""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from buergerbuero.offices.models import Office
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting import estimate
from buergerbuero.waiting.models import (
    AgentPresence,
    PresenceState,
    Ticket,
    TicketStatus,
)

STAFFED = (PresenceState.AVAILABLE, PresenceState.BUSY)


@dataclass(frozen=True)
class OfficeLive:
    waiting: int
    seats: int
    staffed: int
    free: int
    estimate: estimate.EstimateInputs

    def as_json(self) -> dict[str, Any]:
        return {
            "waiting": self.waiting,
            "seats": self.seats,
            "staffed": self.staffed,
            "free": self.free,
            "estimate": self.estimate.as_json(),
        }


def agents_of(office: Office) -> QuerySet[StaffMember]:
    return StaffMember.objects.filter(
        Q(offices=office) | Q(role="org_admin", organization_id=office.organization_id)
    )


@dataclass(frozen=True)
class LiveRows:
    """What ``office_live`` reads from the database (so that a join can add its newcomer
    without reading it all again)."""

    queue: Sequence[tuple[int | None, int | None]]  # (service, its minutes) in queue order
    order: list[tuple[int, int, int]]  # (-priority, queue key, pk) of the same, sorted
    busy: list[tuple[float | None, int | None, int | None]]
    idle: int
    paused: list[float]
    history: Sequence[tuple[int | None, float]]
    staffed: int
    seats: int

    def with_newcomer(self, newcomer: Ticket) -> LiveRows:
        """The same rows with the waiting ticket ``newcomer`` added at its place in the queue."""
        place = order_of(newcomer)
        at = bisect.bisect_left(self.order, place)
        minutes = newcomer.service.slot_minutes if newcomer.service else None
        return dataclasses.replace(
            self,
            queue=[*self.queue[:at], (newcomer.service_id, minutes), *self.queue[at:]],
            order=[*self.order[:at], place, *self.order[at:]],
        )

    def live(self, newcomer: Ticket | None = None) -> OfficeLive:
        """The figures; with the waiting ticket ``newcomer`` added at its place in the queue."""
        if newcomer is not None:
            return self.with_newcomer(newcomer).live()
        queue = self.queue
        return OfficeLive(
            waiting=len(queue),
            seats=self.seats,
            staffed=min(self.staffed, self.seats),
            free=min(self.idle, self.seats),
            estimate=estimate.office_inputs(
                queue=queue,
                busy=self.busy,
                idle=self.idle,
                paused=self.paused,
                history=self.history,
                seats=self.seats,
            ),
        )


def office_live(office: Office, now: dt.datetime | None = None) -> OfficeLive:
    """Waiting count, seats and the estimate inputs: a fixed number of queries (the services
    of the people ahead, of the running consultations and of the recent ones come joined)."""
    return live_rows(office, now or timezone.now(), with_order=False).live()


def live_rows(office: Office, now: dt.datetime, *, with_order: bool = True) -> LiveRows:
    """``with_order``: also each waiting ticket's place (a join, the snapshot's view); a
    broadcast needs only the services in order (fewer columns of a long queue to read)."""
    waiting = Ticket.objects.filter(office=office, status=TicketStatus.WAITING).order_by(
        "-priority", "queue_key", "pk"
    )
    order: list[tuple[int, int, int]] = []
    if with_order:
        rows = list(waiting.values_list("service_id", "service__slot_minutes", "priority", "queue_key", "pk"))
        queue = [(service, minutes) for service, minutes, *_ in rows]
        order = [(-priority, key, pk) for *_, priority, key, pk in rows]
    else:
        queue = list(waiting.values_list("service_id", "service__slot_minutes"))
    present = list(
        AgentPresence.objects.filter(
            member__in=agents_of(office), state__in=[*STAFFED, PresenceState.PAUSE]
        ).values_list("member_id", "state", "changed_at")
    )
    staffed = [(m, state) for m, state, _ in present if state in STAFFED]
    running = {
        agent: (started, service, minutes)
        for agent, started, service, minutes in Ticket.objects.filter(
            office=office, status=TicketStatus.ADMITTED, called_by_id__in=[m for m, _ in staffed]
        ).values_list("called_by_id", "admitted_at", "service_id", "service__slot_minutes")
        if started is not None
    }
    recent = Ticket.objects.filter(office=office, admitted_at__isnull=False, ended_at__isnull=False).order_by(
        "-ended_at"
    )[: estimate.HISTORY_ROWS]
    history = [
        (service, (ended - started).total_seconds())
        for started, ended, service in recent.values_list("admitted_at", "ended_at", "service_id")
        if started is not None and ended is not None
    ]
    seats = office.seats
    idle = sum(1 for m, state in staffed if state == PresenceState.AVAILABLE and m not in running)
    busy: list[tuple[float | None, int | None, int | None]] = [
        (estimate.elapsed_seconds(running[m][0], now), running[m][1], running[m][2])
        if m in running
        else (None, None, None)  # called, not yet answered: a consultation about to start
        for m, state in staffed
        if m in running or state == PresenceState.BUSY
    ]
    paused = [
        estimate.elapsed_seconds(since, now) for _, state, since in present if state == PresenceState.PAUSE
    ]
    return LiveRows(queue, order, busy, idle, paused, history, len(staffed), seats)


def order_of(ticket: Ticket) -> tuple[int, int, int]:
    """The ticket's place in the queue order (as ``queue_ahead`` compares them)."""
    return (-ticket.priority, ticket.queue_key, ticket.pk)


def queue_ahead(ticket: Ticket) -> QuerySet[Ticket]:
    return Ticket.objects.filter(office=ticket.office_id, status=TicketStatus.WAITING).filter(
        Q(priority__gt=ticket.priority)
        | Q(priority=ticket.priority, queue_key__lt=ticket.queue_key)
        | Q(priority=ticket.priority, queue_key=ticket.queue_key, pk__lt=ticket.pk)
    )


# An enter form shows the figures of at most this age (the join decides on fresh ones).
RECENT_LIVE_SECONDS = 1.0


def recent_live(office: Office) -> OfficeLive | None:
    """The office's figures as this process saw them within ``RECENT_LIVE_SECONDS``, or None
    (for the enter form in a rush, when every join moves the sequence number)."""
    recent = _recent_live.get(office.pk)
    if recent is not None and time.monotonic() - recent[0] < RECENT_LIVE_SECONDS:
        return recent[1]
    live = office_live(office)
    _recent_live[office.pk] = (time.monotonic(), live)
    return live


_recent_live: dict[int, tuple[float, OfficeLive]] = {}


def forget_recent() -> None:
    _recent_live.clear()

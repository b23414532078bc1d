"""The waiting room: joining, the queue order, calling, admitting, leaving.

Every rule of the queue lives here. All state is in the database; each change runs in one
transaction that also bumps the office's sequence number (``QueueState.seq``), which
serialises changes per office across processes, and publishes its events after commit.

Exactly-once calling: the agent's presence row and the chosen ticket are locked
(``SELECT … FOR UPDATE``, tickets with ``SKIP LOCKED`` on PostgreSQL, so that agents calling
at the same moment take different citizens instead of waiting for each other); on SQLite the
write transaction is ``IMMEDIATE`` and so already exclusive. The status change itself is a
compare-and-set on ``status = waiting``.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import secrets
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from buergerbuero.consult.models import Consultation
from buergerbuero.lib.errors import ServiceError
from buergerbuero.lib.locking import locked
from buergerbuero.lib.text import clean_text
from buergerbuero.lib.tokens import looks_like_token
from buergerbuero.offices.models import AdmissionMode, Office, Service
from buergerbuero.offices.services import cached_status, status_label
from buergerbuero.realtime import events
from buergerbuero.realtime.publish import encode, publish
from buergerbuero.staff.models import StaffMember
from buergerbuero.staff.services import offices_served
from buergerbuero.waiting import estimate, presence_history
from buergerbuero.waiting.models import (
    ACTIVE_STATUSES,
    AgentPresence,
    Mode,
    PresenceState,
    QueueState,
    Ticket,
    TicketStatus,
)

STAFFED = (PresenceState.AVAILABLE, PresenceState.BUSY)
# Booked citizens come before walk-ins for the staff member they booked.
BOOKED_PRIORITY = 10


class QueueError(ServiceError):
    """A request the queue refuses."""


# --- groups: who hears what -----------------------------------------------------------------
def waiting_group(office_id: int) -> str:
    return f"office:{office_id}:waiting"


def staff_group(office_id: int) -> str:
    return f"office:{office_id}:staff"


def ticket_group(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def directory_group(organization_id: int) -> str:
    return f"org:{organization_id}:directory"


# --- live figures of an office ----------------------------------------------------------------
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


def _agents_of(office: Office) -> QuerySet[StaffMember]:
    return StaffMember.objects.filter(
        Q(offices=office) | Q(role="org_admin", organization_id=office.organization_id)
    )


@dataclass(frozen=True)
class _LiveRows:
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

    def with_newcomer(self, newcomer: Ticket) -> _LiveRows:
        """The same rows with the waiting ticket ``newcomer`` added at its place in the queue."""
        place = _order_of(newcomer)
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
    return _live_rows(office, now or timezone.now(), with_order=False).live()


def _live_rows(office: Office, now: dt.datetime, *, with_order: bool = True) -> _LiveRows:
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
            member__in=_agents_of(office), state__in=[*STAFFED, PresenceState.PAUSE]
        ).values_list("member_id", "state", "changed_at")
    )
    staffed = [(m, state) for m, state, _ in present if state in STAFFED]
    running = {
        agent: (started, service, minutes)
        for agent, started, service, minutes in Consultation.objects.filter(
            office=office, ended_at__isnull=True, agent_id__in=[m for m, _ in staffed]
        ).values_list("agent_id", "started_at", "ticket__service_id", "ticket__service__slot_minutes")
    }
    recent = Consultation.objects.filter(office=office, ended_at__isnull=False).order_by("-ended_at")[
        : estimate.HISTORY_ROWS
    ]
    history = [
        (service, (ended - started).total_seconds())
        for started, ended, service in recent.values_list("started_at", "ended_at", "ticket__service_id")
        if ended is not None
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
    return _LiveRows(queue, order, busy, idle, paused, history, len(staffed), seats)


def _order_of(ticket: Ticket) -> tuple[int, int, int]:
    """The ticket's place in the queue order (as ``_queue_ahead`` compares them)."""
    return (-ticket.priority, ticket.queue_key, ticket.pk)


# --- sequence numbers and broadcasts ----------------------------------------------------------
def _lock_office(office: Office) -> None:
    """Hold the office's queue row until commit: its changes then happen one after another
    (on SQLite the IMMEDIATE write transaction already serialises everything)."""
    if locked(QueueState.objects.filter(office=office)).first() is None:
        QueueState.objects.get_or_create(office=office)  # the office's very first change
        locked(QueueState.objects.filter(office=office)).get()


def _bump(office: Office) -> int:
    """Next sequence number of the office's events; locks its row until commit."""
    updated = QueueState.objects.filter(office=office).update(seq=F("seq") + 1)
    if not updated:
        QueueState.objects.get_or_create(office=office)
        QueueState.objects.filter(office=office).update(seq=F("seq") + 1)
    return QueueState.objects.values_list("seq", flat=True).get(office=office)


def _queue_event(office: Office, op: str, ticket: Ticket, live: OfficeLive | None = None) -> None:
    """One message per queue change, the same text for every waiting citizen: each derives
    its own position by comparing ``key`` with its own. ``live``: the figures after the
    change, if the caller has them already."""
    seq = _bump(office)
    live = live or office_live(office)
    figures = live.as_json()
    publish(waiting_group(office.pk), events.queue(seq, op, ticket.order_key, figures))
    publish(staff_group(office.pk), events.changed(seq))
    publish(directory_group(office.organization_id), events.office_live(office.slug, figures))


def _ticket_event(ticket: Ticket, event: events.Event) -> None:
    publish(ticket_group(ticket.pk), event)


_STATUS_AFTER = {
    events.CALLED: TicketStatus.CALLED,
    events.ADMITTED: TicketStatus.ADMITTED,
    events.REQUEUED: TicketStatus.WAITING,
}


def status_after_event(event: dict[str, Any], status: str) -> str:
    """The ticket's status once its page has received the ticket event ``event`` (as
    published by ``_ticket_event``, parsed); what the waiting room compares with the database."""
    kind = events.type_of(event)
    if kind in _STATUS_AFTER:
        return str(_STATUS_AFTER[kind])
    if kind == events.ENDED:
        reason = event.get("reason")
        return str(reason) if isinstance(reason, str) else status
    return status


# --- joining --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Refusal:
    code: str  # closed | full | past_closing
    message: str
    opens_at: dt.datetime | None
    detail: str = ""  # e.g. “closed — opens Monday at 08:00”


def join_refusal(office: Office, now: dt.datetime, live: OfficeLive | None = None) -> Refusal | None:
    """Why a citizen cannot enter right now, or None. Nobody already waiting is affected.
    ``live``: the office's figures if the caller has them (else read now)."""
    status = cached_status(office.pk, now)
    if not status.is_open:
        detail = status_label(status, office.organization.zone)
        return Refusal("closed", _("The office is closed right now."), status.opens_at, detail)
    live = live or office_live(office, now)
    if live.waiting >= office.waiting_room_limit:
        return Refusal("full", _("The waiting room is full right now."), None, office.full_message)
    # Refused only if even the short end of the range runs past closing (then it almost surely does).
    wait = estimate.wait_at(live.waiting + 1, live.estimate)
    if (
        wait is not None
        and status.closes_at is not None
        and now + dt.timedelta(seconds=wait.low) > status.closes_at
    ):
        return Refusal("past_closing", _("The expected wait runs past today's closing time."), None)
    return None


def _new_queue_key(now: dt.datetime) -> int:
    # Microseconds since the epoch with a random tail: orders by arrival, reveals nothing.
    return int(now.timestamp() * 1_000_000) * 1000 + secrets.randbelow(1000)


def _new_ticket(
    office: Office,
    service: Service | None,
    display_name: str,
    language: str,
    mode: str,
    now: dt.datetime,
    *,
    priority: int = 0,
    reserved_for: StaffMember | None = None,
) -> Ticket:
    """A citizen's place, arriving now (call with the office locked)."""
    return Ticket.objects.create(
        office=office,
        service=service,
        token=secrets.token_urlsafe(32),
        display_name=clean_text(display_name, multiline=False)[:60],
        language=language,
        mode=mode,
        arrived_at=now,
        queue_key=_new_queue_key(now),
        last_seen_at=now,
        priority=priority,
        reserved_for=reserved_for,
    )


def join(
    office: Office,
    *,
    service: Service | None,
    display_name: str,
    language: str,
    mode: str,
    now: dt.datetime | None = None,
) -> Ticket:
    """Enter the office: straight to a free seat if one is free and nobody waits, else queue."""
    now = now or timezone.now()
    if service is not None and service.office_id != office.pk:
        raise QueueError(_("Please choose one of this office's services."), "bad_service")
    if mode not in Mode.values:
        raise QueueError(_("Please choose video or chat."), "bad_mode")
    with _join_turn(office.pk), transaction.atomic():
        # Joins of one office take turns: the limit holds when many enter at the same instant.
        # Only what must be decided in turn happens under the lock (the hours come cached).
        state_id, seq = _lock_queue_state(office)
        rows, read_at = _join_rows(office, state_id, seq, now)
        refusal = join_refusal(office, now, rows.live())
        if refusal is not None:
            raise QueueError(refusal.message, refusal.code)
        ticket = _new_ticket(office, service, display_name, language, mode, now)
        # Nobody idle (read above): no seat to take, whatever the seats say.
        direct = (
            office.admission_mode == AdmissionMode.QUEUE
            and rows.idle > 0
            and _seat_free(office, locked_already=True)
        )
        agent = _free_agent(office, service) if direct else None
        # Citizens waiting for another staff member (by appointment) are not ahead for this one.
        if (
            agent is not None
            and not _queue_ahead(ticket).filter(Q(reserved_for__isnull=True) | Q(reserved_for=agent)).exists()
        ):
            _start_consultation(ticket, agent, now)
            _queue_event_live_only(office)
        else:
            # The figures are those read above with the newcomer in its place.
            queued = rows.with_newcomer(ticket)
            _queue_event(office, "join", ticket, queued.live())
            # Once committed (not if an enclosing transaction rolls back), the office is at
            # the one sequence number past ``seq``: our bump.
            transaction.on_commit(lambda: _remember_join_rows(office.pk, state_id, seq + 1, read_at, queued))
    return ticket


def _lock_queue_state(office: Office) -> tuple[int, int]:
    """Lock the office's queue row until commit (as ``_lock_office``); its id and sequence number."""
    row = locked(QueueState.objects.filter(office=office)).values_list("pk", "seq").first()
    if row is None:
        QueueState.objects.get_or_create(office=office)  # the office's very first change
        row = locked(QueueState.objects.filter(office=office)).values_list("pk", "seq").get()
    return row


# The office's rows as the last join in this process committed them, at the sequence number
# it wrote: a join that finds the office still there (no change since, in any process: every
# change bumps the number) reads no queue. In a rush that read grew with every citizen and
# was most of the time under the lock. Elapsed times in the rows age, so they are reused only
# for RECENT_LIVE_SECONDS after the database was read.
_join_rows_cache: dict[int, tuple[int, int, float, _LiveRows]] = {}  # office: state, seq, read at


def _join_rows(office: Office, state_id: int, seq: int, now: dt.datetime) -> tuple[_LiveRows, float]:
    """The office's rows at ``seq`` (call with its queue row locked) and when they were read."""
    cached = _join_rows_cache.get(office.pk)
    if (
        cached is not None
        and cached[0] == state_id
        and cached[1] == seq
        and time.monotonic() - cached[2] < RECENT_LIVE_SECONDS
    ):
        return cached[3], cached[2]
    read_at = time.monotonic()
    return _live_rows(office, now), read_at


def _remember_join_rows(office_id: int, state_id: int, seq: int, read_at: float, rows: _LiveRows) -> None:
    current = _join_rows_cache.get(office_id)
    if current is None or current[0] != state_id or current[1] < seq:
        _join_rows_cache[office_id] = (state_id, seq, read_at, rows)


# SQLite's write lock is waited for by polling (sleeps of up to 100 ms between tries), which is
# unfair: in a rush of 50 joins some waited 10 s while newcomers got through. The joins of one
# office in this process therefore queue on a thread lock first (woken at once), and only one
# of them at a time polls. PostgreSQL queues row locks fairly by itself.
_turns: dict[int, threading.Lock] = {}


def _join_turn(office_id: int) -> AbstractContextManager[object]:
    if connection.vendor != "sqlite":
        return nullcontext()
    return _turns.setdefault(office_id, threading.Lock())


def join_booked(
    office: Office,
    *,
    agent: StaffMember,
    service: Service | None,
    display_name: str,
    language: str,
    now: dt.datetime | None = None,
) -> Ticket:
    """A citizen with an appointment arrives: they wait for the staff member they booked (who
    admits them), ahead of walk-ins, whatever the office's hours or queue limit say."""
    now = now or timezone.now()
    with transaction.atomic():
        _lock_office(office)
        ticket = _new_ticket(
            office,
            service,
            display_name,
            language,
            Mode.VIDEO,
            now,
            priority=BOOKED_PRIORITY,
            reserved_for=agent,
        )
        _queue_event(office, "join", ticket)
        publish(f"member:{agent.pk}", events.booked_arrived(ticket.pk))
    return ticket


def _queue_ahead(ticket: Ticket) -> QuerySet[Ticket]:
    return Ticket.objects.filter(office=ticket.office_id, status=TicketStatus.WAITING).filter(
        Q(priority__gt=ticket.priority)
        | Q(priority=ticket.priority, queue_key__lt=ticket.queue_key)
        | Q(priority=ticket.priority, queue_key=ticket.queue_key, pk__lt=ticket.pk)
    )


def _seat_free(office: Office, *, locked_already: bool = False) -> bool:
    """Fewer citizens called or in consultation than the office has seats. Locks the office's
    row first, so that two agents cannot both take the last seat."""
    if not locked_already:
        _lock_office(office)
    taken = Ticket.objects.filter(office=office, status__in=[TicketStatus.CALLED, TicketStatus.ADMITTED])
    return taken.count() < office.seats


def _free_agent(office: Office, service: Service | None) -> StaffMember | None:
    """The available agent of this office idle the longest, locked; None if none is free."""
    candidates = (
        AgentPresence.objects.filter(state=PresenceState.AVAILABLE, member__in=_agents_of(office))
        .exclude(member__called_tickets__status__in=[TicketStatus.CALLED, TicketStatus.ADMITTED])
        .exclude(member__reserved_tickets__status=TicketStatus.WAITING)  # expecting a booked citizen
    )
    if service is not None:
        candidates = candidates.filter(Q(member__services=service) | Q(member__services__isnull=True))
    presence = locked(candidates.order_by("changed_at", "pk"), skip_locked=True).first()
    return presence.member if presence is not None else None


# --- staff actions --------------------------------------------------------------------------
def _require_office(member: StaffMember, office: Office) -> None:
    if not offices_served(member).filter(pk=office.pk).exists():
        raise PermissionDenied


def _lock_presence(member: StaffMember, now: dt.datetime) -> AgentPresence:
    presence, _created = AgentPresence.objects.get_or_create(
        member=member, defaults={"changed_at": now, "last_seen_at": now}
    )
    row: AgentPresence = locked(AgentPresence.objects.filter(pk=presence.pk)).get()
    return row


def _has_active_call(member: StaffMember) -> bool:
    return Ticket.objects.filter(
        called_by=member, status__in=[TicketStatus.CALLED, TicketStatus.ADMITTED]
    ).exists()


def callable_tickets(member: StaffMember) -> QuerySet[Ticket]:
    """Waiting tickets this agent may call: their offices, their services (all if none set),
    and no citizen who booked someone else."""
    tickets = Ticket.objects.filter(
        Q(reserved_for__isnull=True) | Q(reserved_for=member),
        office__in=offices_served(member),
        status=TicketStatus.WAITING,
    )
    services = list(member.services.values_list("pk", flat=True))
    if services:
        tickets = tickets.filter(Q(service__in=services) | Q(service__isnull=True) | Q(reserved_for=member))
    return tickets.order_by("-priority", "queue_key", "pk")


def call_next(member: StaffMember, now: dt.datetime | None = None) -> Ticket | None:
    """Call the first waiting citizen this agent may serve (fair: priority, then arrival)."""
    return _call(member, None, now or timezone.now())


def call_ticket(member: StaffMember, ticket_id: int, now: dt.datetime | None = None) -> Ticket:
    """Admit a particular citizen (offices run as “knock and be let in”)."""
    ticket = _call(member, ticket_id, now or timezone.now())
    if ticket is None:
        raise QueueError(_("This citizen is no longer waiting."), "gone")
    return ticket


def _call(member: StaffMember, ticket_id: int | None, now: dt.datetime) -> Ticket | None:
    with transaction.atomic():
        _lock_presence(member, now)
        if _has_active_call(member):
            raise QueueError(_("Finish your current consultation first."), "busy")
        candidates = callable_tickets(member)
        if ticket_id is not None:
            candidates = candidates.filter(pk=ticket_id)
        ticket: Ticket | None = (
            locked(candidates, skip_locked=ticket_id is None).select_related("office").first()
        )
        if ticket is None:
            return None
        admits_anyone = ticket.office.admission_mode == AdmissionMode.KNOCK
        if ticket_id is not None and not admits_anyone and ticket.reserved_for_id != member.pk:
            raise QueueError(_("This office calls citizens in order; use “call next”."), "not_knock")
        if not _seat_free(ticket.office):
            raise QueueError(_("All seats of this office are taken right now."), "no_seat")
        deadline = now + dt.timedelta(seconds=ticket.office.call_confirm_seconds)
        claimed = Ticket.objects.filter(pk=ticket.pk, status=TicketStatus.WAITING).update(
            status=TicketStatus.CALLED, called_at=now, call_deadline=deadline, called_by=member
        )
        if claimed != 1:  # only possible without row locks; the caller may simply try again
            return None
        AgentPresence.objects.filter(member=member).update(state=PresenceState.BUSY, changed_at=now)
        ticket.refresh_from_db()
        # The called citizen first: the queue message goes to everyone and takes longer.
        _ticket_event(ticket, events.called(deadline.isoformat(), member.public_name))
        _queue_event(ticket.office, "leave", ticket)
    return ticket


def confirm_call(ticket: Ticket, now: dt.datetime | None = None) -> Consultation:
    """The citizen answers “I'm here”: the consultation starts."""
    now = now or timezone.now()
    with transaction.atomic():
        ticket = locked(Ticket.objects.filter(pk=ticket.pk)).select_related("office", "called_by").get()
        if ticket.status == TicketStatus.ADMITTED:
            return ticket.consultation
        if ticket.status != TicketStatus.CALLED or ticket.called_by is None:
            raise QueueError(_("You have not been called (any more)."), "not_called")
        return _start_consultation(ticket, ticket.called_by, now)


def _start_consultation(ticket: Ticket, agent: StaffMember, now: dt.datetime) -> Consultation:
    Ticket.objects.filter(pk=ticket.pk).update(
        status=TicketStatus.ADMITTED, called_by=agent, called_at=ticket.called_at or now
    )
    AgentPresence.objects.filter(member=agent).update(state=PresenceState.BUSY, changed_at=now)
    consultation = Consultation.objects.create(
        ticket=ticket, office=ticket.office, agent=agent, mode=ticket.mode, started_at=now
    )
    _ticket_event(ticket, events.admitted(consultation.pk))
    publish(f"member:{agent.pk}", events.admitted(consultation.pk))
    return consultation


def leave(ticket: Ticket, now: dt.datetime | None = None) -> bool:
    """The citizen leaves the waiting room (or the call) of their own accord; False if they
    were no longer waiting (e.g. already in the consultation)."""
    return _end_ticket(ticket, TicketStatus.LEFT, now or timezone.now())


def remove(
    member: StaffMember, ticket_id: int, *, no_show: bool = False, now: dt.datetime | None = None
) -> None:
    ticket = Ticket.objects.select_related("office").get(pk=ticket_id)
    _require_office(member, ticket.office)
    status = TicketStatus.NO_SHOW if no_show else TicketStatus.REMOVED
    if not _end_ticket(ticket, status, now or timezone.now()):
        raise QueueError(_("This citizen is no longer waiting."), "gone")


# A removal (or no-show) by staff can be taken back this long after it happened.
UNDO_SECONDS = 10
_UNDOABLE = (TicketStatus.REMOVED, TicketStatus.NO_SHOW)


def undo_remove(member: StaffMember, ticket_id: int, now: dt.datetime | None = None) -> Ticket:
    """Take back a removal or no-show of a waiting citizen: within ``UNDO_SECONDS`` of it, by
    staff of the ticket's office, the citizen gets their old place back (the same arrival time
    and queue key, so everyone behind moves down again). Later, or for a ticket that ended
    otherwise (left, expired, consultation), the removal stands."""
    now = now or timezone.now()
    with transaction.atomic():
        ticket: Ticket = locked(Ticket.objects.filter(pk=ticket_id)).select_related("office").get()
        _require_office(member, ticket.office)
        if (
            ticket.status not in _UNDOABLE
            or ticket.ended_at is None
            or now - ticket.ended_at > dt.timedelta(seconds=UNDO_SECONDS)
        ):
            raise QueueError(_("This removal can no longer be undone."), "too_late")
        # Liveness counts from now: the page was told it ended and needs a moment to come back.
        Ticket.objects.filter(pk=ticket.pk).update(
            status=TicketStatus.WAITING, ended_at=None, last_seen_at=now
        )
        _queue_event(ticket.office, "join", ticket)
        _ticket_event(ticket, events.requeued())
    return ticket


def _end_ticket(ticket: Ticket, status: str, now: dt.datetime) -> bool:
    with transaction.atomic():
        current = locked(Ticket.objects.filter(pk=ticket.pk)).select_related("office").get()
        if current.status not in (TicketStatus.WAITING, TicketStatus.CALLED):
            return False
        was_waiting = current.status == TicketStatus.WAITING
        Ticket.objects.filter(pk=current.pk).update(status=status, ended_at=now)
        if current.called_by_id is not None and not was_waiting:
            _free_seat(current.called_by_id, now)
        if was_waiting:
            _queue_event(current.office, "leave", current)
        else:
            _queue_event_live_only(current.office)  # a seat was freed: new figures for everyone
        _ticket_event(current, events.ended(status))
    return True


def transfer(member: StaffMember, ticket_id: int, target: Office, now: dt.datetime | None = None) -> Ticket:
    """Move a waiting citizen to another office's queue, keeping their arrival time."""
    now = now or timezone.now()
    with transaction.atomic():
        ticket: Ticket = locked(Ticket.objects.filter(pk=ticket_id)).select_related("office").get()
        _require_office(member, ticket.office)
        # Lock both offices' rows in one order, so that opposite transfers cannot deadlock.
        list(
            locked(QueueState.objects.filter(office__in=[ticket.office_id, target.pk]).order_by("office_id"))
        )
        if target.organization_id != ticket.office.organization_id or target.pk == ticket.office_id:
            raise QueueError(_("Choose another office of your organisation."), "bad_target")
        if ticket.status != TicketStatus.WAITING:
            raise QueueError(_("This citizen is no longer waiting."), "gone")
        source = ticket.office
        Ticket.objects.filter(pk=ticket.pk).update(office=target, service=None)
        _queue_event(source, "leave", ticket)
        ticket.office = target
        _queue_event(target, "join", ticket)
        # Typed fields: the page changes its heading and waiting area and tells the citizen.
        _ticket_event(ticket, events.transferred(target.pk, target.name, target.show_position))
    return ticket


def announce(member: StaffMember, office: Office, text: str, now: dt.datetime | None = None) -> None:
    """A message to everyone waiting in the office (shown until replaced)."""
    _require_office(member, office)
    text = clean_text(text)
    if not text or len(text) > 500:
        raise QueueError(_("Please write a message of at most 500 characters."), "bad_text")
    now = now or timezone.now()
    with transaction.atomic():
        seq = _bump(office)
        QueueState.objects.filter(office=office).update(announcement=text, announced_at=now)
        publish(waiting_group(office.pk), events.announcement(seq, text))
        publish(staff_group(office.pk), events.changed(seq))


def clear_announcement(member: StaffMember, office: Office, now: dt.datetime | None = None) -> None:
    """Take the message to everyone waiting down: every waiting room hides it at once."""
    _require_office(member, office)
    now = now or timezone.now()
    with transaction.atomic():
        seq = _bump(office)
        QueueState.objects.filter(office=office).update(announcement="", announced_at=now)
        publish(waiting_group(office.pk), events.announcement(seq, ""))
        publish(staff_group(office.pk), events.changed(seq))


def set_presence(member: StaffMember, state: str, now: dt.datetime | None = None) -> AgentPresence:
    if state not in PresenceState.values:
        raise QueueError(_("Unknown presence state."), "bad_state")
    now = now or timezone.now()
    with transaction.atomic():
        presence = _lock_presence(member, now)
        if state != PresenceState.BUSY and _has_active_call(member) and state != PresenceState.OFFLINE:
            state = PresenceState.BUSY  # the seat stays taken until the consultation ends
        if presence.state != state:
            AgentPresence.objects.filter(pk=presence.pk).update(state=state, changed_at=now, last_seen_at=now)
            presence_history.record(member, state, now)  # staffed minutes and pauses for the statistics
            for office in offices_served(member):
                _queue_event_live_only(office)
        presence.refresh_from_db()
    return presence


def _queue_event_live_only(office: Office) -> None:
    """Seat counts changed (not the queue): everyone gets the new figures."""
    seq = _bump(office)
    figures = office_live(office).as_json()
    publish(waiting_group(office.pk), events.live(seq, figures))
    publish(staff_group(office.pk), events.changed(seq))
    publish(directory_group(office.organization_id), events.office_live(office.slug, figures))


def _free_seat(agent_id: int | None, now: dt.datetime) -> None:
    """A call or consultation is over: a busy agent is available again (one who went on pause
    or offline meanwhile stays so)."""
    if agent_id is not None:
        AgentPresence.objects.filter(member_id=agent_id, state=PresenceState.BUSY).update(
            state=PresenceState.AVAILABLE, changed_at=now
        )


def finish_consultation_seat(agent_id: int | None, office: Office, now: dt.datetime) -> None:
    """After a consultation the agent's seat is free again."""
    _free_seat(agent_id, now)
    _queue_event_live_only(office)


# --- the citizen's view -----------------------------------------------------------------------
def ticket_by_token(token: str) -> Ticket | None:
    if not looks_like_token(token):
        return None
    return Ticket.objects.select_related("office__organization", "service").filter(token=token).first()


# A snapshot's office part (figures, queue order, announcement) is the same for every citizen
# at one sequence number: each process keeps the latest per office and reuses it for every
# connect and resync until the sequence number moves. It is built without the office's row
# lock: the sequence number is read before and after, and a build that saw a change commit
# meanwhile is not used (every change bumps it in its own transaction).
SNAPSHOT_ATTEMPTS = 3


@dataclass(frozen=True)
class _OfficeView:
    state_id: int | None
    seq: int
    announcement: str
    live: dict[str, Any]
    order: list[tuple[int, int, int]]  # (-priority, queue key, pk) of the waiting tickets
    built_at: float  # time.monotonic()
    live_text: str = ""  # ``live`` serialised once (a range per position: large in a long queue)


# An enter form shows the figures of at most this age (the join decides on fresh ones).
RECENT_LIVE_SECONDS = 1.0

_views: dict[int, _OfficeView] = {}


def forget_snapshots() -> None:
    """Drop this process's cached office views (tests; a restored database)."""
    _views.clear()
    _recent_live.clear()
    _join_rows_cache.clear()


def _queue_state(office_id: int) -> tuple[int | None, int, str]:
    row = QueueState.objects.filter(office=office_id).values_list("pk", "seq", "announcement").first()
    return row if row is not None else (None, 0, "")


def _office_view(office_id: int, state_id: int | None, seq: int) -> _OfficeView | None:
    """The office's view at ``seq``: cached, or built now; None if the office has moved on."""
    view = _views.get(office_id)
    if view is not None and view.seq == seq and view.state_id == state_id:
        return view
    before = _queue_state(office_id)
    office = Office.objects.get(pk=office_id)
    rows = _live_rows(office, timezone.now())
    after = _queue_state(office_id)
    if before != after:
        return None  # a change committed while we read: not consistent with any seq
    live = rows.live().as_json()
    view = _OfficeView(after[0], after[1], after[2], live, rows.order, time.monotonic(), encode(live))
    current = _views.get(office_id)
    if current is None or current.seq <= view.seq:
        _views[office_id] = view
    return view if view.seq == seq and view.state_id == state_id else None


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


def snapshot(ticket: Ticket) -> dict[str, Any]:
    """Everything a waiting-room page needs, consistent with the sequence number it names.
    The ticket and its office's sequence number come from one statement; the rest from the
    office's cached view at that number (one query per connect while nothing changes)."""
    payload, _text = _snapshot(ticket)
    return payload


def snapshot_text(ticket: Ticket) -> tuple[str, str]:
    """The ticket's status and its snapshot as the socket sends it (the office's figures
    serialised once per sequence number, not once per citizen)."""
    payload, live_text = _snapshot(ticket)
    if live_text is None:
        return payload["status"], encode(payload)
    # The figures' text goes where a marker string was encoded (whatever the encoder's separators).
    rest: dict[str, Any] = {**payload, "live": _LIVE_MARKER}
    return payload["status"], encode(rest).replace(encode(_LIVE_MARKER), live_text, 1)


# Random per process: no text of a payload (an announcement, say) can equal it.
_LIVE_MARKER = f"live-{secrets.token_hex(16)}"


_SNAPSHOT_ROW = (
    f"SELECT t.id, t.office_id, t.status, t.priority, t.queue_key, t.call_deadline, "  # noqa: S608
    f"q.id AS state_id, q.seq AS office_seq FROM {Ticket._meta.db_table} t "
    f"LEFT JOIN {QueueState._meta.db_table} q ON q.office_id = t.office_id WHERE t.id = %s"
)
_SOCKET_TICKET = (
    f"SELECT id, office_id, status, token, priority, queue_key, call_deadline "  # noqa: S608
    f"FROM {Ticket._meta.db_table} WHERE token = %s"
)


def socket_ticket(token: str) -> Ticket | None:
    """The ticket of a waiting-room socket: only the fields the socket uses (the rest load
    on access)."""
    if not looks_like_token(token):
        return None
    return next(iter(Ticket.objects.raw(_SOCKET_TICKET, [token])), None)


def _snapshot(ticket: Ticket) -> tuple[dict[str, Any], str | None]:
    for _attempt in range(SNAPSHOT_ATTEMPTS):
        # One statement (hand-written: composing it with the ORM cost more than running it).
        row = next(iter(Ticket.objects.raw(_SNAPSHOT_ROW, [ticket.pk])))
        state_id, seq = getattr(row, "state_id", None), getattr(row, "office_seq", None)  # extra columns
        view = _office_view(row.office_id, state_id, seq or 0)
        if view is None:
            continue  # the queue moved meanwhile: read again
        for name in ("office_id", "status", "priority", "queue_key", "call_deadline"):
            setattr(ticket, name, getattr(row, name))
        position = None
        if ticket.status == TicketStatus.WAITING:
            position = bisect.bisect_left(view.order, _order_of(ticket)) + 1
        return _snapshot_payload(ticket, view.seq, position, view.live, view.announcement), view.live_text
    return _locked_snapshot(ticket), None


def _locked_snapshot(ticket: Ticket) -> dict[str, Any]:
    """The snapshot under the office's row lock (an office that changes faster than we read)."""
    with transaction.atomic():
        state = locked(QueueState.objects.filter(office=ticket.office_id)).first()
        ticket.refresh_from_db()
        position = _queue_ahead(ticket).count() + 1 if ticket.status == TicketStatus.WAITING else None
        live = office_live(ticket.office)
        return _snapshot_payload(
            ticket, state.seq if state else 0, position, live.as_json(), state.announcement if state else ""
        )


def _snapshot_payload(
    ticket: Ticket, seq: int, position: int | None, live: dict[str, Any], announcement: str
) -> dict[str, Any]:
    return {
        "type": "snapshot",
        "seq": seq,
        "status": ticket.status,
        "key": ticket.order_key,
        "position": position,
        "live": live,
        "announcement": announcement,
        "deadline": ticket.call_deadline.isoformat()
        if ticket.status == TicketStatus.CALLED and ticket.call_deadline
        else None,
        "consultation": _consultation_id(ticket),
        "closes_at": _closes_at(ticket.office_id),
        "office": ticket.office_id,  # which queue: a page that missed a transfer notices it here
    }


def _closes_at(office_id: int) -> str | None:
    """When the office closes today (for the “wait runs past closing” notice), if it is open."""
    closes_at = cached_status(office_id).closes_at
    return closes_at.isoformat() if closes_at else None


def _consultation_id(ticket: Ticket) -> int | None:
    if ticket.status != TicketStatus.ADMITTED:
        return None
    return Consultation.objects.filter(ticket=ticket).values_list("pk", flat=True).first()


# --- jobs ---------------------------------------------------------------------------------------
def expire_unanswered_calls(now: dt.datetime | None = None) -> int:
    """A citizen who does not confirm in time goes back to the queue once, then is a no-show."""
    now = now or timezone.now()
    overdue = list(
        Ticket.objects.filter(status=TicketStatus.CALLED, call_deadline__lt=now).values_list("pk", flat=True)
    )
    for ticket_id in overdue:
        with transaction.atomic():
            ticket = locked(Ticket.objects.filter(pk=ticket_id)).select_related("office").get()
            if (
                ticket.status != TicketStatus.CALLED
                or ticket.call_deadline is None
                or ticket.call_deadline >= now
            ):
                continue
            _free_seat(ticket.called_by_id, now)
            if ticket.missed_calls >= 1:
                Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.NO_SHOW, ended_at=now)
                publish(staff_group(ticket.office_id), events.changed(_bump(ticket.office)))
                _ticket_event(ticket, events.ended(TicketStatus.NO_SHOW))
                continue
            ticket.queue_key = _new_queue_key(now)  # back to the end of the queue
            Ticket.objects.filter(pk=ticket.pk).update(
                status=TicketStatus.WAITING,
                missed_calls=F("missed_calls") + 1,
                queue_key=ticket.queue_key,
                called_by=None,
                called_at=None,
                call_deadline=None,
            )
            _queue_event(ticket.office, "join", ticket)
            _ticket_event(ticket, events.requeued())
    return len(overdue)


def expire_lost_tickets(now: dt.datetime | None = None) -> int:
    """Places held after the last connection ended are given up after the office's grace period."""
    now = now or timezone.now()
    expired = 0
    stale = Ticket.objects.filter(status=TicketStatus.WAITING).select_related("office")
    for ticket in stale.filter(last_seen_at__lt=now - dt.timedelta(seconds=30)).iterator():
        if ticket.last_seen_at < now - dt.timedelta(seconds=ticket.office.hold_place_seconds):
            expired += _end_ticket(ticket, TicketStatus.EXPIRED, now)
    return expired


def mark_absent_agents_offline(now: dt.datetime | None = None, grace_seconds: int = 45) -> int:
    """A closed console frees its seat after a short grace (not while in a consultation)."""
    now = now or timezone.now()
    absent = AgentPresence.objects.filter(
        state__in=[PresenceState.AVAILABLE, PresenceState.PAUSE],
        last_seen_at__lt=now - dt.timedelta(seconds=grace_seconds),
    ).select_related("member")
    count = 0
    for presence in absent:
        set_presence(presence.member, PresenceState.OFFLINE, now)
        count += 1
    return count


def touch(ticket_ids: list[int], member_ids: list[int], now: dt.datetime | None = None) -> None:
    """Connected sockets of one process say “still here”: two queries, however many."""
    now = now or timezone.now()
    if ticket_ids:
        Ticket.objects.filter(pk__in=ticket_ids, status__in=ACTIVE_STATUSES).update(last_seen_at=now)
    if member_ids:
        AgentPresence.objects.filter(member_id__in=member_ids).update(last_seen_at=now)

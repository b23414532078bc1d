"""Entering the waiting room: the refusals (closed, full, wait past closing), a walk-in's
join (straight to a free seat if nobody waits) and the arrival of a citizen with an appointment."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from buergerbuero.lib.text import clean_text
from buergerbuero.offices.models import AdmissionMode, Office, Service
from buergerbuero.offices.services import OfficeStatus, cached_status, status_label
from buergerbuero.realtime import events
from buergerbuero.realtime import publish as realtime
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting import estimate
from buergerbuero.waiting.models import (
    Mode,
    Ticket,
)
from buergerbuero.waiting.services import errors, groups, live_figures, seating, sequence

# Booked citizens come before walk-ins for the staff member they booked.
BOOKED_PRIORITY = 10


@dataclass(frozen=True)
class Refusal:
    code: str  # closed | full | past_closing
    message: str
    opens_at: dt.datetime | None
    detail: str = ""  # e.g. “closed — opens Monday at 08:00”


def join_refusal(
    office: Office,
    now: dt.datetime,
    live: live_figures.OfficeLive | None = None,
    status: OfficeStatus | None = None,
) -> Refusal | None:
    """Why a citizen cannot enter right now, or None. Nobody already waiting is affected.
    ``live``, ``status``: the office's figures and opening status if the caller has them
    (else read now)."""
    status = cached_status(office.pk, now) if status is None else status
    if not status.is_open:
        detail = status_label(status, office.organization.zone)
        return Refusal("closed", _("The office is closed right now."), status.opens_at, detail)
    live = live or live_figures.office_live(office, now)
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


def new_queue_key(now: dt.datetime) -> int:
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
        queue_key=new_queue_key(now),
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
        raise errors.QueueError(_("Please choose one of this office's services."), "bad_service")
    if mode not in Mode.values:
        raise errors.QueueError(_("Please choose video or chat."), "bad_mode")
    # The opening hours are not the queue's: read (cached) before taking the office's turn.
    status = cached_status(office.pk, now)
    with _join_turn(office.pk), transaction.atomic():
        # Joins of one office take turns: the limit holds when many enter at the same instant.
        # Only what must be decided in turn happens under the lock.
        state_id, seq = sequence.lock_and_bump(office)  # seq: this join's number
        rows, read_at = _join_rows(office, state_id, seq - 1, now)
        refusal = join_refusal(office, now, rows.live(), status)
        if refusal is not None:
            raise errors.QueueError(refusal.message, refusal.code)
        ticket = _new_ticket(office, service, display_name, language, mode, now)
        # Nobody idle (read above): no seat to take, whatever the seats say.
        direct = (
            office.admission_mode == AdmissionMode.QUEUE
            and rows.idle > 0
            and seating.seat_free(office, locked_already=True)
        )
        agent = seating.free_agent(office, service) if direct else None
        # Citizens waiting for another staff member (by appointment) are not ahead for this one.
        if (
            agent is not None
            and not live_figures.queue_ahead(ticket)
            .filter(Q(reserved_for__isnull=True) | Q(reserved_for=agent))
            .exists()
        ):
            seating.admit(ticket, agent, now)
            sequence.live_event(office, seq=seq)
        else:
            # The figures are those read above with the newcomer in its place.
            queued = rows.with_newcomer(ticket)
            sequence.queue_event(office, "join", ticket, queued.live(), seq=seq)
            _remember_join_rows(office.pk, _JoinRows(state_id, seq, ticket.pk, read_at, queued))
    return ticket


# The office's rows as the last join committed them, at the sequence number it wrote: a join
# that finds the office still there (no change since, in any process: every change bumps the
# number) reads no queue. In a rush that read grew with every citizen and was most of the time
# under the lock. Elapsed times in the rows age, so they are reused only for
# RECENT_LIVE_SECONDS after the database was read. Two levels: this process's own (no copying)
# and, when scaled, the shared cache (Redis), since the joins of a rush alternate between
# processes and a process's own copy is then always one join behind.
_join_rows_cache: dict[int, _JoinRows] = {}


@dataclass(frozen=True)
class _JoinRows:
    state_id: int
    seq: int
    newcomer: int  # the ticket of the join that wrote them
    read_at: float  # time.time() of the database read they stem from
    rows: live_figures.LiveRows

    def fresh_at(self, state_id: int, seq: int) -> bool:
        return (
            self.state_id == state_id
            and self.seq == seq
            and time.time() - self.read_at < live_figures.RECENT_LIVE_SECONDS
        )


def _shared_key(office_id: int) -> str:
    return f"waiting:join-rows:{office_id}"


def forget_join_rows() -> None:
    _join_rows_cache.clear()


def _join_rows(
    office: Office, state_id: int, seq: int, now: dt.datetime
) -> tuple[live_figures.LiveRows, float]:
    """The office's rows at ``seq`` (call with its queue row locked) and when they were read."""
    cached = _join_rows_cache.get(office.pk)
    if cached is not None and cached.fresh_at(state_id, seq):
        return cached.rows, cached.read_at
    shared = _shared_join_rows(office.pk)
    # Written before its join committed: the newcomer's row tells that it did (a join that
    # rolled back leaves the number at ``seq - 1``, and a later change may reach ``seq``).
    if (
        shared is not None
        and shared.fresh_at(state_id, seq)
        and Ticket.objects.filter(pk=shared.newcomer).exists()
    ):
        return shared.rows, shared.read_at
    return live_figures.live_rows(office, now), time.time()


def _shared_join_rows(office_id: int) -> _JoinRows | None:
    if not settings.REDIS_URL:
        return None
    try:
        shared = cache.get(_shared_key(office_id))
    except Exception:  # Redis away: the database has the rows
        return None
    return shared if isinstance(shared, _JoinRows) else None


def _remember_join_rows(office_id: int, entry: _JoinRows) -> None:
    """Called under the office's lock, before commit: the shared copy is there when the next
    join (in any process) gets the lock; this process's own copy only once committed."""
    if settings.REDIS_URL:
        with contextlib.suppress(Exception):  # Redis away: the next join reads the database
            cache.set(_shared_key(office_id), entry, timeout=live_figures.RECENT_LIVE_SECONDS + 1)

    def remember_locally() -> None:
        current = _join_rows_cache.get(office_id)
        if current is None or current.state_id != entry.state_id or current.seq < entry.seq:
            _join_rows_cache[office_id] = entry

    transaction.on_commit(remember_locally)


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
        sequence.lock_office(office)
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
        sequence.queue_event(office, "join", ticket)
        realtime.publish(groups.member_group(agent.pk), events.booked_arrived(ticket.pk))
    return ticket

"""What staff do with the queue (call, admit, remove, undo, transfer, announce) and a
citizen's own leaving: calling is exactly-once (see the package's docstring)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from buergerbuero.lib.locking import locked
from buergerbuero.lib.text import clean_text
from buergerbuero.offices.models import AdmissionMode, Office
from buergerbuero.realtime import events
from buergerbuero.realtime import publish as realtime
from buergerbuero.staff.models import StaffMember
from buergerbuero.staff.services import offices_served
from buergerbuero.waiting.models import (
    AgentPresence,
    PresenceState,
    QueueState,
    Ticket,
    TicketStatus,
)
from buergerbuero.waiting.services import errors, groups, seating, sequence


def _require_office(agent: StaffMember, office: Office) -> None:
    if not offices_served(agent).filter(pk=office.pk).exists():
        raise PermissionDenied


def callable_tickets(agent: StaffMember) -> QuerySet[Ticket]:
    """Waiting tickets this agent may call: their offices, their services (all if none set),
    and no citizen who booked someone else."""
    tickets = Ticket.objects.filter(
        Q(reserved_for__isnull=True) | Q(reserved_for=agent),
        office__in=offices_served(agent),
        status=TicketStatus.WAITING,
    )
    services = list(agent.services.values_list("pk", flat=True))
    if services:
        tickets = tickets.filter(Q(service__in=services) | Q(service__isnull=True) | Q(reserved_for=agent))
    return tickets.order_by("-priority", "queue_key", "pk")


def call_next(agent: StaffMember, now: dt.datetime | None = None) -> Ticket | None:
    """Call the first waiting citizen this agent may serve (fair: priority, then arrival)."""
    return _call(agent, None, now or timezone.now())


def call_ticket(agent: StaffMember, ticket_id: int, now: dt.datetime | None = None) -> Ticket:
    """Admit a particular citizen (offices run as “knock and be let in”)."""
    ticket = _call(agent, ticket_id, now or timezone.now())
    if ticket is None:
        raise errors.QueueError(_("This citizen is no longer waiting."), "gone")
    return ticket


def _call(agent: StaffMember, ticket_id: int | None, now: dt.datetime) -> Ticket | None:
    with transaction.atomic():
        seating.lock_presence(agent, now)
        if seating.has_active_call(agent):
            raise errors.QueueError(_("Finish your current consultation first."), "busy")
        candidates = callable_tickets(agent)
        if ticket_id is not None:
            candidates = candidates.filter(pk=ticket_id)
        # The first in line, locked (waiting if another transaction holds the row). Not SKIP
        # LOCKED: a process's heartbeat for its sockets (``periodic.touch``) writes the waiting
        # tickets too, and a call made meanwhile skipped them (the second in line, or "nobody
        # waits" while everyone did). A call that waited for another agent's call of the same
        # citizen finds them no longer waiting, and PostgreSQL's locking read goes on to the next.
        ticket: Ticket | None = locked(candidates).select_related("office").first()
        if ticket is None:
            return None
        admits_anyone = ticket.office.admission_mode == AdmissionMode.KNOCK
        if ticket_id is not None and not admits_anyone and ticket.reserved_for_id != agent.pk:
            raise errors.QueueError(_("This office calls citizens in order; use “call next”."), "not_knock")
        if not seating.seat_free(ticket.office):
            raise errors.QueueError(_("All seats of this office are taken right now."), "no_seat")
        deadline = now + dt.timedelta(seconds=ticket.office.call_confirm_seconds)
        claimed = Ticket.objects.filter(pk=ticket.pk, status=TicketStatus.WAITING).update(
            status=TicketStatus.CALLED, called_at=now, call_deadline=deadline, called_by=agent
        )
        if claimed != 1:  # only possible without row locks; the caller may simply try again
            return None
        AgentPresence.objects.filter(member=agent).update(state=PresenceState.BUSY, changed_at=now)
        ticket.refresh_from_db()
        # The called citizen first: the queue message goes to everyone and takes longer.
        sequence.ticket_event(ticket, events.called(deadline.isoformat(), agent.public_name))
        sequence.queue_event(ticket.office, "leave", ticket)
    return ticket


def confirm_call(ticket: Ticket, now: dt.datetime | None = None) -> Ticket:
    """The citizen answers “I'm here”: they are admitted (the consultation starts). Answering
    twice is fine: the second answer finds them admitted."""
    now = now or timezone.now()
    with transaction.atomic():
        ticket = locked(Ticket.objects.filter(pk=ticket.pk)).select_related("office", "called_by").get()
        if ticket.status == TicketStatus.ADMITTED:
            return ticket
        if ticket.status != TicketStatus.CALLED or ticket.called_by is None:
            raise errors.QueueError(_("You have not been called (any more)."), "not_called")
        seating.admit(ticket, ticket.called_by, now)
        return ticket


def leave(ticket: Ticket, now: dt.datetime | None = None) -> bool:
    """The citizen leaves the waiting room (or the call) of their own accord; False if they
    were no longer waiting (e.g. already in the consultation)."""
    return end_ticket(ticket, TicketStatus.LEFT, now or timezone.now())


def remove(
    agent: StaffMember, ticket_id: int, *, no_show: bool = False, now: dt.datetime | None = None
) -> None:
    ticket = Ticket.objects.select_related("office").get(pk=ticket_id)
    _require_office(agent, ticket.office)
    status = TicketStatus.NO_SHOW if no_show else TicketStatus.REMOVED
    if not end_ticket(ticket, status, now or timezone.now()):
        raise errors.QueueError(_("This citizen is no longer waiting."), "gone")


# A removal (or no-show) by staff can be taken back this long after it happened.
UNDO_SECONDS = 10

_UNDOABLE = (TicketStatus.REMOVED, TicketStatus.NO_SHOW)


def undo_remove(agent: StaffMember, ticket_id: int, now: dt.datetime | None = None) -> Ticket:
    """Take back a removal or no-show of a waiting citizen: within ``UNDO_SECONDS`` of it, by
    staff of the ticket's office, the citizen gets their old place back (the same arrival time
    and queue key, so everyone behind moves down again). Later, or for a ticket that ended
    otherwise (left, expired, consultation), the removal stands."""
    now = now or timezone.now()
    with transaction.atomic():
        ticket: Ticket = locked(Ticket.objects.filter(pk=ticket_id)).select_related("office").get()
        _require_office(agent, ticket.office)
        if (
            ticket.status not in _UNDOABLE
            or ticket.ended_at is None
            or now - ticket.ended_at > dt.timedelta(seconds=UNDO_SECONDS)
        ):
            raise errors.QueueError(_("This removal can no longer be undone."), "too_late")
        # Liveness counts from now: the page was told it ended and needs a moment to come back.
        Ticket.objects.filter(pk=ticket.pk).update(
            status=TicketStatus.WAITING, ended_at=None, last_seen_at=now
        )
        sequence.queue_event(ticket.office, "join", ticket)
        sequence.ticket_event(ticket, events.requeued())
    return ticket


def end_ticket(ticket: Ticket, status: str, now: dt.datetime) -> bool:
    with transaction.atomic():
        current = locked(Ticket.objects.filter(pk=ticket.pk)).select_related("office").get()
        if current.status not in (TicketStatus.WAITING, TicketStatus.CALLED):
            return False
        was_waiting = current.status == TicketStatus.WAITING
        Ticket.objects.filter(pk=current.pk).update(status=status, ended_at=now)
        if current.called_by_id is not None and not was_waiting:
            seating.free_seat(current.called_by_id, now)
        if was_waiting:
            sequence.queue_event(current.office, "leave", current)
        else:
            sequence.live_event(current.office)  # a seat was freed: new figures for everyone
        sequence.ticket_event(current, events.ended(status))
    return True


def transfer(agent: StaffMember, ticket_id: int, target: Office, now: dt.datetime | None = None) -> Ticket:
    """Move a waiting citizen to another office's queue, keeping their arrival time."""
    now = now or timezone.now()
    with transaction.atomic():
        ticket: Ticket = locked(Ticket.objects.filter(pk=ticket_id)).select_related("office").get()
        _require_office(agent, ticket.office)
        # Lock both offices' rows in one order, so that opposite transfers cannot deadlock.
        list(
            locked(QueueState.objects.filter(office__in=[ticket.office_id, target.pk]).order_by("office_id"))
        )
        if target.organization_id != ticket.office.organization_id or target.pk == ticket.office_id:
            raise errors.QueueError(_("Choose another office of your organisation."), "bad_target")
        if ticket.status != TicketStatus.WAITING:
            raise errors.QueueError(_("This citizen is no longer waiting."), "gone")
        source = ticket.office
        Ticket.objects.filter(pk=ticket.pk).update(office=target, service=None)
        sequence.queue_event(source, "leave", ticket)
        ticket.office = target
        sequence.queue_event(target, "join", ticket)
        # Typed fields: the page changes its heading and waiting area and tells the citizen.
        sequence.ticket_event(ticket, events.transferred(target.pk, target.name, target.show_position))
    return ticket


def announce(agent: StaffMember, office: Office, text: str, now: dt.datetime | None = None) -> None:
    """A message to everyone waiting in the office (shown until replaced)."""
    _require_office(agent, office)
    text = clean_text(text)
    if not text or len(text) > 500:
        raise errors.QueueError(_("Please write a message of at most 500 characters."), "bad_text")
    now = now or timezone.now()
    with transaction.atomic():
        seq = sequence.bump(office)
        QueueState.objects.filter(office=office).update(announcement=text, announced_at=now)
        realtime.publish(groups.waiting_group(office.pk), events.announcement(seq, text))
        realtime.publish(groups.staff_group(office.pk), events.changed(seq))


def clear_announcement(agent: StaffMember, office: Office, now: dt.datetime | None = None) -> None:
    """Take the message to everyone waiting down: every waiting room hides it at once."""
    _require_office(agent, office)
    now = now or timezone.now()
    with transaction.atomic():
        seq = sequence.bump(office)
        QueueState.objects.filter(office=office).update(announcement="", announced_at=now)
        realtime.publish(groups.waiting_group(office.pk), events.announcement(seq, ""))
        realtime.publish(groups.staff_group(office.pk), events.changed(seq))

"""Seats and agents: whether a seat is free, which agent is free, the agent's presence row
(locked while their state changes), admitting a citizen and freeing the seat afterwards.

Admitting is where the waiting room hands over to the consultation, which stands above it:
``admit`` records the facts on the ticket and sends ``ticket_admitted`` inside its
transaction; the consultation app answers by starting the consultation (and announcing it),
so that waiting never needs to know what a consultation is."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.dispatch import Signal

from buergerbuero.lib.locking import locked
from buergerbuero.offices.models import Office, Service
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import (
    AgentPresence,
    PresenceState,
    Ticket,
    TicketStatus,
)
from buergerbuero.waiting.services import live_figures, sequence

# Sent with ``ticket``, ``agent`` and ``now`` inside the transaction that admits the citizen.
ticket_admitted = Signal()


def seat_free(office: Office, *, locked_already: bool = False) -> bool:
    """Fewer citizens called or in consultation than the office has seats. Locks the office's
    row first, so that two agents cannot both take the last seat."""
    if not locked_already:
        sequence.lock_office(office)
    taken = Ticket.objects.filter(office=office, status__in=[TicketStatus.CALLED, TicketStatus.ADMITTED])
    return taken.count() < office.seats


def free_agent(office: Office, service: Service | None) -> StaffMember | None:
    """The available agent of this office idle the longest, locked; None if none is free."""
    candidates = (
        AgentPresence.objects.filter(state=PresenceState.AVAILABLE, member__in=live_figures.agents_of(office))
        .exclude(member__called_tickets__status__in=[TicketStatus.CALLED, TicketStatus.ADMITTED])
        .exclude(member__reserved_tickets__status=TicketStatus.WAITING)  # expecting a booked citizen
    )
    if service is not None:
        candidates = candidates.filter(Q(member__services=service) | Q(member__services__isnull=True))
    # SKIP LOCKED: a join holds its office's row here, and a call locks the agent's presence
    # before the office's row; waiting here could deadlock with it. A presence skipped while a
    # heartbeat writes it only means that the citizen queues and is called a moment later.
    presence = locked(candidates.order_by("changed_at", "pk"), skip_locked=True).first()
    return presence.member if presence is not None else None


def lock_presence(agent: StaffMember, now: dt.datetime) -> AgentPresence:
    presence, _created = AgentPresence.objects.get_or_create(
        member=agent, defaults={"changed_at": now, "last_seen_at": now}
    )
    row: AgentPresence = locked(AgentPresence.objects.filter(pk=presence.pk)).get()
    return row


def has_active_call(agent: StaffMember) -> bool:
    return Ticket.objects.filter(
        called_by=agent, status__in=[TicketStatus.CALLED, TicketStatus.ADMITTED]
    ).exists()


def admit(ticket: Ticket, agent: StaffMember, now: dt.datetime) -> None:
    """The citizen is in: their ticket is admitted by ``agent``, whose seat is now busy."""
    ticket.status, ticket.called_by, ticket.admitted_at = TicketStatus.ADMITTED, agent, now
    ticket.called_at = ticket.called_at or now
    Ticket.objects.filter(pk=ticket.pk).update(
        status=ticket.status, called_by=agent, called_at=ticket.called_at, admitted_at=now
    )
    AgentPresence.objects.filter(member=agent).update(state=PresenceState.BUSY, changed_at=now)
    ticket_admitted.send(sender=Ticket, ticket=ticket, agent=agent, now=now)


def free_seat(agent_id: int | None, now: dt.datetime) -> None:
    """A call or consultation is over: a busy agent is available again (one who went on pause
    or offline meanwhile stays so)."""
    if agent_id is not None:
        AgentPresence.objects.filter(member_id=agent_id, state=PresenceState.BUSY).update(
            state=PresenceState.AVAILABLE, changed_at=now
        )


def finish_consultation_seat(agent_id: int | None, office: Office, now: dt.datetime) -> None:
    """After a consultation the agent's seat is free again."""
    free_seat(agent_id, now)
    sequence.live_event(office)

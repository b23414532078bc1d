"""Seats and agents: whether a seat is free, which agent is free, the agent's presence row
(locked while their state changes), and starting a consultation or freeing the seat after one."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q

from buergerbuero.consult.models import Consultation
from buergerbuero.lib.locking import locked
from buergerbuero.offices.models import Office, Service
from buergerbuero.realtime import events
from buergerbuero.realtime import publish as realtime
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import (
    AgentPresence,
    PresenceState,
    Ticket,
    TicketStatus,
)
from buergerbuero.waiting.services import groups, live_figures, sequence


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


def start_consultation(ticket: Ticket, agent: StaffMember, now: dt.datetime) -> Consultation:
    Ticket.objects.filter(pk=ticket.pk).update(
        status=TicketStatus.ADMITTED, called_by=agent, called_at=ticket.called_at or now
    )
    AgentPresence.objects.filter(member=agent).update(state=PresenceState.BUSY, changed_at=now)
    consultation = Consultation.objects.create(
        ticket=ticket, office=ticket.office, agent=agent, mode=ticket.mode, started_at=now
    )
    sequence.ticket_event(ticket, events.admitted(consultation.pk))
    realtime.publish(groups.member_group(agent.pk), events.admitted(consultation.pk))
    return consultation


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

"""The waiting room's periodic jobs: unanswered calls, places held after the page was lost,
and the "still here" of connected sockets."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from buergerbuero.lib.locking import locked
from buergerbuero.realtime import events
from buergerbuero.realtime import publish as realtime
from buergerbuero.waiting.models import (
    ACTIVE_STATUSES,
    AgentPresence,
    Ticket,
    TicketStatus,
)
from buergerbuero.waiting.services import calling, groups, joining, seating, sequence


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
            seating.free_seat(ticket.called_by_id, now)
            if ticket.missed_calls >= 1:
                Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.NO_SHOW, ended_at=now)
                realtime.publish(
                    groups.staff_group(ticket.office_id), events.changed(sequence.bump(ticket.office))
                )
                sequence.ticket_event(ticket, events.ended(TicketStatus.NO_SHOW))
                continue
            ticket.queue_key = joining.new_queue_key(now)  # back to the end of the queue
            Ticket.objects.filter(pk=ticket.pk).update(
                status=TicketStatus.WAITING,
                missed_calls=F("missed_calls") + 1,
                queue_key=ticket.queue_key,
                called_by=None,
                called_at=None,
                call_deadline=None,
            )
            sequence.queue_event(ticket.office, "join", ticket)
            sequence.ticket_event(ticket, events.requeued())
    return len(overdue)


def expire_lost_tickets(now: dt.datetime | None = None) -> int:
    """Places held after the last connection ended are given up after the office's grace period."""
    now = now or timezone.now()
    expired = 0
    stale = Ticket.objects.filter(status=TicketStatus.WAITING).select_related("office")
    for ticket in stale.filter(last_seen_at__lt=now - dt.timedelta(seconds=30)).iterator():
        if ticket.last_seen_at < now - dt.timedelta(seconds=ticket.office.hold_place_seconds):
            expired += calling.end_ticket(ticket, TicketStatus.EXPIRED, now)
    return expired


def touch(ticket_ids: list[int], member_ids: list[int], now: dt.datetime | None = None) -> None:
    """Connected sockets of one process say “still here”: two queries, however many."""
    now = now or timezone.now()
    if ticket_ids:
        Ticket.objects.filter(pk__in=ticket_ids, status__in=ACTIVE_STATUSES).update(last_seen_at=now)
    if member_ids:
        AgentPresence.objects.filter(member_id__in=member_ids).update(last_seen_at=now)

"""Every change of an office's queue runs in one transaction that locks the office's queue row
and bumps its sequence number (``QueueState.seq``); its events are published after commit,
stamped with that number, so that pages can tell what they missed."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import F

from buergerbuero.lib.locking import locked
from buergerbuero.offices.models import Office
from buergerbuero.realtime import events
from buergerbuero.realtime import publish as realtime
from buergerbuero.waiting.models import (
    QueueState,
    Ticket,
    TicketStatus,
)
from buergerbuero.waiting.services import groups, live_figures


def lock_office(office: Office) -> None:
    """Hold the office's queue row until commit: its changes then happen one after another
    (on SQLite the IMMEDIATE write transaction already serialises everything)."""
    if locked(QueueState.objects.filter(office=office)).first() is None:
        QueueState.objects.get_or_create(office=office)  # the office's very first change
        locked(QueueState.objects.filter(office=office)).get()


def bump(office: Office) -> int:
    """Next sequence number of the office's events; locks its row until commit."""
    if not QueueState.objects.filter(office=office).update(seq=F("seq") + 1):
        QueueState.objects.get_or_create(office=office)
        QueueState.objects.filter(office=office).update(seq=F("seq") + 1)
    return QueueState.objects.values_list("seq", flat=True).get(office=office)


def lock_and_bump(office: Office) -> tuple[int, int]:
    """Lock the office's queue row until commit and take the next sequence number, in one
    statement (a join holds the lock: every round trip under it is one the next join waits
    for); the row's id and the new number. A change refused after this raises and rolls
    back, the number with it."""
    table, quote = QueueState._meta.db_table, connection.ops.quote_name
    sql = f"UPDATE {quote(table)} SET seq = seq + 1 WHERE office_id = %s RETURNING id, seq"  # noqa: S608  # names, not input
    with connection.cursor() as cursor:
        cursor.execute(sql, [office.pk])
        row = cursor.fetchone()
        if row is None:
            QueueState.objects.get_or_create(office=office)  # the office's very first change
            cursor.execute(sql, [office.pk])
            row = cursor.fetchone()
    return int(row[0]), int(row[1])


def queue_event(
    office: Office,
    op: str,
    ticket: Ticket,
    live: live_figures.OfficeLive | None = None,
    *,
    seq: int | None = None,
) -> None:
    """One message per queue change, the same text for every waiting citizen: each derives
    its own position by comparing ``key`` with its own. ``live``: the figures after the
    change, if the caller has them already; ``seq``: the number if the caller took it
    (``lock_and_bump``)."""
    seq = seq or bump(office)
    live = live or live_figures.office_live(office)
    figures = live.as_json()
    realtime.publish(groups.waiting_group(office.pk), events.queue(seq, op, ticket.order_key, figures))
    realtime.publish(groups.staff_group(office.pk), events.changed(seq))
    realtime.publish(groups.directory_group(office.organization_id), events.office_live(office.slug, figures))


def ticket_event(ticket: Ticket, event: events.Event) -> None:
    realtime.publish(groups.ticket_group(ticket.pk), event)


_STATUS_AFTER = {
    events.CALLED: TicketStatus.CALLED,
    events.ADMITTED: TicketStatus.ADMITTED,
    events.REQUEUED: TicketStatus.WAITING,
}


def status_after_event(event: dict[str, Any], status: str) -> str:
    """The ticket's status once its page has received the ticket event ``event`` (as
    published by ``ticket_event``, parsed); what the waiting room compares with the database."""
    kind = events.type_of(event)
    if kind in _STATUS_AFTER:
        return str(_STATUS_AFTER[kind])
    if kind == events.ENDED:
        reason = event.get("reason")
        return str(reason) if isinstance(reason, str) else status
    return status


def live_event(office: Office, *, seq: int | None = None) -> None:
    """Seat counts changed (not the queue): everyone gets the new figures. ``seq``: as for
    ``queue_event``."""
    seq = seq or bump(office)
    figures = live_figures.office_live(office).as_json()
    realtime.publish(groups.waiting_group(office.pk), events.live(seq, figures))
    realtime.publish(groups.staff_group(office.pk), events.changed(seq))
    realtime.publish(groups.directory_group(office.organization_id), events.office_live(office.slug, figures))

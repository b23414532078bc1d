"""What a waiting-room page gets on connect: a snapshot consistent with the sequence number
it names. The office's part (figures, queue order, announcement) is the same for every citizen
at one sequence number: each process keeps the latest per office and reuses it for every
connect and resync until the number moves."""

from __future__ import annotations

import bisect
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from buergerbuero.lib.locking import locked
from buergerbuero.lib.tokens import looks_like_token
from buergerbuero.offices.models import Office
from buergerbuero.offices.services import cached_status
from buergerbuero.realtime.publish import encode
from buergerbuero.waiting.models import (
    QueueState,
    Ticket,
    TicketStatus,
)
from buergerbuero.waiting.services import joining, live_figures


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


_views: dict[int, _OfficeView] = {}


def forget_snapshots() -> None:
    """Drop this process's cached office views (tests; a restored database)."""
    _views.clear()
    live_figures.forget_recent()
    joining.forget_join_rows()


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
    rows = live_figures.live_rows(office, timezone.now())
    after = _queue_state(office_id)
    if before != after:
        return None  # a change committed while we read: not consistent with any seq
    live = rows.live().as_json()
    view = _OfficeView(after[0], after[1], after[2], live, rows.order, time.monotonic(), encode(live))
    current = _views.get(office_id)
    if current is None or current.seq <= view.seq:
        _views[office_id] = view
    return view if view.seq == seq and view.state_id == state_id else None


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
            position = bisect.bisect_left(view.order, live_figures.order_of(ticket)) + 1
        return _snapshot_payload(ticket, view.seq, position, view.live, view.announcement), view.live_text
    return _locked_snapshot(ticket), None


def _locked_snapshot(ticket: Ticket) -> dict[str, Any]:
    """The snapshot under the office's row lock (an office that changes faster than we read)."""
    with transaction.atomic():
        state = locked(QueueState.objects.filter(office=ticket.office_id)).first()
        ticket.refresh_from_db()
        position = (
            live_figures.queue_ahead(ticket).count() + 1 if ticket.status == TicketStatus.WAITING else None
        )
        live = live_figures.office_live(ticket.office)
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
        "closes_at": _closes_at(ticket.office_id),
        "office": ticket.office_id,  # which queue: a page that missed a transfer notices it here
    }


def _closes_at(office_id: int) -> str | None:
    """When the office closes today (for the “wait runs past closing” notice), if it is open."""
    closes_at = cached_status(office_id).closes_at
    return closes_at.isoformat() if closes_at else None

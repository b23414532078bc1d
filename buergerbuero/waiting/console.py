"""What a staff member's console shows: a read model built in a fixed number of queries."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from buergerbuero.offices.models import Office
from buergerbuero.offices.services import OfficeOverview, offices_with_hours, overview
from buergerbuero.staff.models import StaffMember
from buergerbuero.staff.services import offices_served
from buergerbuero.waiting.models import AgentPresence, PresenceState, QueueState, Ticket, TicketStatus
from buergerbuero.waiting.services import calling, live_figures

LIST_LIMIT = 200


def office_ids(member: StaffMember) -> list[int]:
    return list(offices_served(member).values_list("pk", flat=True))


def state(member: StaffMember) -> dict[str, Any]:
    now = timezone.now()
    offices = list(offices_with_hours(offices_served(member)).select_related("organization"))
    announcements = dict(
        QueueState.objects.filter(office__in=offices).values_list("office_id", "announcement")
    )
    presence = AgentPresence.objects.filter(member=member).values_list("state", flat=True).first()
    waiting = (
        Ticket.objects.filter(office__in=offices, status=TicketStatus.WAITING)
        .select_related("service", "office")
        .order_by("-priority", "queue_key", "pk")[:LIST_LIMIT]
    )
    callable_ids = set(calling.callable_tickets(member).values_list("pk", flat=True)[:LIST_LIMIT])
    call = (
        Ticket.objects.filter(called_by=member, status=TicketStatus.CALLED)
        .values("pk", "display_name", "call_deadline")
        .first()
    )
    in_consultation = Ticket.objects.filter(called_by=member, status=TicketStatus.ADMITTED).exists()
    counts = {office.pk: live_figures.office_live(office, now).as_json() for office in offices}
    return {
        "type": "state",
        "presence": presence or PresenceState.OFFLINE,
        "offices": [
            _office_json(office, counts[office.pk], overview(office, now), announcements.get(office.pk, ""))
            for office in offices
        ],
        "waiting": [
            {
                "id": ticket.pk,
                "office": ticket.office_id,
                "name": ticket.display_name,
                "service": ticket.service.name if ticket.service else "",
                "language": ticket.language,
                "mode": ticket.mode,
                "waited_s": int((now - ticket.arrived_at).total_seconds()),
                "priority": ticket.priority,
                "callable": ticket.pk in callable_ids,
                "booked": ticket.reserved_for_id is not None,
                "booked_for_me": ticket.reserved_for_id == member.pk,
                "missed_calls": ticket.missed_calls,
            }
            for ticket in waiting
        ],
        "call": {
            "ticket": call["pk"],
            "name": call["display_name"],
            "deadline": call["call_deadline"].isoformat() if call["call_deadline"] else None,
        }
        if call
        else None,
        "in_consultation": in_consultation,
        "transfer_targets": [
            {"id": office.pk, "name": office.name}
            for office in Office.objects.filter(organization=member.organization).order_by("position", "name")
        ],
    }


def _office_json(
    office: Office, live: dict[str, Any], hours: OfficeOverview, announcement: str
) -> dict[str, Any]:
    """An office card: live figures, the opening status (for "open now" / "close now") and
    the message shown to everyone waiting (for "clear")."""
    next_change = hours.status.next_change_at
    return {
        "id": office.pk,
        "name": office.name,
        "knock": office.admission_mode == "knock",
        "open": hours.status.is_open,
        "status": hours.label,
        "next_change_at": next_change.isoformat() if next_change else None,
        "announcement": announcement,
        **live,
    }

"""The staff console: one page, and small JSON endpoints for its buttons.

Every endpoint is a :func:`staff_action`, which writes the action's audit entry: an action
cannot answer without naming what the audit log keeps of it (:class:`Done`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from buergerbuero.audit.models import Action as Audit
from buergerbuero.audit.services import record
from buergerbuero.offices import services as office_services
from buergerbuero.offices.models import Office
from buergerbuero.staff.current import current_member
from buergerbuero.staff.models import StaffMember
from buergerbuero.staff.services import offices_served
from buergerbuero.waiting import opening
from buergerbuero.waiting.models import Ticket
from buergerbuero.waiting.services import calling, staffing
from buergerbuero.waiting.services.errors import QueueError


@dataclass(frozen=True)
class Done:
    """A console action's answer, and what the audit log keeps of it: the action and ids,
    never a citizen's name or a message's text (``audit`` empty: nothing happened)."""

    answer: dict[str, Any]
    audit: str
    target: str = ""
    details: dict[str, Any] = field(default_factory=dict)


Action = Callable[..., Done]


@login_required
def console(request: HttpRequest) -> HttpResponse:
    member = current_member(request)
    if member is None:
        return render(request, "staff/no_membership.html", status=403)
    languages = {code: str(name) for code, name in settings.LANGUAGES}
    context = {"member": member, "organization": member.organization, "language_names": languages}
    return render(request, "waiting/console.html", context)


def staff_action(action: Action) -> Callable[..., HttpResponse]:
    """POST only, a staff member only; refusals become JSON with a message for the console.
    An action that succeeded leaves one audit entry, written after its transaction committed
    (so recording can neither undo the action nor add to its locked section)."""

    @login_required
    @require_POST
    @wraps(action)
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        member = current_member(request)
        if member is None:
            return JsonResponse({"error": "forbidden"}, status=403)
        try:
            done = action(request, member, **kwargs)
        except (QueueError, office_services.HoursError) as refused:
            return JsonResponse({"error": refused.message, "code": refused.code}, status=409)
        except (PermissionDenied, Ticket.DoesNotExist, Office.DoesNotExist):
            return JsonResponse({"error": "not found"}, status=404)
        if done.audit:
            record(
                done.audit,
                actor=request.user,
                organization=member.organization_id,
                target=done.target,
                details=done.details,
                request=request,
            )
        return JsonResponse(done.answer)

    return view


def _ticket_json(ticket: Ticket | None) -> dict[str, Any]:
    return {"ticket": ticket.pk if ticket else None}


def _ticket(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


@staff_action
def presence(request: HttpRequest, member: StaffMember) -> Done:
    state = staffing.set_presence(member, request.POST.get("state", "")).state
    return Done({"presence": state}, Audit.QUEUE_PRESENCE, details={"state": state})


@staff_action
def call_next(request: HttpRequest, member: StaffMember) -> Done:
    ticket = calling.call_next(member)
    if ticket is None:  # nobody waiting: nothing happened to anyone
        return Done(_ticket_json(None), "")
    return Done(_ticket_json(ticket), Audit.QUEUE_CALL_NEXT, _ticket(ticket.pk))


@staff_action
def call_ticket(request: HttpRequest, member: StaffMember, ticket_id: int) -> Done:
    ticket = calling.call_ticket(member, ticket_id)
    return Done(_ticket_json(ticket), Audit.QUEUE_ADMIT, _ticket(ticket.pk))


@staff_action
def remove(request: HttpRequest, member: StaffMember, ticket_id: int) -> Done:
    no_show = request.POST.get("no_show") == "1"
    calling.remove(member, ticket_id, no_show=no_show)
    return Done({"ok": True}, Audit.QUEUE_NO_SHOW if no_show else Audit.QUEUE_REMOVE, _ticket(ticket_id))


@staff_action
def undo_remove(request: HttpRequest, member: StaffMember, ticket_id: int) -> Done:
    ticket = calling.undo_remove(member, ticket_id)
    return Done(_ticket_json(ticket), Audit.QUEUE_REMOVE_UNDONE, _ticket(ticket_id))


@staff_action
def transfer(request: HttpRequest, member: StaffMember, ticket_id: int) -> Done:
    office_id = request.POST.get("office", "")
    if not office_id.isdigit():
        raise Office.DoesNotExist
    target = Office.objects.get(pk=int(office_id), organization=member.organization)
    ticket = calling.transfer(member, ticket_id, target)
    return Done(_ticket_json(ticket), Audit.QUEUE_TRANSFER, _ticket(ticket_id), {"to_office": target.pk})


@staff_action
def announce(request: HttpRequest, member: StaffMember, office_id: int) -> Done:
    office = offices_served(member).get(pk=office_id)
    calling.announce(member, office, request.POST.get("text", ""))
    # That a message went out, not its text.
    return Done({"ok": True}, Audit.QUEUE_ANNOUNCE, f"office:{office.pk}")


@staff_action
def clear_announcement(request: HttpRequest, member: StaffMember, office_id: int) -> Done:
    office = offices_served(member).get(pk=office_id)
    calling.clear_announcement(member, office)
    return Done({"ok": True}, Audit.QUEUE_ANNOUNCE_CLEARED, f"office:{office.pk}")


@staff_action
def open_now(request: HttpRequest, member: StaffMember, office_id: int) -> Done:
    office = offices_served(member).get(pk=office_id)
    until = office_services.time_of_day(request.POST.get("until", ""))
    status = opening.open_now(member, office, until)
    return Done(
        {"open": status.is_open}, Audit.OFFICE_OPENED_NOW, f"office:{office.pk}", {"until": str(until)}
    )


@staff_action
def close_now(request: HttpRequest, member: StaffMember, office_id: int) -> Done:
    office = offices_served(member).get(pk=office_id)
    status = opening.close_now(member, office)
    return Done({"open": status.is_open}, Audit.OFFICE_CLOSED_NOW, f"office:{office.pk}")

"""The staff console: one page, and small JSON endpoints for its buttons."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from buergerbuero.offices.models import Office
from buergerbuero.staff.models import StaffMember
from buergerbuero.staff.services import offices_served, staff_member_of
from buergerbuero.waiting import services
from buergerbuero.waiting.models import Ticket

Action = Callable[..., dict[str, Any]]


@login_required
def console(request: HttpRequest) -> HttpResponse:
    member = staff_member_of(request.user)
    if member is None:
        return render(request, "staff/no_membership.html", status=403)
    languages = {code: str(name) for code, name in settings.LANGUAGES}
    context = {"member": member, "organization": member.organization, "language_names": languages}
    return render(request, "waiting/console.html", context)


def staff_action(action: Action) -> Callable[..., HttpResponse]:
    """POST only, a staff member only; refusals become JSON with a message for the console."""

    @login_required
    @require_POST
    @wraps(action)
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        member = staff_member_of(request.user)
        if member is None:
            return JsonResponse({"error": "forbidden"}, status=403)
        try:
            return JsonResponse(action(request, member, **kwargs))
        except services.QueueError as refused:
            return JsonResponse({"error": refused.message, "code": refused.code}, status=409)
        except (PermissionDenied, Ticket.DoesNotExist, Office.DoesNotExist):
            return JsonResponse({"error": "not found"}, status=404)

    return view


def _ticket_json(ticket: Ticket | None) -> dict[str, Any]:
    return {"ticket": ticket.pk if ticket else None}


@staff_action
def presence(request: HttpRequest, member: StaffMember) -> dict[str, Any]:
    return {"presence": services.set_presence(member, request.POST.get("state", "")).state}


@staff_action
def call_next(request: HttpRequest, member: StaffMember) -> dict[str, Any]:
    return _ticket_json(services.call_next(member))


@staff_action
def call_ticket(request: HttpRequest, member: StaffMember, ticket_id: int) -> dict[str, Any]:
    return _ticket_json(services.call_ticket(member, ticket_id))


@staff_action
def remove(request: HttpRequest, member: StaffMember, ticket_id: int) -> dict[str, Any]:
    services.remove(member, ticket_id, no_show=request.POST.get("no_show") == "1")
    return {"ok": True}


@staff_action
def transfer(request: HttpRequest, member: StaffMember, ticket_id: int) -> dict[str, Any]:
    office_id = request.POST.get("office", "")
    if not office_id.isdigit():
        raise Office.DoesNotExist
    target = Office.objects.get(pk=int(office_id), organization=member.organization)
    return _ticket_json(services.transfer(member, ticket_id, target))


@staff_action
def announce(request: HttpRequest, member: StaffMember, office_id: int) -> dict[str, Any]:
    office = offices_served(member).get(pk=office_id)
    services.announce(member, office, request.POST.get("text", ""))
    return {"ok": True}

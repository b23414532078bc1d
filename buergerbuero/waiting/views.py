"""Citizen pages of the waiting room: enter, wait, confirm, leave."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from buergerbuero.embed.framing import citizen_page
from buergerbuero.limits import services as limits
from buergerbuero.offices.shortcuts import office_or_404
from buergerbuero.waiting.forms import EnterForm, enter_fields
from buergerbuero.waiting.models import Ticket, TicketStatus
from buergerbuero.waiting.services import calling, joining, live_figures, snapshots
from buergerbuero.waiting.services.errors import QueueError

JOIN_SCOPE = "join"
JOIN_WINDOW_SECONDS = 600


def _ticket(token: str) -> Ticket:
    ticket = snapshots.ticket_by_token(token)
    if ticket is None:
        raise Http404
    return ticket


def enter(request: HttpRequest, org_slug: str, office_slug: str) -> HttpResponse:
    office = office_or_404(org_slug, office_slug)
    status = 200
    form: EnterForm | None = None
    if request.method == "POST":
        form = EnterForm(office, request.POST)
        joins = limits.hit(
            JOIN_SCOPE, limits.client_address(request), settings.JOIN_LIMIT_PER_ADDRESS, JOIN_WINDOW_SECONDS
        )
        if not joins.allowed:
            form.add_error(None, _("You have entered too often in a short time. Please wait ten minutes."))
            status = 429
        elif form.is_valid():
            try:
                ticket = joining.join(
                    office,
                    service=form.cleaned_data.get("service"),
                    display_name=form.cleaned_data["display_name"],
                    language=form.cleaned_data["language"],
                    mode=form.cleaned_data["mode"],
                )
            except QueueError as refused:
                form.add_error(None, refused.message)
                status = 409
            else:
                return redirect("waiting:room", token=ticket.token)
        else:
            status = 400
    # The form shows figures up to a second old: in a rush every join changes them, and the
    # join itself decides on fresh ones.
    refusal = joining.join_refusal(office, timezone.now(), live_figures.recent_live(office))
    return citizen_page(
        request,
        "waiting/enter.html",
        {
            "organization": office.organization,
            "office": office,
            "form": form,
            # A GET's fields are the same for every citizen: rendered once (forms.enter_fields).
            "fields": enter_fields(office, request.LANGUAGE_CODE) if form is None and refusal is None else "",
            "refusal": refusal,
            "zone": office.organization.zone,
        },
        status=status,
    )


def room(request: HttpRequest, token: str) -> HttpResponse:
    ticket = _ticket(token)
    if ticket.status == TicketStatus.ADMITTED:
        return redirect("consult:citizen", token=token)
    if ticket.status == TicketStatus.DONE:
        return redirect("consult:done", token=token)
    context: dict[str, Any] = {
        "organization": ticket.office.organization,
        "office": ticket.office,
        "ticket": ticket,
    }
    if ticket.status in (TicketStatus.WAITING, TicketStatus.CALLED):
        context["snapshot"] = snapshots.snapshot(ticket)
        return citizen_page(request, "waiting/room.html", context)
    return citizen_page(request, "waiting/ended.html", context)


def area(request: HttpRequest, token: str) -> HttpResponse:
    """The parts of the waiting room that belong to the ticket's office (heading, welcome text,
    checklist, media): the page swaps them in after a transfer, without a reload."""
    ticket = _ticket(token)
    context = {"organization": ticket.office.organization, "office": ticket.office, "ticket": ticket}
    return citizen_page(request, "waiting/_office_parts.html", context)


@require_POST
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    ticket = _ticket(token)
    try:
        calling.confirm_call(ticket)
    except QueueError as refused:
        messages.error(request, refused.message)
        return redirect("waiting:room", token=token)
    return redirect("consult:citizen", token=token)


@require_POST
def leave(request: HttpRequest, token: str) -> HttpResponse:
    ticket = _ticket(token)
    if not calling.leave(ticket):
        return redirect("waiting:room", token=token)
    messages.info(request, _("You have left the waiting room."))
    return redirect("office", org_slug=ticket.office.organization.slug, office_slug=ticket.office.slug)

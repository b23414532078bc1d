"""The consultation page for both sides, the end, and the citizen's closing page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from buergerbuero.consult import services
from buergerbuero.consult.models import Author, Consultation
from buergerbuero.staff.services import staff_member_of
from buergerbuero.waiting.models import TicketStatus
from buergerbuero.waiting.services import ticket_by_token


def citizen(request: HttpRequest, token: str) -> HttpResponse:
    ticket = ticket_by_token(token)
    if ticket is None:
        raise Http404
    if ticket.status == TicketStatus.DONE:
        return redirect("consult:done", token=token)
    if ticket.status != TicketStatus.ADMITTED:
        return redirect("waiting:room", token=token)
    consultation = Consultation.objects.select_related("agent").get(ticket=ticket)
    return render(
        request,
        "consult/consultation.html",
        {
            "organization": ticket.office.organization,
            "office": ticket.office,
            "consultation": consultation,
            "role": Author.CITIZEN,
            "token": token,
            "other_name": str(consultation.agent) if consultation.agent else "",
        },
    )


def done(request: HttpRequest, token: str) -> HttpResponse:
    ticket = ticket_by_token(token)
    if ticket is None or ticket.status != TicketStatus.DONE:
        raise Http404
    return render(
        request, "consult/done.html", {"organization": ticket.office.organization, "office": ticket.office}
    )


def _own_consultation(request: HttpRequest, consultation_id: int) -> services.Participant:
    member = staff_member_of(request.user)
    who = services.participant(consultation_id, member=member) if member else None
    if who is None or who.role != Author.AGENT:
        raise Http404
    return who


@login_required
def agent(request: HttpRequest, consultation_id: int) -> HttpResponse:
    who = _own_consultation(request, consultation_id)
    consultation = who.consultation
    if not consultation.is_open:
        return redirect("waiting:console")
    return render(
        request,
        "consult/consultation.html",
        {
            "organization": consultation.office.organization,
            "office": consultation.office,
            "consultation": consultation,
            "role": Author.AGENT,
            "other_name": consultation.ticket.display_name,
        },
    )


@login_required
@require_POST
def end(request: HttpRequest, consultation_id: int) -> HttpResponse:
    who = _own_consultation(request, consultation_id)
    member = staff_member_of(request.user)
    assert member is not None  # noqa: S101  (_own_consultation found the member)
    services.end_consultation(who.consultation, member)
    return redirect("waiting:console")

"""The consultation page for every participant, documents, interpreter invites, the end,
and the citizen's closing page with the anonymous rating."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from buergerbuero.audit.models import Action as Audit
from buergerbuero.audit.services import record
from buergerbuero.consult import filling, services
from buergerbuero.consult.models import Consultation, Document, ParticipantRole
from buergerbuero.embed.framing import citizen_page
from buergerbuero.lib.browser_policy import allow_devices
from buergerbuero.staff.current import current_member
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import TicketStatus
from buergerbuero.waiting.services.snapshots import ticket_by_token


def _page(request: HttpRequest, who: services.Participant, **extra: Any) -> HttpResponse:
    consultation = who.consultation
    names = {
        ParticipantRole.AGENT: str(consultation.agent) if consultation.agent else "",
        ParticipantRole.CITIZEN: consultation.ticket.display_name,
    }
    # Only the citizen's page may appear in the organisation's websites; staff pages never.
    page = citizen_page if who.role == ParticipantRole.CITIZEN else render
    # The one page that may use camera, microphone and screen (the pre-call check and the call).
    response = page(
        request,
        "consult/consultation.html",
        {
            "organization": consultation.office.organization,
            "office": consultation.office,
            "consultation": consultation,
            "role": who.role,
            "names": names,
            "chat_only": consultation.mode == "chat",
            **extra,
        },
    )
    allow_devices(response)
    return response


def citizen(request: HttpRequest, token: str) -> HttpResponse:
    ticket = ticket_by_token(token)
    if ticket is None:
        raise Http404
    if ticket.status == TicketStatus.DONE:
        return redirect("consult:done", token=token)
    if ticket.status != TicketStatus.ADMITTED:
        return redirect("waiting:room", token=token)
    consultation = Consultation.objects.get(ticket=ticket)
    who = services.participant(consultation.pk, token=token)
    if who is None:
        raise Http404
    done = reverse("consult:done", args=[token])
    return _page(request, who, token=token, done_url=done)


def done(request: HttpRequest, token: str) -> HttpResponse:
    ticket = ticket_by_token(token)
    if ticket is None or ticket.status != TicketStatus.DONE:
        raise Http404
    consultation = Consultation.objects.filter(ticket=ticket).first()
    if request.method == "POST" and consultation is not None:
        try:
            rating = int(request.POST.get("rating", ""))
        except ValueError:
            rating = 0
        try:
            services.give_feedback(ticket, rating, request.POST.get("comment", ""))
        except services.ConsultError as refused:
            messages.error(request, refused.message)
        else:
            messages.success(request, _("Thank you for your feedback."))
        return redirect("consult:done", token=token)
    return citizen_page(
        request,
        "consult/done.html",
        {
            "organization": ticket.office.organization,
            "office": ticket.office,
            "can_rate": consultation is not None and not consultation.feedback_given,
            # The signed forms, downloadable as long as the ticket still opens the consultation.
            "signed_forms": filling.signed_forms_for_citizen(consultation, token) if consultation else [],
            "consultation": consultation,
            "token": token,
        },
    )


def _audit(
    request: HttpRequest, action: str, consultation: Consultation, *, by_staff: bool = True, **details: Any
) -> None:
    """An audit entry about this consultation (its id only), by its staff member or, for an
    interpreter, by nobody we know."""
    record(
        action,
        actor=request.user if by_staff else None,
        organization=consultation.office.organization_id,
        target=f"consultation:{consultation.pk}",
        details=details,
        request=request,
    )


def _agent_of(request: HttpRequest, consultation_id: int) -> tuple[services.Participant, StaffMember]:
    member = current_member(request)
    who = services.participant(consultation_id, member=member) if member else None
    if who is None or member is None or who.role != ParticipantRole.AGENT:
        raise Http404
    return who, member


@login_required
def agent(request: HttpRequest, consultation_id: int) -> HttpResponse:
    who, _member = _agent_of(request, consultation_id)
    if not who.consultation.is_open:
        return redirect("waiting:console")
    return _page(request, who, done_url=reverse("waiting:console"))


@login_required
def current(request: HttpRequest) -> HttpResponse:
    """The staff member's open consultation (the console's link), or the console if none."""
    member = current_member(request)
    consultation = services.open_consultation_of(member) if member else None
    if consultation is None:
        return redirect("waiting:console")
    return redirect("consult:agent", consultation_id=consultation.pk)


@login_required
@require_POST
def end(request: HttpRequest, consultation_id: int) -> HttpResponse:
    who, member = _agent_of(request, consultation_id)
    if services.end_consultation(who.consultation, member):
        _audit(request, Audit.CONSULT_ENDED, who.consultation)
    return redirect("waiting:console")


@login_required
@require_POST
def invite_interpreter(request: HttpRequest, consultation_id: int) -> JsonResponse:
    who, member = _agent_of(request, consultation_id)
    try:
        secret = services.invite_interpreter(who.consultation, member)
    except services.ConsultError as refused:
        return JsonResponse({"error": refused.message}, status=409)
    _audit(request, Audit.INTERPRETER_INVITED, who.consultation)
    return JsonResponse(
        {"link": request.build_absolute_uri(reverse("consult:interpreter_invite", args=[secret]))}
    )


@login_required
@require_POST
def remove_interpreter(request: HttpRequest, consultation_id: int) -> JsonResponse:
    who, member = _agent_of(request, consultation_id)
    removed = services.remove_interpreter(who.consultation, member)
    _audit(request, Audit.INTERPRETER_REMOVED, who.consultation, invites=removed)
    return JsonResponse({"removed": removed})


def interpreter_invite(request: HttpRequest, secret: str) -> HttpResponse:
    """The invite link: GET only shows a “join” button (mail and messenger previews open links
    too and must not use up a single-use invite); the POST claims it for this browser."""
    if request.method != "POST":
        if not services.invite_is_open(secret):
            message = _("This invitation link is not valid (any more).")
            return render(request, "consult/invite_refused.html", {"message": message}, status=410)
        return render(request, "consult/invite.html")
    try:
        consultation, session = services.claim_invite(secret)
    except services.ConsultError as refused:
        return render(request, "consult/invite_refused.html", {"message": refused.message}, status=410)
    _audit(request, Audit.INVITE_CLAIMED, consultation, by_staff=False)
    response = redirect("consult:interpreter", consultation_id=consultation.pk)
    response.set_cookie(
        services.interpreter_cookie(consultation.pk),
        session,
        max_age=12 * 3600,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
    return response


def interpreter(request: HttpRequest, consultation_id: int) -> HttpResponse:
    session = request.COOKIES.get(services.interpreter_cookie(consultation_id), "")
    who = services.participant(consultation_id, interpreter_session=session)
    if who is None or not who.consultation.is_open:
        return render(
            request,
            "consult/invite_refused.html",
            {"message": _("This consultation is not open to you (any more).")},
            status=403,
        )
    return _page(request, who, done_url=reverse("consult:interpreter_done"))


def interpreter_done(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "consult/invite_refused.html",
        {"message": _("You are no longer connected to the consultation. Thank you for interpreting.")},
    )


# --- documents ------------------------------------------------------------------------------
UPLOAD_OVERHEAD = 64 * 1024  # multipart boundaries and the CSRF field around the file


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _member_of(request: HttpRequest, consultation_id: int) -> services.Participant:
    """Whoever asks: citizen by token (in the query string, so that nobody's upload is read
    before we know who sends it), staff member by session, interpreter by cookie."""
    who = services.participant(
        consultation_id,
        token=request.GET.get("ticket", ""),
        member=current_member(request),
        interpreter_session=request.COOKIES.get(services.interpreter_cookie(consultation_id), ""),
    )
    if who is None:
        raise Http404
    return who


@require_POST
def share_document(request: HttpRequest, consultation_id: int) -> JsonResponse:
    who = _member_of(request, consultation_id)
    if _content_length(request) > settings.DOCUMENT_MAX_BYTES + UPLOAD_OVERHEAD:
        limit = filesizeformat(settings.DOCUMENT_MAX_BYTES)
        message = _("The file is too large (at most %(limit)s).") % {"limit": limit}
        return JsonResponse({"error": message}, status=413)
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse({"error": _("Please choose a file.")}, status=400)
    try:
        document = services.share_document(who, upload)
    except services.ConsultError as refused:
        return JsonResponse({"error": refused.message}, status=400)
    if who.role == ParticipantRole.AGENT:  # the document's id: its name may name the citizen
        _audit(request, Audit.DOCUMENT_SHARED, who.consultation, document=document.pk)
    return JsonResponse(services.document_json(document), status=201)


def download_document(
    request: HttpRequest, consultation_id: int, document_id: int
) -> HttpResponse | FileResponse:
    # Who may still download after the end is decided in services.participant.
    try:
        who = _member_of(request, consultation_id)
        document = Document.objects.get(pk=document_id, consultation=who.consultation)
    except (Http404, Document.DoesNotExist):
        message = _("This document is not available to you (any more).")
        return render(request, "consult/invite_refused.html", {"message": message}, status=404)
    response = FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=document.name,
        content_type=document.content_type,
    )
    response["Cache-Control"] = "private, no-store"
    if who.role != ParticipantRole.CITIZEN:  # staff or interpreter: the citizen's own downloads are theirs
        staff = who.role == ParticipantRole.AGENT
        _audit(
            request,
            Audit.DOCUMENT_DOWNLOADED,
            who.consultation,
            by_staff=staff,
            document=document.pk,
            by=who.role,
        )
    return response

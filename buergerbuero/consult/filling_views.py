"""Forms filled in together (``consult.filling``): the signed PDF's download, and the office's
inbox of submitted forms with each form's values and status."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from buergerbuero.audit.models import Action as Audit
from buergerbuero.audit.services import record
from buergerbuero.consult import filling
from buergerbuero.consult.models import InboxStatus, SharedForm
from buergerbuero.consult.services import ConsultError
from buergerbuero.staff.current import current_member, member_or_403
from buergerbuero.staff.services import offices_served


def _audit(
    request: HttpRequest, action: str, shared: SharedForm, *, by_staff: bool, **details: object
) -> None:
    record(
        action,
        actor=request.user if by_staff else None,
        organization=shared.consultation.office.organization_id,
        target=f"consultation:{shared.consultation_id}",
        details={"form": shared.pk, **details},
        request=request,
    )


def download(request: HttpRequest, consultation_id: int, form_id: int) -> HttpResponse | FileResponse:
    """The signed PDF, only as an attachment: for the citizen with the ticket's token, for the
    office's staff by membership; anyone else gets the same 404 as for a form that is not there."""
    found = filling.signed_form_for(
        consultation_id, form_id, token=request.GET.get("ticket", ""), member=current_member(request)
    )
    if found is None:
        message = _("This form is not available to you (any more).")
        return render(request, "consult/invite_refused.html", {"message": message}, status=404)
    shared, by = found
    name = f"{shared.template.title[:80]} {shared.signed_at:%Y-%m-%d}.pdf" if shared.signed_at else "form.pdf"
    response = FileResponse(
        shared.pdf.open("rb"), as_attachment=True, filename=name, content_type="application/pdf"
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    _audit(request, Audit.FORM_DOWNLOADED, shared, by_staff=by == "staff", by=by)
    return response


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """The signed forms of the staff member's offices, by office and status (newest first)."""
    member = member_or_403(request)
    offices = list(offices_served(member).order_by("name"))
    wanted = request.GET.get("status", "")
    office = next((item for item in offices if str(item.pk) == request.GET.get("office")), None)
    forms = filling.inbox(member)
    if wanted in InboxStatus.values:
        forms = forms.filter(inbox=wanted)
    if office is not None:
        forms = forms.filter(consultation__office=office)
    return render(
        request,
        "consult/forms_inbox.html",
        {
            "forms": forms[:200],
            "statuses": InboxStatus.choices,
            "wanted": wanted,
            "offices": offices,
            "office": office,
        },
    )


@login_required
def inbox_form(request: HttpRequest, form_id: int) -> HttpResponse:
    member = member_or_403(request)
    shared = filling.signed_form_for_staff(member, form_id)
    if shared is None:
        raise Http404
    return render(
        request,
        "consult/forms_inbox_form.html",
        {"shared": shared, "values": filling.values_for_display(shared), "statuses": InboxStatus.choices},
    )


@login_required
@require_POST
def inbox_status(request: HttpRequest, form_id: int) -> HttpResponse:
    member = member_or_403(request)
    try:
        shared = filling.set_inbox_status(member, form_id, request.POST.get("status", ""))
    except ConsultError as refused:
        if refused.code == "not_found":
            raise Http404 from None
        messages.error(request, refused.message)
    else:
        _audit(request, Audit.FORM_STATUS, shared, by_staff=True, status=shared.inbox)
        messages.success(request, _("The status has been saved."))
    return redirect("consult:form_inbox_form", form_id=form_id)

"""Citizen pages of appointments: choose a time, give details, and the appointment's own page
(calendar file, cancel, move, forms to prepare, enter at the start time)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from buergerbuero.booking import ical, services
from buergerbuero.booking.forms import ContactForm
from buergerbuero.booking.models import Appointment
from buergerbuero.booking.slots import Slot, SlotFinder, bookable_agents
from buergerbuero.embed.framing import citizen_page
from buergerbuero.lib.dates import aware_datetime_or_none, date_or_none
from buergerbuero.limits.services import client_address
from buergerbuero.offices.models import Office, Service
from buergerbuero.offices.shortcuts import office_or_404
from buergerbuero.staff.models import StaffMember

DAYS_SHOWN = 7
TOO_MANY_REQUESTS = 429


def _refusal_status(error: services.BookingError) -> int:
    """429 for a refusal by an abuse limit, 409 for one by the booking rules."""
    return TOO_MANY_REQUESTS if error.code == "limited" else 409


class InvalidAppointmentLink(Http404):
    """An appointment link that leads to no appointment (mistyped, shortened, tampered with or
    deleted after its retention): answered by ``invalid_link``, not by the generic 404 page."""


def _appointment(token: str) -> Appointment:
    appointment = services.appointment_by_token(token)
    if appointment is None:
        raise InvalidAppointmentLink
    return appointment


def invalid_link(request: HttpRequest) -> HttpResponse:
    """The page for an appointment link that is not valid (status 404)."""
    return citizen_page(request, "booking/invalid_link.html", {}, status=404)


def by_appointment_link(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A view reached by an appointment link answers a link that leads nowhere with
    ``invalid_link`` (it says so) instead of the "office not found" page."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except InvalidAppointmentLink:
            return invalid_link(request)

    return wrapped


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


def _choice(request: HttpRequest, office: Office) -> tuple[list[Service], Service | None, StaffMember | None]:
    """The bookable services and the service and staff member chosen in the query."""
    bookable = list(office.services.filter(bookable=True))
    service_id = _int(request.GET.get("service"))
    service = next((s for s in bookable if s.pk == service_id), None)
    if service is None and len(bookable) == 1:
        service = bookable[0]
    agent = None
    agent_id = _int(request.GET.get("agent"))
    if service is not None and agent_id is not None:
        agent = bookable_agents(office, service).filter(pk=agent_id).first()
    return bookable, service, agent


def picker(slots: SlotFinder, request: HttpRequest, slot_url: Callable[[Slot], str]) -> dict[str, Any]:
    """The day strip, the chosen day's free times and the next free times, for a template."""
    first = slots.first_day()
    chosen = date_or_none(request.GET.get("day"))
    if chosen is None or not first <= chosen <= slots.last_day():
        upcoming = slots.next_free(1)
        chosen = upcoming[0].start.astimezone(slots.zone).date() if upcoming else first
    week_start = first + dt.timedelta(days=((chosen - first).days // DAYS_SHOWN) * DAYS_SHOWN)
    days = []
    for offset in range(DAYS_SHOWN):
        day = week_start + dt.timedelta(days=offset)
        if day > slots.last_day():
            break
        days.append({"date": day, "free": len(slots.slots_on(day)), "chosen": day == chosen})
    previous_week = week_start - dt.timedelta(days=DAYS_SHOWN)
    next_week = week_start + dt.timedelta(days=DAYS_SHOWN)
    return {
        "zone": slots.zone,
        "chosen_day": chosen,
        "days": days,
        "previous_week": previous_week if previous_week >= first else None,
        "next_week": next_week if next_week <= slots.last_day() else None,
        "day_slots": [(slot, slot_url(slot)) for slot in slots.slots_on(chosen)],
        "next_slots": [(slot, slot_url(slot)) for slot in slots.next_free(services.SUGGESTIONS)],
    }


def _choice_query(service: Service, agent: StaffMember | None, **more: str) -> str:
    """The query string that keeps the citizen's service (and staff member) from page to page."""
    values = {"service": service.pk, **({"agent": agent.pk} if agent else {}), **more}
    return urlencode(values)


def details_url(office: Office, service: Service, agent: StaffMember | None, slot: Slot) -> str:
    query = _choice_query(service, agent, start=slot.start.isoformat())
    return reverse("booking:details", args=[office.organization.slug, office.slug]) + "?" + query


# Per service, its free times, each with the link that books it.
Suggestions = list[tuple[Service, list[tuple[Slot, str]]]]


def suggested_slots(office: Office) -> Suggestions:
    """Free times to offer where the waiting room refuses (full, closed)."""
    return [
        (service, [(slot, details_url(office, service, None, slot)) for slot in slots])
        for service, slots in services.suggestions(office)
    ]


def book(request: HttpRequest, org_slug: str, office_slug: str) -> HttpResponse:
    """Step 1 and 2: the service (and, if wished, the staff member), then a free time."""
    office = office_or_404(org_slug, office_slug)
    bookable, service, agent = _choice(request, office)
    context: dict[str, Any] = {"organization": office.organization, "office": office, "services": bookable}
    if service is None:
        return citizen_page(request, "booking/book.html", context)
    slots = services.finder(office, service, agent)
    context.update(
        service=service,
        agent=agent,
        agents=list(bookable_agents(office, service)),
        day_query=_choice_query(service, agent),
        **picker(slots, request, lambda slot: details_url(office, service, agent, slot)),
    )
    return citizen_page(request, "booking/book.html", context)


def details(request: HttpRequest, org_slug: str, office_slug: str) -> HttpResponse:
    """Step 3: name and how to reach the citizen, then the booking itself."""
    office = office_or_404(org_slug, office_slug)
    _bookable, service, agent = _choice(request, office)
    start = aware_datetime_or_none(request.GET.get("start"))
    if service is None or start is None:
        messages.error(request, _("Please choose a service and a free time first."))
        return redirect("booking:book", org_slug=org_slug, office_slug=office_slug)
    status = 200
    refusal: services.BookingError | None = None
    if request.method == "POST":
        form = ContactForm(office.organization, request.POST)
        if form.is_valid() and form.contact is not None:
            try:
                appointment = services.book(
                    office,
                    service,
                    start=start,
                    contact=form.contact,
                    agent=agent,
                    address=client_address(request),
                )
            except services.BookingError as error:
                refusal = error
                status = _refusal_status(error)
            else:
                return redirect(reverse("booking:appointment", args=[appointment.token]) + "?booked=1")
        else:
            status = 400
    else:
        form = ContactForm(office.organization, initial={"language": request.LANGUAGE_CODE})

    return citizen_page(
        request,
        "booking/details.html",
        {
            "organization": office.organization,
            "office": office,
            "service": service,
            "agent": agent,
            "start": start,
            "end": start + dt.timedelta(minutes=service.slot_minutes),
            "zone": office.organization.zone,
            "form": form,
            "refusal": refusal,
            "suggestions": [(slot, details_url(office, service, agent, slot)) for slot in refusal.suggestions]
            if refusal
            else [],
            "back_query": _choice_query(service, agent),
        },
        status=status,
    )


@by_appointment_link
def appointment(request: HttpRequest, token: str, status: int | None = None) -> HttpResponse:
    """The appointment's page (``status``: that of a refused change shown on it)."""
    booked = _appointment(token)
    now = timezone.now()
    expired = now > services.link_expires_at(booked)
    held = services.was_held(booked)
    return citizen_page(
        request,
        "booking/appointment.html",
        {
            "organization": booked.office.organization,
            "office": booked.office,
            "appointment": booked,
            "zone": booked.office.organization.zone,
            "just_booked": request.GET.get("booked") == "1",
            "can_join": services.can_join(booked, now),
            "join_opens_at": services.join_opens_at(booked),
            "changeable": services.is_changeable(booked, now),
            "expired": expired,
            "held": held,
            "moves_left": services.moves_left(booked),
            "forms_to_prepare": services.forms_to_prepare(booked)
            if services.is_changeable(booked, now)
            else [],
        },
        status=410 if expired else status or 200,
    )


@by_appointment_link
def calendar_file(request: HttpRequest, token: str) -> HttpResponse:
    response = HttpResponse(
        ical.appointment_ics(_appointment(token)), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="termin.ics"'
    return response


@require_POST
@by_appointment_link
def cancel(request: HttpRequest, token: str) -> HttpResponse:
    booked = _appointment(token)
    try:
        services.cancel(booked, address=client_address(request))
    except services.BookingError as refused:
        messages.error(request, refused.message)
        if refused.code == "limited":
            return appointment(request, token, status=TOO_MANY_REQUESTS)
    else:
        messages.success(request, _("Your appointment is cancelled. We have sent you a confirmation."))
    return redirect("booking:appointment", token=token)


@by_appointment_link
def reschedule(request: HttpRequest, token: str) -> HttpResponse:
    booked = _appointment(token)
    if request.method == "POST":
        start = aware_datetime_or_none(request.POST.get("start"))
        if start is None:
            messages.error(request, _("Please choose one of the free times."))
            return redirect("booking:reschedule", token=token)
        try:
            services.reschedule(booked, start, address=client_address(request))
        except services.BookingError as refused:
            messages.error(request, refused.message)
            if refused.code == "limited":
                return appointment(request, token, status=TOO_MANY_REQUESTS)
            if refused.code == "too_many_moves":
                return redirect("booking:appointment", token=token)
            return redirect("booking:reschedule", token=token)
        messages.success(request, _("Your appointment has been moved. We have sent you the new details."))
        return redirect("booking:appointment", token=token)
    if not services.is_changeable(booked, timezone.now()) or not services.moves_left(booked):
        return redirect("booking:appointment", token=token)
    slots = services.finder(booked.office, booked.service, booked.agent, ignore=booked)
    return citizen_page(
        request,
        "booking/reschedule.html",
        {
            "organization": booked.office.organization,
            "office": booked.office,
            "appointment": booked,
            "day_query": "",
            **picker(slots, request, lambda slot: ""),
        },
    )


@require_POST
@by_appointment_link
def join(request: HttpRequest, token: str) -> HttpResponse:
    booked = _appointment(token)
    try:
        ticket = services.join(booked)
    except services.BookingError as refused:
        messages.error(request, refused.message)
        return redirect("booking:appointment", token=token)
    return redirect("waiting:room", token=ticket.token)


def _submitted(prepared: services.Preparation, data: Any) -> dict[str, object]:
    """The form's values as posted: inputs are named by position (a PDF's field names are
    not fit for HTML), an unticked checkbox is not posted at all."""
    raw: dict[str, object] = {}
    for index, form_field in enumerate(prepared.fields):
        name = f"f{index}"
        raw[form_field.name] = name in data if form_field.kind == "checkbox" else data.get(name, "")
    return raw


@by_appointment_link
def prepare_form(request: HttpRequest, token: str, template_id: int) -> HttpResponse:
    """A form of the booked service, filled in before the appointment and saved as a draft."""
    booked = _appointment(token)
    prepared = services.preparation(booked, template_id)
    if prepared is None:
        raise Http404
    if not services.is_changeable(booked, timezone.now()):
        messages.error(
            request, _("The form can no longer be prepared here: the appointment has begun or was cancelled.")
        )
        return appointment(request, token, status=404)
    values: dict[str, object] = dict(prepared.values)
    errors: dict[str, str] = {}
    refusal = ""
    status = 200
    if request.method == "POST":
        submitted = _submitted(prepared, request.POST)
        try:
            services.save_preparation(booked, prepared, submitted)
        except services.PreparedFormError as invalid:
            values, errors, refusal, status = submitted, invalid.errors, invalid.message, 400
        except services.BookingError as refused:
            values, refusal, status = submitted, refused.message, _refusal_status(refused)
            if refused.code != "limited":
                messages.error(request, refused.message)
                return redirect("booking:appointment", token=token)
        else:
            messages.success(
                request, _("Your form is saved. You can change it until the appointment starts.")
            )
            return redirect("booking:prepare_form", token=token, template_id=prepared.template.pk)
    rows = [
        {
            "field": form_field,
            "name": f"f{index}",
            "id": f"pf-{index}",
            "value": values.get(form_field.name, form_field.empty()),
            "error": errors.get(form_field.name, ""),
        }
        for index, form_field in enumerate(prepared.fields)
    ]
    return citizen_page(
        request,
        "booking/prepare_form.html",
        {
            "organization": booked.office.organization,
            "office": booked.office,
            "appointment": booked,
            "zone": booked.office.organization.zone,
            "template": prepared.template,
            "saved_at": prepared.saved_at,
            "rows": rows,
            "refusal": refusal,
            "invalid": [row for row in rows if row["error"]],
        },
        status=status,
    )

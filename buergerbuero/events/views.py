"""Pages of events: the organisation's list, an event's page (lobby with countdown,
registration, joining), the live page of a viewer, and the hosts' pages. The rules are in
``events.services``; these views parse, authorise and render."""

from __future__ import annotations

from typing import Any, Literal, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from buergerbuero.embed.framing import citizen_page
from buergerbuero.events import media, services
from buergerbuero.events.models import (
    Accreditation,
    Event,
    EventKind,
    EventStatus,
    Registration,
    StageSeat,
    Visibility,
)
from buergerbuero.lib.browser_policy import allow_devices
from buergerbuero.limits.services import client_address
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.current import member_or_403
from buergerbuero.staff.models import StaffMember

TOO_MANY_REQUESTS = 429


def _status(error: services.EventError) -> int:
    return TOO_MANY_REQUESTS if error.code == "limited" else 409


def event_url(event: Event) -> str:
    """The event's own address: under the organisation when listed, by its link otherwise."""
    if event.visibility == Visibility.PUBLIC:
        return reverse("events:event", args=[event.organization.slug, event.pk])
    return reverse("events:link", args=[event.link_token])


def events_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=org_slug)
    listed = [(event, event_url(event)) for event in services.listed_events(organization.pk)]
    return citizen_page(request, "events/list.html", {"organization": organization, "events": listed})


def _event_page(
    request: HttpRequest,
    event: Event,
    *,
    registration: Registration | None = None,
    error: str = "",
    status: int = 200,
    form: dict[str, str] | None = None,
) -> HttpResponse:
    now = timezone.now()
    context: dict[str, Any] = {
        "organization": event.organization,
        "event": event,
        "registration": registration,
        "form": form or {},
        "error": error,
        "lobby_open": services.lobby_open(event, now),
        "ended": event.status == EventStatus.ENDED or event.ends_at <= now,
        "can_join": not event.registration_required or registration is not None,
        "press": event.kind == EventKind.PRESS_CONFERENCE,
        "media_available": media.available(),
        "here": event_url(event),
    }
    return citizen_page(request, "events/event.html", context, status=status)


def event_page(request: HttpRequest, org_slug: str, event_id: int) -> HttpResponse:
    event = services.public_event_in(org_slug, event_id)
    if event is None:
        raise Http404
    return _event_page(request, event)


def event_by_link(request: HttpRequest, token: str) -> HttpResponse:
    event = services.event_by_link(token)
    if event is None:
        raise Http404
    return _event_page(request, event)


def _event_from_post(request: HttpRequest) -> Event:
    """The event a form on its page posts to (by id when listed, by link otherwise)."""
    token = request.POST.get("link", "")
    event = services.event_by_link(token)
    if event is None:
        raise Http404
    return event


@require_POST
def register(request: HttpRequest) -> HttpResponse:
    event = _event_from_post(request)
    form = {key: request.POST.get(key, "") for key in ("name", "email", "outlet")}
    try:
        registration = services.register(
            event,
            name=form["name"],
            email=form["email"],
            language=get_language() or "de",
            journalist=request.POST.get("journalist") == "on",
            outlet=form["outlet"],
            address=client_address(request),
        )
    except services.EventError as refused:
        return _event_page(request, event, error=refused.message, status=_status(refused), form=form)
    messages.success(request, _("You are registered. We sent you an e-mail with your personal link."))
    return redirect("events:registration", registration.token)


def registration_page(request: HttpRequest, token: str) -> HttpResponse:
    """The registered person's page (the link of their e-mail): opening it confirms the address."""
    registration = services.registration_by_token(token)
    if registration is None:
        raise Http404
    services.confirm_registration(registration)
    return _event_page(request, registration.event, registration=registration)


@require_POST
def join(request: HttpRequest) -> HttpResponse:
    event = _event_from_post(request)
    registration = services.registration_by_token(request.POST.get("registration", ""))
    try:
        attendee = services.join(
            event,
            display_name=request.POST.get("name", ""),
            registration=registration,
            returning=request.COOKIES.get(_viewer_cookie(event), ""),
            address=client_address(request),
        )
    except services.EventError as refused:
        return _event_page(
            request, event, registration=registration, error=refused.message, status=_status(refused)
        )
    response = redirect("events:watch", attendee.token)
    # This browser's place, for when it comes back through the event page (a dropped phone).
    response.set_cookie(
        _viewer_cookie(event),
        attendee.token,
        expires=event.ends_at,
        httponly=True,
        secure=settings.CSRF_COOKIE_SECURE,
        # As the form's own cookie: also in an embedding frame behind HTTPS.
        samesite=cast("Literal['Lax', 'None']", settings.CSRF_COOKIE_SAMESITE),
    )
    return response


def _viewer_cookie(event: Event) -> str:
    return f"viewer-{event.pk}"


def watch(request: HttpRequest, token: str) -> HttpResponse:
    """A viewer's live page: the lobby's countdown, then the stage, questions, hands and chat."""
    attendee = services.attendee_by_token(token)
    if attendee is None:
        raise Http404
    event = attendee.event
    context = {
        "organization": event.organization,
        "event": event,
        "attendee": attendee,
        "host": False,
        "config": _page_config(event, role="viewer", token=attendee.token, attendee=attendee.pk),
        "may_raise_hand": services.may_raise_hand(attendee),
        "queue": event.kind == EventKind.CONSULTATION_HOURS and event.office_id is not None,
        "media_available": media.available(),
        "here": event_url(event),
    }
    # A viewer brought on stage publishes camera, microphone or screen from this page.
    response = citizen_page(request, "events/live.html", context)
    allow_devices(response)
    return response


def _page_config(
    event: Event, *, role: str, token: str = "", attendee: int | None = None, member: int | None = None
) -> dict[str, object]:
    return {
        "event": event.pk,
        "attendee": attendee,
        "member": member,
        "role": role,
        "token": token,
        "starts_at": event.starts_at.isoformat(),
        "status": event.status,
        "media": media.available(),
    }


# --- hosts -------------------------------------------------------------------------------------
def _hosted(request: HttpRequest, event_id: int) -> tuple[StaffMember, Event]:
    """The event if this staff member hosts it; 404 for everyone else (no hint it exists)."""
    member = member_or_403(request)
    event = Event.objects.filter(pk=event_id).select_related("organization", "office").first()
    if event is None or not services.can_host(member, event):
        raise Http404
    return member, event


@login_required
def host_list(request: HttpRequest) -> HttpResponse:
    member = member_or_403(request)
    hosted = [(event, event_url(event)) for event in services.hosted_events(member)]
    return render(request, "events/host_list.html", {"events": hosted})


@login_required
def host_page(request: HttpRequest, event_id: int) -> HttpResponse:
    member, event = _hosted(request, event_id)
    context = {
        "event": event,
        "host": True,
        "config": _page_config(event, role="host", member=member.pk),
        "registrations": event.registrations.order_by("created_at"),
        "journalists": event.registrations.exclude(accreditation=Accreditation.NONE).order_by("created_at"),
        "queue": event.kind == EventKind.CONSULTATION_HOURS and event.office_id is not None,
        "media_available": media.available(),
        "here": event_url(event),
        # Hosts not on stage yet, who can join it as co-speaker or sign-language interpreter.
        "off_stage_hosts": event.hosts.exclude(pk__in=StageSeat.objects.filter(event=event).values("member")),
    }
    response = render(request, "events/host.html", context)
    allow_devices(response)
    return response


@login_required
@require_POST
def host_action(request: HttpRequest, event_id: int, action: str) -> HttpResponse:
    """The hosts' form actions (each audit-logged by its service)."""
    member, event = _hosted(request, event_id)
    try:
        if action == "live":
            # The room first: without Janus the event stays scheduled and the host is told why.
            media.open_stage(event)
            services.go_live(member, event)
        elif action == "end":
            services.end(member, event)
            media.close_stage(event)
        elif action == "chat":
            services.set_chat(member, event, request.POST.get("enabled") == "on")
        elif action == "speaker":
            speaker = get_object_or_404(event.hosts.all(), pk=request.POST.get("member", "0"))
            services.add_speaker(member, event, speaker, request.POST.get("role", ""))
        elif action in ("approve", "refuse"):
            registration = get_object_or_404(
                Registration, event=event, pk=request.POST.get("registration", "0")
            )
            services.decide_accreditation(member, registration, approve=action == "approve")
        else:
            raise Http404
    except services.EventError as refused:
        messages.error(request, refused.message)
    except media.StageUnavailable as failed:
        messages.error(request, str(failed))
    return redirect("events:host", event.pk)

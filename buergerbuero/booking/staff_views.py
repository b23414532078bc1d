"""Staff pages of appointments: the day and week calendar, no-shows, the private feed."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from buergerbuero.audit.models import Action as Audit
from buergerbuero.audit.services import record
from buergerbuero.booking import ical, services
from buergerbuero.booking.models import Appointment
from buergerbuero.lib.dates import date_or_none
from buergerbuero.lib.redirects import safe_next
from buergerbuero.staff.current import member_or_403


@login_required
def calendar(request: HttpRequest) -> HttpResponse:
    member = member_or_403(request)
    zone = member.organization.zone
    today = timezone.localdate(timezone.now(), zone)
    day = date_or_none(request.GET.get("date")) or today
    week = request.GET.get("view") == "week"
    first = day - dt.timedelta(days=day.weekday()) if week else day
    length = 7 if week else 1
    start = dt.datetime.combine(first, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(first + dt.timedelta(days=length), dt.time(0), tzinfo=zone)
    colleagues = services.colleagues_of(member)
    agent_id = request.GET.get("agent", "")
    agent = colleagues.filter(pk=agent_id).first() if agent_id.isdigit() else None
    appointments = services.calendar_of(member, start, end, agent)
    days = [
        {
            "date": first + dt.timedelta(days=offset),
            "appointments": [
                a
                for a in appointments
                if a.starts_at.astimezone(zone).date() == first + dt.timedelta(days=offset)
            ],
        }
        for offset in range(length)
    ]
    feed = services.calendar_feed(member)
    return render(
        request,
        "booking/staff_calendar.html",
        {
            "member": member,
            "zone": zone,
            "days": days,
            "week": week,
            "date": day,
            "previous": first - dt.timedelta(days=length),
            "next": first + dt.timedelta(days=length),
            "today": today,
            "colleagues": colleagues,
            "agent": agent,
            "now": timezone.now(),
            "feed_url": request.build_absolute_uri(reverse("booking:feed", args=[feed.token])),
        },
    )


@login_required
@require_POST
def no_show(request: HttpRequest, appointment_id: int) -> HttpResponse:
    member = member_or_403(request)
    appointment = get_object_or_404(Appointment, pk=appointment_id)
    try:
        services.mark_no_show(member, appointment)
    except services.BookingError as refused:
        messages.error(request, refused.message)
    else:
        target = f"appointment:{appointment.pk}"
        record(
            Audit.APPOINTMENT_NO_SHOW,
            actor=request.user,
            organization=member.organization_id,
            target=target,
            request=request,
        )
    return redirect(safe_next(request, reverse("booking:calendar")))


@login_required
@require_POST
def renew_feed(request: HttpRequest) -> HttpResponse:
    member = member_or_403(request)
    services.calendar_feed(member, renew=True)
    record(Audit.FEED_RENEWED, actor=request.user, organization=member.organization_id, request=request)
    messages.success(request, _("Your calendar has a new address; the old one no longer works."))
    return redirect("booking:calendar")


def feed(request: HttpRequest, token: str) -> HttpResponse:
    """The private iCalendar feed (no login: calendar programs cannot log in; the address is
    the secret)."""
    member = services.feed_owner(token)
    if member is None:
        raise Http404
    appointments = services.feed_appointments(member, timezone.now())
    title = _("Appointments of %(name)s") % {"name": member}
    return HttpResponse(ical.staff_feed(appointments, title), content_type="text/calendar; charset=utf-8")

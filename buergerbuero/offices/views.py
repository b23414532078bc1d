from __future__ import annotations

import copy

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from buergerbuero.embed.framing import citizen_page
from buergerbuero.offices import services
from buergerbuero.offices.models import Office
from buergerbuero.orgs.admin_scope import scope_offices
from buergerbuero.orgs.models import Organization

PREVIEW_FIELDS = ("waiting_area_text", "checklist", "waiting_image_alt", "full_message")


def directory(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=org_slug)
    # The hours come from the process's calendar cache (see offices.services.cached_calendars).
    offices = Office.objects.filter(organization=organization).select_related("organization")
    return citizen_page(
        request,
        "offices/directory.html",
        {
            "organization": organization,
            "overviews": services.overviews(offices, timezone.now(), cached=True),
        },
    )


def office_detail(request: HttpRequest, org_slug: str, office_slug: str) -> HttpResponse:
    office = get_object_or_404(
        Office.objects.select_related("organization").prefetch_related("services"),
        organization__slug=org_slug,
        slug=office_slug,
    )
    now = timezone.now()
    calendar = services.cached_calendar(office.pk, now)
    today = timezone.localdate(now, calendar.zone)
    return citizen_page(
        request,
        "offices/office_detail.html",
        {
            "organization": office.organization,
            "office": office,
            "overview": services.overview(office, now, cached=True),
            "weekly": services.weekly_table(calendar),
            "upcoming": services.upcoming_table(calendar, today),
            "bookable": any(service.bookable for service in office.services.all()),
        },
    )


@login_required
@require_POST
def waiting_preview(request: HttpRequest, office_id: int) -> HttpResponse:
    """The waiting area as citizens would see it with the texts being edited (not saved)."""
    office = copy.copy(get_object_or_404(scope_offices(request, Office.objects.all()), pk=office_id))
    for field in PREVIEW_FIELDS:
        setattr(office, field, request.POST.get(field, "")[:5000])
    office.show_position = request.POST.get("show_position") == "on"
    return render(request, "waiting/_area.html", {"office": office})

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from buergerbuero.offices import services
from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization


def directory(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=org_slug)
    offices = services.offices_with_hours(Office.objects.filter(organization=organization))
    return render(
        request,
        "offices/directory.html",
        {
            "organization": organization,
            "overviews": services.overviews(offices, timezone.now()),
        },
    )


def office_detail(request: HttpRequest, org_slug: str, office_slug: str) -> HttpResponse:
    office = get_object_or_404(
        services.offices_with_hours(Office.objects.prefetch_related("services")),
        organization__slug=org_slug,
        slug=office_slug,
    )
    now = timezone.now()
    calendar = services.OpeningCalendar(office)
    today = timezone.localdate(now, calendar.zone)
    return render(
        request,
        "offices/office_detail.html",
        {
            "organization": office.organization,
            "office": office,
            "overview": services.overview(office, now),
            "weekly": services.weekly_table(calendar),
            "upcoming": services.upcoming_table(calendar, today),
            "bookable": office.services.filter(bookable=True).exists(),
        },
    )

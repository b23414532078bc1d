"""Public read API of offices: what the directory and the office page show, as JSON.

Thin: it looks things up and hands them to the same services the pages use (opening
hours in ``offices.services``, live figures in ``waiting.services.live_figures``, free slots in
``booking.slots``). Texts come in the request's language (``Accept-Language``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from ninja import Path as PathParam
from ninja import Query, Router, Schema
from pydantic import Field, field_validator

from buergerbuero.booking import services as booking
from buergerbuero.booking.views import details_url
from buergerbuero.offices import services
from buergerbuero.offices.models import Office
from buergerbuero.offices.shortcuts import office_or_404
from buergerbuero.orgs.models import Organization
from buergerbuero.waiting.estimate import shown_range, wait_at
from buergerbuero.waiting.services.live_figures import OfficeLive, office_live

router = Router(tags=["offices"])

MAX_DAYS = 42
MAX_SLOTS = 50
DATE_PATTERN = r"^(20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}$"
# Addresses of organisations and offices are slugs, like the pages' <slug:…>.
Slug = Annotated[str, PathParam(pattern=r"^[-a-zA-Z0-9_]+$")]


class ServiceOut(Schema):
    id: int
    name: str
    description: str
    bookable: bool
    appointment_minutes: int


class LiveOut(Schema):
    waiting: int = Field(description="Citizens waiting right now.")
    seats: int
    staffed: int = Field(description="Seats with a staff member present.")
    free: int = Field(description="Staff members free right now.")
    wait_minutes_min: int | None = Field(
        None,
        description="The wait of a citizen arriving now, lower end of the range the pages show "
        "(minutes); null while nobody is staffed.",
    )
    wait_minutes_max: int | None = Field(
        None, description="Upper end of that range (minutes); null while nobody is staffed."
    )


class StatusOut(Schema):
    state: str = Field(description="open, closing (within 15 minutes) or closed")
    label: str = Field(description="The status as the page shows it, e.g. “open until 16:00”.")
    opens_at: dt.datetime | None
    closes_at: dt.datetime | None
    closed_reason: str


class OfficeOut(Schema):
    slug: str
    name: str
    description: str
    url: str
    enter_url: str
    book_url: str
    status: StatusOut
    live: LiveOut
    services: list[ServiceOut]


class OrganizationOut(Schema):
    slug: str
    name: str
    time_zone: str
    languages: list[str]
    offices: list[OfficeOut]


class PeriodOut(Schema):
    opens: dt.datetime
    closes: dt.datetime


class DayOut(Schema):
    date: dt.date
    periods: list[PeriodOut]
    closed_reason: str


class HoursOut(Schema):
    time_zone: str
    days: list[DayOut]


class HoursQuery(Schema):
    start: dt.date | None = Field(
        None,
        description="First day, YYYY-MM-DD between 2000 and 2100 (default: today, local time).",
        json_schema_extra={"pattern": DATE_PATTERN},
    )
    days: int = Field(14, ge=1, le=MAX_DAYS)

    @field_validator("start", mode="before")
    @classmethod
    def plain_date_in_range(cls, value: object) -> object:
        """Only YYYY-MM-DD between 2000 and 2100 (no timestamps, no times of day, no years
        that time zones cannot express)."""
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not re.match(DATE_PATTERN, value):
            raise ValueError("a date as YYYY-MM-DD between 2000 and 2100")
        return value


class SlotOut(Schema):
    start: dt.datetime
    end: dt.datetime
    staff_members: int = Field(description="How many staff members are free at this time.")
    book_url: str


class SlotsQuery(Schema):
    service: int
    limit: int = Field(5, ge=1, le=MAX_SLOTS)


class ErrorOut(Schema):
    detail: str


class InvalidOut(Schema):
    detail: list[dict[str, object]] = Field(description="What is wrong with which parameter.")


def _organization(slug: str) -> Organization:
    return get_object_or_404(Organization, slug=slug)


def _offices(organization: Organization) -> QuerySet[Office]:
    return services.offices_with_hours(Office.objects.filter(organization=organization)).prefetch_related(
        "services"
    )


def _live_out(live: OfficeLive) -> LiveOut:
    wait = wait_at(live.waiting + 1, live.estimate)
    low, high = shown_range(wait.low, wait.high) if wait is not None else (None, None)
    return LiveOut(
        waiting=live.waiting,
        seats=live.seats,
        staffed=live.staffed,
        free=live.free,
        wait_minutes_min=low,
        wait_minutes_max=high,
    )


def _office_out(request: HttpRequest, office: Office, now: dt.datetime) -> OfficeOut:
    overview = services.overview(office, now)
    live = office_live(office, now)
    status = overview.status
    zone = office.organization.zone
    slugs = (office.organization.slug, office.slug)
    return OfficeOut(
        slug=office.slug,
        name=office.name,
        description=office.description,
        url=request.build_absolute_uri(reverse("office", args=slugs)),
        enter_url=request.build_absolute_uri(reverse("enter", args=slugs)),
        book_url=request.build_absolute_uri(reverse("booking:book", args=slugs)),
        status=StatusOut(
            state=overview.state,
            label=overview.label,
            opens_at=status.opens_at.astimezone(zone) if status.opens_at else None,
            closes_at=status.closes_at.astimezone(zone) if status.closes_at else None,
            closed_reason=status.closed_reason,
        ),
        live=_live_out(live),
        services=[
            ServiceOut(
                id=service.pk,
                name=service.name,
                description=service.description,
                bookable=service.bookable,
                appointment_minutes=service.slot_minutes,
            )
            for service in office.services.all()
        ],
    )


@router.get(
    "/organizations/{org}/",
    response={200: OrganizationOut, 404: ErrorOut, 422: InvalidOut},
    summary="An organisation",
)
def organization_detail(request: HttpRequest, org: Slug) -> OrganizationOut:
    organization = _organization(org)
    now = timezone.now()
    return OrganizationOut(
        slug=organization.slug,
        name=organization.name,
        time_zone=organization.time_zone,
        languages=organization.language_codes,
        offices=[_office_out(request, office, now) for office in _offices(organization)],
    )


@router.get(
    "/organizations/{org}/offices/{office}/",
    response={200: OfficeOut, 404: ErrorOut, 422: InvalidOut},
    summary="One office: status, live figures, services",
)
def office_detail(request: HttpRequest, org: Slug, office: Slug) -> OfficeOut:
    found = get_object_or_404(_offices(_organization(org)), slug=office)
    return _office_out(request, found, timezone.now())


@router.get(
    "/organizations/{org}/offices/{office}/hours/",
    response={200: HoursOut, 404: ErrorOut, 422: InvalidOut},
    summary="Opening hours day by day (holidays, closures and extra openings applied)",
)
def office_hours(request: HttpRequest, org: Slug, office: Slug, query: Query[HoursQuery]) -> HoursOut:
    found = get_object_or_404(_offices(_organization(org)), slug=office)
    calendar = services.OpeningCalendar(found)
    zone = calendar.zone
    start = query.start or timezone.localdate(timezone.now(), zone)
    days = []
    for offset in range(query.days):
        date = start + dt.timedelta(days=offset)
        day = calendar.day(date)
        periods = [
            PeriodOut(opens=period.start.astimezone(zone), closes=period.end.astimezone(zone))
            for period in calendar.periods(date, 1)
        ]
        days.append(DayOut(date=date, periods=periods, closed_reason="" if periods else day.closed_reason))
    return HoursOut(time_zone=found.organization.time_zone, days=days)


@router.get(
    "/organizations/{org}/offices/{office}/slots/",
    response={200: list[SlotOut], 404: ErrorOut, 422: InvalidOut},
    summary="The next free appointment times of a service",
)
def free_slots(request: HttpRequest, org: Slug, office: Slug, query: Query[SlotsQuery]) -> list[SlotOut]:
    found = office_or_404(org, office)
    service = found.services.filter(pk=query.service, bookable=True).first()
    if service is None:
        raise Http404
    zone = found.organization.zone
    slots = booking.finder(found, service).next_free(query.limit)
    return [
        SlotOut(
            start=slot.start.astimezone(zone),
            end=slot.end.astimezone(zone),
            staff_members=len(slot.agent_ids),
            book_url=request.build_absolute_uri(details_url(found, service, None, slot)),
        )
        for slot in slots
    ]

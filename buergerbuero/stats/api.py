"""The statistics in the public read API, for organisations that publish them as open data
(``Organization.publishes_statistics``, off by default: otherwise 404, as if absent).

The same day lines as the CSV export (``stats.services.day_lines``), small counts of sensitive
offices hidden (null).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Self

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Path as PathParam
from ninja import Query, Router, Schema
from pydantic import Field, field_validator, model_validator

from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.stats.services import day_lines, rows_between

router = Router(tags=["statistics"])

MAX_DAYS = 366
DATE_PATTERN = r"^(20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}$"
Slug = Annotated[str, PathParam(pattern=r"^[-a-zA-Z0-9_]+$")]


class StatisticsQuery(Schema):
    start: dt.date | None = Field(
        None,
        description="First day, YYYY-MM-DD (default: 30 days before yesterday).",
        json_schema_extra={"pattern": DATE_PATTERN},
    )
    end: dt.date | None = Field(
        None,
        description="Last day, YYYY-MM-DD (default: yesterday).",
        json_schema_extra={"pattern": DATE_PATTERN},
    )
    office: str | None = Field(
        None, description="Only this office (its web address).", pattern=r"^[-a-zA-Z0-9_]+$"
    )

    @field_validator("start", "end", mode="before")
    @classmethod
    def plain_date(cls, value: object) -> object:
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not re.match(DATE_PATTERN, value):
            raise ValueError("a date as YYYY-MM-DD between 2000 and 2100")
        return value

    @model_validator(mode="after")
    def at_most_a_year(self) -> Self:
        if self.start and self.end and not 0 <= (self.end - self.start).days < MAX_DAYS:
            raise ValueError(f"end must be on or after start and at most {MAX_DAYS} days later")
        return self


class StatisticsDayOut(Schema):
    date: dt.date
    office: str = Field(description="The office's web address.")
    office_name: str
    is_demo: bool = Field(description="Generated for a demonstration, not measured.")
    meetings: int | None = Field(
        description="Consultations held; null: hidden (small count of a sensitive office)."
    )
    participants: int | None
    open_minutes: int
    staffed_minutes: int
    walk_ins: int | None
    appointments: int | None
    no_shows: int | None
    left_before_call: int | None
    wait_p50_min: float | None
    wait_p90_min: float | None


class StatisticsErrorOut(Schema):
    detail: str


class StatisticsInvalidOut(Schema):
    detail: list[dict[str, object]] = Field(description="What is wrong with which parameter.")


@router.get(
    "/organizations/{org}/statistics/",
    response={200: list[StatisticsDayOut], 404: StatisticsErrorOut, 422: StatisticsInvalidOut},
    summary="Daily figures per office (open data; only where the organisation publishes them)",
)
def statistics(request: HttpRequest, org: Slug, query: Query[StatisticsQuery]) -> list[StatisticsDayOut]:
    organization = get_object_or_404(Organization, slug=org, publishes_statistics=True)
    offices = Office.objects.filter(organization=organization)
    if query.office:
        offices = offices.filter(slug=query.office)
        get_object_or_404(offices)
    yesterday = timezone.localdate(timezone.now(), organization.zone) - dt.timedelta(days=1)
    end = query.end or (
        yesterday if query.start is None else min(query.start + dt.timedelta(days=MAX_DAYS - 1), yesterday)
    )
    start = query.start or end - dt.timedelta(days=29)
    if end < start:
        return []
    slugs = dict(offices.values_list("pk", "slug"))
    return [
        StatisticsDayOut(
            date=line.date,
            office=slugs[line.office_id],
            office_name=line.office,
            is_demo=line.is_demo,
            meetings=line.meetings,
            participants=line.participants,
            open_minutes=line.open_minutes,
            staffed_minutes=line.staffed_minutes,
            walk_ins=line.walk_ins,
            appointments=line.appointments,
            no_shows=line.no_shows,
            left_before_call=line.left_before_call,
            wait_p50_min=line.wait_p50_min,
            wait_p90_min=line.wait_p90_min,
        )
        for line in day_lines(rows_between(offices, start, end))
    ]

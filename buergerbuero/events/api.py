"""The organisation's public events in the read API (``/api/v1/organizations/<org>/events/``):
the same list as the events page, with each event's page address. Link-only and ended events
are not listed."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Path as PathParam
from ninja import Router, Schema
from pydantic import Field

from buergerbuero.events import services
from buergerbuero.events.views import event_url
from buergerbuero.orgs.models import Organization

router = Router(tags=["events"])
Slug = Annotated[str, PathParam(pattern=r"^[-a-zA-Z0-9_]+$")]


class EventOut(Schema):
    id: int
    title: str
    description: str
    kind: str = Field(description="consultation (consultation hours), press (press conference) or public")
    starts_at: dt.datetime
    ends_at: dt.datetime
    languages: list[str] = Field(description="Language codes the event is held in.")
    status: str = Field(description="scheduled or live")
    registration_required: bool
    url: str = Field(description="The event's page: lobby, registration and the live stage.")


class EventsOut(Schema):
    organization: str
    events: list[EventOut]


class NotFoundOut(Schema):
    detail: str


class InvalidOut(Schema):
    detail: list[dict[str, object]] = Field(description="What is wrong with which parameter.")


@router.get(
    "/organizations/{org}/events/",
    response={200: EventsOut, 404: NotFoundOut, 422: InvalidOut},
    summary="The organisation's public events that have not ended",
)
def events_list(request: HttpRequest, org: Slug) -> EventsOut:
    organization = get_object_or_404(Organization, slug=org)
    return EventsOut(
        organization=organization.slug,
        events=[
            EventOut(
                id=event.pk,
                title=event.title,
                description=event.description,
                kind=event.kind,
                starts_at=event.starts_at,
                ends_at=event.ends_at,
                languages=event.language_codes,
                status=event.status,
                registration_required=event.registration_required,
                url=request.build_absolute_uri(event_url(event)),
            )
            for event in services.listed_events(organization.pk)
        ],
    )

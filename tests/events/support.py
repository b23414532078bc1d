"""Events for the tests: a factory and the people of an event (viewers, journalists)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from buergerbuero.events import services
from buergerbuero.events.models import Attendee, Event, EventKind, Registration, Visibility
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import StaffMember


def make_event(
    organization: Organization,
    *,
    hosts: Sequence[StaffMember] = (),
    starts_in: dt.timedelta = dt.timedelta(hours=1),
    **fields: Any,
) -> Event:
    start = timezone.now() + starts_in
    defaults: dict[str, Any] = {
        "title": "Bürgersprechstunde",
        "kind": EventKind.PUBLIC_EVENT,
        "starts_at": start,
        "ends_at": start + dt.timedelta(hours=1),
        "visibility": Visibility.PUBLIC,
        "link_token": services.new_token(),
    }
    defaults.update(fields)
    event = Event.objects.create(organization=organization, **defaults)
    event.hosts.set(list(hosts))
    return event


def live(event: Event, host: StaffMember) -> Event:
    return services.go_live(host, event)


def viewer(event: Event, name: str = "", registration: Registration | None = None) -> Attendee:
    return services.join(event, display_name=name, registration=registration)


def journalist(event: Event, email: str = "presse@example.org", approved: bool | None = True) -> Attendee:
    registration = services.register(
        event, name="Paula Presse", email=email, language="de", journalist=True, outlet="Tagblatt"
    )
    if approved is not None:
        host = event.hosts.select_related("user").first()
        assert host is not None
        services.decide_accreditation(host, registration, approve=approved)
    return viewer(event, registration=registration)

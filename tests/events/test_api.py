"""The public events in the read API: the listed ones, not link-only or ended ones."""

from __future__ import annotations

import pytest
from django.test import Client

from buergerbuero.events.models import Event, EventStatus, Visibility
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import StaffMember
from tests.events.support import make_event

pytestmark = pytest.mark.django_db


def test_the_api_lists_the_public_events_with_their_pages(
    client: Client, org: Organization, host: StaffMember, event: Event
) -> None:
    make_event(org, hosts=[host], title="Nur mit Link", visibility=Visibility.LINK)
    make_event(org, hosts=[host], title="Vorbei", status=EventStatus.ENDED)

    answer = client.get(f"/api/v1/organizations/{org.slug}/events/")

    assert answer.status_code == 200
    body = answer.json()
    assert [item["title"] for item in body["events"]] == [event.title]
    assert body["events"][0]["url"].endswith(f"/{org.slug}/events/{event.pk}/")
    assert client.get("/api/v1/organizations/nowhere/events/").status_code == 404

"""The demo's events: in Musterstadt one live now (consultation hours on the office open around
the clock, so that a newcomer can join and take a turn at once) and upcoming ones; loading the
demo twice keeps one of each."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from buergerbuero.events import services
from buergerbuero.events.models import Event, EventKind, EventStatus

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_live_and_upcoming_events_in_musterstadt(client: Client) -> None:
    call_command("load_demo")
    call_command("load_demo")

    events = Event.objects.filter(organization__slug="musterstadt")
    live = events.get(status=EventStatus.LIVE)
    assert live.kind == EventKind.CONSULTATION_HOURS
    assert live.office is not None
    assert live.hosts.exists()
    assert events.filter(status=EventStatus.SCHEDULED).count() == 2
    assert events.count() == 3

    page = client.get(reverse("events:list", args=["musterstadt"]))
    assert live.title in page.content.decode()
    attendee = services.join(live, display_name="Neu")
    assert services.ask_live(attendee, "de").status == "waiting"

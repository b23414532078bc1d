"""The event pages: the organisation's list, an event's page, registration, joining, the
viewer's live page and the hosts' pages (an outsider gets a 404, a stranger a login)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from buergerbuero.audit.models import AuditEntry
from buergerbuero.events import services
from buergerbuero.events.models import Attendee, Event, EventStatus, Registration, StageSeat, Visibility
from buergerbuero.orgs.models import Organization
from buergerbuero.sfu import rooms
from buergerbuero.staff.models import StaffMember
from tests.events.support import make_event

pytestmark = pytest.mark.django_db


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_list_shows_public_events_but_not_link_only_or_ended_ones(
    client: Client, org: Organization, host: StaffMember, event: Event
) -> None:
    hidden = make_event(org, hosts=[host], title="Nur mit Link", visibility=Visibility.LINK)
    make_event(org, hosts=[host], title="Vorbei", status=EventStatus.ENDED)

    page = client.get(reverse("events:list", args=[org.slug]))

    assert page.status_code == 200
    text = page.content.decode()
    assert event.title in text
    assert "Nur mit Link" not in text
    assert "Vorbei" not in text
    assert client.get(reverse("events:event", args=[org.slug, hidden.pk])).status_code == 404
    assert client.get(reverse("events:link", args=[hidden.link_token])).status_code == 200


def test_the_list_costs_the_same_for_many_events(
    client: Client, org: Organization, host: StaffMember, django_assert_max_num_queries: object
) -> None:
    for number in range(10):
        make_event(org, hosts=[host], title=f"Veranstaltung {number}")
    with django_assert_max_num_queries(4):  # type: ignore[operator]
        assert client.get(reverse("events:list", args=[org.slug])).status_code == 200


def test_an_event_of_another_organisation_is_not_found(
    client: Client, other_org: Organization, event: Event
) -> None:
    assert client.get(reverse("events:event", args=[other_org.slug, event.pk])).status_code == 404


def test_the_page_says_that_events_are_not_recorded(client: Client, org: Organization, event: Event) -> None:
    page = client.get(reverse("events:event", args=[org.slug, event.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert "not recorded" in page.content.decode()


def test_registration_confirms_by_the_link_and_lets_the_person_in(
    client: Client, org: Organization, press: Event
) -> None:
    answer = client.post(
        reverse("events:register"),
        {"link": press.link_token, "name": "Anna", "email": "anna@example.org"},
    )
    registration = Registration.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("events:registration", args=[registration.token])
    assert registration.confirmed_at is None
    client.get(answer["Location"])
    registration.refresh_from_db()
    assert registration.confirmed_at is not None

    joined = client.post(
        reverse("events:join"), {"link": press.link_token, "registration": registration.token}
    )
    attendee = Attendee.objects.get()
    assert joined["Location"] == reverse("events:watch", args=[attendee.token])
    assert client.get(joined["Location"]).status_code == 200


def test_a_browser_that_joins_again_gets_its_place_back(
    client: Client, org: Organization, host: StaffMember
) -> None:
    """A phone that lost the page comes back through the event page: with its place, even when
    the event is full meanwhile; another browser is told the event is full."""
    small = make_event(org, hosts=[host], capacity=1)
    first = client.post(reverse("events:join"), {"link": small.link_token, "name": "Dora"})
    attendee = Attendee.objects.get()
    cookie = client.cookies[f"viewer-{small.pk}"]
    assert cookie.value == attendee.token
    assert cookie["httponly"]

    again = client.post(reverse("events:join"), {"link": small.link_token})
    stranger = Client().post(reverse("events:join"), {"link": small.link_token}, HTTP_ACCEPT_LANGUAGE="en")

    assert first["Location"] == again["Location"] == reverse("events:watch", args=[attendee.token])
    assert stranger.status_code == 409
    assert "This event is full." in stranger.content.decode()
    assert Attendee.objects.count() == 1


def test_bad_registration_input_is_answered_in_the_page(client: Client, press: Event) -> None:
    answer = client.post(
        reverse("events:register"),
        {"link": press.link_token, "name": "Anna", "email": "nope"},
        HTTP_ACCEPT_LANGUAGE="de",
    )
    assert answer.status_code == 409
    assert "Bitte geben Sie eine gültige E-Mail-Adresse ein." in answer.content.decode()
    assert Registration.objects.count() == 0


def test_joining_an_event_that_needs_registration_without_one_is_refused(
    client: Client, press: Event
) -> None:
    answer = client.post(reverse("events:join"), {"link": press.link_token, "name": "X"})
    assert answer.status_code == 409
    assert Attendee.objects.count() == 0


def test_a_wrong_link_is_not_found(client: Client) -> None:
    assert client.get(reverse("events:watch", args=["x" * 30])).status_code == 404
    assert client.get(reverse("events:link", args=["nope"])).status_code == 404
    assert client.post(reverse("events:join"), {"link": "../.."}).status_code == 404


# --- hosts -----------------------------------------------------------------------------------
def test_the_host_page_is_for_hosts_only(
    event: Event, host: StaffMember, other_agent: User, org_admin: User, outsider: User, client: Client
) -> None:
    url = reverse("events:host", args=[event.pk])
    assert logged_in(host.user).get(url).status_code == 200
    assert logged_in(org_admin).get(url).status_code == 200
    assert logged_in(other_agent).get(url).status_code == 404
    assert logged_in(outsider).get(url).status_code == 403
    assert client.get(url).status_code == 302  # to the login


def test_an_outsider_cannot_act_on_an_event(event: Event, other_agent: User) -> None:
    answer = logged_in(other_agent).post(reverse("events:host_action", args=[event.pk, "end"]))
    assert answer.status_code == 404
    event.refresh_from_db()
    assert event.status == EventStatus.SCHEDULED


def test_the_host_ends_the_event_and_switches_the_chat(live_event: Event, host: StaffMember) -> None:
    client = logged_in(host.user)
    client.post(reverse("events:host_action", args=[live_event.pk, "chat"]))  # no "enabled": off
    live_event.refresh_from_db()
    assert live_event.chat_enabled is False
    client.post(reverse("events:host_action", args=[live_event.pk, "end"]))
    live_event.refresh_from_db()
    assert live_event.status == EventStatus.ENDED
    assert AuditEntry.objects.filter(action="event.chat").exists()


def test_going_live_without_janus_says_so_and_changes_nothing_for_viewers(
    event: Event, host: StaffMember, settings: object
) -> None:
    # A server that does not answer (port 9: discard, nothing listens on loopback).
    settings.JANUS_SERVERS = [  # type: ignore[attr-defined]
        {"name": "gone", "url": "http://127.0.0.1:9/janus", "api_secret": "a", "admin_key": "b"}
    ]
    rooms.forget_health()
    client = logged_in(host.user)
    answer = client.post(reverse("events:host_action", args=[event.pk, "live"]), follow=True)
    assert "Janus" in answer.content.decode()
    event.refresh_from_db()
    assert event.status == EventStatus.SCHEDULED
    page = Client().get(reverse("events:event", args=[event.organization.slug, event.pk]))
    assert "Janus" in page.content.decode()  # the public page says what is missing
    rooms.forget_health()


def test_the_hosts_accredit_journalists(press: Event, host: StaffMember) -> None:
    registration = services.register(
        press, name="Paula", email="paula@example.org", language="de", journalist=True, outlet="Blatt"
    )
    page = logged_in(host.user).get(reverse("events:host", args=[press.pk]))
    assert "Paula" in page.content.decode()
    logged_in(host.user).post(
        reverse("events:host_action", args=[press.pk, "approve"]), {"registration": registration.pk}
    )
    registration.refresh_from_db()
    assert registration.accreditation == "approved"


def test_the_lobby_page_has_a_countdown(client: Client, org: Organization, host: StaffMember) -> None:
    soon = make_event(org, hosts=[host], starts_in=dt.timedelta(minutes=30))
    page = client.get(reverse("events:event", args=[org.slug, soon.pk]))
    assert "data-countdown" in page.content.decode()


def test_the_embed_opens_the_events_page_framable_by_the_towns_website(
    client: Client, org: Organization
) -> None:
    org.embed_origins = "https://www.testhausen.de"
    org.save()
    entry = client.get(f"/embed/{org.slug}/", {"origin": "https://www.testhausen.de", "page": "events"})
    assert entry["Location"] == reverse("events:list", args=[org.slug])
    page = client.get(entry["Location"])
    assert "https://www.testhausen.de" in page["Content-Security-Policy"]


def test_the_directory_links_the_events(client: Client, org: Organization) -> None:
    page = client.get(reverse("directory", args=[org.slug]))
    assert reverse("events:list", args=[org.slug]) in page.content.decode()


def test_a_host_puts_another_host_on_stage_as_the_pinned_interpreter(
    live_event: Event, host: StaffMember, other_agent: User
) -> None:
    colleague = StaffMember.objects.get(user=other_agent)
    url = reverse("events:host_action", args=[live_event.pk, "speaker"])
    client = logged_in(host.user)
    assert client.post(url, {"member": colleague.pk, "role": "interpreter"}).status_code == 404  # not a host
    live_event.hosts.add(colleague)

    client.post(url, {"member": colleague.pk, "role": "interpreter"})

    seat = StageSeat.objects.get(event=live_event, member=colleague)
    assert seat.role == "interpreter"
    assert seat.pinned
    assert services.stage_json(live_event)[0]["member"] == colleague.pk

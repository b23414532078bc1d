"""Extreme inputs to every HTML form and to the console's buttons: very long strings, NUL and
other control characters, bidi overrides, emoji, SQL and HTML metacharacters, negative and
huge numbers, dates in the years 0, 1, 9999 and 10000, missing, repeated and wrongly typed
fields.

Whatever arrives: never a server error (5xx), a page or JSON with a message for what is
refused, and nothing stored that a person did not mean — no control characters, nothing beyond
a field's length, no appointment moved or cancelled by nonsense. Run on SQLite and on
PostgreSQL (which refuses NUL in text loudly, so a NUL that reaches the database is a 500).

The clock stands on Tuesday, 1 December 2026, 10:00 in Berlin (the fixture office is open).
"""

from __future__ import annotations

import datetime as dt
import secrets
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from buergerbuero.booking.models import Appointment, AppointmentStatus
from buergerbuero.consult import services as consult_services
from buergerbuero.consult.models import ChatMessage, Consultation, Feedback
from buergerbuero.offices.models import Office, Service
from buergerbuero.waiting.models import PresenceState, QueueState, Ticket
from buergerbuero.waiting.services import joining, staffing
from tests import factories
from tests.booking.conftest import make_appointment

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=BERLIN)

LONG = "x" * 100_000
JUNK: dict[str, Any] = {
    "empty": "",
    "spaces": "   \t  ",
    "long": LONG,
    "nul": "Anna\x00Beispiel",
    "only_nul": "\x00",
    "controls": "a\x01\x07\x08\x1b[2J\x7f\x85b",
    "bidi": "\u202eevil\u202c name",
    "emoji": "👩‍👩‍👧 Familie 🙂",
    "sql": "'; DROP TABLE waiting_ticket; --",
    "html": '<script>alert(1)</script><img src=x onerror="alert(2)">',
    "negative": "-1",
    "huge": "99999999999999999999999999999999",
    "float": "1e308",
    "year_0": "0000-01-01T10:00:00+01:00",
    "year_1": "0001-01-01T00:00:00+14:00",
    "year_9999": "9999-12-31T23:59:59-12:00",
    "year_10000": "10000-01-01T10:00:00+01:00",
    "day_0": "0000-00-00",
    "day_9999": "9999-12-31",
    "repeated": ["eins", "zwei", "drei"],
}
FORBIDDEN = ("\x00", "\x1b", "\u202e", "\ud800", "\x07")


def junk_values() -> Iterator[tuple[str, Any]]:
    yield from JUNK.items()


@pytest.fixture(autouse=True)
def clock() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def service(office: Office) -> Service:
    return factories.make_service(
        office, "Personalausweis", bookable=True, slot_minutes=20, buffer_minutes=5, lead_minutes=60
    )


@pytest.fixture
def appointment(service: Service, agent: User) -> Appointment:
    return make_appointment(service, agent.staff_member, dt.datetime(2026, 12, 3, 10, 0, tzinfo=BERLIN))


def browser(user: User | None = None) -> Client:
    client = Client(headers={"accept-language": "en"}, raise_request_exception=False)
    if user is not None:
        client.force_login(user)
        factories.pass_second_factor(client, user)
    return client


def assert_answered(response: Any, what: str) -> None:
    assert response.status_code < 500, (what, response.status_code)


def assert_nothing_dirty_stored() -> None:
    """No text a person typed is stored with control characters or beyond its field."""
    texts = [
        *Ticket.objects.values_list("display_name", flat=True),
        *Appointment.objects.values_list("name", flat=True),
        *Appointment.objects.values_list("email", flat=True),
        *ChatMessage.objects.values_list("text", flat=True),
        *Feedback.objects.values_list("comment", flat=True),
        *QueueState.objects.values_list("announcement", flat=True),
    ]
    for text in texts:
        assert not any(bad in text for bad in FORBIDDEN), repr(text[:80])
        assert len(text) <= 2000, len(text)


def post_each(client: Client, url: str, valid: dict[str, Any], fields: list[str]) -> list[Any]:
    """POST the valid form with each field replaced by each junk value, and without it."""
    responses = []
    for field in fields:
        for name, value in junk_values():
            response = client.post(url, {**valid, field: value})
            assert_answered(response, f"{url} {field}={name}")
            responses.append(response)
        missing = {key: value for key, value in valid.items() if key != field}
        assert_answered(client.post(url, missing), f"{url} without {field}")
    assert_answered(client.post(url, {}), f"{url} empty")
    assert_answered(client.post(url, "not=a&form\x00", content_type="text/plain"), f"{url} wrong type")
    # Bytes that are no UTF-8 (a lone surrogate's encoding among them), in every field at once.
    broken = "&".join(f"{field}=%FF%ED%A0%80%C0%AF" for field in [*valid, *fields])
    assert_answered(
        client.post(url, broken, content_type="application/x-www-form-urlencoded"), f"{url} not UTF-8"
    )
    assert_answered(client.post(url, '{"a": [1, {"b": null}]}', content_type="application/json"), url)
    assert_nothing_dirty_stored()
    return responses


# --- citizens ---------------------------------------------------------------------------------
def test_the_enter_form_survives_extreme_inputs(
    office: Office, service: Service, agent: User, settings: Any
) -> None:
    settings.JOIN_LIMIT_PER_ADDRESS = 10_000
    staffing.set_presence(agent.staff_member, PresenceState.PAUSE, now=NOW)
    url = reverse("enter", args=[office.organization.slug, office.slug])
    valid = {"service": service.pk, "display_name": "Anna", "language": "de", "mode": "chat"}

    post_each(browser(), url, valid, ["service", "display_name", "language", "mode"])

    assert all(len(name) <= 60 for name in Ticket.objects.values_list("display_name", flat=True))


def test_the_booking_pages_survive_extreme_query_values(
    office: Office, service: Service, agent: User
) -> None:
    client = browser()
    book = reverse("booking:book", args=[office.organization.slug, office.slug])
    details = reverse("booking:details", args=[office.organization.slug, office.slug])
    for field in ("service", "agent", "day", "start"):
        for name, value in junk_values():
            for url in (book, details):
                assert_answered(
                    client.get(url, {"service": service.pk, field: value}), f"{url} {field}={name}"
                )


def test_the_booking_details_form_survives_extreme_inputs(
    office: Office, service: Service, agent: User, settings: Any
) -> None:
    settings.BOOKING_LIMIT_PER_ADDRESS_HOUR = 10_000
    settings.BOOKING_LIMIT_PER_CONTACT_DAY = 10_000
    start = dt.datetime(2026, 12, 2, 8, 0, tzinfo=BERLIN).isoformat()
    url = (
        reverse("booking:details", args=[office.organization.slug, office.slug])
        + f"?service={service.pk}&start={start.replace('+', '%2B')}"
    )
    valid = {"name": "Anna", "email": "anna@example.org", "phone": "", "language": "de", "consent": "on"}

    responses = post_each(browser(), url, valid, ["name", "email", "phone", "language", "consent"])

    refused = [r for r in responses if r.status_code == 400]
    assert refused, "some junk must be refused with the form's messages"
    assert all(b"errorlist" in r.content or b"error" in r.content for r in refused)


def test_reschedule_and_cancel_survive_extreme_inputs(appointment: Appointment, settings: Any) -> None:
    settings.BOOKING_CHANGES_PER_ADDRESS_HOUR = 10_000
    client = browser()
    before = (appointment.starts_at, appointment.status)
    reschedule = reverse("booking:reschedule", args=[appointment.token])

    post_each(client, reschedule, {"start": appointment.starts_at.isoformat()}, ["start"])
    for name, value in junk_values():
        assert_answered(client.get(reschedule, {"day": value}), f"reschedule day={name}")
        assert_answered(client.post(reverse("booking:cancel", args=[appointment.token]) + "x", {}), name)

    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.status) == before


def test_links_with_junk_tokens_are_not_found(appointment: Appointment) -> None:
    client = browser()
    for name, value in junk_values():
        if not isinstance(value, str) or not value.strip() or "/" in value:
            continue
        for route in ("booking:appointment", "booking:reschedule", "booking:cancel", "waiting:room"):
            response = client.post(reverse(route, args=[value]), {"start": value})
            assert response.status_code in (404, 405), (route, name, response.status_code)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_the_feedback_form_survives_extreme_inputs(office: Office, agent: User) -> None:
    staffing.set_presence(agent.staff_member, PresenceState.AVAILABLE, now=NOW)
    ticket = joining.join(office, service=None, display_name="Anna", language="de", mode="chat", now=NOW)
    consultation = Consultation.objects.get(ticket=ticket)
    consult_services.end_consultation(consultation, agent.staff_member)
    url = reverse("consult:done", args=[ticket.token])

    post_each(browser(), url, {"rating": "4", "comment": "Danke"}, ["rating", "comment"])

    assert Feedback.objects.count() <= 1
    assert all(len(c) <= 1000 for c in Feedback.objects.values_list("comment", flat=True))


def test_the_interpreter_invite_survives_extreme_inputs(office: Office, agent: User) -> None:
    client = browser()
    for name, value in junk_values():
        if not isinstance(value, str) or not value.strip() or "/" in value:
            continue
        url = reverse("consult:interpreter_invite", args=[value])
        assert_answered(client.get(url), f"invite GET {name}")
        response = client.post(url, {"x": value})
        assert response.status_code == 410, (name, response.status_code)


def test_the_language_switch_survives_extreme_inputs() -> None:
    client = browser()
    url = reverse("set_language")
    for field in ("language", "next"):
        for name, value in junk_values():
            response = client.post(url, {"language": "en", "next": "/", field: value})
            assert_answered(response, f"setlang {field}={name}")
            if response.status_code in (301, 302):
                location = response["Location"]
                assert url_has_allowed_host_and_scheme(location, allowed_hosts={"testserver"}), location


# --- staff -----------------------------------------------------------------------------------
def test_the_staff_login_survives_extreme_inputs(agent: User, settings: Any) -> None:
    settings.AXES_ENABLED = False  # the throttle is H3's test; here every junk value must be read
    url = reverse("staff:login")
    valid = {"username": "agent", "password": "wrong", "next": "/staff/"}

    post_each(browser(), url, valid, ["username", "password", "next"])


def test_the_console_buttons_survive_junk_ids_and_values(office: Office, agent: User) -> None:
    client = browser(agent)
    ids = ["0", "-1", "99999999999999999999999999", "abc", "1e5", "%00"]
    for ticket_id in ids:
        for action in ("call", "remove", "transfer"):
            response = client.post(f"/staff/console/tickets/{ticket_id}/{action}/", {"office": ticket_id})
            assert_answered(response, f"{action} {ticket_id}")
        assert_answered(
            client.post(f"/staff/console/offices/{ticket_id}/announce/", {"text": "x"}), ticket_id
        )
    announce = reverse("waiting:announce", args=[office.pk])
    for field, url in (("state", reverse("waiting:presence")), ("text", announce), ("office", None)):
        for name, value in junk_values():
            target = url or reverse("waiting:transfer", args=[12345])
            response = client.post(target, {field: value})
            assert_answered(response, f"{target} {field}={name}")
            assert response["Content-Type"].startswith("application/json"), (target, name)
    assert_answered(client.post(reverse("booking:no_show", args=[99999999]), {"next": LONG}), "no-show")
    assert_nothing_dirty_stored()


def test_the_staff_calendar_survives_extreme_query_values(agent: User) -> None:
    client = browser(agent)
    for field in ("date", "view", "agent"):
        for name, value in junk_values():
            response = client.get(reverse("booking:calendar"), {field: value})
            assert response.status_code == 200, (field, name, response.status_code)


def test_a_feed_address_with_junk_is_not_found() -> None:
    client = browser()
    for name, value in junk_values():
        if not isinstance(value, str) or not value.strip() or "/" in value:
            continue
        response = client.get(reverse("booking:feed", args=[value]))
        assert response.status_code == 404, (name, response.status_code)


def test_a_random_token_never_finds_anything() -> None:
    assert browser().get(reverse("booking:appointment", args=[secrets.token_urlsafe(32)])).status_code == 404

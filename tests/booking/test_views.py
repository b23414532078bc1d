"""The citizen's booking pages, driven through Django's test client as a browser would.

The clock is pinned to Tuesday, 1 December 2026, 08:00 in Berlin; the fixture office is open
Monday to Friday 08:00–16:00 and its service's slots start every 25 minutes from 08:00. The
browser sends no language, so the pages are German (the default); expected messages are the
project's German translations of the English source strings (``german``), whichever of them are
translated yet.
"""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext
from icalendar import Calendar

from buergerbuero.booking import services
from buergerbuero.booking.messages import topic
from buergerbuero.booking.models import Appointment, AppointmentStatus
from buergerbuero.booking.services import Contact
from buergerbuero.notify.models import Notification
from buergerbuero.offices.models import Office, Service
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import Ticket, TicketStatus
from tests import factories
from tests.booking.conftest import BERLIN, NOW, at

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock", "agent_member")]

BOOK = "/testhausen/buergerbuero/book/"
DETAILS = "/testhausen/buergerbuero/book/details/"
FIRST_FREE = at(2026, 12, 1, 9, 15)  # the first slot after the 60 minutes lead time
WEDNESDAY_10_05 = at(2026, 12, 2, 10, 5)


def german(message: str) -> str:
    with translation.override("de"):
        return gettext(message)


def body(response: Response) -> str:
    return response.content.decode()


def details_url(service: Service, start: dt.datetime, **extra: Any) -> str:
    return DETAILS + "?" + urlencode({"service": service.pk, "start": start.isoformat(), **extra})


def valid_details(**changes: str) -> dict[str, str]:
    data = {
        "name": "Erika Mustermann",
        "email": "erika@example.org",
        "phone": "0151 23456789",
        "language": "de",
        "consent": "on",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def booked(service: Service, start: dt.datetime = WEDNESDAY_10_05) -> Appointment:
    contact = Contact("Erika Mustermann", email="erika@example.org", phone="0151 23456789", consent=True)
    return services.book(service.office, service, start=start, contact=contact, now=NOW)


class _Elements(HTMLParser):
    """Every element with the class ``slot``, and every link, as (tag, attributes, text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.slots: list[tuple[str, dict[str, str | None], str]] = []
        self._open: list[tuple[str, dict[str, str | None], list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "slot" in (attributes.get("class") or "").split():
            self._open.append((tag, attributes, []))

    def handle_data(self, data: str) -> None:
        for _tag, _attributes, text in self._open:
            text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            opened, attributes, text = self._open.pop()
            self.slots.append((opened, attributes, "".join(text).strip()))


def slot_elements(response: Response) -> list[tuple[str, dict[str, str | None], str]]:
    parser = _Elements()
    parser.feed(body(response))
    return parser.slots


def slot_links(response: Response) -> list[tuple[str, str]]:
    """(visible text, start parameter) of each slot link."""
    links = []
    for tag, attributes, text in slot_elements(response):
        assert tag == "a"
        query = parse_qs(urlsplit(attributes["href"] or "").query)
        links.append((text, query["start"][0]))
    return links


# --- choosing a service and a time ------------------------------------------------------------------
def test_the_booking_page_lists_the_bookable_services(
    client: Client, office: Office, service: Service
) -> None:
    other = factories.make_service(office, "Meldebescheinigung")
    factories.make_service(office, "Nur am Schalter", bookable=False)

    response = client.get(BOOK)

    assert response.status_code == 200
    page = body(response)
    for offered in (service, other):
        assert f'name="service" value="{offered.pk}"' in page
        assert offered.name in page
    assert "Nur am Schalter" not in page
    assert slot_elements(response) == []  # no service chosen yet: no times


def test_an_office_without_bookable_services_says_so(client: Client, office: Office) -> None:
    response = client.get(BOOK)

    assert response.status_code == 200
    assert escape(german("This office does not offer online appointments.")) in body(response)


def test_with_a_service_the_page_shows_the_days_and_the_free_times_in_local_time(
    client: Client, service: Service
) -> None:
    response = client.get(BOOK, {"service": str(service.pk)})

    assert response.status_code == 200
    page = body(response)
    days = re.findall(r'href="\?service=\d+&amp;day=(\d{4}-\d\d-\d\d)"', page)
    assert days[:7] == [f"2026-12-0{day}" for day in range(1, 8)]
    assert re.search(r'day=2026-12-01"\s+aria-current="date"', page)
    links = slot_links(response)
    # Next free times (five, with their day) first, then the chosen day's: from 09:15 local,
    # which is 08:15 UTC in the link.
    day_links = links[5:]
    assert day_links[0] == ("09:15", "2026-12-01T08:15:00+00:00")
    assert day_links[-1] == ("15:30", "2026-12-01T14:30:00+00:00")
    assert len(day_links) == 16
    assert [start for _text, start in links[:5]] == [start for _text, start in day_links[:5]]
    assert re.fullmatch(r"\w+\.?, 1\. \w+\.?, 09:15", links[0][0])  # with the day, e.g. “Di, 1. Dez, 09:15”


def test_choosing_a_day_shows_that_days_times(client: Client, service: Service) -> None:
    response = client.get(BOOK, {"service": str(service.pk), "day": "2026-12-03"})

    assert response.status_code == 200
    assert re.search(r'day=2026-12-03"\s+aria-current="date"', body(response))
    day_links = slot_links(response)[5:]
    assert day_links[0] == ("08:00", "2026-12-03T07:00:00+00:00")
    assert len(day_links) == 19


def test_a_holiday_has_no_times(client: Client, service: Service) -> None:
    response = client.get(BOOK, {"service": str(service.pk), "day": "2026-12-25"})

    assert response.status_code == 200
    assert slot_links(response)[5:] == []
    assert escape(german("No free times on this day. Please choose another day.")) in body(response)


def test_slots_and_days_are_links_a_keyboard_reaches(client: Client, service: Service) -> None:
    response = client.get(BOOK, {"service": str(service.pk)})

    slots = slot_elements(response)
    assert len(slots) == 21
    for tag, attributes, text in slots:
        assert tag == "a"
        assert (attributes["href"] or "").startswith(DETAILS + "?")
        assert attributes.get("tabindex") in (None, "0")
        assert re.fullmatch(r"(.+, )?\d\d:\d\d", text)
    page = body(response)
    assert "onclick" not in page
    assert len(re.findall(r'<a class="day[^"]*" href="\?', page)) == 7


# --- giving the details ----------------------------------------------------------------------------
def test_the_details_page_shows_the_form_and_the_chosen_time(client: Client, service: Service) -> None:
    response = client.get(details_url(service, FIRST_FREE))

    assert response.status_code == 200
    page = body(response)
    for field in ("name", "email", "phone", "language", "consent"):
        assert f'name="{field}"' in page
    assert "09:15–09:35" in page  # local time, not 08:15 UTC
    assert "Europe/Berlin" in page


def test_booking_through_the_form_leads_to_the_appointments_page(client: Client, service: Service) -> None:
    response = client.post(details_url(service, FIRST_FREE), valid_details())

    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/a/{appointment.token}/?booked=1"
    assert appointment.starts_at == FIRST_FREE
    assert appointment.phone == "+4915123456789"
    assert Notification.objects.filter(topic=topic(appointment.pk)).count() == 2
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert escape(german("Your appointment is booked.")) in body(page)
    assert "09:15–09:35" in body(page)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "   "}, "name", "This field is required."),
        ({"email": "erika@"}, "email", "Please enter a valid e-mail address."),
        ({"phone": "030 12345678"}, "phone", "Please enter a mobile number: we send the link by SMS."),
        ({"phone": "12"}, "phone", "Please enter a valid mobile number, e.g. 0151 23456789."),
        (
            {"email": "", "phone": ""},
            "email",
            "Please give an e-mail address or a mobile number, so that we can send you the link.",
        ),
        ({"consent": ""}, "consent", "Please agree to the processing of your details for this appointment."),
        (
            {"language": "xx"},
            "language",
            "Select a valid choice. %(value)s is not one of the available choices.",
        ),
    ],
)
def test_invalid_details_are_answered_with_german_field_messages_and_nothing_is_written(
    client: Client, service: Service, changes: dict[str, str], field: str, message: str
) -> None:
    response = client.post(details_url(service, FIRST_FREE), valid_details(**changes))

    assert response.status_code == 400
    assert response.context is not None
    form = response.context["form"]
    expected = (
        german(message) % {"value": changes.get("language", "")}
        if "%(value)s" in message
        else german(message)
    )
    assert form.errors[field] == [expected]
    page = body(response)
    assert f'id="id_{field}_error"' in page
    assert escape(expected) in page
    assert '<html lang="de"' in page
    assert not Appointment.objects.exists()
    assert not Notification.objects.exists()


def test_a_slot_taken_meanwhile_is_answered_with_409_and_other_times(
    client: Client, service: Service
) -> None:
    booked(service, FIRST_FREE)

    response = client.post(details_url(service, FIRST_FREE), valid_details(name="Otto Normal"))

    assert response.status_code == 409
    page = body(response)
    assert escape(german("This slot was just taken. Please choose another time.")) in page
    suggestions = slot_links(response)
    assert [text[-5:] for text, _start in suggestions] == ["09:40", "10:05", "10:30", "10:55", "11:20"]
    assert Appointment.objects.count() == 1
    assert not Appointment.objects.filter(name="Otto Normal").exists()


def test_details_without_a_service_or_time_send_the_citizen_back(client: Client, service: Service) -> None:
    response = client.get(DETAILS, {"service": str(service.pk)})

    assert response.status_code == 302
    assert response["Location"] == BOOK


# --- the appointment's own page -------------------------------------------------------------------
@pytest.mark.parametrize("suffix", ["", "termin.ics", "reschedule/"])
def test_an_unknown_or_tampered_token_is_not_found(client: Client, service: Service, suffix: str) -> None:
    token = booked(service).token

    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), "x", "a" * 65):
        assert client.get(f"/a/{wrong}/{suffix}").status_code == 404


@pytest.mark.parametrize("action", ["cancel", "join", "reschedule"])
def test_posts_with_an_unknown_token_are_not_found_and_change_nothing(
    client: Client, service: Service, action: str
) -> None:
    appointment = booked(service)

    response = client.post(f"/a/{appointment.token}x/{action}/", {"start": FIRST_FREE.isoformat()})

    assert response.status_code == 404
    assert Appointment.objects.values_list("status", "sequence", "starts_at").get() == (
        AppointmentStatus.BOOKED,
        0,
        WEDNESDAY_10_05,
    )


def test_the_calendar_file_is_an_invitation_in_the_offices_time_zone(
    client: Client, service: Service
) -> None:
    appointment = booked(service)

    response = client.get(f"/a/{appointment.token}/termin.ics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response["Content-Disposition"].startswith("attachment")
    assert "termin.ics" in response["Content-Disposition"]
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["METHOD"]) == "REQUEST"
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    start = event.decoded("DTSTART")
    assert start == WEDNESDAY_10_05
    assert (start.hour, start.minute) == (10, 5)  # wall-clock time in the file
    assert event.decoded("DTEND") == at(2026, 12, 2, 10, 25)
    timezones = list(calendar.walk("VTIMEZONE"))
    assert [str(zone["TZID"]) for zone in timezones] == ["Europe/Berlin"]
    assert len(list(event.walk("VALARM"))) == 1
    link = f"{settings.PUBLIC_URL}/a/{appointment.token}/"
    assert str(event["URL"]) == link
    assert event.decoded("SEQUENCE") == 0
    assert "BEGIN:VTIMEZONE" in response.content.decode()


def test_cancelling_twice_says_already_cancelled_and_changes_nothing(
    client: Client, service: Service
) -> None:
    appointment = booked(service)
    url = f"/a/{appointment.token}/cancel/"

    first = client.post(url, follow=True)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert escape(german("This appointment has been cancelled.")) in body(first)
    before = Appointment.objects.values().get(pk=appointment.pk)
    notifications = Notification.objects.count()

    second = client.post(url, follow=True)

    assert second.redirect_chain == [(f"/a/{appointment.token}/", 302)]
    assert second.status_code == 200
    assert escape(german("This appointment has already been cancelled.")) in body(second)
    assert Appointment.objects.values().get(pk=appointment.pk) == before
    assert Notification.objects.count() == notifications


def test_cancelling_needs_a_post(client: Client, service: Service) -> None:
    appointment = booked(service)

    assert client.get(f"/a/{appointment.token}/cancel/").status_code == 405
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_the_reschedule_page_offers_the_free_times_as_buttons(client: Client, service: Service) -> None:
    appointment = booked(service)

    response = client.get(f"/a/{appointment.token}/reschedule/", {"day": "2026-12-03"})

    assert response.status_code == 200
    slots = slot_elements(response)
    assert slots
    assert all(tag == "button" for tag, _attributes, _text in slots)
    page = body(response)
    starts = re.findall(r'<input type="hidden" name="start" value="([^"]+)">', page)
    assert "2026-12-03T07:00:00+00:00" in starts
    assert page.count(f'action="/a/{appointment.token}/reschedule/"') == len(slots)


def test_rescheduling_through_the_page_moves_the_appointment(client: Client, service: Service) -> None:
    appointment = booked(service)

    response = client.post(f"/a/{appointment.token}/reschedule/", {"start": "2026-12-03T07:00:00+00:00"})

    assert response.status_code == 302
    assert response["Location"] == f"/a/{appointment.token}/"
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.sequence) == (at(2026, 12, 3, 8, 0), 1)
    page = client.get(response["Location"])
    assert escape(german("Your appointment has been moved. We have sent you the new details.")) in body(page)


def test_rescheduling_to_a_taken_time_stays_on_the_page_with_a_message(
    client: Client, service: Service
) -> None:
    appointment = booked(service)
    booked(service, at(2026, 12, 3, 8, 0))

    response = client.post(
        f"/a/{appointment.token}/reschedule/", {"start": "2026-12-03T07:00:00+00:00"}, follow=True
    )

    assert response.redirect_chain == [(f"/a/{appointment.token}/reschedule/", 302)]
    assert escape(german("This slot was just taken. Please choose another time.")) in body(response)
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.sequence) == (WEDNESDAY_10_05, 0)


def test_joining_before_the_window_explains_when_it_opens(client: Client, service: Service) -> None:
    appointment = booked(service)

    response = client.post(f"/a/{appointment.token}/join/", follow=True)

    assert response.redirect_chain == [(f"/a/{appointment.token}/", 302)]
    message = "Sie können ab 10 Minuten vor Ihrem Termin eintreten."
    assert escape(message) in body(response)
    assert not Ticket.objects.exists()


def test_joining_within_the_window_leads_to_the_waiting_room(
    client: Client, service: Service, clock: Any, agent_member: StaffMember
) -> None:
    appointment = booked(service)
    clock.move_to(at(2026, 12, 2, 9, 56))

    page = client.get(f"/a/{appointment.token}/")
    assert f'action="/a/{appointment.token}/join/"' in body(page)
    response = client.post(f"/a/{appointment.token}/join/")

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/w/{ticket.token}/"
    assert (ticket.status, ticket.reserved_for) == (TicketStatus.WAITING, agent_member)
    room = client.get(response["Location"])
    assert room.status_code == 200
    assert "data-booked-notice" in body(room)


def test_the_page_of_a_past_appointment_is_gone(client: Client, service: Service, clock: Any) -> None:
    appointment = booked(service)
    clock.move_to(at(2026, 12, 2, 11, 0))  # ended 10:25, plus 30 minutes grace

    response = client.get(f"/a/{appointment.token}/")

    assert response.status_code == 410
    assert f'action="/a/{appointment.token}/join/"' not in body(response)


# --- the way in: office and enter pages ---------------------------------------------------------------
def test_the_office_page_offers_booking(client: Client, office: Office, service: Service) -> None:
    response = client.get("/testhausen/buergerbuero/")

    assert response.status_code == 200
    assert re.search(
        rf'<a class="button[^"]*" href="{BOOK}">{re.escape(escape(german("Book an appointment")))}</a>',
        body(response),
    )


def test_the_office_page_has_no_booking_link_without_bookable_services(
    client: Client, office: Office
) -> None:
    factories.make_service(office, "Nur am Schalter", bookable=False)

    response = client.get("/testhausen/buergerbuero/")

    assert response.status_code == 200
    assert f'href="{BOOK}"' not in body(response)


def test_the_enter_page_of_a_closed_office_offers_booking_and_free_times(
    client: Client, service: Service, clock: Any
) -> None:
    clock.move_to(at(2026, 12, 1, 18, 0))

    response = client.get("/testhausen/buergerbuero/enter/")

    assert response.status_code == 200
    page = body(response)
    assert f'href="{BOOK}"' in page
    assert escape(german("Or book an appointment: these times are free.")) in page
    assert [(text[-5:], start) for text, start in slot_links(response)] == [
        ("08:00", "2026-12-02T07:00:00+00:00"),
        ("08:25", "2026-12-02T07:25:00+00:00"),
        ("08:50", "2026-12-02T07:50:00+00:00"),
    ]


# --- no stack trace for garbage -----------------------------------------------------------------------
GARBAGE_GETS = [
    BOOK + "?service=abc",
    BOOK + "?service=-1",
    BOOK + "?service=99999999999999999999",
    BOOK + "?service={service}&agent=abc",
    BOOK + "?service={service}&agent=99999",
    BOOK + "?service={service}&day=not-a-day",
    BOOK + "?service={service}&day=1900-01-01",
    BOOK + "?service={service}&day=9999-12-31",
    DETAILS + "?service={service}&start=not-a-date",
    DETAILS + "?service=abc&start=2026-12-02T09:05:00%2B00:00",
    DETAILS + "?service={service}&start=2026-12-02T09:05:00",  # without a time zone
    DETAILS + "?service={service}",
    DETAILS,
    "/a/../termin.ics",
    "/nirgendwo/buergerbuero/book/",
]


@pytest.mark.parametrize("url", GARBAGE_GETS)
def test_garbage_parameters_never_cause_a_server_error(service: Service, url: str) -> None:
    client = Client(raise_request_exception=False)

    response = client.get(url.format(service=service.pk))

    assert response.status_code in (200, 302, 404)


@pytest.mark.parametrize(
    "data",
    [
        {"start": "not-a-date"},
        {"start": "2026-12-02T09:05:00"},
        {"start": ""},
        {},
        {"start": "2026-12-02T09:06:00+00:00"},
        {"start": "2030-01-01T09:00:00+00:00"},
    ],
)
def test_garbage_reschedule_posts_are_refused_with_a_message(service: Service, data: dict[str, str]) -> None:
    client = Client(raise_request_exception=False)
    appointment = booked(service)

    response = client.post(f"/a/{appointment.token}/reschedule/", data)

    assert response.status_code == 302
    assert response["Location"] == f"/a/{appointment.token}/reschedule/"
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.sequence) == (WEDNESDAY_10_05, 0)


def test_garbage_details_posts_never_cause_a_server_error(service: Service) -> None:
    client = Client(raise_request_exception=False)

    response = client.post(details_url(service, FIRST_FREE), {"name": "x" * 5000, "consent": "maybe"})

    assert response.status_code == 400
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        BOOK + "?service={service}&day=2026-99-99",
        BOOK + "?service={service}&day=2026-02-30",
        DETAILS + "?service={service}&start=2026-99-99T10:00:00%2B01:00",
    ],
)
def test_impossible_dates_in_the_address_never_cause_a_server_error(service: Service, url: str) -> None:
    client = Client(raise_request_exception=False)

    response = client.get(url.format(service=service.pk))

    assert response.status_code in (200, 302, 404)


def test_an_impossible_date_posted_to_reschedule_never_causes_a_server_error(service: Service) -> None:
    client = Client(raise_request_exception=False)
    appointment = booked(service)

    response = client.post(f"/a/{appointment.token}/reschedule/", {"start": "2026-13-45T10:00:00+01:00"})

    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.starts_at == WEDNESDAY_10_05


@pytest.mark.parametrize("suffix", ["", "termin.ics"])
def test_a_token_with_a_nul_byte_is_not_found(service: Service, suffix: str) -> None:
    client = Client(raise_request_exception=False)

    response = client.get(f"/a/%00/{suffix}")

    assert response.status_code == 404


def test_local_times_in_the_links_are_aware_of_the_zone(service: Service) -> None:
    """The start in a slot link names its offset: parsed back it is the same instant."""
    response = Client().get(BOOK, {"service": str(service.pk)})

    for _text, start in slot_links(response):
        parsed = dt.datetime.fromisoformat(unescape(start))
        assert parsed.tzinfo is not None
        assert parsed.astimezone(BERLIN).minute % 5 == 0

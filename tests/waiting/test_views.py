"""Citizen pages (enter, wait, confirm, leave) and the staff console's page and JSON endpoints.

The clock stands on an open Thursday in the fixture office's hours. Every test's client has
its own address, so the join rate limit (counted in the database) counts only that test's
requests.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import zoneinfo
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from pytest_django import DjangoAssertNumQueries, DjangoCaptureOnCommitCallbacks

from buergerbuero.consult.models import Consultation
from buergerbuero.offices.models import AdmissionMode, Office, Service
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import AgentPresence, PresenceState, QueueState, Ticket, TicketStatus
from buergerbuero.waiting.services import calling, joining, staffing

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
OPEN = dt.datetime(2026, 11, 26, 10, 0, tzinfo=BERLIN)  # a Thursday, 08:00–16:00
THURSDAY_EVENING = dt.datetime(2026, 11, 26, 17, 0, tzinfo=BERLIN)
WEEKDAYS = [(day, "08:00", "16:00") for day in range(5)]
ENTER = reverse("enter", kwargs={"org_slug": "testhausen", "office_slug": "buergerbuero"})
CONSOLE = reverse("waiting:console")
_addresses = itertools.count(1)


# --- helpers --------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _office_hours() -> Iterator[None]:
    with time_machine.travel(OPEN, tick=False):
        yield


def citizen(language: str = "en") -> Client:
    """A browser of its own address (the rate limit counts per address)."""
    number = next(_addresses)
    address = f"10.77.{number // 250}.{number % 250 + 1}"
    return Client(REMOTE_ADDR=address, headers={"accept-language": language})


def staff_client(user: User) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def body(response: Response) -> str:
    return response.content.decode()


def english(message: str) -> str:
    with translation.override("en"):
        return gettext(message)


def german(message: str) -> str:
    with translation.override("de"):
        return gettext(message)


def join(office: Office, seconds: float = 0, name: str = "") -> Ticket:
    return joining.join(
        office,
        service=None,
        display_name=name,
        language="de",
        mode="video",
        now=OPEN + dt.timedelta(seconds=seconds),
    )


def reload(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def room(ticket: Ticket) -> str:
    return reverse("waiting:room", kwargs={"token": ticket.token})


def staff(user: User) -> StaffMember:
    return user.staff_member


def entry(**fields: Any) -> dict[str, Any]:
    return {"display_name": "Anna", "language": "de", "mode": "video", **fields}


@pytest.fixture
def passport(office: Office) -> Service:
    return Service.objects.create(office=office, name="Reisepass")


# --- entering -------------------------------------------------------------------------------
def test_enter_page_is_german_by_default(office: Office, passport: Service) -> None:
    response = Client().get(ENTER)

    assert response.status_code == 200
    assert response["Content-Language"] == "de"
    assert '<html lang="de"' in body(response)
    assert german("Enter the waiting room") in body(response)
    assert "Reisepass" in body(response)


def test_enter_page_speaks_english_when_asked(office: Office) -> None:
    response = citizen("en").get(ENTER)

    assert response.status_code == 200
    assert '<html lang="en"' in body(response)
    assert "Enter the waiting room" in body(response)


# The office with its organisation; the rest of a warm GET comes from the process's caches
# (calendar, figures of the last second, rendered fields).
WARM_ENTER_GET_QUERIES = 1
# The office; the form's services (any at all, the chosen one); the rate limit's counter (one upsert); the
# savepoint and its release, the row locked and its sequence number bumped, the figures (queue,
# presence, history), the ticket.
JOIN_POST_QUERIES = 11


def test_a_warm_enter_page_is_one_query(
    office: Office, passport: Service, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    citizen("de").get(ENTER)

    with django_assert_num_queries(WARM_ENTER_GET_QUERIES):
        response = citizen("de").get(ENTER)

    assert "Reisepass" in body(response)
    assert 'name="csrfmiddlewaretoken"' in body(response)


def test_joining_costs_a_fixed_number_of_queries(
    office: Office, passport: Service, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    citizen().post(ENTER, entry(service=passport.pk))
    cache.delete(joining._shared_key(office.pk))  # its rows, where the scaled mode shares them

    with django_assert_num_queries(JOIN_POST_QUERIES):
        response = citizen().post(ENTER, entry(service=passport.pk))

    assert response.status_code == 302


def test_the_enter_form_follows_an_office_leads_edits_of_services(
    office: Office, passport: Service, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """The fields are rendered once per office and language, and renewed after a commit that
    changes a service (what saving the office's admin page does)."""
    assert "Reisepass" in body(citizen("de").get(ENTER))

    with django_capture_on_commit_callbacks(execute=True):
        passport.name = "Personalausweis"
        passport.save()
    html = body(citizen("de").get(ENTER))
    assert "Personalausweis" in html
    assert "Reisepass" not in html

    with django_capture_on_commit_callbacks(execute=True):
        added = Service.objects.create(office=office, name="Meldebescheinigung")
    assert f'value="{added.pk}"' in body(citizen("de").get(ENTER))

    with django_capture_on_commit_callbacks(execute=True):
        passport.delete()
    assert "Personalausweis" not in body(citizen("de").get(ENTER))


def language_choice(html: str) -> str:
    """The enter form's language field (the page's language switcher lists languages too)."""
    found = re.search(r'<select name="language".*?</select>', html, re.S)
    assert found is not None
    return found.group(0)


def test_the_enter_form_follows_an_edit_of_the_offered_languages(
    office: Office, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        organization = office.organization
        organization.languages = "de,en,tr"
        organization.save()
    assert 'value="tr"' in language_choice(body(citizen("de").get(ENTER)))

    with django_capture_on_commit_callbacks(execute=True):
        organization.languages = "de,en"
        organization.save()

    choice = language_choice(body(citizen("de").get(ENTER)))
    assert 'value="tr"' not in choice
    assert 'value="en"' in choice


def test_the_rendered_fields_are_never_shared_between_languages(office: Office, passport: Service) -> None:
    german_page = body(citizen("de").get(ENTER))
    english_page = body(citizen("en").get(ENTER))

    assert german("How would you like to talk?") in german_page
    assert "How would you like to talk?" in english_page
    assert german("How would you like to talk?") not in english_page
    assert '<option value="en" selected>' in language_choice(english_page)
    assert '<option value="de" selected>' in language_choice(german_page)


def test_entering_creates_a_ticket_and_opens_the_waiting_room(office: Office, passport: Service) -> None:
    response = citizen().post(ENTER, entry(service=passport.pk, display_name=" Anna ", mode="chat"))

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/w/{ticket.token}/"
    assert (ticket.service, ticket.display_name, ticket.mode) == (passport, "Anna", "chat")
    assert ticket.status == TicketStatus.WAITING
    assert ticket.arrived_at == OPEN


def test_office_without_services_needs_no_service(office: Office) -> None:
    response = citizen().post(ENTER, entry())

    assert response.status_code == 302
    assert Ticket.objects.get().service is None


def test_invalid_service_is_a_form_error_and_creates_nothing(
    office: Office, passport: Service, second_office: Office
) -> None:
    foreign_service = Service.objects.create(office=second_office, name="Eheschließung")

    response = citizen().post(ENTER, entry(service=foreign_service.pk))

    assert response.status_code == 400
    assert "form-error" in body(response)
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    "fields", [{"mode": "telepathy"}, {"language": "tlh"}, {"display_name": "x" * 61}], ids=str
)
def test_invalid_entries_create_nothing(office: Office, fields: dict[str, str]) -> None:
    response = citizen().post(ENTER, entry(**fields))

    assert response.status_code == 400
    assert not Ticket.objects.exists()


def test_joining_too_often_is_refused_with_a_clear_message(office: Office) -> None:
    client = citizen()
    for _ in range(10):
        assert client.post(ENTER, entry()).status_code == 302

    response = client.post(ENTER, entry())

    assert response.status_code == 429
    assert "You have entered too often in a short time. Please wait ten minutes." in body(response)
    assert Ticket.objects.count() == 10
    assert citizen().post(ENTER, entry()).status_code == 302  # someone else is not affected


def test_closed_office_says_so_and_takes_nobody(office: Office) -> None:
    with time_machine.travel(THURSDAY_EVENING, tick=False):
        page = citizen().get(ENTER)
        posted = citizen().post(ENTER, entry())

    assert page.status_code == 200
    assert "The office is closed right now." in body(page)
    assert "opens tomorrow at 8 a.m." in body(page)
    assert "<form" not in body(page).split("<main", 1)[1]
    assert posted.status_code == 409
    assert not Ticket.objects.exists()


def test_closed_office_names_the_next_opening_readably(office: Office) -> None:
    with time_machine.travel(THURSDAY_EVENING, tick=False):
        page = Client().get(ENTER)

    match = re.search(r"<p>([^<]*öffnet morgen[^<]*)</p>", body(page))
    assert match is not None
    sentence = match.group(1)
    assert "08:00" in sentence
    assert "CET" not in sentence


def test_full_waiting_room_says_so(office: Office) -> None:
    Office.objects.filter(pk=office.pk).update(waiting_room_limit=1)
    join(office)

    page = citizen().get(ENTER)
    posted = citizen().post(ENTER, entry())

    assert "The waiting room is full right now." in body(page)
    assert posted.status_code == 409
    assert Ticket.objects.count() == 1


# --- the waiting room and its buttons ---------------------------------------------------------
def test_waiting_room_shows_the_place_in_the_queue(office: Office) -> None:
    join(office, 0)
    ticket = join(office, 1)

    response = citizen().get(room(ticket))

    assert response.status_code == 200
    html = body(response)
    assert f'data-token="{ticket.token}"' in html
    assert 'data-position="2"' in html
    assert 'data-status="waiting"' in html
    assert 'data-seq="2"' in html


def test_waiting_room_of_a_called_citizen_asks_to_confirm(office: Office, agent: User) -> None:
    ticket = join(office)
    calling.call_next(staff(agent), now=OPEN)

    response = citizen().get(room(ticket))

    assert response.status_code == 200
    assert 'data-status="called"' in body(response)
    assert reverse("waiting:confirm", kwargs={"token": ticket.token}) in body(response)


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (TicketStatus.LEFT, "You left the waiting room."),
        (TicketStatus.REMOVED, "A staff member has closed your place in the waiting room."),
        (TicketStatus.NO_SHOW, "You did not answer when you were called"),
        (TicketStatus.EXPIRED, "You were away for too long"),
    ],
)
def test_ended_place_shows_the_ended_page(office: Office, status: str, text: str) -> None:
    ticket = join(office)
    Ticket.objects.filter(pk=ticket.pk).update(status=status)

    response = citizen().get(room(ticket))

    assert response.status_code == 200
    assert "Your place in the waiting room has ended" in body(response)
    assert text in body(response)


def test_admitted_citizen_is_taken_to_the_consultation(office: Office, agent: User) -> None:
    staffing.set_presence(staff(agent), PresenceState.AVAILABLE, now=OPEN)
    ticket = join(office)

    response = citizen().get(room(ticket))

    assert response.status_code == 302
    assert response["Location"] == reverse("consult:citizen", kwargs={"token": ticket.token})


def test_unknown_ticket_is_not_found(office: Office) -> None:
    assert citizen().get("/w/no-such-token/").status_code == 404
    assert citizen().post("/w/no-such-token/leave/").status_code == 404


def test_confirming_a_call_starts_the_consultation(office: Office, agent: User) -> None:
    ticket = join(office)
    calling.call_next(staff(agent), now=OPEN)

    response = citizen().post(reverse("waiting:confirm", kwargs={"token": ticket.token}))

    assert response.status_code == 302
    assert response["Location"] == reverse("consult:citizen", kwargs={"token": ticket.token})
    assert reload(ticket).status == TicketStatus.ADMITTED
    assert Consultation.objects.filter(ticket=ticket).count() == 1


def test_confirming_without_a_call_goes_back_to_the_waiting_room(office: Office) -> None:
    ticket = join(office)
    client = citizen()

    response = client.post(reverse("waiting:confirm", kwargs={"token": ticket.token}), follow=True)

    assert response.redirect_chain == [(room(ticket), 302)]
    assert "You have not been called (any more)." in body(response)
    assert reload(ticket).status == TicketStatus.WAITING


def test_confirm_and_leave_need_post(office: Office) -> None:
    ticket = join(office)

    assert citizen().get(reverse("waiting:confirm", kwargs={"token": ticket.token})).status_code == 405
    assert citizen().get(reverse("waiting:leave", kwargs={"token": ticket.token})).status_code == 405
    assert reload(ticket).status == TicketStatus.WAITING


def test_leaving_ends_the_place_and_returns_to_the_office(office: Office) -> None:
    ticket = join(office)

    response = citizen().post(reverse("waiting:leave", kwargs={"token": ticket.token}), follow=True)

    assert response.redirect_chain == [("/testhausen/buergerbuero/", 302)]
    assert "You have left the waiting room." in body(response)
    assert reload(ticket).status == TicketStatus.LEFT


# --- the console page ---------------------------------------------------------------------------
def test_console_needs_a_login(office: Office) -> None:
    response = Client().get(CONSOLE)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff:login"))


def test_console_refuses_a_login_without_organisation(outsider: User) -> None:
    assert staff_client(outsider).get(CONSOLE).status_code == 403


def test_console_opens_for_staff(office: Office, agent: User, org_admin: User) -> None:
    assert staff_client(agent).get(CONSOLE).status_code == 200
    assert staff_client(org_admin).get(CONSOLE).status_code == 200


# --- the console's JSON endpoints -------------------------------------------------------------
def post_json(client: Client, url: str, data: dict[str, Any] | None = None) -> tuple[int, Any]:
    response = client.post(url, data or {})
    return response.status_code, response.json()


def action_url(name: str, **kwargs: int) -> str:
    return reverse(f"waiting:{name}", kwargs=kwargs)


def test_presence_endpoint_sets_and_validates_the_state(office: Office, agent: User) -> None:
    client = staff_client(agent)

    assert post_json(client, action_url("presence"), {"state": "available"}) == (
        200,
        {"presence": "available"},
    )
    status, refused = post_json(client, action_url("presence"), {"state": "asleep"})

    assert (status, refused["code"]) == (409, "bad_state")
    assert refused["error"] == "Unknown presence state."
    assert AgentPresence.objects.get(member=staff(agent)).state == PresenceState.AVAILABLE


def test_call_next_endpoint_calls_and_refuses_a_second_call(office: Office, agent: User) -> None:
    client = staff_client(agent)
    assert post_json(client, action_url("call_next")) == (200, {"ticket": None})
    first = join(office, 0)
    join(office, 1)

    assert post_json(client, action_url("call_next")) == (200, {"ticket": first.pk})
    status, refused = post_json(client, action_url("call_next"))

    assert (status, refused) == (
        409,
        {"error": "Finish your current consultation first.", "code": "busy"},
    )
    assert reload(first).status == TicketStatus.CALLED


def test_call_ticket_endpoint_only_in_knock_offices(office: Office, agent: User) -> None:
    join(office, 0)
    second = join(office, 1)
    client = staff_client(agent)

    status, refused = post_json(client, action_url("call_ticket", ticket_id=second.pk))
    assert (status, refused["code"]) == (409, "not_knock")

    Office.objects.filter(pk=office.pk).update(admission_mode=AdmissionMode.KNOCK)
    assert post_json(client, action_url("call_ticket", ticket_id=second.pk)) == (200, {"ticket": second.pk})
    assert reload(second).status == TicketStatus.CALLED


def test_remove_endpoint_removes_or_marks_no_show(office: Office, agent: User) -> None:
    removed, no_show = join(office, 0), join(office, 1)
    client = staff_client(agent)

    assert post_json(client, action_url("remove", ticket_id=removed.pk)) == (200, {"ok": True})
    assert post_json(client, action_url("remove", ticket_id=no_show.pk), {"no_show": "1"}) == (
        200,
        {"ok": True},
    )
    status, refused = post_json(client, action_url("remove", ticket_id=removed.pk))

    assert reload(removed).status == TicketStatus.REMOVED
    assert reload(no_show).status == TicketStatus.NO_SHOW
    assert (status, refused["code"]) == (409, "gone")


def test_transfer_endpoint_moves_within_the_organisation_only(
    office: Office, second_office: Office, foreign_office: Office, agent: User
) -> None:
    ticket = join(office)
    client = staff_client(agent)
    url = action_url("transfer", ticket_id=ticket.pk)

    assert post_json(client, url, {"office": str(foreign_office.pk)}) == (404, {"error": "not found"})
    assert post_json(client, url, {"office": "abc"}) == (404, {"error": "not found"})
    status, refused = post_json(client, url, {"office": str(office.pk)})
    assert (status, refused["code"]) == (409, "bad_target")
    assert reload(ticket).office == office

    assert post_json(client, url, {"office": str(second_office.pk)}) == (200, {"ticket": ticket.pk})
    assert reload(ticket).office == second_office


def test_announce_endpoint_validates_and_only_for_offices_served(
    office: Office, second_office: Office, agent: User
) -> None:
    client = staff_client(agent)

    assert post_json(client, action_url("announce", office_id=office.pk), {"text": "Kurze Pause"}) == (
        200,
        {"ok": True},
    )
    status, refused = post_json(client, action_url("announce", office_id=office.pk), {"text": " "})
    assert (status, refused["code"]) == (409, "bad_text")
    assert post_json(client, action_url("announce", office_id=second_office.pk), {"text": "Hallo"}) == (
        404,
        {"error": "not found"},
    )

    assert QueueState.objects.get(office=office).announcement == "Kurze Pause"
    assert not QueueState.objects.filter(office=second_office).exclude(announcement="").exists()


def test_endpoints_hide_another_organisations_tickets(
    office: Office, foreign_agent: User, foreign_office: Office
) -> None:
    ticket = join(office)
    client = staff_client(foreign_agent)

    for url, data, expected in [
        (action_url("remove", ticket_id=ticket.pk), {}, 404),
        (action_url("transfer", ticket_id=ticket.pk), {"office": str(foreign_office.pk)}, 404),
        (action_url("announce", office_id=office.pk), {"text": "Hallo"}, 404),
        (action_url("remove", ticket_id=999_999), {}, 404),
        # Calling answers as for any ticket the agent cannot call: it reveals nothing.
        (action_url("call_ticket", ticket_id=ticket.pk), {}, 409),
    ]:
        assert client.post(url, data).status_code == expected, url

    assert reload(ticket).status == TicketStatus.WAITING
    assert reload(ticket).office == office
    assert not QueueState.objects.filter(office=office).exclude(announcement="").exists()


ENDPOINTS = [
    ("presence", {}),
    ("call_next", {}),
    ("call_ticket", {"ticket_id": 1}),
    ("remove", {"ticket_id": 1}),
    ("transfer", {"ticket_id": 1}),
    ("announce", {"office_id": 1}),
]


@pytest.mark.parametrize(("name", "kwargs"), ENDPOINTS, ids=[name for name, _ in ENDPOINTS])
def test_endpoints_refuse_outsiders_and_anonymous_visitors(
    office: Office, outsider: User, name: str, kwargs: dict[str, int]
) -> None:
    ticket = join(office)
    kwargs = {key: ticket.pk if key == "ticket_id" else office.pk for key in kwargs}
    url = action_url(name, **kwargs)

    assert post_json(staff_client(outsider), url, {"state": "available", "text": "x"}) == (
        403,
        {"error": "forbidden"},
    )
    anonymous = Client().post(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("staff:login"))
    assert reload(ticket).status == TicketStatus.WAITING


@pytest.mark.parametrize(("name", "kwargs"), ENDPOINTS, ids=[name for name, _ in ENDPOINTS])
def test_endpoints_need_post(office: Office, agent: User, name: str, kwargs: dict[str, int]) -> None:
    assert staff_client(agent).get(action_url(name, **kwargs)).status_code == 405

"""Staff side of appointments: the day and week calendar, no-shows, the private iCalendar feed and
the admin pages of working times, absences, appointments and the outbox (scoped per tenant).

Pages are driven through Django's test client with ``force_login``. The clock is pinned to
Tuesday, 1 December 2026, 08:00 in Berlin; the calendar is looked at for Wednesday, 2 December
and its week (Monday 30 November to Sunday 6 December).
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from buergerbuero.booking import messages as appointment_messages
from buergerbuero.booking import services
from buergerbuero.booking.messages import topic
from buergerbuero.booking.models import AbsenceKind, Appointment, AppointmentStatus, WorkingTime
from buergerbuero.offices.models import Office, Service
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember
from tests import factories
from tests.booking.conftest import add_absence, add_working_time, at, make_agent, make_appointment

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

CALENDAR = "/staff/appointments/"
WEDNESDAY = "2026-12-02"


def body(response: Response) -> str:
    return response.content.decode()


def logged_in(user: User) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def shown(response: Response) -> list[Appointment]:
    """The appointments on the page, day by day."""
    assert response.status_code == 200, response.status_code
    assert response.context is not None
    return [appointment for day in response.context["days"] for appointment in day["appointments"]]


# --- a small world: two agents of the office, one of another office, one of another organisation -----
@pytest.fixture
def colleague(org: Organization, office: Office) -> StaffMember:
    return make_agent(org, "kollege", [office], display_name="Herr Kollege")


@pytest.fixture
def registry(org: Organization) -> Office:
    """An office of the same organisation that the office lead does not serve."""
    return factories.make_office(org, "standesamt", hours=[(day, "08:00", "16:00") for day in range(5)])


@pytest.fixture
def registrar(org: Organization, registry: Office) -> StaffMember:
    return make_agent(org, "standesbeamtin", [registry], display_name="Frau Standesamt")


@pytest.fixture
def foreign_office(other_org: Organization) -> Office:
    return factories.make_office(other_org, "kfz", hours=[(day, "08:00", "16:00") for day in range(5)])


@pytest.fixture
def foreign_agent(other_org: Organization, foreign_office: Office) -> StaffMember:
    return make_agent(other_org, "fremd", [foreign_office], display_name="Herr Fremd")


@pytest.fixture
def calendar(
    service: Service,
    agent_member: StaffMember,
    colleague: StaffMember,
    registry: Office,
    registrar: StaffMember,
    foreign_office: Office,
    foreign_agent: StaffMember,
) -> dict[str, Appointment]:
    """Appointments of everyone, named by the citizen."""
    registry_service = factories.make_service(registry, "Geburtsurkunde")
    foreign_service = factories.make_service(foreign_office, "Zulassung")
    return {
        "own": make_appointment(service, agent_member, at(2026, 12, 2, 10, 5), name="Anna Eigen"),
        "own_thursday": make_appointment(
            service, agent_member, at(2026, 12, 3, 9, 0), name="Bert Donnerstag"
        ),
        "own_next_week": make_appointment(service, agent_member, at(2026, 12, 8, 9, 0), name="Clara Später"),
        "own_cancelled": make_appointment(
            service,
            agent_member,
            at(2026, 12, 2, 11, 0),
            name="Dora Abgesagt",
            status=AppointmentStatus.CANCELLED,
        ),
        "colleague": make_appointment(service, colleague, at(2026, 12, 2, 10, 5), name="Karl Kollegenkunde"),
        "registry": make_appointment(
            registry_service, registrar, at(2026, 12, 2, 9, 0), name="Sara Standesamt"
        ),
        "foreign": make_appointment(
            foreign_service, foreign_agent, at(2026, 12, 2, 9, 0), name="Fritz Fremd"
        ),
    }


NAMES = {
    "own": "Anna Eigen",
    "own_thursday": "Bert Donnerstag",
    "own_next_week": "Clara Später",
    "own_cancelled": "Dora Abgesagt",
    "colleague": "Karl Kollegenkunde",
    "registry": "Sara Standesamt",
    "foreign": "Fritz Fremd",
}


def assert_names(response: Response, visible: set[str]) -> None:
    page = body(response)
    for key, name in NAMES.items():
        assert (name in page) == (key in visible), (key, name)


# --- the calendar page ------------------------------------------------------------------------------
def test_an_agents_day_shows_only_their_own_appointments(
    agent: User, calendar: dict[str, Appointment]
) -> None:
    response = logged_in(agent).get(CALENDAR, {"date": WEDNESDAY})

    assert shown(response) == [calendar["own"]]
    assert_names(response, {"own"})
    assert "11:05–11:25" not in body(response)  # local times: 10:05–10:25
    assert "10:05–10:25" in body(response)


def test_an_agents_week_shows_their_appointments_from_monday_to_sunday(
    agent: User, calendar: dict[str, Appointment]
) -> None:
    response = logged_in(agent).get(CALENDAR, {"date": WEDNESDAY, "view": "week"})

    assert response.context is not None
    assert [day["date"] for day in response.context["days"]] == [
        dt.date(2026, 11, 30) + dt.timedelta(days=offset) for offset in range(7)
    ]
    assert shown(response) == [calendar["own"], calendar["own_thursday"]]
    assert_names(response, {"own", "own_thursday"})


def test_without_a_date_the_calendar_shows_today(
    agent: User, service: Service, agent_member: StaffMember
) -> None:
    today = make_appointment(service, agent_member, at(2026, 12, 1, 14, 0), name="Heute Kundin")
    make_appointment(service, agent_member, at(2026, 12, 2, 14, 0), name="Morgen Kunde")

    response = logged_in(agent).get(CALENDAR)

    assert shown(response) == [today]


def test_an_agent_cannot_look_at_a_colleagues_calendar(
    agent: User, colleague: StaffMember, calendar: dict[str, Appointment]
) -> None:
    response = logged_in(agent).get(CALENDAR, {"date": WEDNESDAY, "agent": str(colleague.pk)})

    assert shown(response) == [calendar["own"]]
    assert response.context is not None
    assert list(response.context["colleagues"]) == []


def test_an_office_lead_sees_the_appointments_of_their_offices_staff(
    office_lead: User, calendar: dict[str, Appointment]
) -> None:
    response = logged_in(office_lead).get(CALENDAR, {"date": WEDNESDAY})

    assert set(shown(response)) == {calendar["own"], calendar["colleague"]}
    assert_names(response, {"own", "colleague"})


def test_an_office_lead_filters_by_staff_member(
    office_lead: User, colleague: StaffMember, calendar: dict[str, Appointment]
) -> None:
    response = logged_in(office_lead).get(
        CALENDAR, {"date": WEDNESDAY, "view": "week", "agent": str(colleague.pk)}
    )

    assert shown(response) == [calendar["colleague"]]
    assert re.search(rf'<option value="{colleague.pk}" selected>Herr Kollege</option>', body(response))


def test_an_office_lead_filtering_by_staff_of_another_office_sees_nothing_of_theirs(
    office_lead: User, registrar: StaffMember, calendar: dict[str, Appointment]
) -> None:
    response = logged_in(office_lead).get(CALENDAR, {"date": WEDNESDAY, "agent": str(registrar.pk)})

    # Not one of the lead's colleagues: the filter is ignored, only their own offices are shown.
    assert set(shown(response)) == {calendar["own"], calendar["colleague"]}
    assert "Sara Standesamt" not in body(response)


def test_an_office_lead_cannot_filter_by_staff_of_another_organisation(
    office_lead: User, foreign_agent: StaffMember, calendar: dict[str, Appointment]
) -> None:
    response = logged_in(office_lead).get(CALENDAR, {"date": WEDNESDAY, "agent": str(foreign_agent.pk)})

    # The filter is ignored: the lead's own offices are shown, nothing of the other organisation.
    assert set(shown(response)) == {calendar["own"], calendar["colleague"]}
    assert "Herr Fremd" not in body(response)
    assert "Fritz Fremd" not in body(response)


def test_the_staff_filter_of_an_office_lead_lists_only_staff_of_their_offices(
    office_lead: User, colleague: StaffMember, registrar: StaffMember
) -> None:
    response = logged_in(office_lead).get(CALENDAR, {"date": WEDNESDAY})

    assert response.context is not None
    offered = set(response.context["colleagues"])
    assert colleague in offered
    assert registrar not in offered


def test_an_org_admin_sees_every_office_of_the_organisation(
    org_admin: User, calendar: dict[str, Appointment]
) -> None:
    response = logged_in(org_admin).get(CALENDAR, {"date": WEDNESDAY})

    assert set(shown(response)) == {calendar["own"], calendar["colleague"], calendar["registry"]}
    assert "Fritz Fremd" not in body(response)


def test_a_login_without_an_organisation_is_refused(outsider: User, calendar: dict[str, Appointment]) -> None:
    response = logged_in(outsider).get(CALENDAR, {"date": WEDNESDAY})

    assert response.status_code == 403
    for name in NAMES.values():
        assert name not in body(response)


def test_an_anonymous_visitor_is_sent_to_the_login(calendar: dict[str, Appointment]) -> None:
    response = Client().get(CALENDAR, {"date": WEDNESDAY})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff:login") + "?next=")


@pytest.mark.parametrize("date", ["abc", "", "2026-12"])
def test_a_garbage_date_shows_today(agent: User, date: str) -> None:
    response = logged_in(agent).get(CALENDAR, {"date": date, "view": "nonsense", "agent": "x"})

    assert response.status_code == 200
    assert response.context is not None
    assert response.context["date"] == dt.date(2026, 12, 1)


def test_an_impossible_date_never_causes_a_server_error(agent: User) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(agent)

    response = client.get(CALENDAR, {"date": "2026-99-99"})

    assert response.status_code in (200, 302, 404)


# --- no-shows -----------------------------------------------------------------------------------
def no_show_url(appointment: Appointment) -> str:
    return reverse("booking:no_show", args=[appointment.pk])


def test_the_agent_marks_a_no_show_from_the_calendar(
    agent: User, calendar: dict[str, Appointment], clock: Any
) -> None:
    clock.move_to(at(2026, 12, 2, 10, 20))
    client = logged_in(agent)
    page = client.get(CALENDAR, {"date": WEDNESDAY})
    assert f'action="{no_show_url(calendar["own"])}"' in body(page)

    back = f"{CALENDAR}?date={WEDNESDAY}"
    response = client.post(no_show_url(calendar["own"]), {"next": back})

    assert response.status_code == 302
    assert response["Location"] == back
    calendar["own"].refresh_from_db()
    assert calendar["own"].status == AppointmentStatus.NO_SHOW
    assert f'action="{no_show_url(calendar["own"])}"' not in body(client.get(back))


def test_the_office_lead_marks_a_no_show(
    office_lead: User, calendar: dict[str, Appointment], clock: Any
) -> None:
    clock.move_to(at(2026, 12, 2, 10, 20))

    response = logged_in(office_lead).post(no_show_url(calendar["colleague"]))

    assert response.status_code == 302
    calendar["colleague"].refresh_from_db()
    assert calendar["colleague"].status == AppointmentStatus.NO_SHOW


@pytest.mark.parametrize("persona", ["colleague_user", "outsider", "foreign_user"])
def test_others_may_not_mark_a_no_show(
    request: pytest.FixtureRequest, calendar: dict[str, Appointment], clock: Any, persona: str
) -> None:
    clock.move_to(at(2026, 12, 2, 10, 20))
    user: User = request.getfixturevalue(persona)

    response = logged_in(user).post(no_show_url(calendar["own"]))

    assert response.status_code == 403
    calendar["own"].refresh_from_db()
    assert calendar["own"].status == AppointmentStatus.BOOKED


@pytest.fixture
def colleague_user(colleague: StaffMember) -> User:
    return colleague.user


@pytest.fixture
def foreign_user(other_org: Organization, foreign_office: Office) -> User:
    return factories.make_staff(other_org, "fremde-leitung", Role.OFFICE_LEAD, [foreign_office])


def test_a_no_show_before_the_start_is_refused_with_a_message(
    agent: User, calendar: dict[str, Appointment]
) -> None:
    response = logged_in(agent).post(no_show_url(calendar["own"]), follow=True)

    assert response.status_code == 200
    assert "Only a booked appointment that has begun can be marked as no-show." in body(response)
    calendar["own"].refresh_from_db()
    assert calendar["own"].status == AppointmentStatus.BOOKED


def test_a_no_show_needs_a_post(agent: User, calendar: dict[str, Appointment], clock: Any) -> None:
    clock.move_to(at(2026, 12, 2, 10, 20))

    assert logged_in(agent).get(no_show_url(calendar["own"])).status_code == 405
    calendar["own"].refresh_from_db()
    assert calendar["own"].status == AppointmentStatus.BOOKED


# --- the private calendar feed -------------------------------------------------------------------------
def feed_events(response: Response) -> list[Any]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    parsed = Calendar.from_ical(response.content)
    assert str(parsed["METHOD"]) == "PUBLISH"
    return list(parsed.walk("VEVENT"))


def test_the_feed_lists_the_agents_appointments_as_icalendar(
    agent: User, agent_member: StaffMember, calendar: dict[str, Appointment]
) -> None:
    token = services.calendar_feed(agent_member).token

    events = feed_events(Client().get(f"/calendar/{token}.ics"))

    summaries = sorted(str(event["SUMMARY"]) for event in events)
    assert summaries == [
        "Personalausweis: Anna Eigen",
        "Personalausweis: Bert Donnerstag",
        "Personalausweis: Clara Später",
    ]
    starts = sorted(event.decoded("DTSTART") for event in events)
    assert starts[0] == at(2026, 12, 2, 10, 5)
    assert all(event["DTSTART"].params["TZID"] == "Europe/Berlin" for event in events)


def test_the_calendar_page_shows_the_feed_address_and_renewing_replaces_it(
    agent: User, agent_member: StaffMember, calendar: dict[str, Appointment]
) -> None:
    client = logged_in(agent)
    page = client.get(CALENDAR)
    old = services.calendar_feed(agent_member).token
    assert f"/calendar/{old}.ics" in body(page)

    response = client.post(reverse("booking:renew_feed"))

    assert response.status_code == 302
    new = services.calendar_feed(agent_member).token
    assert new != old
    assert Client().get(f"/calendar/{old}.ics").status_code == 404
    assert len(feed_events(Client().get(f"/calendar/{new}.ics"))) == 3


@pytest.mark.parametrize("token", ["unknown", "a" * 65, "%20"])
def test_an_unknown_feed_address_is_not_found(agent_member: StaffMember, token: str) -> None:
    services.calendar_feed(agent_member)

    assert Client(raise_request_exception=False).get(f"/calendar/{token}.ics").status_code == 404


def test_a_feed_address_with_a_nul_byte_is_not_found(agent_member: StaffMember) -> None:
    services.calendar_feed(agent_member)

    assert Client(raise_request_exception=False).get("/calendar/%00.ics").status_code == 404


# --- the admin pages, scoped per tenant -------------------------------------------------------------------
@pytest.fixture
def admin_rows(
    agent_member: StaffMember,
    foreign_agent: StaffMember,
    calendar: dict[str, Appointment],
) -> dict[str, Any]:
    """Working times, absences and notifications of both organisations."""
    for appointment in (calendar["own"], calendar["foreign"]):
        appointment_messages.appointment_changed(appointment, "booked", at(2026, 11, 25))
    return {
        "own_time": add_working_time(agent_member, 0, "09:00", "11:00"),
        "foreign_time": add_working_time(foreign_agent, 0, "07:00", "09:00"),
        "own_absence": add_absence(agent_member, at(2026, 12, 7), at(2026, 12, 8), AbsenceKind.ABSENCE),
        "foreign_absence": add_absence(foreign_agent, at(2026, 12, 7), at(2026, 12, 8), AbsenceKind.BLOCKED),
    }


def changelist(client: Client, model: str) -> list[Any]:
    response = client.get(reverse(f"admin:{model}_changelist"))
    assert response.status_code == 200, (model, response.status_code)
    assert response.context is not None
    return list(response.context["cl"].result_list)


def test_an_office_lead_sees_only_working_times_and_absences_of_their_organisation(
    office_lead: User, agent_member: StaffMember, admin_rows: dict[str, Any]
) -> None:
    client = logged_in(office_lead)

    assert changelist(client, "booking_workingtime") == [admin_rows["own_time"]]
    assert changelist(client, "booking_absence") == [admin_rows["own_absence"]]


def test_an_office_lead_sees_only_appointments_and_notifications_of_their_organisation(
    office_lead: User, calendar: dict[str, Appointment], admin_rows: dict[str, Any]
) -> None:
    client = logged_in(office_lead)

    appointments = changelist(client, "booking_appointment")
    notifications = changelist(client, "notify_notification")

    assert calendar["foreign"] not in appointments
    assert calendar["registry"] not in appointments  # another office of the organisation
    assert set(appointments) == {
        calendar["own"],
        calendar["own_thursday"],
        calendar["own_next_week"],
        calendar["own_cancelled"],
        calendar["colleague"],
    }
    assert {notification.topic for notification in notifications} == {topic(calendar["own"].pk)}
    assert len(notifications) == 1  # e-mail only: the fixture appointments have no phone


def test_the_other_organisations_lead_sees_only_their_rows(
    foreign_user: User, calendar: dict[str, Appointment], admin_rows: dict[str, Any]
) -> None:
    client = logged_in(foreign_user)

    assert changelist(client, "booking_workingtime") == [admin_rows["foreign_time"]]
    assert changelist(client, "booking_absence") == [admin_rows["foreign_absence"]]
    assert changelist(client, "booking_appointment") == [calendar["foreign"]]
    assert [n.topic for n in changelist(client, "notify_notification")] == [topic(calendar["foreign"].pk)]


def test_an_org_admin_sees_every_office_of_their_organisation_and_nothing_else(
    org_admin: User, calendar: dict[str, Appointment], admin_rows: dict[str, Any]
) -> None:
    client = logged_in(org_admin)

    appointments = changelist(client, "booking_appointment")

    assert calendar["registry"] in appointments
    assert calendar["foreign"] not in appointments
    assert admin_rows["foreign_time"] not in changelist(client, "booking_workingtime")


def test_another_organisations_row_cannot_be_opened_by_id(
    office_lead: User, calendar: dict[str, Appointment], admin_rows: dict[str, Any]
) -> None:
    client = logged_in(office_lead)

    for model, row in (
        ("booking_workingtime", admin_rows["foreign_time"]),
        ("booking_absence", admin_rows["foreign_absence"]),
        ("booking_appointment", calendar["foreign"]),
    ):
        response = client.get(reverse(f"admin:{model}_change", args=[row.pk]))
        assert response.status_code == 302, model
        assert response["Location"] == reverse("admin:index")
    assert "Fritz Fremd" not in body(client.get(reverse("admin:index")))


def test_an_agent_has_no_access_to_these_admin_pages(agent: User, admin_rows: dict[str, Any]) -> None:
    client = logged_in(agent)

    for model in ("booking_workingtime", "booking_absence", "booking_appointment", "notify_notification"):
        response = client.get(reverse(f"admin:{model}_changelist"))
        assert response.status_code in (302, 403), model


class _Options(HTMLParser):
    """The options of one <select>, as (value, text)."""

    def __init__(self, name: str) -> None:
        super().__init__(convert_charrefs=True)
        self.name = name
        self.inside = False
        self.options: list[tuple[str, str]] = []
        self._value: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "select" and attributes.get("name") == self.name:
            self.inside = True
        elif tag == "option" and self.inside:
            self._value = attributes.get("value") or ""
            self.options.append((self._value, ""))

    def handle_data(self, data: str) -> None:
        if self.inside and self._value is not None and self.options:
            value, text = self.options[-1]
            self.options[-1] = (value, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.inside = False
        elif tag == "option":
            self._value = None


@pytest.mark.parametrize("model", ["booking_workingtime", "booking_absence"])
def test_the_member_choices_of_a_new_row_list_only_staff_of_the_own_organisation(
    office_lead: User,
    agent_member: StaffMember,
    colleague: StaffMember,
    foreign_agent: StaffMember,
    model: str,
) -> None:
    response = logged_in(office_lead).get(reverse(f"admin:{model}_add"))

    assert response.status_code == 200
    parser = _Options("member")
    parser.feed(body(response))
    offered = {int(value) for value, _text in parser.options if value}
    assert agent_member.pk in offered
    assert colleague.pk in offered
    assert foreign_agent.pk not in offered
    assert offered <= set(
        StaffMember.objects.filter(organization=agent_member.organization).values_list("pk", flat=True)
    )


def test_a_working_time_for_staff_of_another_organisation_cannot_be_added(
    office_lead: User, foreign_agent: StaffMember
) -> None:
    response = logged_in(office_lead).post(
        reverse("admin:booking_workingtime_add"),
        {"member": foreign_agent.pk, "weekday": 0, "opens": "09:00", "closes": "10:00"},
    )

    assert response.status_code == 200  # the form again, with an error
    assert not WorkingTime.objects.filter(member=foreign_agent).exists()

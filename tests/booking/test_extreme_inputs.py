"""Dates at the edges of the calendar and addresses that lead elsewhere: the booking pages
(citizens and staff) answer with a clear page or the default, never a server error and
never a redirect to another site.

The clock of ``tests/booking/conftest.py`` stands on Tuesday, 1 December 2026, 08:00 in Berlin.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from buergerbuero.booking.models import Appointment, AppointmentStatus
from buergerbuero.offices.models import Office, Service
from buergerbuero.staff.models import StaffMember
from tests.booking.conftest import at, make_appointment

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

CALENDAR = "/staff/appointments/"
EXTREME_DAYS = ["0001-01-01", "0001-01-02", "9999-12-31", "9999-12-25", "0000-01-01", "10000-01-01"]
EXTREME_MOMENTS = [
    "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:30:00+14:00",
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:30:00-12:00",
    "9999-12-31T23:59:59.999999-23:59",
]


def client_for(user: User | None = None) -> Client:
    client = Client(headers={"accept-language": "en"}, raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def appointment(service: Service, agent_member: StaffMember) -> Appointment:
    return make_appointment(service, agent_member, at(2026, 12, 2, 10, 5), name="Anna Eigen")


# --- the staff calendar -------------------------------------------------------------------------
@pytest.mark.parametrize("view", ["day", "week"])
@pytest.mark.parametrize("day", EXTREME_DAYS)
def test_the_staff_calendar_at_the_ends_of_time_shows_a_page(agent: User, day: str, view: str) -> None:
    response = client_for(agent).get(CALENDAR, {"date": day, "view": view})

    assert response.status_code == 200
    assert response.context is not None
    first, last = dt.date.min + dt.timedelta(days=7), dt.date.max - dt.timedelta(days=7)
    assert first <= response.context["date"] <= last
    assert response.context["previous"] >= dt.date.min
    assert response.context["next"] <= dt.date.max


# --- citizens: the day strip, the details page, the reschedule page ------------------------------
@pytest.mark.parametrize("day", EXTREME_DAYS)
def test_the_day_strip_at_the_ends_of_time_shows_the_bookable_days(
    office: Office, service: Service, agent_member: StaffMember, day: str
) -> None:
    url = reverse("booking:book", args=[office.organization.slug, office.slug])

    response = client_for().get(url, {"service": str(service.pk), "day": day})

    assert response.status_code == 200
    assert response.context is not None
    assert response.context["chosen_day"] >= dt.date(2026, 12, 1)


@pytest.mark.parametrize("start", EXTREME_MOMENTS)
def test_the_details_page_with_a_time_at_the_ends_of_time_sends_back_to_the_choice(
    office: Office, service: Service, agent_member: StaffMember, start: str
) -> None:
    url = reverse("booking:details", args=[office.organization.slug, office.slug])
    client = client_for()

    shown = client.get(url, {"service": str(service.pk), "start": start})
    posted = client.post(
        f"{url}?service={service.pk}&start={start.replace('+', '%2B')}",
        {"name": "Erika", "email": "erika@example.org", "language": "de", "consent": "on"},
    )

    for response in (shown, posted):
        assert response.status_code == 302, response.status_code
        assert response["Location"].startswith(
            reverse("booking:book", args=[office.organization.slug, office.slug])
        )
    assert not Appointment.objects.exists()


@pytest.mark.parametrize("day", EXTREME_DAYS)
def test_the_reschedule_page_at_the_ends_of_time_shows_the_bookable_days(
    appointment: Appointment, day: str
) -> None:
    response = client_for().get(reverse("booking:reschedule", args=[appointment.token]), {"day": day})

    assert response.status_code == 200


@pytest.mark.parametrize("start", EXTREME_MOMENTS)
def test_rescheduling_to_the_ends_of_time_is_refused_with_a_message(
    appointment: Appointment, start: str
) -> None:
    before = appointment.starts_at
    response = client_for().post(
        reverse("booking:reschedule", args=[appointment.token]), {"start": start}, follow=True
    )

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]]
    appointment.refresh_from_db()
    assert appointment.starts_at == before


# --- no-show: where it sends the staff member back to ------------------------------------------
@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/staff/appointments/",
        "/\\evil.example/",
        "\\\\evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        " //evil.example",
        "http://testserver@evil.example/",
        "/staff/\r\nSet-Cookie: a=b",
    ],
)
def test_the_no_show_never_sends_the_staff_member_to_another_site(
    agent: User, appointment: Appointment, clock: Any, target: str
) -> None:
    clock.move_to(at(2026, 12, 2, 10, 20))

    response = client_for(agent).post(reverse("booking:no_show", args=[appointment.pk]), {"next": target})

    assert response.status_code == 302
    assert response["Location"] == reverse("booking:calendar")
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.NO_SHOW


def test_the_no_show_returns_to_the_calendar_page_it_came_from(
    agent: User, appointment: Appointment, clock: Any
) -> None:
    clock.move_to(at(2026, 12, 2, 10, 20))
    back = f"{CALENDAR}?date=2026-12-02&view=week"

    response = client_for(agent).post(reverse("booking:no_show", args=[appointment.pk]), {"next": back})

    assert response["Location"] == back

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import RequestFactory
from django.utils import timezone

from buergerbuero.consult.models import Consultation
from buergerbuero.demo.data import DEMO_PASSWORD, HISTORY_CONSULTATIONS
from buergerbuero.offices import services as offices
from buergerbuero.offices.models import Closure, Office, OpeningInterval, Service, SpecialOpening, Weekday
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting.models import TicketStatus


def _snapshot() -> dict[str, object]:
    return {
        "orgs": list(Organization.objects.values_list("pk", "slug", "name", "state")),
        "offices": list(Office.objects.values_list("pk", "slug", "seats")),
        "services": list(Service.objects.values_list("pk", "name")),
        "hours": list(OpeningInterval.objects.values_list("pk", "weekday", "opens", "closes")),
        "closures": list(Closure.objects.values_list("pk", "starts_on")),
        "specials": list(SpecialOpening.objects.values_list("pk", "date")),
        "users": list(User.objects.values_list("pk", "username", "password", "is_staff")),
        "staff": list(StaffMember.objects.values_list("pk", "role", "organization__slug")),
        "history": list(Consultation.objects.values_list("pk", "office__slug", "started_at", "ended_at")),
    }


def test_loading_the_demo_twice_changes_nothing(db: None) -> None:
    call_command("load_demo")
    first = _snapshot()
    call_command("load_demo")

    assert _snapshot() == first


def test_demo_has_the_promised_shape(db: None) -> None:
    call_command("load_demo")

    town = Organization.objects.get(slug="musterstadt")
    assert town.name == "Stadt Musterstadt"
    assert town.state == "BY"
    assert town.offices.count() == 5
    assert StaffMember.objects.filter(organization=town, role=Role.AGENT).count() == 6
    assert StaffMember.objects.filter(organization=town, role=Role.OFFICE_LEAD).count() == 1
    assert Organization.objects.get(slug="landkreis-beispiel").offices.count() == 2
    bauamt = town.offices.get(slug="bauamt")
    assert not bauamt.opening_intervals.filter(weekday=Weekday.WEDNESDAY).exists()
    assert (
        town.offices.get(slug="buergerbuero")
        .opening_intervals.filter(weekday=Weekday.THURSDAY, closes="18:00")
        .exists()
    )


def test_demo_logins_work_with_the_published_password(db: None) -> None:
    call_command("load_demo")

    login = RequestFactory().post("/staff/login/")  # the throttle (axes) needs the request
    assert authenticate(login, username="weber", password=DEMO_PASSWORD) is not None
    admin = authenticate(login, username="admin.musterstadt", password=DEMO_PASSWORD)
    assert admin is not None
    assert admin.is_staff
    assert not admin.is_superuser
    agent = User.objects.get(username="weber")
    assert not agent.is_staff  # agents work in the console, not the admin


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(2026, 6, 6, 23, 30, tzinfo=dt.UTC),  # a Saturday night
        dt.datetime(2026, 6, 7, 10, 0, tzinfo=dt.UTC),  # a Sunday morning
        dt.datetime(2026, 12, 25, 3, 0, tzinfo=dt.UTC),  # Christmas Day, at night
    ],
)
def test_one_demo_office_is_open_round_the_clock(db: None, moment: dt.datetime) -> None:
    call_command("load_demo")

    open_now = [
        office.slug
        for office in Office.objects.filter(organization__slug="musterstadt")
        if offices.overview(office, moment).status.is_open
    ]
    assert open_now == ["buergerservice-online"]
    online = Office.objects.get(slug="buergerservice-online")
    assert StaffMember.objects.filter(offices=online, user__username="weber").exists()


def test_every_demo_office_has_a_history_of_finished_consultations(db: None) -> None:
    call_command("load_demo")

    now = timezone.now()
    for office in Office.objects.all():
        finished = Consultation.objects.filter(office=office, ended_at__isnull=False)
        assert finished.count() == HISTORY_CONSULTATIONS, office.slug
        assert not finished.filter(ended_at__gt=now).exists()
        assert not finished.filter(ended_at__lt=now - dt.timedelta(days=15)).exists()
        assert finished.filter(ticket__status=TicketStatus.DONE, ticket__service__isnull=False).count() == (
            HISTORY_CONSULTATIONS
        )
        minutes = sorted(
            (ended - started).total_seconds() / 60
            for started, ended in finished.values_list("started_at", "ended_at")
            if ended is not None
        )
        assert 3 <= minutes[0] < minutes[-1] < 120  # a spread, no two alike

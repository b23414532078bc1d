from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import RequestFactory

from buergerbuero.demo.data import DEMO_PASSWORD
from buergerbuero.offices.models import Closure, Office, OpeningInterval, Service, SpecialOpening, Weekday
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember


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
    assert town.offices.count() == 4
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

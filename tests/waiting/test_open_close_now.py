"""Opening or closing an office on the spot (the console's "open now until …" and "close now"):
today's hours change through extra openings or a one-day closure, the status follows at
once, and the waiting rooms, the directory and the consoles hear of it."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoCaptureOnCommitCallbacks

from buergerbuero.audit.models import Action, AuditEntry
from buergerbuero.offices.models import Closure, Office, SpecialOpening
from buergerbuero.offices.services import HoursError, OfficeStatus, OpeningCalendar, offices_with_hours
from buergerbuero.orgs.models import Organization
from buergerbuero.realtime import publish as realtime_publish
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting import opening
from buergerbuero.waiting.services.groups import directory_group, staff_group, waiting_group
from tests import factories

pytestmark = pytest.mark.django_db
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
THURSDAY = dt.date(2026, 11, 26)  # the fixture office: weekdays 08:00–16:00
SATURDAY = dt.date(2026, 11, 28)


def local(day: dt.date, hh: int, mm: int = 0, ss: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=BERLIN)


def member(user: User) -> StaffMember:
    return user.staff_member


def status(office: Office, now: dt.datetime) -> OfficeStatus:
    fresh = offices_with_hours(Office.objects.filter(pk=office.pk)).select_related("organization").get()
    return OpeningCalendar(fresh).status(now)


def spans(office: Office, day: dt.date) -> list[tuple[str, str]]:
    return [
        (f"{row.opens:%H:%M}", f"{row.closes:%H:%M}")
        for row in SpecialOpening.objects.filter(office=office, date=day).order_by("opens")
    ]


# --- open now ---------------------------------------------------------------------------------
def test_open_now_on_a_closed_day_opens_from_this_minute_until_the_time_given(
    office: Office, office_lead: User
) -> None:
    now = local(SATURDAY, 10, 17, 42)
    assert not status(office, now).is_open

    result = opening.open_now(member(office_lead), office, dt.time(13, 0), now=now)

    assert result.is_open
    assert result.closes_at == local(SATURDAY, 13)
    assert spans(office, SATURDAY) == [("10:17", "13:00")]
    assert status(office, local(SATURDAY, 12, 59)).is_open
    assert not status(office, local(SATURDAY, 13, 0)).is_open
    assert spans(office, SATURDAY + dt.timedelta(days=7)) == []  # today only


def test_open_now_after_hours_keeps_the_days_earlier_hours(office: Office, agent: User) -> None:
    now = local(THURSDAY, 17, 5)

    opening.open_now(member(agent), office, dt.time(19, 30), now=now)

    assert spans(office, THURSDAY) == [("08:00", "16:00"), ("17:05", "19:30")]
    assert status(office, local(THURSDAY, 18)).is_open


def test_open_now_while_open_extends_the_current_hours(office: Office, agent: User) -> None:
    opening.open_now(member(agent), office, dt.time(18, 0), now=local(THURSDAY, 15, 0))

    assert spans(office, THURSDAY) == [("08:00", "18:00")]


def test_open_now_until_midnight(office: Office, agent: User) -> None:
    result = opening.open_now(member(agent), office, dt.time(0, 0), now=local(SATURDAY, 20, 0))

    assert result.closes_at == local(SATURDAY + dt.timedelta(days=1), 0)


@pytest.mark.parametrize("until", [dt.time(10, 0), dt.time(9, 0)])
def test_open_now_until_a_time_not_after_now_is_refused_and_changes_nothing(
    office: Office, agent: User, until: dt.time
) -> None:
    with pytest.raises(HoursError) as refused:
        opening.open_now(member(agent), office, until, now=local(SATURDAY, 10, 0, 30))

    assert refused.value.code == "bad_until"
    assert not SpecialOpening.objects.exists()


def test_open_now_on_a_closure_day_opens_anyway(office: Office, agent: User) -> None:
    Closure.objects.create(office=office, starts_on=THURSDAY, ends_on=THURSDAY, reason="Betriebsausflug")

    opening.open_now(member(agent), office, dt.time(12, 0), now=local(THURSDAY, 10, 0))

    assert status(office, local(THURSDAY, 11)).is_open


# --- close now --------------------------------------------------------------------------------
def test_close_now_ends_todays_hours_this_minute(office: Office, office_lead: User) -> None:
    now = local(THURSDAY, 11, 20, 15)

    result = opening.close_now(member(office_lead), office, now=now)

    assert not result.is_open
    assert spans(office, THURSDAY) == [("08:00", "11:20")]  # the morning stays as it was
    assert not status(office, now).is_open
    assert status(office, local(THURSDAY + dt.timedelta(days=1), 9)).is_open  # tomorrow as usual


def test_close_now_drops_later_hours_of_the_day(office: Office, agent: User) -> None:
    opening.open_now(member(agent), office, dt.time(20, 0), now=local(THURSDAY, 17, 0))

    opening.close_now(member(agent), office, now=local(THURSDAY, 12, 0))

    assert spans(office, THURSDAY) == [("08:00", "12:00")]


def test_close_now_at_the_first_minute_closes_the_whole_day(office: Office, agent: User) -> None:
    result = opening.close_now(member(agent), office, now=local(THURSDAY, 8, 0, 30))

    assert not result.is_open
    assert spans(office, THURSDAY) == []
    closure = Closure.objects.get(office=office)
    assert (closure.starts_on, closure.ends_on) == (THURSDAY, THURSDAY)
    assert not status(office, local(THURSDAY, 12)).is_open


def test_close_now_after_open_now_on_a_closed_day(office: Office, agent: User) -> None:
    opening.open_now(member(agent), office, dt.time(14, 0), now=local(SATURDAY, 10, 0))

    opening.close_now(member(agent), office, now=local(SATURDAY, 11, 30))

    assert spans(office, SATURDAY) == [("10:00", "11:30")]
    assert not status(office, local(SATURDAY, 12)).is_open


# --- who may, and who hears of it --------------------------------------------------------------
def test_only_staff_serving_the_office_may_change_todays_hours(
    office: Office, org: Organization, other_org: Organization
) -> None:
    other_office = factories.make_office(org, "standesamt", hours=[(0, "08:00", "12:00")])
    elsewhere = factories.make_staff(org, "woanders", Role.AGENT, [other_office])
    foreign = factories.make_staff(other_org, "fremd", Role.OFFICE_LEAD, [])

    for user in (elsewhere, foreign):
        with pytest.raises(PermissionDenied):
            opening.open_now(member(user), office, dt.time(13, 0), now=local(SATURDAY, 10))
        with pytest.raises(PermissionDenied):
            opening.close_now(member(user), office, now=local(THURSDAY, 10))

    assert not SpecialOpening.objects.exists()
    assert not Closure.objects.exists()


def test_changes_are_published_after_commit_like_other_changes(
    office: Office, agent: User, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(realtime_publish, "publish", lambda group, payload: sent.append((group, payload)))
    capture: DjangoCaptureOnCommitCallbacks = django_capture_on_commit_callbacks

    with capture(execute=True):
        opening.close_now(member(agent), office, now=local(THURSDAY, 12, 0))

    assert sent == [
        (waiting_group(office.pk), {"type": "hours_changed"}),
        (directory_group(office.organization_id), {"type": "hours_changed", "office": office.slug}),
        (staff_group(office.pk), {"type": "changed"}),
    ]


# --- the console's endpoints ------------------------------------------------------------------
@pytest.fixture
def lead_client(office_lead: User) -> Iterator[Client]:
    client = Client(headers={"accept-language": "en"})
    client.force_login(office_lead)
    with time_machine.travel(local(SATURDAY, 10, 0), tick=False):
        yield client


def test_open_now_endpoint_opens_and_is_audited(office: Office, lead_client: Client) -> None:
    url = reverse("waiting:open_now", kwargs={"office_id": office.pk})

    response = lead_client.post(url, {"until": "14:30"})

    assert (response.status_code, response.json()) == (200, {"open": True})
    assert spans(office, SATURDAY) == [("10:00", "14:30")]
    entry = AuditEntry.objects.get(action=Action.OFFICE_OPENED_NOW)
    assert entry.target == f"office:{office.pk}"


@pytest.mark.parametrize("until", ["", "abc", "25:00", "12:60", "9:5", "10:00", "12:00:00", "１２:００"])
def test_open_now_endpoint_refuses_bad_times_with_a_message(
    office: Office, lead_client: Client, until: str
) -> None:
    response = lead_client.post(
        reverse("waiting:open_now", kwargs={"office_id": office.pk}), {"until": until}
    )

    assert response.status_code == 409
    assert response.json()["code"] == "bad_until"
    assert response.json()["error"]
    assert not SpecialOpening.objects.exists()
    assert not AuditEntry.objects.filter(action=Action.OFFICE_OPENED_NOW).exists()


def test_open_now_endpoint_takes_24_00_as_midnight(office: Office, lead_client: Client) -> None:
    response = lead_client.post(
        reverse("waiting:open_now", kwargs={"office_id": office.pk}), {"until": "24:00"}
    )

    assert response.status_code == 200
    assert spans(office, SATURDAY) == [("10:00", "00:00")]


def test_close_now_endpoint_closes_and_is_audited(office: Office, lead_client: Client) -> None:
    lead_client.post(reverse("waiting:open_now", kwargs={"office_id": office.pk}), {"until": "14:30"})
    with time_machine.travel(local(SATURDAY, 11, 0), tick=False):
        response = lead_client.post(reverse("waiting:close_now", kwargs={"office_id": office.pk}))

    assert (response.status_code, response.json()) == (200, {"open": False})
    assert (
        AuditEntry.objects.filter(action=Action.OFFICE_CLOSED_NOW, target=f"office:{office.pk}").count() == 1
    )


def test_endpoints_hide_offices_not_served(office: Office, org: Organization, lead_client: Client) -> None:
    other = factories.make_office(org, "standesamt")

    for name, data in (("open_now", {"until": "14:00"}), ("close_now", {})):
        response = lead_client.post(reverse(f"waiting:{name}", kwargs={"office_id": other.pk}), data)
        assert response.status_code == 404
    assert not SpecialOpening.objects.exists()
    assert not Closure.objects.exists()

"""Who sees which statistics (page, CSV and read API), the export's format and the page's
queries."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from buergerbuero.orgs.roles import Role
from buergerbuero.stats import services as stats
from buergerbuero.stats.models import OfficeDay
from tests import factories
from tests.stats.support import MONDAY, WEEK, KnownWeek, at, make_known_week, make_lead

pytestmark = pytest.mark.django_db
# Session, login, staff member, offices, days, services, hours (and the session's save).
QUERIES_OF_THE_PAGE = 8
PERIOD: dict[str, str | int] = {"period": "custom", "start": WEEK[0].isoformat(), "end": WEEK[-1].isoformat()}
API = "/api/v1/organizations/{org}/statistics/"


@pytest.fixture
def week() -> KnownWeek:
    week = make_known_week()
    stats.aggregate_pending(at(WEEK[-1], "12:00") + dt.timedelta(days=1))
    # The other office of the same organisation has a day too.
    OfficeDay.objects.filter(office=week.other_office, date=MONDAY).update(meetings=5)
    return week


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _csv(response: object) -> list[dict[str, str]]:
    body = response.content.decode("utf-8")  # type: ignore[attr-defined]
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))


def test_the_org_admin_sees_every_office_of_the_organisation(week: KnownWeek) -> None:
    admin = factories.make_staff(week.organization, "admin", role=Role.ORG_ADMIN)
    client = _client(admin)

    page = client.get(reverse("stats:page"), PERIOD)
    rows = _csv(client.get(reverse("stats:export"), PERIOD))

    assert page.status_code == 200
    assert "Bürgerbüro" in page.content.decode() and "Bauamt" in page.content.decode()  # noqa: PT018
    assert {row["office"] for row in rows} == {"Bürgerbüro", "Bauamt"}
    assert len(rows) == 14  # one row per office and day


def test_the_office_lead_sees_only_their_office(week: KnownWeek) -> None:
    client = _client(make_lead(week, "lead").user)

    page = client.get(reverse("stats:page"), PERIOD).content.decode()
    rows = _csv(client.get(reverse("stats:export"), PERIOD))
    other = client.get(reverse("stats:export"), {**PERIOD, "office": week.other_office.pk})

    assert "Bürgerbüro" in page
    assert "Bauamt" not in page
    assert {row["office"] for row in rows} == {"Bürgerbüro"}
    assert other.status_code == 400  # not one of the choices


def test_the_csv_has_the_reports_columns_and_the_figures(week: KnownWeek) -> None:
    response = _client(make_lead(week, "lead").user).get(reverse("stats:export"), PERIOD)
    rows = _csv(response)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    monday = next(row for row in rows if row["date"] == MONDAY.isoformat())
    assert {key: monday[key] for key in ("meetings", "participants", "open_minutes", "staffed_minutes")} == {
        "meetings": "3",
        "participants": "7",
        "open_minutes": "240",
        "staffed_minutes": "210",
    }
    assert {
        key: monday[key] for key in ("walk_ins", "appointments", "no_shows", "wait_p50_min", "wait_p90_min")
    } == {
        "walk_ins": "4",
        "appointments": "2",
        "no_shows": "2",
        "wait_p50_min": "7.5",
        "wait_p90_min": "24.0",
    }
    # No personal data: no names, e-mail addresses or free text of the week's rows.
    body = response.content.decode()
    for personal in ("Mustermann", "example.org", "Bürgerin", "freundlich"):
        assert personal not in body


def test_the_page_shows_the_totals_and_charts_with_data_tables(week: KnownWeek) -> None:
    body = _client(make_lead(week, "lead").user).get(reverse("stats:page"), PERIOD).content.decode()

    assert body.count("<svg") == 3
    # German pages write 7,5: the drawing's coordinates must not.
    assert re.findall(r'<rect x="[0-9.]+" y="[0-9.]+" width="[0-9.]+" height="[0-9.]+"', body)
    assert not re.search(r'(x|y|width|height)="[0-9]+,[0-9]', body)
    assert body.count("<table") == 5  # three charts' data, per office, per service
    assert "Reisepass" in body
    assert "<script" not in body.split("<main", 1)[1].split("</main>", 1)[0]  # charts without JavaScript


def test_an_admin_of_another_organisation_sees_nothing_of_ours(week: KnownWeek) -> None:
    other_org = factories.make_org("anderswo", name="Anderswo")
    client = _client(factories.make_staff(other_org, "fremd", role=Role.ORG_ADMIN))

    page = client.get(reverse("stats:page"), PERIOD).content.decode()
    rows = _csv(client.get(reverse("stats:export"), PERIOD))
    ours = client.get(reverse("stats:export"), {**PERIOD, "office": week.office.pk})

    assert '<th scope="row">Bürgerbüro' not in page
    assert "Bauamt" not in page
    assert rows == []
    assert ours.status_code == 400


@pytest.mark.parametrize("who", ["agent", "outsider"])
def test_agents_and_outsiders_are_refused(week: KnownWeek, who: str) -> None:
    user = week.agent.user if who == "agent" else factories.make_outsider()
    client = _client(user)

    assert client.get(reverse("stats:page")).status_code == 403
    assert client.get(reverse("stats:export")).status_code == 403


def test_anonymous_visitors_are_sent_to_the_login(week: KnownWeek) -> None:
    assert Client().get(reverse("stats:page")).status_code == 302


def test_a_bad_period_is_a_clear_message(week: KnownWeek) -> None:
    client = _client(make_lead(week, "lead").user)

    response = client.get(
        reverse("stats:page"), {"period": "custom", "start": "2026-05-17", "end": "2026-05-11"}
    )

    assert response.status_code == 400
    assert (
        "Der letzte Tag darf nicht vor dem ersten liegen." in response.content.decode()
    )  # German by default


def test_the_operator_sees_every_organisation(week: KnownWeek) -> None:
    operator = User.objects.create_superuser("betrieb", password=factories.PASSWORD)
    rows = _csv(_client(operator).get(reverse("stats:export"), PERIOD))

    assert {row["office"] for row in rows} == {"Bürgerbüro", "Bauamt"}


def test_the_api_is_off_by_default(week: KnownWeek) -> None:
    response = Client().get(
        API.format(org=week.organization.slug), {"start": "2026-05-11", "end": "2026-05-17"}
    )

    assert response.status_code == 404


def test_the_api_publishes_an_organisations_open_data(week: KnownWeek) -> None:
    week.organization.publishes_statistics = True
    week.organization.save()

    response = Client().get(
        API.format(org=week.organization.slug),
        {"start": "2026-05-11", "end": "2026-05-17", "office": "buergerbuero"},
    )

    assert response.status_code == 200
    days = response.json()
    assert len(days) == 7
    monday = days[0]
    assert (monday["date"], monday["office"], monday["meetings"], monday["wait_p90_min"]) == (
        "2026-05-11",
        "buergerbuero",
        3,
        24.0,
    )


def test_the_api_never_shows_another_organisations_figures(week: KnownWeek) -> None:
    other_org = factories.make_org("anderswo", name="Anderswo")
    other_org.publishes_statistics = True
    other_org.save()

    response = Client().get(API.format(org="anderswo"), {"start": "2026-05-11", "end": "2026-05-17"})
    foreign_office = Client().get(
        API.format(org="anderswo"), {"start": "2026-05-11", "end": "2026-05-17", "office": "buergerbuero"}
    )

    assert response.json() == []
    assert foreign_office.status_code == 404


def test_the_api_refuses_more_than_a_year(week: KnownWeek) -> None:
    week.organization.publishes_statistics = True
    week.organization.save()

    response = Client().get(
        API.format(org=week.organization.slug), {"start": "2024-01-01", "end": "2026-01-01"}
    )

    assert response.status_code == 422


def test_the_page_needs_a_fixed_number_of_queries(week: KnownWeek) -> None:
    """Pinned: a year of days or a week, one office or two, the same queries."""
    admin = factories.make_staff(week.organization, "admin", role=Role.ORG_ADMIN)
    client = _client(admin)
    client.get(reverse("stats:page"), PERIOD)  # session and second factor warm

    with CaptureQueriesContext(connection) as week_queries:
        assert client.get(reverse("stats:page"), PERIOD).status_code == 200
    year = {"period": "custom", "start": "2025-06-01", "end": "2026-05-31"}
    with CaptureQueriesContext(connection) as year_queries:
        assert client.get(reverse("stats:page"), year).status_code == 200

    assert len(week_queries) == len(year_queries) == QUERIES_OF_THE_PAGE, [q["sql"] for q in week_queries]

"""The citizen pages: office directory, office page, 404 — in German by default."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from buergerbuero.offices.models import Office, Service
from buergerbuero.orgs.models import Organization
from tests import factories

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
# Thursday 26 Nov 2026, 10:00 in Berlin.
THURSDAY_MORNING = dt.datetime(2026, 11, 26, 10, 0, tzinfo=BERLIN)


@time_machine.travel(THURSDAY_MORNING, tick=False)
def test_directory_lists_offices_with_status_in_german(client: Client, office: Office) -> None:
    response = client.get("/testhausen/")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="de" dir="ltr">' in html
    assert "Virtuelle Büros — Stadt Testhausen" in html
    assert "geöffnet bis 16:00" in html
    assert "Heute:" in html
    assert "08:00–16:00" in html


@time_machine.travel(THURSDAY_MORNING, tick=False)
def test_browser_language_english_is_honoured(client: Client, office: Office) -> None:
    response = client.get("/testhausen/", headers={"accept-language": "en"})

    assert "open until 4 p.m." in response.content.decode()


@time_machine.travel(THURSDAY_MORNING, tick=False)
def test_chosen_language_is_remembered(client: Client, office: Office) -> None:
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/testhausen/"})
    assert response.status_code == 302
    assert response["Location"] == "/testhausen/"

    html = client.get("/testhausen/").content.decode()
    assert '<html lang="en" dir="ltr">' in html
    assert "open until 4 p.m." in html


def test_unknown_organisation_is_a_404_in_german(client: Client, db: None) -> None:
    response = client.get("/gibtsnicht/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "Seite nicht gefunden" in html
    assert "Traceback" not in html


def test_unknown_office_is_a_404_in_english_when_chosen(client: Client, office: Office) -> None:
    client.cookies["bb_language"] = "en"
    response = client.get("/testhausen/gibtsnicht/")

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_office_of_another_organisation_is_not_found_under_this_one(
    client: Client, office: Office, other_org: Organization
) -> None:
    factories.make_office(other_org, "sozialamt", name="Sozialamt")

    assert client.get("/testhausen/sozialamt/").status_code == 404
    assert client.get("/anderswo/sozialamt/").status_code == 200


@time_machine.travel(dt.datetime(2026, 12, 20, 10, 0, tzinfo=BERLIN), tick=False)
def test_office_page_shows_services_weekly_hours_and_upcoming_holidays(
    client: Client, office: Office
) -> None:
    Service.objects.create(office=office, name="Reisepass beantragen")

    html = client.get("/testhausen/buergerbuero/").content.decode()

    assert "Reisepass beantragen" in html
    assert '<th scope="row">Montag</th><td>08:00–16:00</td>' in html
    assert '<th scope="row">Samstag</th><td>geschlossen</td>' in html
    assert "Erster Weihnachtstag" in html
    assert "Alle Zeiten in Ortszeit (Europe/Berlin)." in html


def test_directory_query_count_does_not_grow_with_offices(
    client: Client, org: Organization, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    for index in range(2):
        factories.make_office(org, f"amt-{index}", hours=[(0, "08:00", "12:00")])
    # organisation, offices; the calendars of offices not cached yet: offices, hours, extra
    # openings, closures
    with django_assert_num_queries(6):
        client.get("/testhausen/")
    with django_assert_num_queries(2):  # the calendars come from the cache
        client.get("/testhausen/")

    for index in range(2, 8):
        factories.make_office(org, f"amt-{index}", hours=[(0, "08:00", "12:00")])
    with django_assert_num_queries(6):
        client.get("/testhausen/")


def test_office_page_query_count_is_fixed(
    client: Client, office: Office, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    for index in range(3):
        Service.objects.create(office=office, name=f"Anliegen {index}", position=index)
    # the office with its organisation, its services; the calendar not cached yet: offices,
    # hours, extra openings, closures
    with django_assert_num_queries(6):
        client.get("/testhausen/buergerbuero/")
    with django_assert_num_queries(2):  # the calendar comes from the cache
        html = client.get("/testhausen/buergerbuero/").content.decode()
    assert "Anliegen 2" in html


def test_home_lists_organisations(client: Client, org: Organization, other_org: Organization) -> None:
    html = client.get("/").content.decode()

    assert 'href="/testhausen/"' in html
    assert 'href="/anderswo/"' in html


def test_health_check_answers(client: Client, db: None) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/admin/", "/staff/", "/static/css/site.css"])
def test_reserved_paths_are_not_taken_for_organisations(client: Client, db: None, path: str) -> None:
    assert client.get(path).status_code in {200, 302}

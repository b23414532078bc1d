"""What the public read API (/api/v1/) answers, endpoint by endpoint, and who may read it from
another website (CORS per organisation).

Through Django's test client on a fixed clock (time-machine): Stadt Testhausen (Bavaria) with
its Bürgerbüro, Monday–Friday 08:00–16:00, and a Sozialamt. Texts come in German unless the
request asks for English (``Accept-Language: en``). The figures are compared with what the
services the pages use compute (``booking.slots`` for free times), and the links the API hands
out are followed.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils.cache import has_vary_header

from buergerbuero.booking import services as booking
from buergerbuero.booking.models import WorkingTime
from buergerbuero.offices.models import Closure, Office, Service
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting.models import Mode, PresenceState
from buergerbuero.waiting.services import joining, staffing
from tests import factories

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
# Thursday 26 November 2026 in Berlin (no holiday).
THURSDAY_10 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=BERLIN)
THURSDAY_15_50 = dt.datetime(2026, 11, 26, 15, 50, tzinfo=BERLIN)
THURSDAY_17 = dt.datetime(2026, 11, 26, 17, 0, tzinfo=BERLIN)
CHRISTMAS_DAY_10 = dt.datetime(2026, 12, 25, 10, 0, tzinfo=BERLIN)

WEBSITE = "https://www.testhausen.de"
API = "/api/v1/organizations/testhausen/"
OFFICE_API = API + "offices/buergerbuero/"


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """Thursday 10:00 in Berlin, standing still until a test moves it."""
    with time_machine.travel(THURSDAY_10, tick=False) as traveller:
        yield traveller


@pytest.fixture
def website_org(org: Organization) -> Organization:
    org.embed_origins = f"{WEBSITE}\nhttps://buergerservice.testhausen.de"
    org.save()
    return org


@pytest.fixture
def offices(website_org: Organization, office: Office) -> list[Office]:
    """The Bürgerbüro (first in the directory) with two services, and the Sozialamt."""
    office.description = "Ausweise, Meldewesen"
    office.seats = 2
    office.save()
    Service.objects.create(
        office=office, name="Personalausweis", position=0, slot_minutes=30, buffer_minutes=0
    )
    Service.objects.create(office=office, name="Auskunft", position=1, bookable=False)
    social = factories.make_office(
        website_org, "sozialamt", hours=[(0, "09:00", "12:00")], name="Sozialamt", position=1
    )
    return [office, social]


@pytest.fixture
def personalausweis(offices: list[Office]) -> Service:
    return Service.objects.get(office=offices[0], name="Personalausweis")


def member(user: User) -> StaffMember:
    return StaffMember.objects.get(user=user)


def get(client: Client, path: str, **headers: str) -> Response:
    return client.get(path, headers=headers)


def english(client: Client, path: str) -> Response:
    return get(client, path, accept_language="en")


# --- organisation and office ----------------------------------------------------------------------
def test_organisation_lists_its_offices_with_status_live_figures_and_services(
    client: Client, clock: Any, offices: list[Office]
) -> None:
    response = get(client, API)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert (body["slug"], body["name"], body["time_zone"], body["languages"]) == (
        "testhausen",
        "Stadt Testhausen",
        "Europe/Berlin",
        ["de", "en"],
    )
    assert [office["slug"] for office in body["offices"]] == ["buergerbuero", "sozialamt"]
    bureau = body["offices"][0]
    assert bureau["name"] == "Bürgerbüro"
    assert bureau["description"] == "Ausweise, Meldewesen"
    assert bureau["url"] == "http://testserver/testhausen/buergerbuero/"
    assert bureau["enter_url"] == "http://testserver/testhausen/buergerbuero/enter/"
    assert bureau["book_url"] == "http://testserver/testhausen/buergerbuero/book/"
    assert bureau["status"] == {
        "state": "open",
        "label": "geöffnet bis 16:00",
        "opens_at": None,
        "closes_at": "2026-11-26T16:00:00+01:00",
        "closed_reason": "",
    }
    assert bureau["live"] == {
        "waiting": 0,
        "seats": 2,
        "staffed": 0,
        "free": 0,
        "wait_minutes_min": None,
        "wait_minutes_max": None,
    }
    ausweis, auskunft = bureau["services"]
    assert ausweis == {
        "id": ausweis["id"],
        "name": "Personalausweis",
        "description": "",
        "bookable": True,
        "appointment_minutes": 30,
    }
    assert (auskunft["name"], auskunft["bookable"]) == ("Auskunft", False)
    # Monday only: closed on a Thursday, and the label says when it opens.
    social = body["offices"][1]
    assert social["status"]["state"] == "closed"
    assert social["status"]["label"] == "geschlossen — öffnet Montag um 09:00"
    assert social["status"]["opens_at"] == "2026-11-30T09:00:00+01:00"
    assert social["services"] == []


def test_office_endpoint_answers_what_the_organisation_lists_for_it(
    client: Client, clock: Any, offices: list[Office]
) -> None:
    listed = get(client, API).json()["offices"][0]

    response = get(client, OFFICE_API)

    assert response.status_code == 200
    assert response.json() == listed


@pytest.mark.parametrize(
    ("moment", "state", "german", "english_label", "opens_at", "closes_at", "reason"),
    [
        (
            THURSDAY_10,
            "open",
            "geöffnet bis 16:00",
            "open until 4 p.m.",
            None,
            "2026-11-26T16:00:00+01:00",
            "",
        ),
        (
            THURSDAY_15_50,
            "closing",
            "schließt in 10 Minuten",
            "closes in 10 minutes",
            None,
            "2026-11-26T16:00:00+01:00",
            "",
        ),
        (
            THURSDAY_17,
            "closed",
            "geschlossen — öffnet morgen um 08:00",
            "closed — opens tomorrow at 8 a.m.",
            "2026-11-27T08:00:00+01:00",
            None,
            "",
        ),
        (
            CHRISTMAS_DAY_10,
            "closed",
            "geschlossen (Erster Weihnachtstag) — öffnet Montag um 08:00",
            "closed (Christmas Day) — opens Monday at 8 a.m.",
            "2026-12-28T08:00:00+01:00",
            None,
            "Erster Weihnachtstag",
        ),
    ],
    ids=["open", "closing-soon", "closed-evening", "closed-holiday"],
)
def test_status_and_label_in_german_by_default_and_english_on_request(
    client: Client,
    offices: list[Office],
    moment: dt.datetime,
    state: str,
    german: str,
    english_label: str,
    opens_at: str | None,
    closes_at: str | None,
    reason: str,
) -> None:
    with time_machine.travel(moment, tick=False):
        in_german = get(client, OFFICE_API).json()["status"]
        in_english = english(client, OFFICE_API).json()["status"]

    assert in_german == {
        "state": state,
        "label": german,
        "opens_at": opens_at,
        "closes_at": closes_at,
        "closed_reason": reason,
    }
    assert in_english["label"] == english_label
    assert in_english["state"] == state
    if reason:
        assert in_english["closed_reason"] == "Christmas Day"


def test_live_figures_follow_staff_presence_and_waiting_citizens(
    client: Client, clock: Any, offices: list[Office], agent: User
) -> None:
    bureau = offices[0]
    colleague = factories.make_staff(bureau.organization, "kollegin", Role.AGENT, [bureau])

    def live() -> dict[str, int | None]:
        figures: dict[str, int | None] = get(client, OFFICE_API).json()["live"]
        return figures

    def figures(waiting: int, staffed: int, free: int, wait: tuple[int, int] | None) -> dict[str, int | None]:
        low, high = wait or (None, None)
        return {
            "waiting": waiting,
            "seats": 2,
            "staffed": staffed,
            "free": free,
            "wait_minutes_min": low,
            "wait_minutes_max": high,
        }

    assert live() == figures(0, 0, 0, None)  # nobody staffed: no wait can be told
    staffing.set_presence(member(agent), PresenceState.AVAILABLE)
    assert live() == figures(0, 1, 1, (0, 1))  # someone free: a citizen arriving now goes straight in
    # A citizen enters: the free staff member takes them at once.
    joining.join(bureau, service=None, display_name="Erste", language="de", mode=Mode.CHAT)
    first = live()
    # No consultation has finished yet: the wait comes from the configured durations.
    assert first["wait_minutes_min"] is not None
    assert first["wait_minutes_max"] is not None
    assert 0 < first["wait_minutes_min"] < 15 < first["wait_minutes_max"] <= 40
    assert first == figures(0, 1, 0, (first["wait_minutes_min"], first["wait_minutes_max"]))
    # The next one waits; a colleague on a break does not count as staffed (but will be back).
    staffing.set_presence(member(colleague), PresenceState.PAUSE)
    joining.join(bureau, service=None, display_name="Zweiter", language="de", mode=Mode.CHAT)
    second = live()
    assert second["waiting"] == 1
    assert second["staffed"] == 1
    assert second["wait_minutes_max"] is not None
    assert second["wait_minutes_max"] > first["wait_minutes_max"] - 5
    # The organisation's list shows the same figures.
    assert get(client, API).json()["offices"][0]["live"] == live()


# --- opening hours --------------------------------------------------------------------------------
def test_hours_day_by_day_over_a_holiday_and_a_closure(
    client: Client, clock: Any, offices: list[Office]
) -> None:
    Closure.objects.create(
        office=offices[0],
        starts_on=dt.date(2026, 12, 28),
        ends_on=dt.date(2026, 12, 30),
        reason="Betriebsferien",
    )

    response = get(client, OFFICE_API + "hours/?start=2026-12-21&days=14")

    assert response.status_code == 200
    body = response.json()
    assert body["time_zone"] == "Europe/Berlin"
    days = {day["date"]: day for day in body["days"]}
    assert list(days) == [(dt.date(2026, 12, 21) + dt.timedelta(days=n)).isoformat() for n in range(14)]

    def hours(date: str) -> tuple[list[tuple[str, str]], str]:
        day = days[date]
        return [(period["opens"], period["closes"]) for period in day["periods"]], day["closed_reason"]

    assert hours("2026-12-21") == ([("2026-12-21T08:00:00+01:00", "2026-12-21T16:00:00+01:00")], "")
    assert hours("2026-12-24") == ([("2026-12-24T08:00:00+01:00", "2026-12-24T16:00:00+01:00")], "")
    assert hours("2026-12-25") == ([], "Erster Weihnachtstag")
    assert hours("2026-12-26") == ([], "Zweiter Weihnachtstag")
    assert hours("2026-12-27") == ([], "")  # a Sunday, closed anyway
    for date in ("2026-12-28", "2026-12-29", "2026-12-30"):
        assert hours(date) == ([], "Betriebsferien")
    assert hours("2026-12-31") == ([("2026-12-31T08:00:00+01:00", "2026-12-31T16:00:00+01:00")], "")
    assert hours("2027-01-01") == ([], "Neujahr")

    in_english = english(client, OFFICE_API + "hours/?start=2026-12-25&days=1").json()
    assert in_english["days"] == [{"date": "2026-12-25", "periods": [], "closed_reason": "Christmas Day"}]


def test_hours_start_today_for_two_weeks_by_default(
    client: Client, clock: Any, offices: list[Office]
) -> None:
    days = get(client, OFFICE_API + "hours/").json()["days"]

    assert len(days) == 14
    assert days[0]["date"] == "2026-11-26"
    assert days[-1]["date"] == "2026-12-09"


# --- free appointment times -----------------------------------------------------------------------
def test_free_slots_are_those_of_the_booking_rules_and_lead_to_the_details_page(
    client: Client, clock: Any, personalausweis: Service, agent: User
) -> None:
    bureau = personalausweis.office
    # A second staff member takes appointments on Thursday afternoons only.
    afternoons = factories.make_staff(bureau.organization, "nachmittags", Role.AGENT, [bureau])
    WorkingTime.objects.create(member=member(afternoons), weekday=3, opens=dt.time(13), closes=dt.time(16))

    response = get(client, OFFICE_API + f"slots/?service={personalausweis.pk}&limit=10")

    assert response.status_code == 200
    slots = response.json()
    expected = booking.finder(bureau, personalausweis).next_free(10)
    assert [(slot["start"], slot["end"], slot["staff_members"]) for slot in slots] == [
        (s.start.astimezone(BERLIN).isoformat(), s.end.astimezone(BERLIN).isoformat(), len(s.agent_ids))
        for s in expected
    ]
    # An hour's lead time from 10:00; 30 minutes each; two staff members from 13:00.
    assert [(slot["start"][11:16], slot["staff_members"]) for slot in slots] == [
        ("11:00", 1),
        ("11:30", 1),
        ("12:00", 1),
        ("12:30", 1),
        ("13:00", 2),
        ("13:30", 2),
        ("14:00", 2),
        ("14:30", 2),
        ("15:00", 2),
        ("15:30", 2),
    ]
    assert len(get(client, OFFICE_API + f"slots/?service={personalausweis.pk}").json()) == 5  # the default

    link = urlsplit(slots[0]["book_url"])
    assert (link.scheme, link.netloc, link.path) == (
        "http",
        "testserver",
        "/testhausen/buergerbuero/book/details/",
    )
    details = client.get(f"{link.path}?{link.query}")
    assert details.status_code == 200
    html = details.content.decode()
    assert "<h1>Ihre Angaben</h1>" in html
    assert "Personalausweis" in html
    assert "Donnerstag, 26. November 2026, 11:00–11:30" in html


# --- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/organizations/gibtsnicht/",
        "/api/v1/organizations/gibtsnicht/offices/buergerbuero/",
        "/api/v1/organizations/testhausen/offices/gibtsnicht/",
        "/api/v1/organizations/testhausen/offices/gibtsnicht/hours/",
        "/api/v1/organizations/testhausen/offices/gibtsnicht/slots/?service=1",
        "/api/v1/organizations/anderswo/offices/buergerbuero/",  # the office belongs to Testhausen
    ],
)
def test_unknown_organisation_or_office_is_a_json_404(
    client: Client, clock: Any, offices: list[Office], other_org: Organization, path: str
) -> None:
    response = get(client, path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {"detail": "Not Found"}


def test_unknown_or_unbookable_service_has_no_slots(
    client: Client, clock: Any, offices: list[Office]
) -> None:
    unbookable = Service.objects.get(name="Auskunft")
    other = factories.make_service(factories.make_office(offices[0].organization, "bauamt"), "Bauantrag")

    for service in (999_999, unbookable.pk, other.pk):
        response = get(client, OFFICE_API + f"slots/?service={service}")
        assert response.status_code == 404, service
        assert response.json() == {"detail": "Not Found"}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("hours/?days=0", "days"),
        ("hours/?days=43", "days"),
        ("hours/?days=viele", "days"),
        ("hours/?start=2026-02-30", "start"),
        ("hours/?start=morgen", "start"),
        ("slots/", "service"),
        ("slots/?service=eins", "service"),
        ("slots/?service=1&limit=0", "limit"),
        ("slots/?service=1&limit=51", "limit"),
    ],
)
def test_bad_parameters_are_a_422_naming_the_parameter(
    client: Client, clock: Any, offices: list[Office], query: str, parameter: str
) -> None:
    response = get(client, OFFICE_API + query)

    assert response.status_code == 422
    assert response["Content-Type"] == "application/json; charset=utf-8"
    problems = response.json()["detail"]
    assert [problem["loc"] for problem in problems] == [["query", parameter]]
    assert problems[0]["msg"]


def test_no_interactive_documentation_page(client: Client, db: None) -> None:
    for path in ("/api/v1/docs", "/api/v1/docs/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"swagger" not in response.content.lower()
    assert client.get("/api/v1/openapi.json").status_code == 200


# --- CORS -----------------------------------------------------------------------------------------
ALLOW_ORIGIN = "Access-Control-Allow-Origin"


@pytest.mark.parametrize("path", [API, OFFICE_API, OFFICE_API + "hours/"])
def test_a_website_of_the_organisation_may_read_its_api(
    client: Client, clock: Any, offices: list[Office], path: str
) -> None:
    for origin in (WEBSITE, "https://buergerservice.testhausen.de"):
        response = get(client, path, origin=origin)
        assert response.status_code == 200
        assert response[ALLOW_ORIGIN] == origin
        assert has_vary_header(response, "Origin")  # caches keep the answers apart
        assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.parametrize(
    "origin",
    [
        "https://www.example.org",
        "http://www.testhausen.de",  # another scheme is another origin
        "https://www.testhausen.de:8443",
        "https://testhausen.de",
        "null",
    ],
)
def test_another_website_may_not_read_it(
    client: Client, clock: Any, offices: list[Office], origin: str
) -> None:
    response = get(client, API, origin=origin)

    assert response.status_code == 200  # CORS only tells the browser what to hide
    assert ALLOW_ORIGIN not in response


def test_the_website_may_not_read_another_organisations_api(
    client: Client, clock: Any, offices: list[Office], other_org: Organization
) -> None:
    other_org.embed_origins = "https://www.anderswo.de"
    other_org.save()
    factories.make_office(other_org, "sozialamt", hours=[(0, "09:00", "12:00")])

    for path in ("/api/v1/organizations/anderswo/", "/api/v1/organizations/anderswo/offices/sozialamt/"):
        assert ALLOW_ORIGIN not in get(client, path, origin=WEBSITE)
        assert get(client, path, origin="https://www.anderswo.de")[ALLOW_ORIGIN] == "https://www.anderswo.de"
    # Nor anything outside the read API, such as the citizen pages or the schema.
    for path in ("/testhausen/", "/api/v1/openapi.json"):
        assert ALLOW_ORIGIN not in get(client, path, origin=WEBSITE)


def test_preflight_allows_get_for_the_organisations_website_only(
    client: Client, clock: Any, offices: list[Office]
) -> None:
    def preflight(origin: str) -> Response:
        return client.options(
            OFFICE_API + "slots/?service=1",
            headers={"origin": origin, "access-control-request-method": "GET"},
        )

    allowed = preflight(WEBSITE)
    assert allowed.status_code == 200
    assert allowed[ALLOW_ORIGIN] == WEBSITE
    methods = {method.strip() for method in allowed["Access-Control-Allow-Methods"].split(",")}
    assert methods == {"GET", "OPTIONS"}

    refused = preflight("https://www.example.org")
    assert ALLOW_ORIGIN not in refused
    assert "Access-Control-Allow-Methods" not in refused

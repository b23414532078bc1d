"""The public read API against the OpenAPI schema it serves, with schemathesis.

**What.** schemathesis reads ``/api/v1/openapi.json`` from the application itself and, for each
operation, generates requests from the schema (valid ones, and invalid ones that must be
refused), sends them and runs every check it has by default: no server error, status codes
and content types the schema documents, response bodies that validate against the schema,
invalid input refused with a 4xx, valid input accepted, 405 with ``Allow`` for undocumented
methods.

**How.** In-process through Django's WSGI handler (``from_wsgi``): the requests run in the
test's thread, on the test's database connection, so the organisation made by the fixture is
visible inside pytest-django's rolled-back transaction; Django's own test client does the
same (it also detaches ``close_old_connections``, which would otherwise break the test
transaction at every request). The schema is loaded at collection time, because
``schema.parametrize()`` makes one test per operation; ``schemathesis.pytest.from_fixture``
would load it lazily but fails with pytest 9 (it sets ``node._nodeid``, which pytest 9 no
longer has). Random path parameters would only ever meet 404s, so the generator takes the
fixture's organisation, office and service from dictionaries most of the time (and random
values otherwise): the 200 responses get validated too. Hypothesis runs derandomised (the
same cases on every run, no example database) with few examples, so the whole file takes
seconds.

**What it found** (fixed since): a NUL character in a path parameter reached PostgreSQL
(500), ``hours?start=9999-12-31`` overflowed (500), ``start=1850-06-03`` gave offsets with
seconds (no RFC 3339), and ``start=0`` was taken as a Unix time. Each keeps its own test with
the request that showed it, below.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok

from buergerbuero.offices.models import Closure, Service, SpecialOpening
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import Mode, PresenceState
from buergerbuero.waiting.services import joining, staffing
from tests import factories
from tests.support.live import ALWAYS_OPEN

SCHEMA_PATH = "/api/v1/openapi.json"
ORG = "testhausen"
OFFICE = "buergerbuero"
# Fixed primary keys, so that the generator (configured before any row exists) can use them.
SERVICE_ID = 4711
UNBOOKABLE_SERVICE_ID = 4712
HOURS = "/api/v1/organizations/{org}/offices/{office}/hours/"
OPERATIONS = {
    "/api/v1/organizations/{org}/",
    "/api/v1/organizations/{org}/offices/{office}/",
    HOURS,
    "/api/v1/organizations/{org}/offices/{office}/slots/",
    "/api/v1/organizations/{org}/statistics/",
    "/api/v1/organizations/{org}/events/",
}

CONFIG = SchemathesisConfig.from_dict(
    {
        "dictionaries": {
            "orgs": {"values": [ORG]},
            "offices": {"values": [OFFICE, "sozialamt"]},
            "services": {"values": [SERVICE_ID, UNBOOKABLE_SERVICE_ID]},
        },
        "parameters": {
            "path.org": {"dictionary": "orgs", "probability": 0.8},
            "path.office": {"dictionary": "offices", "probability": 0.8},
            "query.service": {"dictionary": "services", "probability": 0.8},
        },
    }
)
APP = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, APP, config=CONFIG)

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- the data the API shows -----------------------------------------------------------------------
@pytest.fixture
def published(db: None) -> Iterator[Organization]:
    """Stadt Testhausen with two offices (the Bürgerbüro open around the clock, the Sozialamt on
    Monday mornings), services (one not bookable), a staff member for the appointments (on a
    break), a closure, an extra opening and one citizen waiting."""
    organization = factories.make_org(ORG, state="BY", name="Stadt Testhausen")
    organization.embed_origins = "https://www.testhausen.de"
    organization.save()
    office = factories.make_office(
        organization, OFFICE, hours=ALWAYS_OPEN, name="Bürgerbüro", observes_public_holidays=False
    )
    factories.make_office(organization, "sozialamt", hours=[(0, "09:00", "12:00")], name="Sozialamt")
    Service.objects.create(pk=SERVICE_ID, office=office, name="Personalausweis")
    Service.objects.create(pk=UNBOOKABLE_SERVICE_ID, office=office, name="Auskunft", bookable=False)
    today = timezone.localdate()
    Closure.objects.create(
        office=office, starts_on=today + dt.timedelta(days=3), ends_on=today + dt.timedelta(days=4)
    )
    SpecialOpening.objects.create(
        office=office, date=today + dt.timedelta(days=5), opens=dt.time(10), closes=dt.time(12)
    )
    agent: User = factories.make_staff(organization, "agent", offices=[office])
    staffing.set_presence(StaffMember.objects.get(user=agent), PresenceState.PAUSE)
    joining.join(office, service=None, display_name="Wartende", language="de", mode=Mode.CHAT)
    # The WSGI handler would close the test's connection at each request (as Django's test
    # client also prevents).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield organization
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# --- the schema itself ----------------------------------------------------------------------------
def test_schema_is_openapi_and_documents_every_read_endpoint(client: Client, db: None) -> None:
    response = client.get(SCHEMA_PATH)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == OPERATIONS
    for path, methods in document["paths"].items():
        assert set(methods) == {"get"}, path
        assert {"200", "404", "422"} <= set(methods["get"]["responses"]), path
    # What schemathesis tests is the same list.
    assert {operation.path for operation in _operations()} == OPERATIONS


def _operations() -> list[Any]:
    return [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]


# --- generated requests ---------------------------------------------------------------------------
@schema.parametrize()
@FUZZ
def test_every_operation_conforms_to_the_schema(case: Case[Any], published: Organization) -> None:
    case.call_and_validate()


# --- the problems it found, one request each ---------------------------------------------------------
def _case(path: str, org: str = ORG, office: str = OFFICE, **query: Any) -> Case[Any]:
    parameters = {"org": org} if "{office}" not in path else {"org": org, "office": office}
    return schema[path]["GET"].Case(path_parameters=parameters, query=query or None)


@pytest.mark.parametrize(
    "path", ["/api/v1/organizations/{org}/", "/api/v1/organizations/{org}/offices/{office}/"]
)
def test_a_nul_character_in_the_path_is_not_a_server_error(path: str, published: Organization) -> None:
    case = _case(path, org="a\x00b", office="c\x00d")

    response = case.call_and_validate()

    assert response.status_code in {404, 422}


def test_hours_far_in_the_future_are_refused_not_a_server_error(published: Organization) -> None:
    response = _case(HOURS, start="9999-12-31").call_and_validate()

    assert response.status_code == 422


def test_hours_before_standard_time_are_refused_or_valid(published: Organization) -> None:
    _case(HOURS, start="1850-06-03").call_and_validate()


@pytest.mark.parametrize("start", ["0", "2026-11-26T00:00:00"])
def test_hours_start_must_be_a_plain_date(start: str, published: Organization) -> None:
    response = _case(HOURS, start=start).call()

    assert response.status_code == 422

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import User

from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role
from tests import factories

# Playwright's sync API keeps an event loop in the test thread; the ORM calls between
# browser steps are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def org(db: None) -> Organization:
    return factories.make_org("testhausen", state="BY", name="Stadt Testhausen")


@pytest.fixture
def other_org(db: None) -> Organization:
    return factories.make_org("anderswo", state="NW", name="Landkreis Anderswo")


@pytest.fixture
def office(org: Organization) -> Office:
    weekdays = [(day, "08:00", "16:00") for day in range(5)]
    return factories.make_office(org, "buergerbuero", hours=weekdays, name="Bürgerbüro")


@pytest.fixture
def agent(org: Organization, office: Office) -> User:
    return factories.make_staff(org, "agent", Role.AGENT, [office])


@pytest.fixture
def office_lead(org: Organization, office: Office) -> User:
    return factories.make_staff(org, "lead", Role.OFFICE_LEAD, [office])


@pytest.fixture
def org_admin(org: Organization) -> User:
    return factories.make_staff(org, "orgadmin", Role.ORG_ADMIN)


@pytest.fixture
def outsider(db: None) -> User:
    return factories.make_outsider()

"""Fixtures of the consultation tests: a consultation under way, and people outside it."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import User
from pytest_django import Settings

from buergerbuero.consult.models import Consultation
from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember
from tests import factories
from tests.consult.support import start_consultation


@pytest.fixture(autouse=True)
def _own_redis_channel(settings: Settings) -> None:
    """In the scaled mode, this test's events travel on a Redis channel of their own, so that
    other test runs on the same Redis cannot be heard (nor hear us)."""
    settings.REDIS_PREFIX = f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def consultation(office: Office, agent: User) -> Consultation:
    return start_consultation(office, agent)


@pytest.fixture
def agent_member(agent: User) -> StaffMember:
    return StaffMember.objects.select_related("user").get(user=agent)


@pytest.fixture
def colleague(org: Organization, office: Office) -> User:
    """An agent of the same office who is not part of this consultation."""
    return factories.make_staff(org, "kollege", Role.AGENT, [office])


@pytest.fixture
def foreign_office(other_org: Organization) -> Office:
    weekdays = [(day, "08:00", "16:00") for day in range(5)]
    return factories.make_office(other_org, "kfz", hours=weekdays, name="Kfz-Zulassung")


@pytest.fixture
def foreign_agent(other_org: Organization, foreign_office: Office) -> User:
    return factories.make_staff(other_org, "fremd", Role.AGENT, [foreign_office])


@pytest.fixture
def other_consultation(foreign_office: Office, foreign_agent: User) -> Consultation:
    """A consultation of another office (and organisation) going on at the same time."""
    return start_consultation(foreign_office, foreign_agent, name="Bernd Anders")

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from buergerbuero.events.models import Event, EventKind
from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember
from tests import factories
from tests.events.support import live, make_event


@pytest.fixture
def host(org: Organization, office: Office) -> StaffMember:
    user = factories.make_staff(org, "host", Role.AGENT, [office])
    return StaffMember.objects.select_related("user", "organization").get(user=user)


@pytest.fixture
def other_agent(org: Organization, office: Office) -> User:
    return factories.make_staff(org, "colleague", Role.AGENT, [office])


@pytest.fixture
def event(org: Organization, host: StaffMember) -> Event:
    return make_event(org, hosts=[host])


@pytest.fixture
def live_event(event: Event, host: StaffMember) -> Event:
    return live(event, host)


@pytest.fixture
def press(org: Organization, host: StaffMember) -> Event:
    return make_event(
        org,
        hosts=[host],
        kind=EventKind.PRESS_CONFERENCE,
        registration_required=True,
        title="Pressekonferenz",
    )

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role
from tests import factories
from tests.support.server import AsgiServer

# The real Janus (fixtures ``janus`` and ``janus_settings``) for the events' media tests.
pytest_plugins = ["tests.support.janus"]


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


# --- the real server and a real browser -----------------------------------------------------
@pytest.fixture(scope="session")
def asgi_server(django_db_setup: None, django_db_blocker: Any) -> Iterator[AsgiServer]:
    """The product served by uvicorn in its own process, sharing the test database. Without
    the job loop: its timers and outbox would act on other tests' rows (tests that need the
    jobs start a server or a worker of their own)."""
    server = AsgiServer(extra_env={"JOBS_IN_WEB_PROCESS": "false"})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (consumers) run on asyncio, like uvicorn."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _staff_logins_pass_the_second_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    """``client.force_login`` stands for a whole login: password and, where the login needs
    one (org admins, superusers, organisations with ``staff_second_factor``), the second
    factor. Tests of the login steps themselves log in through the forms
    (``factories.log_in_with_password``)."""
    log_in = Client.force_login

    def force_login(client: Client, user: Any, backend: str | None = None) -> None:
        log_in(client, user, backend)
        factories.pass_second_factor(client, user)

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture(autouse=True)
def _no_cached_hours_or_snapshots() -> Iterator[None]:
    """Each test's database starts afresh (ids may repeat): so do the per-process caches of
    opening calendars and waiting-room snapshots."""
    from buergerbuero.offices import services as offices
    from buergerbuero.waiting.services import snapshots

    offices.forget_hours()
    snapshots.forget_snapshots()
    yield
    offices.forget_hours()
    snapshots.forget_snapshots()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Real hashing costs ~0.3 s per login created; the tests create many."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

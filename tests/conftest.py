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


# --- which pass of `make test` runs a test ----------------------------------------------------
# `make test` runs the suite twice: embedded (SQLite, events within one process) and scaled
# (PostgreSQL, Redis between processes, several processes). A test marked ``mode_independent``
# runs in the embedded pass only: the scaled pass deselects it (``make test-scaled`` runs
# ``pytest -m "not mode_independent"``); run on its own, every test still runs in either mode.
#
# The rule: a test is mode-independent when what it proves cannot differ between the modes —
#   * it touches neither the database nor Redis nor a server process of ours (pure functions,
#     PDFs and forms read or rendered, translation catalogues, the source's import graph), or
#   * it runs a bench whose processes get a database and Redis of their own whatever the pass
#     (``bench/support/environment.py`` removes the pass's ``DATABASE_URL``/``REDIS_URL``), or
#   * it is a browser test whose subject is what a page is or how it is operated — markup,
#     axe-core, keyboard, layout at a screen size, translations, the Content-Security-Policy,
#     uploads served — on pages the server renders from rows the test wrote, not how state
#     travels between sockets, processes or transactions (those are proven in both modes by the
#     tests that are about them: walk-in, call, console, directory, events' stage, consumers,
#     races, faults).
# Whatever the mode changes — queries and locks (PostgreSQL), events across processes and the
# shared caches and counters (Redis), several server processes — stays out of this marker, and
# so does every test with a database that is not a browser test (ORM code behaves differently
# on PostgreSQL). ``pytest_collection_modifyitems`` and ``_mode_independent_stays_so`` hold the
# checkable part of the rule.
MODE_INDEPENDENT = "mode_independent"
DATABASE_FIXTURES = frozenset(
    {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}
)
SERVER_FIXTURES = frozenset({"asgi_server", "janus_server", "janus_settings", "janus"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A mode-independent test runs in the embedded pass, so it may not be skipped there; unless
    it is a browser test it has no database (pytest-django then refuses every query in the test
    process) and no server of ours."""
    wrong = []
    for item in items:
        if item.get_closest_marker(MODE_INDEPENDENT) is None:
            continue
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("skipif") is not None or item.get_closest_marker("skip") is not None:
            wrong.append(f"{item.nodeid}: skipped in some mode, so it would run in no pass")
        database = item.get_closest_marker("django_db") is not None or fixtures & DATABASE_FIXTURES
        if item.get_closest_marker("browser") is None and (database or fixtures & SERVER_FIXTURES):
            wrong.append(f"{item.nodeid}: uses the database or a server, so it depends on the mode")
    if wrong:
        rule = f"marked {MODE_INDEPENDENT} against the rule (tests/conftest.py):"
        raise pytest.UsageError("\n".join([rule, *wrong]))


@pytest.fixture(autouse=True)
def _mode_independent_stays_so(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a mode-independent test other than a browser test runs, it can create no Redis client
    and start no process pointed at a database or Redis (a server of ours given the test
    database, as ``AsgiServer`` does): those would make it depend on the mode."""
    node = request.node
    if node.get_closest_marker(MODE_INDEPENDENT) is None or node.get_closest_marker("browser") is not None:
        return
    import subprocess

    import redis
    import redis.asyncio

    def no_redis(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"{node.nodeid} is marked {MODE_INDEPENDENT} but creates a Redis client")

    monkeypatch.setattr(redis.Redis, "__init__", no_redis)
    monkeypatch.setattr(redis.asyncio.Redis, "__init__", no_redis)
    popen_init = subprocess.Popen.__init__

    def checked_popen(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        env = kwargs.get("env") or {}
        pointed = sorted(name for name in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH") if env.get(name))
        if pointed:
            raise AssertionError(
                f"{node.nodeid} is marked {MODE_INDEPENDENT} but starts a process with {pointed}"
            )
        popen_init(self, *args, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", checked_popen)


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

"""Fixtures of the waiting-room tests: more offices and staff, and real server processes.

The helpers for the tests that run real server processes (races, restart, scaled mode) start
with ``live_``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import json
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any, Protocol
from urllib.parse import urlencode

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role
from tests import factories
from tests.support.live import ALWAYS_OPEN, server_password_hash
from tests.support.server import AsgiServer

WEEKDAYS = [(day, "08:00", "16:00") for day in range(5)]

TIMEOUT = 30.0  # generous: the machines have two cores and the servers share them
IDLE_RECONNECT_SECONDS = 2.0  # well below uvicorn's keep-alive timeout of 5 s


# --- logins the server processes accept -------------------------------------------------------
def make_live_agent(organization: Organization, username: str, offices: list[Office]) -> User:
    """An agent who can log in to a server process with ``factories.PASSWORD``."""
    user = factories.make_staff(organization, username, offices=offices)
    User.objects.filter(pk=user.pk).update(password=server_password_hash())
    return user


def always_open_office(organization: Organization, slug: str, **fields: Any) -> Office:
    """An office open around the clock on every day (adjacent intervals merge across midnight)."""
    fields.setdefault("observes_public_holidays", False)
    fields.setdefault("waiting_room_limit", 1000)
    fields.setdefault("hold_place_seconds", 3600)
    fields.setdefault("call_confirm_seconds", 600)
    return factories.make_office(organization, slug, hours=ALWAYS_OPEN, **fields)


# --- a minimal browser over http.client ---------------------------------------------------------
@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def json(self) -> Any:
        return json.loads(self.body)

    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass
class LiveBrowser:
    """One client of one server: a kept-alive connection and its cookies, like a browser tab.

    CSRF: Django accepts the unmasked secret of the ``csrftoken`` cookie as the token, so a
    POST sends the cookie's value as ``X-CSRFToken``, as the console's JavaScript does.
    """

    port: int
    forwarded_for: str = ""
    cookies: dict[str, str] = field(default_factory=dict)
    _connection: http.client.HTTPConnection | None = None
    _last_used: float = 0.0

    def _conn(self) -> http.client.HTTPConnection:
        if self._connection is not None and time.monotonic() - self._last_used > IDLE_RECONNECT_SECONDS:
            self.close()
        if self._connection is None:
            self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def request(self, method: str, path: str, data: dict[str, str] | None = None) -> Reply:
        headers = {"Accept": "text/html,application/json"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if self.forwarded_for:
            headers["X-Forwarded-For"] = self.forwarded_for
        body: str | None = None
        if method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
            body = urlencode(data or {})
        connection = self._conn()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            reply = Reply(response.status, response.headers, response.read())
        except BaseException:
            self.close()
            raise
        self._last_used = time.monotonic()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                self.cookies[name] = morsel.value
        return reply

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, data: dict[str, str] | None = None) -> Reply:
        if "csrftoken" not in self.cookies:
            self.get("/staff/login/")  # any page with a form sets the CSRF cookie
        return self.request("POST", path, data)

    def log_in(self, username: str, password: str = factories.PASSWORD) -> None:
        """Through the real login form, as a staff member does."""
        self.get("/staff/login/")
        reply = self.post("/staff/login/", {"username": username, "password": password})
        assert reply.status == 302, f"login of {username} failed: {reply.status} {reply.text()[:500]}"
        assert "sessionid" in self.cookies

    def enter(self, organization: str, office: str, name: str) -> str:
        """A citizen enters the office through its form; returns the ticket's token."""
        path = f"/{organization}/{office}/enter/"
        assert self.get(path).status == 200
        reply = self.post(path, {"display_name": name, "language": "de", "mode": "video"})
        assert reply.status == 302, f"entering failed: {reply.status} {reply.text()[:2000]}"
        match = re.fullmatch(r"/w/([^/]+)/", reply.location)
        assert match is not None, reply.location
        return match.group(1)


def citizen_address() -> str:
    """A distinct client address per citizen (uvicorn trusts X-Forwarded-For from loopback),
    so that the per-client join limit does not count all test citizens as one."""
    return f"198.18.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"


# --- servers ----------------------------------------------------------------------------------
class ServerFactory(Protocol):
    def __call__(self, extra_env: dict[str, str] | None = None) -> AsgiServer: ...


@pytest.fixture
def live_servers(transactional_db: None) -> Iterator[ServerFactory]:
    """Start server processes on the (committed) test database; all stopped after the test.

    The servers of one test share a Redis prefix of their own (when Redis is used), so that
    neither another test run nor the session's server hears their events or counts their joins.
    """
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    started: list[AsgiServer] = []

    def start(extra_env: dict[str, str] | None = None) -> AsgiServer:
        server = AsgiServer(extra_env={"REDIS_PREFIX": prefix, **(extra_env or {})})
        started.append(server)
        server.start(timeout=60)
        return server

    yield start
    for server in reversed(started):
        server.stop()


# --- a citizen's waiting-room socket -----------------------------------------------------------
@dataclass
class WaitingSocket:
    """``/ws/tickets/<token>/`` as the waiting-room page uses it."""

    connection: ClientConnection
    snapshot: dict[str, Any]

    @classmethod
    async def open(cls, port: int, token: str) -> WaitingSocket:
        connection = await connect(
            f"ws://127.0.0.1:{port}/ws/tickets/{token}/",
            origin=Origin(f"http://localhost:{port}"),
            compression=None,
            proxy=None,
            open_timeout=TIMEOUT,
        )
        snapshot = json.loads(await asyncio.wait_for(connection.recv(), TIMEOUT))
        assert snapshot["type"] == "snapshot", snapshot
        return cls(connection, snapshot)

    async def next_event(self, after_seq: int) -> dict[str, Any]:
        """The next numbered event newer than ``after_seq`` (older ones may precede the
        snapshot's and are covered by it)."""
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.connection.recv(), TIMEOUT))
            if "seq" in message and message["seq"] > after_seq:
                return message

    async def close(self) -> None:
        await self.connection.close()


async def subscribed_processes(prefix: str, count: int) -> None:
    """Wait until ``count`` server processes listen to the Redis event channel of ``prefix``
    (no-op without Redis). A process subscribes when its first socket connects, in a task of
    its own, so an event published right after the first snapshot could otherwise be missed."""
    if not settings.REDIS_URL:
        return
    client = redis.Redis.from_url(settings.REDIS_URL)
    channel = f"{prefix}:events"
    try:
        async with asyncio.timeout(TIMEOUT):
            while True:
                numbers: list[tuple[bytes, int]] = client.pubsub_numsub(channel)  # type: ignore[assignment]
                if numbers and numbers[0][1] >= count:
                    return
                await asyncio.sleep(0.05)
    finally:
        client.close()


def position_after(position: int, own_key: list[int], event: dict[str, Any]) -> int:
    """How a waiting-room page derives its position from a queue event: compare keys."""
    if event.get("type") != "queue" or list(event["key"]) >= own_key:
        return position
    return position + 1 if event["op"] == "join" else position - 1


def now() -> dt.datetime:
    return dt.datetime.now(tz=dt.UTC)


@pytest.fixture
def second_office(org: Organization) -> Office:
    """Another office of the same organisation (a transfer target)."""
    return factories.make_office(org, "standesamt", hours=WEEKDAYS, name="Standesamt")


@pytest.fixture
def foreign_office(other_org: Organization) -> Office:
    return factories.make_office(other_org, "kfz", hours=WEEKDAYS, name="Kfz-Zulassung")


@pytest.fixture
def foreign_agent(other_org: Organization, foreign_office: Office) -> User:
    """Staff of another organisation."""
    return factories.make_staff(other_org, "fremd", Role.AGENT, [foreign_office])

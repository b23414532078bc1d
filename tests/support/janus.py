"""A real Janus for the tests and benches: Debian's ``janus`` on free loopback ports.

``JanusTestServer`` is the product's own :class:`~buergerbuero.sfu.process.JanusProcess` (the
configuration ``manage.py serve --janus`` renders) in a temporary folder, with fresh secrets, a
free HTTP and admin port and a small RTP port range. The pytest fixture ``janus`` (session scope;
``tests/conftest.py`` names this module in ``pytest_plugins``) starts one per test run;
``janus_settings`` points this process's settings at it, and ``janus.server_env()`` gives a
server process (``AsgiServer(extra_env=…)``) the same::

    def test_something(janus_settings: JanusTestServer) -> None:
        rooms.create_room("test", 1, description="…", max_publishers=3)

Without ``/usr/bin/janus`` a test using it fails in CI (``CI=true``: ``make test`` installs
Janus, so a missing one is a broken machine) and is skipped locally.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from buergerbuero.sfu import rooms
from buergerbuero.sfu.process import JanusProcess, janus_binary
from tests.support.coturn import free_port_range
from tests.support.server import AsgiServer, free_port

SERVER_NAME = "test"
RTP_PORTS = 200  # one UDP port per PeerConnection: a publisher and its viewers in the browser tests


def require_janus() -> str:
    """The janus binary, or end the test: FAIL in CI, skip locally."""
    found = janus_binary(os.environ.get("JANUS_PATH", "/usr/bin/janus"))
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("janus missing at /usr/bin/janus; `make test` installs it (make system-deps)")
        pytest.skip("janus not installed (`make system-deps` installs it)")
    return found


class JanusTestServer(JanusProcess):
    """A Janus on free loopback ports with fresh secrets, in a temporary folder."""

    def __init__(self, *, rtp_ports: int = RTP_PORTS, name: str = SERVER_NAME) -> None:
        first = free_port_range(rtp_ports, low=30000, high=60000)
        super().__init__(
            Path(tempfile.mkdtemp(prefix="janus-")),
            api_secret=secrets.token_urlsafe(24),
            admin_secret=secrets.token_urlsafe(24),
            admin_key=secrets.token_urlsafe(24),
            http_port=free_port(),
            admin_port=free_port(),
            rtp_ports=(first, first + rtp_ports - 1),
            binary=require_janus(),
        )
        self.name = name

    def settings_entry(self) -> dict[str, str]:
        """This server as one entry of ``settings.JANUS_SERVERS``."""
        return {
            "name": self.name,
            "url": self.url,
            "api_secret": self.api_secret,
            "admin_key": self.admin_key,
        }

    def server_env(self) -> dict[str, str]:
        """Environment for a server process (``AsgiServer(extra_env=…)``) to use this Janus."""
        return {
            "JANUS_SERVERS": f"{self.name}={self.url}",
            "JANUS_API_SECRET": self.api_secret,
            "JANUS_ADMIN_KEY": self.admin_key,
            "JANUS_ADMIN_SECRET": self.admin_secret,
        }

    def ensure_running(self) -> None:
        """Started again if a fault test stopped it."""
        if self.process is None or self.process.poll() is not None:
            self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def janus() -> Iterator[JanusTestServer]:
    """One real Janus for the whole test run (each test uses its own room numbers)."""
    server = JanusTestServer()
    server.start()
    yield server
    server.remove()


@pytest.fixture
def janus_settings(janus: JanusTestServer, settings: Any) -> Iterator[JanusTestServer]:
    """This process's settings point at the test run's Janus (and nothing else)."""
    janus.ensure_running()
    settings.JANUS_SERVERS = [janus.settings_entry()]
    settings.JANUS_EMBEDDED = False
    rooms.forget_health()
    yield janus
    rooms.forget_health()


@pytest.fixture
def janus_server(janus: JanusTestServer, django_db_blocker: Any) -> Iterator[AsgiServer]:
    """The product served with the test run's Janus."""
    janus.ensure_running()
    server = AsgiServer(extra_env={"JOBS_IN_WEB_PROCESS": "false", **janus.server_env()})
    server.start()
    yield server
    server.stop()


def room_number() -> int:
    """A room number no other test of this run uses."""
    return secrets.randbelow(2**31 - 1000) + 1000

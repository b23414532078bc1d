"""Links sent without a request (e-mail, SMS, calendar file) point where the server runs: the
default of ``PUBLIC_URL`` follows ``HOST``/``PORT`` of ``manage.py serve``."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
import uvicorn
from django.core.management import call_command

from buergerbuero.lib.env import served_url

PRINT_LINK = "import django; django.setup();from django.conf import settings; print(settings.PUBLIC_URL)"


def _public_url(**env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in {"PUBLIC_URL", "HOST", "PORT"}}
    environment.update(env, DJANGO_SETTINGS_MODULE="buergerbuero.config.settings")
    done = subprocess.run(
        [sys.executable, "-c", PRINT_LINK], env=environment, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def test_public_url_follows_the_port_serve_listens_on() -> None:
    assert _public_url(PORT="8123") == "http://localhost:8123"


def test_public_url_names_the_host_serve_listens_on() -> None:
    assert _public_url(HOST="buergerbuero.local", PORT="9000") == "http://buergerbuero.local:9000"


def test_an_explicit_public_url_wins() -> None:
    assert _public_url(PORT="8123", PUBLIC_URL="https://termine.example.de/") == "https://termine.example.de"


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "::"])  # noqa: S104 - names, not a bind
def test_a_wildcard_or_loopback_host_is_shown_as_localhost(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.setenv("HOST", host)
    monkeypatch.setenv("PORT", "8001")
    assert served_url() == "http://localhost:8001"


def test_serve_with_its_own_port_points_links_there(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """``manage.py serve --port 8765`` without ``PORT`` in the environment."""
    for name in ("PUBLIC_URL", "HOST", "PORT"):
        monkeypatch.setenv(name, "")  # restored afterwards; the command sets HOST and PORT
        monkeypatch.delenv(name)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: None)
    settings.JOBS_IN_WEB_PROCESS = False

    call_command("serve", "--host", "0.0.0.0", "--port", "8765")  # noqa: S104 - not bound here

    assert settings.PUBLIC_URL == "http://localhost:8765"
    assert (os.environ["HOST"], os.environ["PORT"]) == ("0.0.0.0", "8765")  # noqa: S104

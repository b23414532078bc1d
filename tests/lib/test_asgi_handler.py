"""The one-hop ASGI handler: the middleware chain and the view run in one thread (not on the
event loop, not split across threads) of a pool whose threads keep their database connection,
and nothing about the answers changes: the security middleware still speaks, a POST without
its CSRF token is still refused, and a streamed (async) response is still streamed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import AsyncToSync
from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.db import connection
from django.http import HttpRequest, HttpResponse
from pytest_django import Settings

from buergerbuero.lib.asgi_handler import OneHopASGIHandler
from buergerbuero.orgs.models import Organization
from tests.waiting.conftest import always_open_office

pytestmark = pytest.mark.django_db(transaction=True)

seen: dict[str, int] = {}


class RecordThread:
    """Notes the thread of the middleware chain and of the view (``process_view`` runs right
    before it, in the same thread as the view in a sync chain)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        seen["chain"] = threading.get_ident()
        return self.get_response(request)

    def process_view(self, request: HttpRequest, *args: Any) -> None:
        seen["view"] = threading.get_ident()
        connection.ensure_connection()
        seen["connection"] = id(connection.connection)


def call(
    handler: ASGIHandler, method: str, path: str, headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[int, dict[bytes, bytes], bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), *(headers or [])],
        "client": ("10.1.2.3", 4567),
        "server": ("127.0.0.1", 8000),
    }
    messages: list[Mapping[str, Any]] = []

    async def run() -> None:
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.sleep(3600)  # the client never leaves
            return {"type": "http.disconnect"}

        async def send(message: Mapping[str, Any]) -> None:
            messages.append(message)

        seen["loop"] = threading.get_ident()
        await handler(scope, receive, send)

    asyncio.run(run())
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], {k.lower(): v for k, v in start["headers"]}, body


def test_the_chain_and_the_view_run_in_one_thread_off_the_event_loop(settings: Settings) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.lib.test_asgi_handler.RecordThread"]
    seen.clear()

    status, headers, _body = call(OneHopASGIHandler(), "GET", "/healthz")

    assert status == 200
    assert seen["chain"] == seen["view"] != seen["loop"]
    assert b"nonce-" in headers[b"content-security-policy"]


def test_requests_are_served_by_threads_that_live_on_with_their_connection(settings: Settings) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.lib.test_asgi_handler.RecordThread"]
    settings.REQUEST_THREADS = 1
    handler = OneHopASGIHandler()
    first: dict[str, int] = {}

    for _ in range(2):
        seen.clear()
        assert call(handler, "GET", "/healthz")[0] == 200
        first = first or dict(seen)

    assert seen["view"] == first["view"]  # no thread started per request
    if settings.DATABASES["default"]["CONN_MAX_AGE"] is None:  # the embedded SQLite
        assert seen["connection"] == first["connection"]  # not opened again


def test_the_request_ends_in_its_own_thread_before_its_response_is_sent(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """request_finished runs where the view ran, at once: a thread that kept PostgreSQL's
    pooled connection while idle made the other requests wait for one (30 s in the scaled rush)."""
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.lib.test_asgi_handler.RecordThread"]
    order: list[object] = []
    send_response = OneHopASGIHandler.send_response

    async def sent(self: OneHopASGIHandler, response: Any, send: Any) -> None:
        order.append("sent")
        await send_response(self, response, send)

    def finished(**_: Any) -> None:
        order.append(("finished", threading.get_ident()))

    monkeypatch.setattr(OneHopASGIHandler, "send_response", sent)
    signals.request_finished.connect(finished)
    try:
        seen.clear()
        assert call(OneHopASGIHandler(), "GET", "/healthz")[0] == 200
    finally:
        signals.request_finished.disconnect(finished)

    assert order == [("finished", seen["view"]), "sent"]


def test_no_switch_back_to_the_event_loop_within_a_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """Django's own handler hops sync -> async -> sync inside the chain (what this one saves)."""
    switches: list[object] = []
    original = AsyncToSync.__call__

    def counted(self: AsyncToSync[Any, Any], *args: Any, **kwargs: Any) -> Any:
        switches.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AsyncToSync, "__call__", counted)

    assert call(ASGIHandler(), "GET", "/healthz")[0] == 200
    assert switches  # the measured cost
    switches.clear()
    assert call(OneHopASGIHandler(), "GET", "/healthz")[0] == 200
    assert switches == []


def test_a_citizen_page_gets_its_cookie_and_a_post_without_token_is_refused() -> None:
    office = always_open_office(Organization.objects.create(slug="hopstadt", name="Hopstadt"), "amt")
    handler = OneHopASGIHandler()
    path = f"/{office.organization.slug}/{office.slug}/enter/"

    status, headers, body = call(handler, "GET", path)
    assert status == 200
    assert b"csrfmiddlewaretoken" in body
    assert headers[b"set-cookie"].startswith(b"csrftoken=")

    status, _headers, _body = call(handler, "POST", path)
    assert status == 403


def test_a_streamed_byte_range_still_streams(settings: Settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "waiting").mkdir()
    (tmp_path / "waiting" / "film.mp4").write_bytes(b"0123456789")

    status, headers, body = call(
        OneHopASGIHandler(), "GET", "/media/waiting/film.mp4", [(b"range", b"bytes=2-5")]
    )

    assert status == 206
    assert headers[b"content-range"] == b"bytes 2-5/10"
    assert body == b"2345"

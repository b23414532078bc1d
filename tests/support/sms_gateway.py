"""A local SMS gateway for tests: a real HTTP server on 127.0.0.1 that records every request.

:class:`SmsGateway` runs ``http.server.ThreadingHTTPServer`` in a thread. Each request is kept
as a :class:`GatewayRequest` (method, path, headers, raw body, with helpers for a JSON or form
body and for HTTP Basic credentials). By default it answers ``200 {"status": "queued"}``, like
the providers' APIs do; :meth:`SmsGateway.answer_next` makes it answer the next N requests with
another status (503 for an overloaded gateway, 400 for a refused number).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.support.smtp import HOST, free_port


@dataclass(frozen=True)
class GatewayRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    answered: int

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip()

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        """An ``application/x-www-form-urlencoded`` body (each field once)."""
        fields = parse_qs(self.body.decode(), keep_blank_values=True, strict_parsing=True)
        return {name: values[0] for name, values in fields.items() if len(values) == 1}

    def basic_auth(self) -> tuple[str, str] | None:
        """(user, password) of an ``Authorization: Basic …`` header, or None."""
        scheme, _, encoded = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user, password


@dataclass
class _Plan:
    statuses: list[int] = field(default_factory=list)

    def next_status(self) -> int:
        return self.statuses.pop(0) if self.statuses else 200


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    gateway: SmsGateway


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        self.server.gateway._answer(self)

    def do_GET(self) -> None:
        self.server.gateway._answer(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean


class SmsGateway:
    """An HTTP "SMS gateway" on loopback; ``url`` is where the product should post to."""

    def __init__(self, host: str = HOST, port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._requests: list[GatewayRequest] = []
        self._plan = _Plan()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/send"

    def start(self) -> None:
        if self._server is not None:
            return
        server = _Server((self.host, self.port), _Handler)
        server.gateway = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        """Close the port: connections are refused until :meth:`start`."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> SmsGateway:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- behaviour and records --------------------------------------------------------------
    def answer_next(self, status: int, count: int = 1) -> None:
        """Answer the next ``count`` requests with ``status`` (then 200 again)."""
        with self._lock:
            self._plan.statuses.extend([status] * count)

    @property
    def requests(self) -> list[GatewayRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._plan = _Plan()

    def _answer(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            status = self._plan.next_status()
            self._requests.append(
                GatewayRequest(
                    method=handler.command,
                    path=handler.path,
                    headers={name.lower(): value for name, value in handler.headers.items()},
                    body=body,
                    answered=status,
                )
            )
        if status < 400:
            reply = json.dumps({"status": "queued"}).encode()
        else:
            reply = json.dumps({"status": "error", "code": status}).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(reply)))
        handler.end_headers()
        handler.wfile.write(reply)

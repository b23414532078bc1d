"""A test-only ASGI app for the media proof: a page that loads ``static/sfu/stage.js``, and a
socket that hands its media messages to a real :class:`~buergerbuero.sfu.peer.JanusPeer`.

The event pages are the events app's; this app only proves the media layer by itself (the
product's ``Stage`` and ``JanusPeer`` against a real Janus), under a strict Content-Security-
Policy like the product's pages. It runs in the test process (uvicorn in a thread), so the
peers read the settings the test's ``janus_settings`` fixture set.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import uvicorn

from buergerbuero.sfu.peer import JanusPeer
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[3]
FILES = {
    "/static/sfu/stage.js": ROOT / "buergerbuero" / "static" / "sfu" / "stage.js",
    "/proof.js": Path(__file__).resolve().parent / "static" / "proof.js",
}
PAGE = b"""<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>Stage</title>
<script type="module" src="/proof.js"></script></head>
<body><main><h1>Stage</h1><div data-tiles></div></main></body></html>
"""

Send = Any
Receive = Any


class StageApp:
    """``/stage/?room=…&role=publisher|viewer`` and its socket ``/ws/?room=…``."""

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name
        self.peers: list[JanusPeer] = []
        self.received: list[dict[str, Any]] = []  # every browser message, for the tests
        self.sent: list[dict[str, Any]] = []  # every media event sent to a browser

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, send)
        elif scope["type"] == "websocket":
            await self.socket(scope, receive, send)

    async def http(self, scope: dict[str, Any], send: Send) -> None:
        path = scope["path"]
        headers = [
            (
                b"content-security-policy",
                b"default-src 'none'; script-src 'self'; connect-src 'self'; "
                b"media-src 'self' blob:; style-src 'self'; base-uri 'none'",
            ),
            (b"cache-control", b"no-store"),
        ]
        if path == "/stage/":
            status, body, kind = 200, PAGE, b"text/html; charset=utf-8"
        elif path in FILES:
            status, body, kind = 200, FILES[path].read_bytes(), b"text/javascript"
        else:
            status, body, kind = 404, b"", b"text/plain"
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", kind), *headers]}
        )
        await send({"type": "http.response.body", "body": body})

    async def socket(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        query = parse_qs(scope["query_string"].decode())
        room = int(query["room"][0])
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})

        async def on_event(event: dict[str, Any]) -> None:
            self.sent.append(event)
            await send({"type": "websocket.send", "text": json.dumps({"type": "media", **event})})

        peer = JanusPeer(self.server_name, room, on_event)
        self.peers.append(peer)
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                data = json.loads(message.get("text") or "{}")
                self.received.append(data)
                if data.pop("type", None) == "media":
                    await peer.handle(data)
        finally:
            await peer.close()


class StageServer:
    """The app served by uvicorn in a thread of the test process."""

    def __init__(self, server_name: str) -> None:
        self.app = StageApp(server_name)
        self.port = free_port()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the stage app did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

"""Real processes for the fault suite: a Redis of our own, a job worker, lean citizens.

The citizens are what ``static/waiting/waiting-room.js`` and ``static/realtime/socket.js`` do,
without a browser: one asyncio task per citizen, a WebSocket that applies snapshots and queue
events (position by key comparison, sequence numbers) and reconnects after a close with the
browser's backoff (0.5 s doubling up to 15 s, plus up to 0.3 s jitter).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from websockets.asyncio.client import connect
from websockets.typing import Origin

from buergerbuero.offices.models import Office
from buergerbuero.waiting.models import QueueState, Ticket, TicketStatus
from tests.support.server import ROOT, free_port, test_database_env

MAX_BACKOFF = 15.0
STOP_CODES = {4403, 4404}


def require(binary: str) -> str:
    """The path of a program the test needs; skipped without it, except on CI (must not skip)."""
    path = shutil.which(binary)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{binary} is needed by the fault suite and must be installed on CI")
        pytest.skip(f"{binary} is not installed")
    return path


class RedisServer:
    """``redis-server`` on a free port of its own (never the shared 6379), killable."""

    def __init__(self, tmp: Path) -> None:
        self.binary = require("redis-server")
        self.port = free_port()
        self.pidfile = tmp / f"redis-{self.port}.pid"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        subprocess.run(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.pidfile),
            ],
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is saved, every connection drops."""
        deadline = time.monotonic() + 5
        while not self.pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = int(self.pidfile.read_text().strip())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.pidfile.unlink(missing_ok=True)


class Worker:
    """``manage.py worker`` (the job lanes) on the test database."""

    def __init__(self, log: Path, extra_env: dict[str, str] | None = None) -> None:
        self.log = log
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, **test_database_env(), **self.extra_env}
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "worker"],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def terminate(self, timeout: float = 30) -> float:
        """SIGTERM; returns how long the worker took to stop."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        return time.monotonic() - started

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.terminate()


def waiting_tickets(office: Office, count: int) -> list[Ticket]:
    """``count`` citizens waiting in ``office`` in arrival order (written at once: entering
    through the form is tested elsewhere and would take minutes here)."""
    now = timezone.now()
    base = int(now.timestamp() * 1_000_000) * 1000
    tickets = [
        Ticket(
            office=office,
            token=f"fault-{office.pk}-{number:05d}-{random.getrandbits(64):016x}",
            display_name=f"Bürger:in {number}",
            language="de",
            mode="video",
            arrived_at=now,
            queue_key=base + number,
            last_seen_at=now,
        )
        for number in range(count)
    ]
    Ticket.objects.bulk_create(tickets, batch_size=500)
    QueueState.objects.get_or_create(office=office)
    return list(Ticket.objects.filter(office=office, status=TicketStatus.WAITING).order_by("queue_key"))


@dataclass
class Citizen:
    """One waiting-room page: its state as the page would show it."""

    port: int
    token: str
    key: list[int] = field(default_factory=list)
    seq: int | None = None
    status: str = ""
    position: int | None = None
    snapshots: int = 0
    connects: int = 0
    disconnects: int = 0
    last_message_at: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    keep: bool = False  # keep every message (for latency checks)
    stopped: bool = False
    closed_codes: list[int] = field(default_factory=list)

    def apply(self, message: dict[str, Any]) -> None:
        self.last_message_at = time.monotonic()
        if self.keep:
            self.received.append({**message, "_at": self.last_message_at})
        kind = message.get("type")
        if kind == "snapshot":
            self.snapshots += 1
            self.seq, self.status, self.position = message["seq"], message["status"], message["position"]
            self.key = list(message["key"])
            return
        if kind == "called":
            self.status, self.position = "called", None
            return
        if kind == "requeued":
            self.status = "waiting"
            return
        if "seq" not in message or self.seq is None or message["seq"] <= self.seq:
            return
        # A gap makes the page ask for a snapshot; "covers": figures-only updates merged into it.
        if message.get("covers", message["seq"]) > self.seq + 1:
            self.seq = None
            return
        self.seq = message["seq"]
        if kind == "queue" and self.position is not None and list(message["key"]) < self.key:
            self.position += 1 if message["op"] == "join" else -1

    async def run(self) -> None:
        """Connect, read, reconnect — until stopped or refused for good."""
        backoff = 0.5
        while not self.stopped:
            try:
                async with connect(
                    f"ws://127.0.0.1:{self.port}/ws/tickets/{self.token}/",
                    origin=Origin(f"http://localhost:{self.port}"),
                    compression=None,
                    proxy=None,
                    open_timeout=60,
                    ping_interval=None,
                ) as socket_:
                    self.connects += 1
                    backoff = 0.5
                    async for text in socket_:
                        message = json.loads(text)
                        self.apply(message)
                        if self.seq is None and message.get("type") != "snapshot":
                            await socket_.send('{"type":"resync"}')
                code = socket_.close_code
            except asyncio.CancelledError:
                raise
            except Exception:
                code = None
            self.disconnects += 1
            if code is not None:
                self.closed_codes.append(code)
            if self.stopped or code in STOP_CODES:
                return
            await asyncio.sleep(backoff + random.random() * 0.3)  # noqa: S311
            backoff = min(backoff * 2, MAX_BACKOFF)


def truth(office: Office) -> dict[str, tuple[str, int | None]]:
    """What each citizen's page must show now: status and position, from the database (call
    it in a thread of its own: ``asyncio.to_thread``; its connection is closed after)."""
    try:
        return _truth(office)
    finally:
        connection.close()


def _truth(office: Office) -> dict[str, tuple[str, int | None]]:
    tickets = list(
        Ticket.objects.filter(office=office)
        .order_by("-priority", "queue_key", "pk")
        .values_list("token", "status")
    )
    shown: dict[str, tuple[str, int | None]] = {}
    position = 0
    for token, status in tickets:
        if status == TicketStatus.WAITING:
            position += 1
            shown[token] = (status, position)
        else:
            shown[token] = (status, None)
    return shown


def behind(citizens: list[Citizen], expected: dict[str, tuple[str, int | None]]) -> list[Citizen]:
    return [c for c in citizens if (c.status, c.position) != expected[c.token]]


async def until(check: Callable[[], bool], timeout: float, every: float = 0.1) -> float:
    """Wait until ``check()`` (in-memory, quick) is true; the seconds it took, or TimeoutError."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not within {timeout:.0f} s")
        await asyncio.sleep(every)
    return time.monotonic() - started

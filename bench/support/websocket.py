"""The lean WebSocket load client: many sockets per process, so that it is not the bottleneck.

``asyncio.Protocol`` objects with a minimal WebSocket handshake and frame parser (no task per
socket, no queue), on uvloop when installed, in client processes (``ClientPool``) that obey
commands over a pipe: connect, storm (drop all and reconnect), wait for a message, collect.
A socket answers the servers' pings and nothing else; it records when each ``queue`` message
(by its ``seq``) and its ``called`` event arrive, and counts as open once its ``snapshot`` came.
Sockets belong to one of two groups, ``BASELINE`` and ``PRODUCT``, measured in turns.
"""

from __future__ import annotations

import array
import asyncio
import base64
import contextlib
import gc
import multiprocessing as mp
import os
import re
import resource
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, cast

from bench.support.processes import raise_fd_limit

SEQ = re.compile(rb'"seq":(\d+)')
QUEUE_PREFIX = b'{"type":"queue"'
CALLED_PREFIX = b'{"type":"called"'
SNAPSHOT_PREFIX = b'{"type":"snapshot"'


def _masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask); only used for pongs and the close frame."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


class _Socket(asyncio.Protocol):
    """One WebSocket: handshake, then frames parsed in ``data_received``; no task, no queue."""

    __slots__ = (
        *("buffer", "done", "fragments", "group", "idx", "ready", "request", "spec", "transport"),
        *("upgraded", "worker"),
    )

    def __init__(
        self, worker: _ClientWorker, spec: ClientSpec, request: bytes, done: asyncio.Future[bool]
    ) -> None:
        self.worker = worker
        self.spec = spec
        self.idx = spec.idx
        self.group = spec.group
        self.request = request
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.fragments = b""
        self.upgraded = False
        self.ready = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no asyncio.Transport
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.ready:
            self.worker.open_sockets[self.group] -= 1
            self.worker.lost[self.group] += 1
        if not self.done.done():
            self.done.set_result(False)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buf = self.buffer + data if self.buffer else data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.close()
                return
            self.upgraded = True
            buf = buf[end + 4 :]
        pos, size = 0, len(buf)
        while size - pos >= 2:
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            end = pos + head + length
            if end > size:
                break
            self._frame(buf[pos], buf[pos + head : end], now)
            pos = end
        self.buffer = buf[pos:] if pos < size else b""

    def _frame(self, first: int, payload: bytes, now: float) -> None:
        opcode, fin = first & 0x0F, first & 0x80
        if opcode == 0x1 or opcode == 0x0:  # text, or a continuation of one
            if opcode == 0x0 or not fin:
                self.fragments += payload
                if not fin:
                    return
                payload, self.fragments = self.fragments, b""
            self._text(payload, now)
        elif opcode == 0x9 and self.transport is not None:  # ping: the server closes without pong
            self.transport.write(_masked_frame(0xA, payload))
        elif opcode == 0x8:
            self.close()

    def _text(self, payload: bytes, now: float) -> None:
        worker = self.worker
        if payload.startswith(QUEUE_PREFIX):
            match = SEQ.search(payload)
            if match is not None:
                worker.record(int(match.group(1)), now)
        elif payload.startswith(CALLED_PREFIX):
            worker.called.append((self.idx, now))
        elif payload.startswith(SNAPSHOT_PREFIX) and not self.ready:
            self.ready = True
            worker.open_sockets[self.group] += 1
            if not self.done.done():
                self.done.set_result(True)
        else:
            worker.other += 1

    def close(self) -> None:
        if self.transport is not None:
            with contextlib.suppress(Exception):
                self.transport.write(_masked_frame(0x8, (1000).to_bytes(2, "big")))
            self.transport.close()


BASELINE, PRODUCT = 0, 1  # the two groups of sockets, measured in turns
BASELINE_SEQ = 1_000_000_000  # the baseline's sequence numbers: apart from the product's


@dataclass(frozen=True)
class ClientSpec:
    idx: int
    port: int
    path: str
    group: int


class _ClientWorker:
    """Owns some of the sockets; obeys commands from the bench process over a pipe."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sockets: list[_Socket] = []
        self.receipts: dict[int, array.array[float]] = {}
        self.called: list[tuple[int, float]] = []
        self.other = 0
        self.open_sockets = [0, 0]  # per group
        self.lost = [0, 0]
        self.stopped: asyncio.Future[None] | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def record(self, seq: int, now: float) -> None:
        times = self.receipts.get(seq)
        if times is None:
            times = self.receipts[seq] = array.array("d")
        times.append(now)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.stopped = loop.create_future()
        loop.add_reader(self.conn.fileno(), self._on_command)
        await self.stopped

    def _on_command(self) -> None:
        # The loop may have made the pipe non-blocking; a large command (or reply) would then
        # fail half-way with EAGAIN.
        os.set_blocking(self.conn.fileno(), True)
        try:
            command = self.conn.recv()
        except (EOFError, OSError):  # the bench process is gone
            command = ("stop",)
        name = command[0]
        if name == "stop":
            asyncio.get_running_loop().remove_reader(self.conn.fileno())
            self._close_all()
            if self.stopped is not None and not self.stopped.done():
                self.stopped.set_result(None)
            return
        if name == "connect":
            coroutine = self._connect(*command[1:])
        elif name == "storm":
            coroutine = self._storm(*command[1:])
        elif name == "wait":
            coroutine = self._wait(*command[1:])
        else:
            coroutine = self._collect()
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _connect(self, host: str, specs: Sequence[ClientSpec], inflight: int, timeout: float) -> None:
        ok, failed, seconds = await self._open(host, specs, inflight, timeout)
        # Nothing but receipts from here on: no collector pauses in the measured part.
        gc.collect()
        gc.freeze()
        gc.disable()
        self.conn.send(("connected", ok, failed, seconds))

    async def _storm(self, host: str, group: int, inflight: int, timeout: float) -> None:
        """Drop every socket of the group at once, reconnect them all: until each has its
        snapshot again (a deploy or crash of the servers, as the clients see it)."""
        dropped = [sock for sock in self.sockets if sock.group == group]
        self.sockets = [sock for sock in self.sockets if sock.group != group]
        for sock in dropped:
            if sock.ready:
                sock.ready = False  # not "lost": we dropped it
                self.open_sockets[group] -= 1
            if sock.transport is not None:
                sock.transport.abort()  # at once, no closing handshake (as a crash looks)
        ok, failed, seconds = await self._open(host, [sock.spec for sock in dropped], inflight, timeout)
        self.conn.send(("stormed", ok, failed, seconds))

    async def _open(
        self, host: str, specs: Sequence[ClientSpec], inflight: int, timeout: float
    ) -> tuple[int, int, float]:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        pending = iter(specs)
        ok = failed = 0

        async def one(spec: ClientSpec) -> bool:
            key = base64.b64encode(os.urandom(16)).decode()
            request = (
                f"GET {spec.path} HTTP/1.1\r\nHost: localhost:{spec.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://localhost:{spec.port}\r\nUser-Agent: bench\r\n\r\n"
            ).encode()
            done: asyncio.Future[bool] = loop.create_future()
            sock = _Socket(self, spec, request, done)
            try:
                await asyncio.wait_for(loop.create_connection(lambda: sock, host, spec.port), timeout)
                self.sockets.append(sock)
                return await asyncio.wait_for(done, timeout)
            except (OSError, TimeoutError):
                sock.close()
                return False

        async def lane() -> None:
            nonlocal ok, failed
            for spec in pending:
                if await one(spec):
                    ok += 1
                else:
                    failed += 1

        await asyncio.gather(*(lane() for _ in range(inflight)))
        return ok, failed, time.monotonic() - started

    async def _wait(self, seq: int, group: int, called_idx: int, timeout: float) -> None:
        """Until every open socket of the group has the message ``seq`` (and ``called_idx``,
        a socket of the group, its call)."""
        deadline = time.monotonic() + timeout
        owns_called = called_idx >= 0 and any(s.idx == called_idx and s.group == group for s in self.sockets)

        def complete() -> bool:
            got = len(self.receipts.get(seq, ()))
            return got >= self.open_sockets[group] and (
                not owns_called or any(idx == called_idx for idx, _ in self.called)
            )

        while not complete() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        self.conn.send(("waited", len(self.receipts.get(seq, ())), self.open_sockets[group]))

    async def _collect(self) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.conn.send(
            (
                "collected",
                dict(self.receipts),
                list(self.called),
                self.other,
                list(self.open_sockets),
                list(self.lost),
                usage.ru_utime + usage.ru_stime,
            )
        )
        self._close_all()

    def _close_all(self) -> None:
        for sock in self.sockets:
            sock.ready = False  # its connection_lost comes later and must not count any more
            sock.close()
        self.sockets = []
        self.receipts = {}
        self.called = []
        self.other = 0
        self.open_sockets, self.lost = [0, 0], [0, 0]
        gc.enable()
        gc.unfreeze()


def _client_process(conn: Connection) -> None:
    """Entry point of a client process (spawned)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the bench process stops us
    raise_fd_limit(0)
    worker = _ClientWorker(conn)
    try:
        import uvloop

        uvloop.run(worker.run())
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        asyncio.run(worker.run())


class ClientPool:
    """The client processes, seen from the bench process."""

    def __init__(self, processes: int) -> None:
        context = mp.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs: list[BaseProcess] = []
        for _ in range(processes):
            parent, child = context.Pipe()
            proc = context.Process(target=_client_process, args=(child,), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid is not None]

    def _ask(self, command: tuple[Any, ...] | list[tuple[Any, ...]]) -> list[Any]:
        commands = command if isinstance(command, list) else [command] * len(self.conns)
        for conn, cmd in zip(self.conns, commands, strict=True):
            conn.send(cmd)
        try:
            return [conn.recv() for conn in self.conns]
        except (EOFError, OSError) as lost:
            time.sleep(0.5)
            codes = [proc.exitcode for proc in self.procs]
            raise RuntimeError(f"a client process died (exit codes {codes})") from lost

    def connect(self, specs: Sequence[ClientSpec], inflight: int, timeout: float) -> tuple[int, int, float]:
        share = [list(specs[i :: len(self.conns)]) for i in range(len(self.conns))]
        replies = self._ask([("connect", "127.0.0.1", part, inflight, timeout) for part in share])
        return sum(r[1] for r in replies), sum(r[2] for r in replies), max(r[3] for r in replies)

    def storm(self, group: int, inflight: int, timeout: float) -> tuple[int, int, float]:
        replies = self._ask(("storm", "127.0.0.1", group, inflight, timeout))
        return sum(r[1] for r in replies), sum(r[2] for r in replies), max(r[3] for r in replies)

    def wait(self, seq: int, group: int, called_idx: int, timeout: float) -> tuple[int, int]:
        replies = self._ask(("wait", seq, group, called_idx, timeout))
        return sum(r[1] for r in replies), sum(r[2] for r in replies)

    def collect(self) -> Collected:
        result = Collected()
        for reply in self._ask(("collect",)):
            _, receipts, called, other, open_sockets, lost, cpu = reply
            for seq, times in receipts.items():
                result.receipts.setdefault(seq, []).extend(times)
            result.called.extend(called)
            result.other += other
            for group in (BASELINE, PRODUCT):
                result.open_sockets[group] += open_sockets[group]
                result.lost[group] += lost[group]
            result.cpu_seconds += cpu
        return result

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(Exception):
                conn.send(("stop",))
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        for conn in self.conns:
            conn.close()


@dataclass
class Collected:
    receipts: dict[int, list[float]] = field(default_factory=dict)
    called: list[tuple[int, float]] = field(default_factory=list)
    other: int = 0
    open_sockets: list[int] = field(default_factory=lambda: [0, 0])
    lost: list[int] = field(default_factory=lambda: [0, 0])
    cpu_seconds: float = 0.0

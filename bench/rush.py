"""Benchmark of a morning rush: many citizens entering one office at once.

Each simulated citizen has its own client address (the join limit counts per address): the
server trusts ``X-Forwarded-For`` from 127.0.0.1 (``FORWARDED_ALLOW_IPS``' default), so every
request carries a distinct made-up address from 10.0.0.0/8 in that header. A citizen GETs the
enter form on a fresh keep-alive connection (no cookies), then POSTs it with the CSRF token and
cookie of that response and expects the redirect to its waiting room. ``--citizens`` such joins
run ``--concurrency`` at a time against a real server (``manage.py serve``):

* ``embedded``: SQLite in a temporary directory, one server process (jobs inside it).
* ``scaled``: PostgreSQL (database ``--database``, created and dropped) and Redis (prefix
  ``--redis-prefix``), ``--workers`` web workers behind one port and a separate job worker.

In the same run, before and after the rush, the floor: the same number of "citizens" GETting a
trivial view (``/healthz``, one ``SELECT 1`` through the whole middleware stack) twice on one
connection, at the same concurrency. Latency of a join: from the GET's first byte sent to the
POST's response read. Output: human-readable lines, then one JSON object as the last line.

    cd /work/main && .venv/bin/python bench/rush.py [--mode embedded|scaled] [--citizens 500]
        [--concurrency 50] [--workers 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the project importable (not only this folder)
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import contextlib
import os
import re
import subprocess
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent

from bench.support import cli  # noqa: E402
from bench.support.environment import BenchEnvironment, postgres_url  # noqa: E402
from bench.support.processes import cpu_seconds, stop_process, with_children  # noqa: E402
from bench.support.report import run_and_report, say, with_all  # noqa: E402
from bench.support.scene import open_office  # noqa: E402
from bench.support.servers import AsgiServer, start_servers, stop_servers  # noqa: E402
from bench.support.stats import ms_percentile, percentile  # noqa: E402

TARGET_JOINS_PER_S = 60.0
TARGET_P95_S = 1.0
CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
SERVICE_INPUT = re.compile(rb'name="service" value="(\d+)"')
CSRF_COOKIE = re.compile(r"csrftoken=([^;]+)")


class HttpError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection, just enough for Django's answers (Content-Length)."""

    def __init__(self, port: int, address: str) -> None:
        self.port = port
        self.address = address
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        assert self.reader is not None  # noqa: S101
        assert self.writer is not None  # noqa: S101
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: localhost:{self.port}",
            f"X-Forwarded-For: {self.address}",
            "Accept-Language: de",
            f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
        ]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        received: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                name = name.strip().lower()
                received[name] = f"{received[name]}, {value.strip()}" if name in received else value.strip()
        length = int(received.get("content-length", "0"))
        content = await self.reader.readexactly(length) if length else b""
        return status, received, content


def _address(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


async def _join(port: int, path: str, i: int) -> float:
    """GET the enter form, POST it; the seconds it took (raises unless the citizen got in)."""
    started = time.perf_counter()
    async with Connection(port, _address(i)) as conn:
        status, headers, body = await conn.request("GET", path)
        if status != 200:
            raise HttpError(f"GET {status}: {body[:300]!r}")
        token = CSRF_INPUT.search(body)
        cookie = CSRF_COOKIE.search(headers.get("set-cookie", ""))
        if token is None or cookie is None:
            raise HttpError("the enter form has no CSRF token")
        form = {"csrfmiddlewaretoken": token.group(1).decode(), "display_name": f"Bürger {i}"}
        form |= {"language": "de", "mode": "video"}
        service = SERVICE_INPUT.search(body)
        if service is not None:
            form["service"] = service.group(1).decode()
        status, headers, body = await conn.request(
            "POST",
            path,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={cookie.group(1)}",
                "Origin": f"http://localhost:{port}",
                "Referer": f"http://localhost:{port}{path}",
            },
            urlencode(form).encode(),
        )
        if status != 302 or "/w/" not in headers.get("location", ""):
            raise HttpError(f"POST {status} {headers.get('location')}: {body[:300]!r}")
    return time.perf_counter() - started


async def _floor(port: int, i: int) -> float:
    started = time.perf_counter()
    async with Connection(port, _address(i)) as conn:
        for _ in range(2):
            status, _headers, body = await conn.request("GET", "/healthz")
            if status != 200:
                raise HttpError(f"healthz {status}: {body[:200]!r}")
    return time.perf_counter() - started


async def _run(count: int, concurrency: int, one: Any, offset: int) -> tuple[list[float], int, float, str]:
    """``count`` calls of ``one`` (each its own address), ``concurrency`` at a time."""
    latencies: list[float] = []
    errors: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(offset + i)

    async def lane() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            try:
                latencies.append(await one(i))
            except (HttpError, OSError, asyncio.IncompleteReadError) as error:
                errors.append(str(error))

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    return sorted(latencies), len(errors), wall, errors[0] if errors else ""


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        scaled = args.mode == "scaled"
        self.environment = BenchEnvironment(
            "rush",
            database_url=postgres_url(args.database) if scaled else None,
            redis_url=args.redis_url if scaled else None,
            redis_prefix=args.redis_prefix,
            keep=args.keep_logs,
        )
        self.servers: list[AsgiServer] = []
        self.worker: subprocess.Popen[bytes] | None = None
        self.say = say

    def configure(self) -> None:
        # Scaled: the jobs run in a worker process of their own, as in production.
        self.environment.setup(**({"JOBS_IN_WEB_PROCESS": "false"} if self.args.mode == "scaled" else {}))

    def prepare(self) -> str:
        """An office open all day today and tomorrow, with three services and room for all."""
        from buergerbuero.offices.models import Service

        self.environment.migrate()
        office = open_office(
            "auslaenderbehoerde", "Ausländerbehörde", seats=4, waiting_room_limit=self.args.citizens + 1000
        )
        names = ("Aufenthaltstitel", "Verpflichtungserklärung", "Fiktionsbescheinigung")
        for position, name in enumerate(names):
            Service.objects.create(office=office, name=name, position=position, slot_minutes=15)
        return f"/{office.organization.slug}/{office.slug}/enter/"

    def start(self) -> tuple[int, list[int]]:
        env, logs = self.environment.env, self.environment.tmp
        workers = ["--workers", str(self.args.workers)] if self.args.mode == "scaled" else []
        self.servers = start_servers(1, env, logs, serve_args=workers)
        if self.args.mode == "scaled":
            with (logs / "worker.log").open("ab") as out:
                self.worker = subprocess.Popen(
                    [sys.executable, "manage.py", "worker"],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        time.sleep(1.0)  # every worker up
        pids = [server.pid for server in self.servers] + ([self.worker.pid] if self.worker else [])
        return self.servers[0].port, with_children(pids)

    def run(self, path: str) -> dict[str, Any]:
        port, pids = self.start()
        n, c = self.args.citizens, self.args.concurrency
        # Warm-up: every worker imports, compiles its templates and opens its connections.
        asyncio.run(_run(2 * c, c, lambda i: _floor(port, i), 1 << 20))
        asyncio.run(_run(c, c, lambda i: _join(port, path, i), 2 << 20))
        floor_a = asyncio.run(_run(n, c, lambda i: _floor(port, i), 3 << 20))
        cpu = cpu_seconds(pids)
        lat, errors, wall, first_error = asyncio.run(_run(n, c, lambda i: _join(port, path, i), 0))
        cpu = cpu_seconds(pids) - cpu
        floor_b = asyncio.run(_run(n, c, lambda i: _floor(port, i), 4 << 20))
        floor_lat = sorted(floor_a[0] + floor_b[0])
        floor_rate = (len(floor_a[0]) + len(floor_b[0])) / (floor_a[2] + floor_b[2])

        ms = ms_percentile
        rate = len(lat) / wall
        self.say(
            f"{self.args.mode}: {len(lat)} joins ({errors} failed) in {wall:.1f}s = {rate:.1f} joins/s; "
            f"p50 {ms(lat, 0.5)} / p95 {ms(lat, 0.95)} / p99 {ms(lat, 0.99)} ms; "
            f"server CPU {1000 * cpu / max(1, len(lat)):.1f} ms per join (GET + POST)"
        )
        if first_error:
            self.say(f"  first error: {first_error}")
        self.say(
            f"floor (2 × GET /healthz per citizen): {floor_rate:.1f} citizens/s; p50 {ms(floor_lat, 0.5)} / "
            f"p95 {ms(floor_lat, 0.95)} / p99 {ms(floor_lat, 0.99)} ms"
        )
        p95 = percentile(lat, 0.95)
        targets = {
            "joins_per_s_ge_60": rate >= TARGET_JOINS_PER_S,
            "p95_le_1s": p95 <= TARGET_P95_S,
            "no_failed_joins": errors == 0,
        }
        return {
            "mode": self.args.mode,
            "workers": self.args.workers if self.args.mode == "scaled" else 1,
            "citizens": n,
            "concurrency": c,
            "joins": len(lat),
            "failed": errors,
            "joins_per_s": round(rate, 1),
            "p50_ms": ms(lat, 0.5),
            "p95_ms": ms(lat, 0.95),
            "p99_ms": ms(lat, 0.99),
            "server_cpu_ms_per_join": round(1000 * cpu / max(1, len(lat)), 1),
            "floor_per_s": round(floor_rate, 1),
            "floor_p50_ms": ms(floor_lat, 0.5),
            "floor_p95_ms": ms(floor_lat, 0.95),
            "floor_p99_ms": ms(floor_lat, 0.99),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "targets_met": with_all(targets),
        }

    def cleanup(self) -> None:
        stop_servers(self.servers)
        if self.worker is not None:
            with contextlib.suppress(Exception):
                stop_process(self.worker)
        if self.args.keep_logs:
            self.say(f"logs kept in {self.environment.tmp}")
        self.environment.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.parser(__doc__)
    cli.add_mode(parser)
    parser.add_argument("--citizens", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="web workers in the scaled mode")
    parser.add_argument("--database", default="bench_rush", help="PostgreSQL database (dropped after)")
    cli.add_redis(parser)
    parser.add_argument("--redis-prefix", default="bench-rush", help="Redis key prefix (scaled)")
    cli.add_keep_logs(parser)
    args = parser.parse_args(argv)
    bench = Bench(args)

    def measure() -> dict[str, Any]:
        bench.configure()
        return bench.run(bench.prepare())

    return run_and_report(measure, bench.cleanup)


if __name__ == "__main__":
    sys.exit(main())

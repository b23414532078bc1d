"""Our server processes for a bench: ``tests/support/server.py``'s ``AsgiServer`` (the tests'
way to start and stop ``manage.py serve``) on the bench's own environment, in parallel."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.server import AsgiServer, free_port

__all__ = ["AsgiServer", "free_port", "running_servers", "start_servers", "stop_servers"]


def start_servers(
    count: int,
    env: dict[str, str],
    logs: Path,
    *,
    serve_args: Sequence[str] = (),
    timeout: float = 90,
) -> list[AsgiServer]:
    """``count`` servers on free ports, started at once; each logs to ``logs/server-<i>.log``.
    In sessions of their own: Ctrl-C reaches the bench, which stops them."""
    servers = [
        AsgiServer(env=env, log_path=logs / f"server-{i}.log", serve_args=serve_args, own_session=True)
        for i in range(count)
    ]
    try:
        with ThreadPoolExecutor(max_workers=count) as pool:
            list(pool.map(lambda server: server.start(timeout=timeout), servers))
    except BaseException:
        stop_servers(servers)
        raise
    return servers


def stop_servers(servers: Sequence[AsgiServer]) -> None:
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()


@contextlib.contextmanager
def running_servers(
    count: int, env: dict[str, str], logs: Path, *, serve_args: Sequence[str] = ()
) -> Iterator[list[AsgiServer]]:
    servers = start_servers(count, env, logs, serve_args=serve_args)
    try:
        yield servers
    finally:
        stop_servers(servers)

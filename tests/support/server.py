"""The real ASGI app in a subprocess, on a free port, against the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_database_env() -> dict[str, str]:
    """Environment that points a server process at the database the tests use right now."""
    database = connection.settings_dict
    env = {}
    if database["ENGINE"] == "django.db.backends.sqlite3":
        env["SQLITE_PATH"] = str(database["NAME"])
    else:
        user = database["USER"] or "postgres"
        env["DATABASE_URL"] = (
            f"postgres://{user}@{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}"
        )
    return env


class AsgiServer:
    """Start, stop and restart ``manage.py serve`` like an operator would."""

    def __init__(
        self,
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
        *,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        serve_args: Sequence[str] = (),
        own_session: bool = False,
    ) -> None:
        """``env``: the whole environment of the process (the benches prepare their own
        database) instead of this one pointed at the test database; ``serve_args``: more
        options of ``manage.py serve`` (e.g. ``--workers``); ``own_session``: Ctrl-C in the
        terminal reaches only the caller, which stops the server itself."""
        self.port = port or free_port()
        self.extra_env = extra_env or {}
        self.env = env
        self.serve_args = list(serve_args)
        self.own_session = own_session
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = log_path or Path(settings.VAR_DIR) / f"test-server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def start(self, timeout: float = 30) -> None:
        base = self.env if self.env is not None else {**os.environ, **test_database_env()}
        env = {**base, **self.extra_env}
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(self.port)),
                    *self.serve_args,
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self.own_session,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"server exited early; see {self.log_path}:\n{tail}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise RuntimeError(f"server did not answer within {timeout}s; see {self.log_path}")

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the server is not running")
        return self.process.pid

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

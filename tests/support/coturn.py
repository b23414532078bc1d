"""A real TURN relay for the tests and the call-setup bench: Debian's coturn on loopback ports.

``Coturn`` renders the project's config (``config/coturn/turnserver.conf.template``) into a
temporary directory with free loopback ports (the listening port and a small relay range) and a
fresh shared secret, starts ``turnserver -c <file>``, waits until it answers a STUN binding
request, and stops it again. Use it as a context manager, or call ``start()``/``stop()`` from a
fixture::

    with Coturn() as turn:
        env = turn.server_env()  # TURN_URLS and TURN_SECRET for our server

To take the relay away and bring it back where it was (a network outage for the calls through
it), ``stop(keep_files=True)`` and then ``restart()``: same ports, same secret.

``require_turnserver()`` is for pytest: without ``turnserver`` a test fails in CI (``CI=true``:
`make test` installs coturn, so a missing one is a broken machine) and is skipped locally.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "config" / "coturn" / "turnserver.conf.template"
TURNSERVER = os.environ.get("TURNSERVER_PATH", "/usr/bin/turnserver")
HOST = "127.0.0.1"
RELAY_PORTS = 16  # a two-party call needs a few; each allocation takes one

STUN_MAGIC_COOKIE = 0x2112A442
STUN_BINDING_REQUEST = 0x0001
STUN_BINDING_SUCCESS = 0x0101


def turnserver_path() -> str | None:
    if os.path.exists(TURNSERVER):
        return TURNSERVER
    return shutil.which("turnserver")


def require_turnserver() -> str:
    """The turnserver binary, or end the test: FAIL in CI, skip locally."""
    import pytest

    found = turnserver_path()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"coturn missing at {TURNSERVER}; `make test` installs it (make system-deps)")
        pytest.skip(f"coturn not installed ({TURNSERVER} missing; `make system-deps` installs it)")
    return found


def _udp_and_tcp_free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                return False
    return True


def free_port_range(count: int, low: int = 20000, high: int = 60000) -> int:
    """The first of ``count`` consecutive ports free for UDP and TCP on loopback."""
    for _attempt in range(200):
        first = low + secrets.randbelow(high - low - count)
        if all(_udp_and_tcp_free(port) for port in range(first, first + count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports on {HOST}")


def stun_binding_answered(port: int, timeout: float = 0.2) -> bool:
    """Whether a STUN server on ``HOST:port`` answers a binding request (RFC 5389) over UDP."""
    transaction = secrets.token_bytes(12)
    request = struct.pack("!HHI", STUN_BINDING_REQUEST, 0, STUN_MAGIC_COOKIE) + transaction
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(timeout)
        try:
            probe.sendto(request, (HOST, port))
            answer, _address = probe.recvfrom(2048)
        except OSError:  # timeout, or ICMP "port unreachable" before it listens
            return False
    if len(answer) < 20:
        return False
    kind, _length, cookie = struct.unpack("!HHI", answer[:8])
    return kind == STUN_BINDING_SUCCESS and cookie == STUN_MAGIC_COOKIE and answer[8:20] == transaction


class Coturn:
    """One coturn process on loopback, with its own config, secret, log and ports."""

    def __init__(self, *, realm: str = "buergerbuero.test", secret: str | None = None) -> None:
        self.realm = realm
        self.secret = secret or secrets.token_urlsafe(32)
        self.binary = turnserver_path() or TURNSERVER
        self.directory: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.min_port = 0
        self.max_port = 0

    # --- paths ----------------------------------------------------------------------------
    def _path(self, name: str) -> Path:
        if self.directory is None:
            raise RuntimeError("coturn is not started")
        return self.directory / name

    @property
    def config_path(self) -> Path:
        return self._path("turnserver.conf")

    @property
    def log_path(self) -> Path:
        return self._path("turnserver.log")

    @property
    def output_path(self) -> Path:
        return self._path("turnserver.out")

    # --- what clients need ------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The TURN URL a browser uses (UDP to coturn, relayed candidates on loopback)."""
        return f"turn:{HOST}:{self.port}?transport=udp"

    def server_env(self) -> dict[str, str]:
        """Environment for our server: hand out credentials for this relay."""
        return {"TURN_URLS": self.url, "TURN_SECRET": self.secret}

    def log(self) -> str:
        """Everything coturn logged so far (its log file and its own output)."""
        text = ""
        for path in (self.log_path, self.output_path):
            if path.exists():
                text += path.read_text(encoding="utf-8", errors="replace")
        return text

    # --- life cycle ------------------------------------------------------------------------
    def render(self) -> str:
        return TEMPLATE.read_text(encoding="utf-8").format(
            listening_port=self.port,
            min_port=self.min_port,
            max_port=self.max_port,
            secret=self.secret,
            realm=self.realm,
            log_file=self.log_path,
            pid_file=self._path("turnserver.pid"),
            userdb=self._path("turndb"),
        )

    def start(self, timeout: float = 15) -> None:
        if self.process is not None:
            return
        self.directory = Path(tempfile.mkdtemp(prefix="coturn-"))
        # One block: the listening port, then the relay range (no RFC 5780 alternative port).
        first = free_port_range(1 + RELAY_PORTS)
        self.port = first
        self.min_port, self.max_port = first + 1, first + RELAY_PORTS
        self.config_path.write_text(self.render(), encoding="utf-8")
        self.config_path.chmod(0o600)  # it holds the secret
        self._launch(timeout)

    def restart(self, timeout: float = 15) -> None:
        """Start coturn again with the same config: the same ports and secret, so that clients
        holding its credentials reach it where they did (their allocations are gone, though).
        For a relay that went down with ``stop(keep_files=True)``; a running one is stopped first.
        """
        if self.directory is None:
            raise RuntimeError("coturn was never started, or stopped without keep_files")
        self.stop(keep_files=True)
        self._launch(timeout)

    def _launch(self, timeout: float) -> None:
        """Run turnserver with the rendered config and wait until it answers on its port."""
        with self.output_path.open("ab") as output:  # a restart appends to the earlier output
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config_path)],
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of the test run is ours to forward
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log()
                self.stop()
                raise RuntimeError(f"turnserver exited early:\n{log[-3000:]}")
            if stun_binding_answered(self.port):
                return
            time.sleep(0.05)
        log = self.log()
        self.stop()
        raise RuntimeError(
            f"turnserver did not answer on {HOST}:{self.port} within {timeout}s:\n{log[-3000:]}"
        )

    def stop(self, keep_files: bool = False) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
        if self.directory is not None and not keep_files:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> Coturn:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

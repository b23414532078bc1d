"""One Janus process run by the product: the embedded mode's SFU and the tests' real one.

:class:`JanusProcess` renders the project's configuration (``config/janus/*.jcfg``, placeholders
filled with ``string.Template``) into a folder of its own, starts ``janus -F <folder>``, waits
until its HTTP API answers with the API secret, and stops it with SIGTERM (Janus closes its
sessions and rooms). ``manage.py serve`` runs one with the settings (``JANUS_PORT``,
``JANUS_RTP_PORTS``, …) in ``var/janus/`` when ``JANUS_SERVERS`` is unset and the binary
exists; without Janus nothing else changes and ``rooms.available()`` is False.

The rendered folder holds the secrets, so it is made readable by the owner only.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import string
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from buergerbuero.lib.var_dir import BASE_DIR

log = logging.getLogger(__name__)

TEMPLATES = BASE_DIR / "config" / "janus"
LOOPBACK = "127.0.0.1"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _end_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started Janus ends, however it
    ends (uvicorn re-raises the SIGTERM it stopped on, so no ``finally`` of ours runs then)."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def janus_binary(path: str = "/usr/bin/janus") -> str | None:
    """The Janus binary at ``path`` (or on ``PATH``), None when it is not installed."""
    if os.access(path, os.X_OK):
        return path
    return shutil.which("janus")


def parse_port_range(value: str) -> tuple[int, int]:
    """``"20000-20999"`` as (20000, 20999); nonsense is a configuration error."""
    low, separator, high = value.partition("-")
    try:
        first, last = int(low), int(high)
    except ValueError:
        first = last = 0
    if not separator or not 1024 <= first <= last <= 65535:
        from buergerbuero.lib.env import ConfigError

        raise ConfigError(f"JANUS_RTP_PORTS={value!r} is not a port range like 20000-20999")
    return first, last


class JanusProcess:
    """One ``janus`` process on ``http_ip`` with its own rendered configuration folder."""

    def __init__(
        self,
        folder: Path,
        *,
        api_secret: str,
        admin_secret: str,
        admin_key: str,
        http_port: int,
        admin_port: int,
        rtp_ports: tuple[int, int],
        ice_enforce_list: str = "",
        public_ip: str = "",
        binary: str | None = None,
        http_ip: str = LOOPBACK,
        server_name: str = "buergerbuero",
        event_loops: int | None = None,
    ) -> None:
        self.folder = folder
        self.api_secret = api_secret
        self.admin_secret = admin_secret
        self.admin_key = admin_key
        self.http_port = http_port
        self.admin_port = admin_port
        self.rtp_ports = rtp_ports
        self.ice_enforce_list = ice_enforce_list
        self.public_ip = public_ip
        self.binary = binary or janus_binary() or "/usr/bin/janus"
        self.http_ip = http_ip
        self.server_name = server_name
        # Janus's media loops: one per core of the machine the configuration is rendered on
        # (another server's is rendered there, README "Events and Janus")
        self.event_loops = event_loops or os.cpu_count() or 1
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The Janus API (what ``JANUS_SERVERS`` names)."""
        return f"http://{self.http_ip}:{self.http_port}/janus"

    @property
    def admin_url(self) -> str:
        return f"http://{self.http_ip}:{self.admin_port}/admin"

    @property
    def log_path(self) -> Path:
        return self.folder / "janus.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def log(self) -> str:
        text = ""
        for path in (self.log_path, self.folder / "janus.out"):
            if path.exists():
                text += path.read_text(encoding="utf-8", errors="replace")
        return text

    def render(self) -> None:
        """Write the configuration, secrets and ports filled in, into ``folder`` (0700)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        values = {
            "configs_folder": str(self.folder),
            "log_file": str(self.log_path),
            "pid_file": str(self.folder / "janus.pid"),
            "api_secret": self.api_secret,
            "admin_secret": self.admin_secret,
            "admin_key": self.admin_key,
            "server_name": self.server_name,
            "event_loops": str(self.event_loops),
            "rtp_min": str(self.rtp_ports[0]),
            "rtp_max": str(self.rtp_ports[1]),
            "ice_enforce_list": f'ice_enforce_list = "{self.ice_enforce_list}"'
            if self.ice_enforce_list
            else "",
            "nat_1_1": f'nat_1_1_mapping = "{self.public_ip}"' if self.public_ip else "",
            "http_ip": self.http_ip,
            "http_port": str(self.http_port),
            "admin_port": str(self.admin_port),
        }
        for template in sorted(TEMPLATES.glob("*.jcfg")):
            text = string.Template(template.read_text(encoding="utf-8")).substitute(values)
            target = self.folder / template.name
            target.write_text(text, encoding="utf-8")
            target.chmod(0o600)

    def answers(self, timeout: float = 1.0) -> bool:
        """Whether this Janus answers a request that needs its API secret."""
        return ping(self.url, self.api_secret, timeout=timeout)

    def start(self, timeout: float = 20) -> None:
        """Start Janus and wait until its API answers; RuntimeError (with its log) otherwise."""
        if self.process is not None and self.process.poll() is None:
            return
        self.render()
        self.log_path.unlink(missing_ok=True)
        with (self.folder / "janus.out").open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our binary, our arguments
                [self.binary, "-F", str(self.folder), "--disable-colors"],
                cwd=self.folder,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the server, which stops Janus itself
                preexec_fn=_end_with_parent,  # only a prctl between fork and exec
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                text = self.log()
                self.process = None
                raise RuntimeError(f"janus exited early:\n{text[-3000:]}")
            if self.answers(timeout=0.5):
                return
            time.sleep(0.1)
        text = self.log()
        self.stop()
        raise RuntimeError(f"janus did not answer on {self.url} within {timeout}s:\n{text[-3000:]}")

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (Janus ends its sessions and rooms), SIGKILL when it does not exit in time."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash would end it (for fault tests)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def __enter__(self) -> JanusProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# Janus answers "ping" and "info" without looking at the API secret. A keepalive for a session
# that cannot exist is checked against the secret first: 458 ("no such session") means the
# secret was accepted, 403 that it was not. One request, and nothing is made.
NO_SUCH_SESSION = 458
PROBE_SESSION = 1


def ping(url: str, api_secret: str, *, timeout: float) -> bool:
    """Whether the Janus API at ``url`` answers and accepts ``api_secret``."""
    try:
        response = httpx.post(
            f"{url}/{PROBE_SESSION}",
            json={"janus": "keepalive", "transaction": "probe", "apisecret": api_secret},
            timeout=timeout,
        )
        return bool(response.json()["error"]["code"] == NO_SUCH_SESSION)
    except (httpx.HTTPError, ValueError, LookupError, TypeError):
        return False


def embedded() -> JanusProcess:
    """The embedded mode's Janus as the settings describe it, rendered into ``var/janus/``."""
    from django.conf import settings

    return JanusProcess(
        Path(settings.VAR_DIR) / "janus",
        api_secret=settings.JANUS_API_SECRET,
        admin_secret=settings.JANUS_ADMIN_SECRET,
        admin_key=settings.JANUS_ADMIN_KEY,
        http_port=settings.JANUS_PORT,
        admin_port=settings.JANUS_ADMIN_PORT,
        rtp_ports=parse_port_range(settings.JANUS_RTP_PORTS),
        ice_enforce_list=settings.JANUS_ICE_INTERFACES,
        public_ip=settings.JANUS_PUBLIC_IP,
        binary=janus_binary(settings.JANUS_PATH),
    )


def start_embedded() -> JanusProcess | None:
    """Start the embedded Janus for ``manage.py serve``: None (and a log line) when
    ``JANUS_SERVERS`` names servers of their own, Janus is not installed, or it does not start —
    the product runs on, and event pages say that events need Janus."""
    from django.conf import settings

    if not settings.JANUS_EMBEDDED:
        return None
    if janus_binary(settings.JANUS_PATH) is None:
        log.warning("Janus is not installed (%s): events cannot go live", settings.JANUS_PATH)
        return None
    janus = embedded()
    if janus.answers():
        log.info("Janus already answers on %s (another serve of this installation)", janus.url)
        return None
    try:
        janus.start()
    except RuntimeError as error:
        log.warning("Janus did not start, events cannot go live: %s", str(error)[-500:])
        return None
    log.info("Janus answers on %s (log: %s)", janus.url, janus.log_path)
    return janus

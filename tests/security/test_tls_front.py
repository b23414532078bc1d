"""A real TLS front: Debian's nginx with a self-signed certificate before two server processes.

nginx runs on free loopback ports from ``examples/nginx.conf`` (the shipped example, rendered
with the test's certificate, ports and log file) and connects to the upstreams from its own
address, 127.0.0.2 (``proxy_bind``). The servers run as in production behind HTTPS:
``SECURE_COOKIES=true`` and ``FORWARDED_ALLOW_IPS=127.0.0.2`` — only nginx's connections may
say who the client is (``X-Forwarded-For``) and that it came over HTTPS (``X-Forwarded-Proto``).

Proved here: Secure cookies and HSTS over HTTPS (and plain HTTP sent to HTTPS); a staff login;
the WebSocket upgrade; requests spread over both upstreams; and that the walk-in join limit
(``JOIN_LIMIT_PER_ADDRESS``) counts the real client's address — the one nginx saw, never a
header a client made up, whether it sends it through nginx or straight to an upstream.

Clients come from distinct loopback addresses (127.0.0.3, 127.0.0.4: ``local_address``) so that
"another client" is another address, as on the internet.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import socket
import ssl
import string
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.contrib.auth.models import User
from websockets.sync.client import connect
from websockets.typing import Origin

from buergerbuero.limits import services as limits
from buergerbuero.offices.models import Office
from buergerbuero.waiting.views import JOIN_SCOPE
from tests import factories
from tests.support.live import ALWAYS_OPEN, server_password_hash
from tests.support.server import AsgiServer, free_port

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PROXY_ADDRESS = "127.0.0.2"
JOIN_LIMIT = 3
ORG, OFFICE = "tlsstadt", "meldeamt"


def require_nginx() -> None:
    """`make test` installs Debian's nginx; missing, the test fails in CI and is skipped locally."""
    if Path(NGINX).exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"nginx missing at {NGINX}; `make test` installs it")
    pytest.skip("nginx not installed (run `make test`, which installs it)")


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, valid for a day, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@dataclass
class Front:
    """nginx and its two upstreams, as the tests reach them."""

    https_port: int
    http_port: int
    upstreams: list[AsgiServer]
    tls: ssl.SSLContext
    access_log: Path

    @property
    def url(self) -> str:
        return f"https://localhost:{self.https_port}"

    def client(self, address: str = "127.0.0.3") -> httpx.Client:
        """A browser-like HTTPS client on its own loopback address, trusting the test certificate."""
        transport = httpx.HTTPTransport(verify=self.tls, local_address=address)
        return httpx.Client(base_url=self.url, transport=transport, timeout=10)


class Nginx:
    """``nginx -c <rendered config> -p <tmp>`` in the foreground, on free loopback ports."""

    def __init__(self, folder: Path, upstream_ports: list[int]) -> None:
        self.folder = folder
        self.https_port, self.http_port = free_port(), free_port()
        self.cert, self.key = self_signed_certificate(folder)
        self.access_log = folder / "access.log"
        self.error_log = folder / "error.log"
        self.process: subprocess.Popen[bytes] | None = None
        site = string.Template(EXAMPLE.read_text(encoding="utf-8")).safe_substitute(
            BB_SERVER_NAME="localhost",
            BB_HTTP_LISTEN=f"127.0.0.1:{self.http_port}",
            BB_LISTEN=f"127.0.0.1:{self.https_port}",
            BB_CERTIFICATE=str(self.cert),
            BB_CERTIFICATE_KEY=str(self.key),
            BB_UPSTREAMS=" ".join(f"server 127.0.0.1:{port};" for port in upstream_ports),
            BB_MAX_BODY="41m",
            BB_ACCESS_LOG=str(self.access_log),
        )
        unfilled = [
            line for line in site.splitlines() if "${BB_" in line and not line.lstrip().startswith("#")
        ]
        assert unfilled == [], "placeholders of examples/nginx.conf without a value in the test"
        (folder / "buergerbuero.conf").write_text(site, encoding="utf-8")
        # Running as root, nginx's workers would switch to "nobody", who cannot write here.
        user = "user root;" if os.geteuid() == 0 else ""
        temp = " ".join(
            f"{kind}_temp_path {folder / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (folder / "nginx.conf").write_text(
            f"""{user}
daemon off;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {self.error_log} warn;
events {{ worker_connections 256; }}
http {{
    {temp}
    # The upstreams trust this address only (FORWARDED_ALLOW_IPS).
    proxy_bind {PROXY_ADDRESS};
    include {folder / "buergerbuero.conf"};
}}
""",
            encoding="utf-8",
        )

    def start(self, timeout: float = 15) -> None:
        conf = str(self.folder / "nginx.conf")
        command = [NGINX, "-c", conf, "-p", str(self.folder), "-e", str(self.error_log)]
        check = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.error_log.read_text(encoding='utf-8')}")
            try:
                with socket.create_connection(("127.0.0.1", self.https_port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not listen in time")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="module")
def front(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Front]:
    require_nginx()
    env = {
        "SECURE_COOKIES": "true",
        "FORWARDED_ALLOW_IPS": PROXY_ADDRESS,
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "JOIN_LIMIT_PER_ADDRESS": str(JOIN_LIMIT),
    }
    upstreams = [AsgiServer(extra_env=env), AsgiServer(extra_env=env)]
    nginx = Nginx(tmp_path_factory.mktemp("nginx"), [server.port for server in upstreams])
    try:
        for server in upstreams:
            server.start()
        nginx.start()
        tls = ssl.create_default_context(cafile=str(nginx.cert))
        yield Front(nginx.https_port, nginx.http_port, upstreams, tls, nginx.access_log)
    finally:
        nginx.stop()
        for server in upstreams:
            server.stop()


@pytest.fixture
def town() -> Office:
    organization = factories.make_org(ORG, state="BY", name="Stadt TLS")
    return factories.make_office(organization, OFFICE, hours=ALWAYS_OPEN, name="Meldeamt")


@pytest.fixture
def agent(town: Office) -> User:
    user = factories.make_staff(town.organization, "tls.agent", offices=[town])
    user.password = server_password_hash()
    user.save()
    return user


def csrf_token(client: httpx.Client) -> str:
    """The CSRF cookie a form page sets (and that the client sends back from now on)."""
    client.get("/staff/login/").raise_for_status()
    return str(client.cookies["csrftoken"])


# --- cookies, HSTS, one policy ---------------------------------------------------------------------
def test_https_through_the_proxy_gets_secure_cookies_hsts_and_one_policy(front: Front, town: Office) -> None:
    with front.client() as client:
        response = client.get("/staff/login/")

    assert response.status_code == 200
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    csrf_cookie = next(
        value for value in response.headers.get_list("set-cookie") if value.startswith("csrftoken=")
    )
    assert "; Secure" in csrf_cookie
    assert "SameSite=None" in csrf_cookie
    assert len(response.headers.get_list("content-security-policy")) == 1
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]


def test_plain_http_to_the_proxy_is_sent_to_https(front: Front) -> None:
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3")) as client:
        response = client.get(f"http://localhost:{front.http_port}/tlsstadt/?x=1")

    assert response.status_code == 301
    assert response.headers["location"] == "https://localhost/tlsstadt/?x=1"


def test_a_client_reaching_an_upstream_directly_cannot_claim_https(front: Front, town: Office) -> None:
    upstream = front.upstreams[0]
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.1")) as client:
        response = client.get(f"{upstream.url}/staff/login/", headers={"X-Forwarded-Proto": "https"})

    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers  # the scheme stayed http


def test_a_staff_member_logs_in_through_the_proxy(front: Front, agent: User) -> None:
    with front.client() as client:
        token = csrf_token(client)
        login = client.post(
            "/staff/login/",
            data={"username": "tls.agent", "password": factories.PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Origin": front.url, "Referer": f"{front.url}/staff/login/"},
        )
        assert login.status_code == 302, login.text[:500]
        assert login.headers["location"].endswith("/staff/")
        session_cookie = next(
            value for value in login.headers.get_list("set-cookie") if value.startswith("sessionid=")
        )
        assert "; Secure" in session_cookie
        assert "; HttpOnly" in session_cookie
        home = client.get("/staff/")

    assert home.status_code == 200
    assert "Meldeamt" in home.text


# --- WebSockets and the two upstreams --------------------------------------------------------------
def test_the_directory_socket_upgrades_through_the_proxy(front: Front, town: Office) -> None:
    with connect(
        f"wss://localhost:{front.https_port}/ws/{ORG}/status/",
        ssl=front.tls,
        origin=Origin(front.url),
        open_timeout=10,
    ) as socket_:
        snapshot = json.loads(socket_.recv(timeout=10))

    assert OFFICE in json.dumps(snapshot)


def test_requests_are_spread_over_both_upstreams(front: Front) -> None:
    start = front.access_log.stat().st_size
    with front.client() as client:
        for _ in range(8):
            assert client.get("/healthz").status_code == 200

    with front.access_log.open(encoding="utf-8") as log:
        log.seek(start)
        used = {line.rsplit("upstream=", 1)[1].strip() for line in log if "/healthz" in line}
    assert used == {f"127.0.0.1:{server.port}" for server in front.upstreams}


# --- the client's address ---------------------------------------------------------------------------
def join(client: httpx.Client, base: str, token: str, **headers: str) -> int:
    """One walk-in attempt (an empty form: refused as invalid, but counted by the join limit)."""
    response = client.post(
        f"{base}/{ORG}/{OFFICE}/enter/",
        data={"csrfmiddlewaretoken": token},
        headers={"Cookie": f"csrftoken={token}", **headers},
    )
    assert response.status_code in {400, 429}, response.text[:500]
    return response.status_code


def test_the_join_limit_counts_the_address_nginx_saw_and_no_made_up_header(
    front: Front, town: Office
) -> None:
    for address in ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"):
        limits.reset(JOIN_SCOPE, address)
    origin = {"Origin": front.url}

    with front.client("127.0.0.3") as first, front.client("127.0.0.4") as second:
        token = csrf_token(first)
        # A different made-up address on every attempt: it does not matter, the client is 127.0.0.3.
        statuses = [
            join(first, front.url, token, **origin, **{"X-Forwarded-For": f"10.0.0.{n}"})
            for n in range(JOIN_LIMIT + 1)
        ]
        assert statuses == [400] * JOIN_LIMIT + [429]
        # Another client behind the same proxy is not held back by the first one: the upstreams
        # see the client's address, not nginx's.
        assert join(second, front.url, csrf_token(second), **origin) == 400


def test_a_made_up_forwarded_for_sent_straight_to_an_upstream_is_ignored(front: Front, town: Office) -> None:
    limits.reset(JOIN_SCOPE, "127.0.0.1")
    with front.client() as browser:
        token = csrf_token(browser)

    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.1"), timeout=10) as direct:
        statuses = [
            join(direct, front.upstreams[n % 2].url, token, **{"X-Forwarded-For": f"10.0.1.{n}"})
            for n in range(JOIN_LIMIT + 1)
        ]

    assert statuses == [400] * JOIN_LIMIT + [429]

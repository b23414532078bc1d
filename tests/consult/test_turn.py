"""TURN credentials (coturn's REST-API scheme) and who gets them.

``consult/turn.py`` hands out ``username = "<expiry unix time>:<id>"`` and
``credential = base64(HMAC-SHA1(secret, username))``. The credential is checked here with an
independent HMAC computation, and against a real coturn (Debian's, the project config on
loopback ports): a TURN Allocate with our credentials succeeds, one with expired or forged
credentials is refused. The consultation socket sends the ICE servers in its ``history``
message, and only members of the consultation get one.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import socket
import struct
import time
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client
from pytest_django import Settings

from buergerbuero.config.asgi import application
from buergerbuero.consult import turn
from buergerbuero.consult.models import Consultation
from buergerbuero.offices.models import Office
from buergerbuero.waiting.models import Ticket
from buergerbuero.waiting.services import joining
from tests.support.coturn import HOST, STUN_MAGIC_COOKIE, Coturn, require_turnserver

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
OPEN = dt.datetime(2026, 11, 26, 10, 0, tzinfo=BERLIN)  # a Thursday, 08:00–16:00
NOW = 1_790_000_000.75  # a fixed "now" (unix time) for the credential arithmetic
SECRET = "north-by-northwest"
TURN_URL = "turn:turn.example.org:3478?transport=udp"
STUN_URL = "stun:stun.example.org:3478"


def expected_credential(secret: str, username: str) -> str:
    """coturn's check, written out independently of the production code."""
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


@pytest.fixture
def turn_settings(settings: Settings) -> Settings:
    settings.STUN_URLS = []
    settings.TURN_URLS = [TURN_URL]
    settings.TURN_SECRET = SECRET
    settings.TURN_CREDENTIAL_TTL = 3600
    return settings


# --- credentials ----------------------------------------------------------------------------------
def test_username_is_expiry_colon_id(turn_settings: Settings) -> None:
    username, _credential = turn.turn_credentials("17-citizen", now=NOW)

    expiry, _, user_id = username.partition(":")
    assert user_id == "17-citizen"
    assert expiry == str(int(NOW) + 3600)
    assert username == "1790003600:17-citizen"


def test_credential_is_base64_hmac_sha1_of_the_username(turn_settings: Settings) -> None:
    username, credential = turn.turn_credentials("17-agent", now=NOW)

    assert credential == expected_credential(SECRET, username)
    assert len(base64.b64decode(credential, validate=True)) == 20  # an SHA-1 digest
    assert credential != expected_credential("another secret", username)


def test_credentials_differ_per_participant_and_secret(turn_settings: Settings) -> None:
    citizen = turn.turn_credentials("17-citizen", now=NOW)
    agent = turn.turn_credentials("17-agent", now=NOW)
    turn_settings.TURN_SECRET = "a different secret"
    rotated = turn.turn_credentials("17-citizen", now=NOW)

    assert citizen[1] != agent[1]
    assert rotated[0] == citizen[0]
    assert rotated[1] != citizen[1]
    assert rotated[1] == expected_credential("a different secret", rotated[0])


@pytest.mark.parametrize("ttl", [60, 6 * 3600, -60])
def test_expiry_is_now_plus_the_configured_ttl(turn_settings: Settings, ttl: int) -> None:
    turn_settings.TURN_CREDENTIAL_TTL = ttl

    username, credential = turn.turn_credentials("5-citizen", now=NOW)

    assert int(username.split(":", 1)[0]) == int(NOW + ttl)
    assert credential == expected_credential(SECRET, username)


def test_expiry_without_an_explicit_now_uses_the_clock(turn_settings: Settings) -> None:
    before = int(time.time())
    username, _credential = turn.turn_credentials("5-citizen")
    after = int(time.time())

    assert before + 3600 <= int(username.split(":", 1)[0]) <= after + 3600


# --- the ICE servers handed to the browser ---------------------------------------------------------
def test_no_ice_servers_without_stun_or_turn(settings: Settings) -> None:
    settings.STUN_URLS = []
    settings.TURN_URLS = []
    settings.TURN_SECRET = ""

    assert turn.ice_servers("1-citizen") == []


@pytest.mark.parametrize(
    ("urls", "secret"),
    [([TURN_URL], ""), ([], SECRET)],
    ids=["turn-url-without-secret", "secret-without-turn-url"],
)
def test_half_configured_turn_hands_out_nothing(settings: Settings, urls: list[str], secret: str) -> None:
    settings.STUN_URLS = []
    settings.TURN_URLS = urls
    settings.TURN_SECRET = secret

    assert turn.ice_servers("1-citizen") == []


def test_stun_alone(settings: Settings) -> None:
    settings.STUN_URLS = [STUN_URL]
    settings.TURN_URLS = []
    settings.TURN_SECRET = ""

    assert turn.ice_servers("1-citizen") == [{"urls": [STUN_URL]}]


def test_stun_and_turn_with_time_limited_credentials(turn_settings: Settings) -> None:
    second_turn = "turn:turn.example.org:3478?transport=tcp"
    turn_settings.STUN_URLS = [STUN_URL]
    turn_settings.TURN_URLS = [TURN_URL, second_turn]

    before = int(time.time())
    servers = turn.ice_servers("9-interpreter")

    assert servers[0] == {"urls": [STUN_URL]}
    assert len(servers) == 2
    relay = servers[1]
    assert set(relay) == {"urls", "username", "credential"}
    assert relay["urls"] == [TURN_URL, second_turn]
    expiry, _, user_id = relay["username"].partition(":")
    assert user_id == "9-interpreter"
    assert before + 3600 <= int(expiry) <= int(time.time()) + 3600
    assert relay["credential"] == expected_credential(SECRET, relay["username"])
    json.dumps(servers)  # goes to the browser as JSON


# --- a real coturn accepts them (TURN Allocate, RFC 5766 long-term credentials) -------------------
ALLOCATE_REQUEST = 0x0003
ALLOCATE_SUCCESS = 0x0103
ALLOCATE_ERROR = 0x0113
ATTR_USERNAME = 0x0006
ATTR_MESSAGE_INTEGRITY = 0x0008
ATTR_ERROR_CODE = 0x0009
ATTR_REALM = 0x0014
ATTR_NONCE = 0x0015
ATTR_REQUESTED_TRANSPORT = 0x0019
ATTR_XOR_RELAYED_ADDRESS = 0x0016
UDP = 17


def _attribute(kind: int, value: bytes) -> bytes:
    padding = b"\0" * (-len(value) % 4)
    return struct.pack("!HH", kind, len(value)) + value + padding


def _message(kind: int, transaction: bytes, attributes: bytes, integrity_key: bytes | None = None) -> bytes:
    if integrity_key is None:
        return struct.pack("!HHI", kind, len(attributes), STUN_MAGIC_COOKIE) + transaction + attributes
    # MESSAGE-INTEGRITY covers the header with the length including itself (24 bytes).
    header = struct.pack("!HHI", kind, len(attributes) + 24, STUN_MAGIC_COOKIE) + transaction
    mac = hmac.new(integrity_key, header + attributes, hashlib.sha1).digest()
    return header + attributes + _attribute(ATTR_MESSAGE_INTEGRITY, mac)


def _parse(answer: bytes) -> tuple[int, dict[int, bytes]]:
    kind, length, _cookie = struct.unpack("!HHI", answer[:8])
    attributes: dict[int, bytes] = {}
    position = 20
    while position + 4 <= 20 + length:
        attr, size = struct.unpack("!HH", answer[position : position + 4])
        attributes.setdefault(attr, answer[position + 4 : position + 4 + size])
        position += 4 + size + (-size % 4)
    return kind, attributes


def _error_code(attributes: dict[int, bytes]) -> int:
    value = attributes[ATTR_ERROR_CODE]
    return (value[2] & 0x7) * 100 + value[3]


def _exchange(probe: socket.socket, port: int, request: bytes) -> tuple[int, dict[int, bytes]]:
    probe.sendto(request, (HOST, port))
    answer, _address = probe.recvfrom(4096)
    return _parse(answer)


def allocate(port: int, username: str, password: str) -> tuple[int, int | None]:
    """A TURN Allocate as a browser does it: unauthenticated first (coturn answers 401 with realm
    and nonce), then with USERNAME, REALM, NONCE and MESSAGE-INTEGRITY keyed with
    MD5(username:realm:password). Returns the answer's type and error code (None on success)."""
    transport = _attribute(ATTR_REQUESTED_TRANSPORT, bytes([UDP, 0, 0, 0]))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(3)
        kind, attributes = _exchange(
            probe, port, _message(ALLOCATE_REQUEST, secrets.token_bytes(12), transport)
        )
        assert kind == ALLOCATE_ERROR
        assert _error_code(attributes) == 401
        realm, nonce = attributes[ATTR_REALM], attributes[ATTR_NONCE]
        key = hashlib.md5(username.encode() + b":" + realm + b":" + password.encode()).digest()  # noqa: S324
        signed = (
            transport
            + _attribute(ATTR_USERNAME, username.encode())
            + _attribute(ATTR_REALM, realm)
            + _attribute(ATTR_NONCE, nonce)
        )
        kind, attributes = _exchange(
            probe, port, _message(ALLOCATE_REQUEST, secrets.token_bytes(12), signed, integrity_key=key)
        )
    if kind == ALLOCATE_SUCCESS:
        assert ATTR_XOR_RELAYED_ADDRESS in attributes
        return kind, None
    return kind, _error_code(attributes)


@pytest.fixture(scope="module")
def coturn() -> Iterator[Coturn]:
    require_turnserver()
    with Coturn() as relay:
        yield relay


def test_coturn_accepts_our_credentials(coturn: Coturn, settings: Settings) -> None:
    settings.TURN_URLS = [coturn.url]
    settings.TURN_SECRET = coturn.secret
    settings.TURN_CREDENTIAL_TTL = 600

    [server] = [entry for entry in turn.ice_servers("1-citizen") if "username" in entry]

    assert server["urls"] == [coturn.url]
    assert allocate(coturn.port, server["username"], server["credential"]) == (ALLOCATE_SUCCESS, None)


def test_coturn_refuses_expired_or_forged_credentials(coturn: Coturn, settings: Settings) -> None:
    settings.TURN_URLS = [coturn.url]
    settings.TURN_SECRET = coturn.secret
    settings.TURN_CREDENTIAL_TTL = -60
    expired_user, expired_password = turn.turn_credentials("1-citizen")
    settings.TURN_CREDENTIAL_TTL = 600
    settings.TURN_SECRET = "not the relay's secret"
    forged_user, forged_password = turn.turn_credentials("1-citizen")

    assert allocate(coturn.port, expired_user, expired_password) == (ALLOCATE_ERROR, 401)
    assert allocate(coturn.port, forged_user, forged_password) == (ALLOCATE_ERROR, 401)


# --- only members of the consultation get them ---------------------------------------------------
LOCAL = b"http://localhost"


def _session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def _socket(consultation_id: int, *, token: str = "", user: User | None = None) -> Any:
    path = f"/ws/consultations/{consultation_id}/"
    if token:
        path += f"?ticket={token}"
    headers = [(b"host", b"localhost"), (b"origin", LOCAL)]
    if user is not None:
        cookie = await database_sync_to_async(_session_cookie)(user)
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def _history(consultation_id: int, *, token: str = "", user: User | None = None) -> dict[str, Any]:
    socket_ = await _socket(consultation_id, token=token, user=user)
    connected, code = await socket_.connect()
    assert connected, code
    message: dict[str, Any] = json.loads(await socket_.receive_from(timeout=3))
    await socket_.disconnect()
    return message


async def _refused(consultation_id: int, *, token: str = "", user: User | None = None) -> bool:
    socket_ = await _socket(consultation_id, token=token, user=user)
    connected, code = await socket_.connect()
    silent = await socket_.receive_nothing(timeout=0.1)  # no history, no credentials
    await socket_.disconnect()  # the browser's side of the close: lets the consumer finish
    return not connected and code == 4403 and silent


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_members_get_ice_servers_with_their_own_credentials(
    consultation: Consultation, agent: User, turn_settings: Settings
) -> None:
    turn_settings.STUN_URLS = [STUN_URL]
    turn_settings.ICE_TRANSPORT_POLICY = "relay"

    citizen = await _history(consultation.pk, token=consultation.ticket.token)
    staff = await _history(consultation.pk, user=agent)

    for history, role in ((citizen, "citizen"), (staff, "agent")):
        assert (history["type"], history["role"]) == ("history", role)
        assert history["ice_transport_policy"] == "relay"
        stun, relay = history["ice_servers"]
        assert stun == {"urls": [STUN_URL]}
        assert relay["urls"] == [TURN_URL]
        assert relay["username"].endswith(f":{consultation.pk}-{role}")
        assert int(relay["username"].split(":", 1)[0]) > time.time() + 3000
        assert relay["credential"] == expected_credential(SECRET, relay["username"])


@pytest.fixture
def other_ticket(consultation: Consultation, office: Office) -> Ticket:
    """Another citizen, waiting (the only agent is busy with the consultation)."""
    return joining.join(office, service=None, display_name="Ben", language="de", mode="video", now=OPEN)


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_outsiders_are_refused_and_get_no_credentials(
    consultation: Consultation, colleague: User, outsider: User, other_ticket: Ticket, turn_settings: Settings
) -> None:
    assert await _refused(consultation.pk)  # nobody
    assert await _refused(consultation.pk, token="guessed-" + secrets.token_urlsafe(24))
    assert await _refused(consultation.pk, token=other_ticket.token)  # another citizen
    assert await _refused(consultation.pk, user=colleague)  # a colleague of the same office
    assert await _refused(consultation.pk, user=outsider)  # a login of no organisation
    assert await _refused(consultation.pk + 1000, token=consultation.ticket.token)  # wrong consultation

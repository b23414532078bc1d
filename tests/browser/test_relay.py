"""A relay-only call through a real coturn, and one with expired credentials that must fail.

The test starts Debian's coturn with the project config on loopback ports
(``tests/support/coturn.py``) and two servers of ours that hand out its credentials with
``ICE_TRANSPORT_POLICY=relay`` (the browsers may use relayed candidates only): one with valid
credentials, one with credentials that expired a minute before they were handed out
(``TURN_CREDENTIAL_TTL=-60``). A staff member and a citizen, each in their own Chromium context
with a fake camera and microphone, open the consultation and join with video.

What the page offers the tests (kept stable with the call's JS): ``[data-join=video]`` joins
with camera and microphone, and ``window.consultationCall.peers`` maps the other participant's
role to a peer with its ``RTCPeerConnection`` as ``.pc``; ``selectedCandidateTypes(pc)`` from
``consult/call.js`` names the candidate types of the pair in use. An init script also records
every ``RTCPeerConnection`` the page creates (its configuration and ICE connection states), so
that the expired-credential case can show that the browser really had a relay-only config and
never connected.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page, expect

from buergerbuero.consult.models import Consultation
from buergerbuero.offices.models import Office
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting.models import PresenceState
from buergerbuero.waiting.services import joining, staffing
from tests import factories
from tests.support.coturn import Coturn, require_turnserver
from tests.support.live import ALWAYS_OPEN, server_password_hash
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONNECTED = ("connected", "completed")
CALL_TIMEOUT_MS = 20_000  # the relay-only call connects in ~1 s; two cores, generous
FAIL_WINDOW_MS = 8_000  # how long the expired-credential call gets to (not) connect


# Records every RTCPeerConnection of the page: its configuration and ICE connection states.
RECORD_PEER_CONNECTIONS = """
(() => {
  const Native = window.RTCPeerConnection;
  if (!Native || Native.recordedByTests) return;
  window.testPeerConnections = [];
  class Recorded extends Native {
    constructor(config, ...rest) {
      super(config, ...rest);
      const record = { config: JSON.parse(JSON.stringify(config || {})), states: [] };
      window.testPeerConnections.push(record);
      this.addEventListener("iceconnectionstatechange", () => record.states.push(this.iceConnectionState));
    }
  }
  Recorded.recordedByTests = true;
  window.RTCPeerConnection = Recorded;
})();
"""

# The peer connection to ``remote`` once ICE has connected, or null.
PEER = """
remote => {
  const peer = window.consultationCall && window.consultationCall.peers.get(remote);
  return peer && peer.pc ? peer.pc : null;
}
"""

# selectedCandidateTypes from the page's own call.js (the module the page imported).
SELECTED_TYPES = f"""
async remote => {{
  const pc = ({PEER})(remote);
  if (!pc) return null;
  const page = document.querySelector('script[type="module"][src*="consult/consultation"]');
  const module = await import(new URL("call.js", page ? page.src : location.origin + "/static/consult/"));
  return await module.selectedCandidateTypes(pc);
}}
"""

# Decoded remote video on this side: frames from getStats and a <video> that shows them.
REMOTE_VIDEO = f"""
async remote => {{
  const pc = ({PEER})(remote);
  if (!pc) return null;
  let framesDecoded = 0;
  (await pc.getStats()).forEach(report => {{
    if (report.type === "inbound-rtp" && report.kind === "video") framesDecoded += report.framesDecoded || 0;
  }});
  const received = new Set(pc.getReceivers().map(receiver => receiver.track));
  const widths = [...document.querySelectorAll("video")]
    .filter(video => video.srcObject && video.srcObject.getVideoTracks().some(track => received.has(track)))
    .map(video => video.videoWidth);
  return {{ framesDecoded, videoWidth: Math.max(0, ...widths) }};
}}
"""


@dataclass(frozen=True)
class Meeting:
    consultation: Consultation
    agent_username: str

    @property
    def agent_path(self) -> str:
        return f"/staff/consultations/{self.consultation.pk}/"

    @property
    def citizen_path(self) -> str:
        return f"/w/{self.consultation.ticket.token}/consultation/"


# --- servers ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def coturn() -> Iterator[Coturn]:
    require_turnserver()
    relay = Coturn()
    relay.start()
    yield relay
    relay.stop()


def _turn_server(coturn: Coturn, **extra: str) -> Iterator[AsgiServer]:
    server = AsgiServer(extra_env={**coturn.server_env(), "ICE_TRANSPORT_POLICY": "relay", **extra})
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def relay_server(django_db_setup: None, django_db_blocker: Any, coturn: Coturn) -> Iterator[AsgiServer]:
    """Our server handing out valid credentials for the test's coturn, relay only."""
    yield from _turn_server(coturn)


@pytest.fixture(scope="module")
def expired_server(django_db_setup: None, django_db_blocker: Any, coturn: Coturn) -> Iterator[AsgiServer]:
    """The same, but every credential it hands out expired a minute ago."""
    yield from _turn_server(coturn, TURN_CREDENTIAL_TTL="-60")


# --- people and the consultation ------------------------------------------------------------------
class People:
    """One browser context per person, with their console logs (printed at the end)."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.logs: dict[str, list[str]] = {}

    def open(self, name: str) -> Page:
        context = self.browser.new_context(locale="de-DE", timezone_id="Europe/Berlin")
        context.set_default_timeout(15_000)
        context.add_init_script(RECORD_PEER_CONNECTIONS)
        self.contexts.append(context)
        page = context.new_page()
        log = self.logs.setdefault(name, [])
        page.on("console", lambda message: log.append(f"[{message.type}] {message.text}"))
        page.on("pageerror", lambda error: log.append(f"[pageerror] {error}"))
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def people(browser: Browser) -> Iterator[People]:
    crowd = People(browser)
    yield crowd
    for name, lines in crowd.logs.items():
        sys.stdout.write("\n".join([f"--- browser console of {name} ---", *lines, ""]))
    crowd.close()


@pytest.fixture
def meeting() -> Meeting:
    """A video consultation that has started: the agent was free, the citizen walked in."""
    organization = factories.make_org("relaystadt", state="BY", name="Stadt Relaystadt")
    office: Office = factories.make_office(
        organization, "bauamt", hours=ALWAYS_OPEN, name="Bauamt", observes_public_holidays=False
    )
    user = factories.make_staff(organization, "relay-agent", Role.AGENT, [office])
    # The server processes run with the production hashers (the suite's MD5 is not among them).
    User.objects.filter(pk=user.pk).update(password=server_password_hash())
    member = StaffMember.objects.get(user=user)
    staffing.set_presence(member, PresenceState.AVAILABLE)
    ticket = joining.join(
        office, service=None, display_name="Bürgerin Relay", language="de", mode="video", now=timezone.now()
    )
    consultation = Consultation.objects.select_related("ticket").get(ticket=ticket)
    return Meeting(consultation=consultation, agent_username=user.username)


def _join_with_video(page: Page) -> None:
    expect(page.locator("#consultation [data-connection]")).to_have_attribute("data-connection", "open")
    page.locator("[data-join=video]").click()


def _open_call(people: People, server: AsgiServer, meeting: Meeting) -> tuple[Page, Page]:
    """The staff member logs in and opens the consultation, the citizen opens it; both join."""
    agent = people.open("agent")
    agent.goto(f"{server.url}/staff/login/?next={meeting.agent_path}")
    agent.get_by_label("Benutzername").fill(meeting.agent_username)
    agent.get_by_label("Passwort").fill(factories.PASSWORD)
    agent.get_by_role("button", name="Anmelden").click()
    expect(agent).to_have_url(re.compile(re.escape(meeting.agent_path) + "$"))
    citizen = people.open("citizen")
    citizen.goto(f"{server.url}{meeting.citizen_path}")
    _join_with_video(agent)
    _join_with_video(citizen)
    return agent, citizen


def _wait_connected(page: Page, remote: str) -> None:
    page.wait_for_function(
        f"remote => {{ const pc = ({PEER})(remote); return Boolean(pc) && "
        f"{list(CONNECTED)!r}.includes(pc.iceConnectionState); }}",
        arg=remote,
        timeout=CALL_TIMEOUT_MS,
    )


def _remote_video(page: Page, remote: str) -> dict[str, int]:
    """Waits until a decoded remote frame is on screen; returns the figures."""
    deadline = time.monotonic() + CALL_TIMEOUT_MS / 1000
    figures: dict[str, int] | None = None
    while time.monotonic() < deadline:
        figures = page.evaluate(REMOTE_VIDEO, remote)
        if figures and figures["framesDecoded"] > 0 and figures["videoWidth"] > 0:
            return figures
        page.wait_for_timeout(100)
    raise AssertionError(f"no decoded remote video from {remote}: {figures}")


def _peer_records(page: Page) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = page.evaluate("window.testPeerConnections || []")
    return records


# --- the tests ----------------------------------------------------------------------------------
def test_relay_only_call_goes_through_coturn(
    people: People, relay_server: AsgiServer, coturn: Coturn, meeting: Meeting
) -> None:
    agent, citizen = _open_call(people, relay_server, meeting)

    for page, remote in ((agent, "citizen"), (citizen, "agent")):
        _wait_connected(page, remote)
    for page, remote in ((agent, "citizen"), (citizen, "agent")):
        figures = _remote_video(page, remote)
        assert figures["framesDecoded"] > 0
        assert figures["videoWidth"] > 0
        types = page.evaluate(SELECTED_TYPES, remote)
        assert types, f"no selected candidate pair towards {remote}"
        assert set(types) == {"relay"}, types
        # The browser was told to use the relay only, with the server's TURN credentials.
        configs = [record["config"] for record in _peer_records(page)]
        assert configs
        assert all(config.get("iceTransportPolicy") == "relay" for config in configs)
        assert any(
            coturn.url in server.get("urls", []) for config in configs for server in config["iceServers"]
        )

    # coturn allocated relays for them: the allocations are in its log.
    log = coturn.log()
    allocated = re.findall(r"username=<(\d+):(\d+)-(agent|citizen)>", log)
    pk = str(meeting.consultation.pk)
    assert {role for _expiry, consultation, role in allocated if consultation == pk} == {"agent", "citizen"}


def test_relay_only_call_with_expired_credentials_does_not_connect(
    people: People, expired_server: AsgiServer, coturn: Coturn, meeting: Meeting
) -> None:
    agent, citizen = _open_call(people, expired_server, meeting)
    pages = ((agent, "citizen"), (citizen, "agent"))

    # Both sides negotiate (each has a peer connection with the other's description) …
    for page, remote in pages:
        page.wait_for_function(
            f"remote => {{ const pc = ({PEER})(remote); return Boolean(pc && pc.remoteDescription); }}",
            arg=remote,
            timeout=CALL_TIMEOUT_MS,
        )
    # … but for FAIL_WINDOW_MS no ICE connection comes up on either side.
    agent.wait_for_timeout(FAIL_WINDOW_MS)
    now = time.time()
    usernames: set[str] = set()
    for page, remote in pages:
        records = _peer_records(page)
        assert records, "the page made no peer connection"
        for record in records:
            assert not set(record["states"]) & set(CONNECTED), record["states"]
            config = record["config"]
            assert config.get("iceTransportPolicy") == "relay"
            [turn] = [server for server in config["iceServers"] if "username" in server]
            assert int(turn["username"].split(":", 1)[0]) < now  # expired when handed out
            usernames.add(turn["username"])
        state = page.evaluate(f"remote => ({PEER})(remote).iceConnectionState", remote)
        assert state not in CONNECTED
        assert page.evaluate(SELECTED_TYPES, remote) == []

    # coturn refused exactly those credentials.
    log = coturn.log()
    for username in usernames:
        assert f"Cannot find credentials of user <{username}>" in log
        assert f"username=<{username}>" not in log  # no allocation was made for it

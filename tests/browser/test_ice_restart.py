"""A network outage in a running call: ICE restarts, "reconnecting" meanwhile, media again after.

The call is relay-only (``ICE_TRANSPORT_POLICY=relay``) through a real coturn on loopback
(``tests/support/coturn.py``, started with its own server of ours as in ``test_relay.py``), so
the relay is the only network path between the two Chromium contexts. Once both sides decode
each other's video, the test stops coturn: the path is gone. Chromium notices after about six
seconds (ICE ``disconnected``), and ``consult/call.js`` restarts ICE ``RESTART_AFTER_MS`` later
(``onIceState``). Meanwhile each side's tile of the other must say "Verbindung wird
wiederhergestellt …" over the frozen picture, and no frame is decoded. A second after the
restart, coturn comes back on the same ports with the same secret (its allocations are gone: only
the restart's new candidates can work), and the connections must be up again on a relayed pair
of the new ICE generation, decode frames again, and the tiles must drop the notice.

That the page's restart path brought the call back, not a self-heal: an init script records every
call of ``RTCPeerConnection.prototype.restartIce`` (with the ICE state it was made in), both local
descriptions carry a new ICE username fragment, and the selected pair's local candidate has it.

The relay comes back a second after the restart on purpose: Chromium sends the restart's TURN
allocation requests for about 32 s (at 0.25, 0.5, 1, 2, 4, 8, 8, 8 s intervals) and then gives up,
and the page restarts ICE only on an ICE state change, which does not come then (the ICE state
stays ``disconnected``): after a longer outage the call does not come back by itself.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.support_call import (
    TIMEOUT_MS,
    People,
    join_with_video,
    log_in,
    make_call_office,
    open_call_page,
    remote_media,
    start_consultation,
    wait_for_remote_video,
)
from tests.browser.test_relay import SELECTED_TYPES
from tests.support.coturn import Coturn, require_turnserver
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONNECTED = ("connected", "completed")
TROUBLE = ("disconnected", "failed")
RECONNECTING = "Verbindung wird wiederhergestellt …"
NOTICE_TIMEOUT_MS = 20_000  # the relay gone → "disconnected" (~6 s) → the notice; two cores, generous
RESTART_TIMEOUT_S = 15.0  # "disconnected" → restartIce after RESTART_AFTER_MS (2.5 s) and a new offer
DOWN_AFTER_RESTART_MS = 1_000  # the relay stays down a little after the restart
RECOVERY_TIMEOUT_MS = 20_000  # the relay back → connected again (~1-4 s)
POLL_MS = 100

# Records every restartIce call and every ICE connection state of the page's peer connections,
# each with its time (Date.now()) and, for a restart, the ICE state it was made in.
RECORD_ICE = """
(() => {
  const Native = window.RTCPeerConnection;
  if (!Native || window.testIce) return;
  window.testIce = { restarts: [], states: [] };
  const restartIce = Native.prototype.restartIce;
  Native.prototype.restartIce = function (...args) {
    window.testIce.restarts.push({ at: Date.now(), state: this.iceConnectionState });
    return restartIce.apply(this, args);
  };
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("iceconnectionstatechange", () =>
        window.testIce.states.push({ at: Date.now(), state: this.iceConnectionState }));
    }
  };
})();
"""

# The connection to ``remote``: ICE state, the local ICE username fragment, and the pair the
# transport uses (its candidates' types and the fragment of its local candidate).
ICE = """
async remote => {
  const peer = window.consultationCall && window.consultationCall.peers.get(remote);
  if (!peer) return null;
  const pc = peer.pc;
  const sdp = pc.localDescription ? pc.localDescription.sdp : "";
  const ufrag = (sdp.match(/^a=ice-ufrag:(\\S+)/m) || [null, null])[1];
  const result = { state: pc.iceConnectionState, ufrag, pair: null };
  const stats = await pc.getStats();
  stats.forEach(report => {
    if (report.type !== "transport" || !report.selectedCandidatePairId) return;
    const pair = stats.get(report.selectedCandidatePairId);
    const local = pair && stats.get(pair.localCandidateId);
    const other = pair && stats.get(pair.remoteCandidateId);
    if (!local || !other) return;
    result.pair = {
      state: pair.state, local: local.candidateType, remote: other.candidateType,
      ufrag: local.usernameFragment ?? null,
    };
  });
  return result;
}
"""


# --- servers ------------------------------------------------------------------------------------
@pytest.fixture
def relay() -> Iterator[Coturn]:
    """coturn for this test alone: it takes it down and brings it back."""
    require_turnserver()
    turn = Coturn()
    turn.start()
    yield turn
    turn.stop()


@pytest.fixture
def relay_server(django_db_setup: None, django_db_blocker: Any, relay: Coturn) -> Iterator[AsgiServer]:
    """Our server handing out credentials for that coturn, relay only."""
    server = AsgiServer(extra_env={**relay.server_env(), "ICE_TRANSPORT_POLICY": "relay"})
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def people(browser: Browser, relay_server: AsgiServer) -> Iterator[People]:
    """Browser consoles are printed at the end (pytest shows them on failure)."""
    crowd = People(browser, relay_server)
    expect.set_options(timeout=TIMEOUT_MS)
    yield crowd
    expect.set_options(timeout=5_000)  # Playwright's default again, for the other tests
    for name, lines in crowd.logs.items():
        sys.stdout.write("\n".join([f"--- browser console of {name} ---", *lines, ""]))
    crowd.close()


# --- helpers ------------------------------------------------------------------------------------
def _ice(page: Page, remote: str) -> dict[str, Any]:
    result: dict[str, Any] | None = page.evaluate(ICE, remote)
    assert result is not None, f"no connection to {remote}"
    return result


def _recorded(page: Page) -> dict[str, list[dict[str, Any]]]:
    """What RECORD_ICE recorded: ``restarts`` and ``states``."""
    recorded: dict[str, list[dict[str, Any]]] = page.evaluate("window.testIce")
    return recorded


def _restarts(page: Page) -> list[dict[str, Any]]:
    return _recorded(page)["restarts"]


def _has_class(name: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(name)}\b")


def _frames(page: Page, remote: str) -> int:
    return int(remote_media(page, remote)["framesDecoded"])


def _settled(page: Page, remote: str) -> dict[str, Any]:
    """The connection once its selected pair has succeeded (Chromium may report the pair it uses
    as "in-progress" for a moment after connecting), or as it is when time runs out."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT_MS / 1000
    ice = _ice(page, remote)
    while time.monotonic() < deadline and not (ice["pair"] and ice["pair"]["state"] == "succeeded"):
        page.wait_for_timeout(POLL_MS)
        ice = _ice(page, remote)
    return ice


def _wait_for_restart(sides: tuple[tuple[Page, str], ...], ufrags: dict[str, str]) -> None:
    """Until a page has called restartIce and both sides have new ICE credentials (``ufrags``:
    the local username fragments before, by the other side's role)."""
    deadline = time.monotonic() + RESTART_TIMEOUT_S
    seen: dict[str, tuple[int, str | None]] = {}
    while time.monotonic() < deadline:
        seen = {remote: (len(_restarts(page)), _ice(page, remote)["ufrag"]) for page, remote in sides}
        called = any(restarts for restarts, _ufrag in seen.values())
        renewed = all(ufrag not in (None, ufrags[remote]) for remote, (_restarts_, ufrag) in seen.items())
        if called and renewed:
            return
        sides[0][0].wait_for_timeout(POLL_MS)
    raise AssertionError(f"no ICE restart within {RESTART_TIMEOUT_S} s (restarts, ufrag): {seen}")


# --- the test -----------------------------------------------------------------------------------
def test_relay_outage_restarts_ice_and_media_flow_again(people: People, relay: Coturn) -> None:
    place = make_call_office()
    meeting = start_consultation(place)
    agent = people.open("agent", init_script=RECORD_ICE)
    log_in(agent, people.base, place.agent.user, meeting.agent_path)
    citizen = people.open("citizen", init_script=RECORD_ICE)
    open_call_page(citizen, people.base + meeting.citizen_path)
    join_with_video(agent)
    join_with_video(citizen)
    sides = ((agent, "citizen"), (citizen, "agent"))  # each page and the other's role
    for page, remote in sides:
        wait_for_remote_video(page, remote)
    ufrags: dict[str, str] = {}
    for page, remote in sides:
        before = _ice(page, remote)
        assert before["state"] in CONNECTED, before
        assert before["pair"] is not None
        assert (before["pair"]["local"], before["pair"]["remote"]) == ("relay", "relay"), before
        ufrags[remote] = before["ufrag"]
    assert _restarts(agent) == _restarts(citizen) == []

    # The relay goes away: both see "reconnecting" over the other's last picture.
    stopped = time.monotonic()
    stopped_at_ms = time.time() * 1000
    relay.stop(keep_files=True)
    tiles = {remote: page.locator(f'[data-tile="{remote}-camera"]') for page, remote in sides}
    for _page, remote in sides:
        expect(tiles[remote].locator("[data-status]")).to_have_text(RECONNECTING, timeout=NOTICE_TIMEOUT_MS)
        expect(tiles[remote].locator("[data-status]")).to_be_visible()
        expect(tiles[remote]).to_have_class(_has_class("tile--reconnecting"))
    noticed = time.monotonic()
    for page, remote in sides:
        assert _ice(page, remote)["state"] in TROUBLE

    # The page restarts ICE while the relay is still down: the notice stays, no frame arrives.
    frozen = {remote: _frames(page, remote) for page, remote in sides}
    _wait_for_restart(sides, ufrags)
    restarted = time.monotonic()
    agent.wait_for_timeout(DOWN_AFTER_RESTART_MS)
    for page, remote in sides:
        # No new frame without the relay (under load Chromium may already have dropped the
        # stopped stream's inbound statistics, which reads as fewer).
        assert _frames(page, remote) <= frozen[remote], "media flowed without the relay"
        expect(tiles[remote].locator("[data-status]")).to_have_text(RECONNECTING)
        expect(tiles[remote].locator("[data-status]")).to_be_visible()
        assert _ice(page, remote)["state"] in TROUBLE

    # The relay is back where it was: ICE connects again, on the new credentials.
    relay.restart()
    back = time.monotonic()
    back_at_ms = time.time() * 1000
    for page, remote in sides:
        page.wait_for_function(
            "([remote, wanted]) =>"
            " wanted.includes(window.consultationCall.peers.get(remote).pc.iceConnectionState)",
            arg=[remote, list(CONNECTED)],
            timeout=RECOVERY_TIMEOUT_MS,
            polling=POLL_MS,
        )
    connected = time.monotonic()

    # Frames are decoded again and keep coming; the notice is gone.
    for page, remote in sides:
        # Wait past both counts: under load Chromium may have reset the stream's statistics
        # during the outage, so the count can restart below the one frozen before it.
        resumed = max(_frames(page, remote), frozen[remote])
        wait_for_remote_video(page, remote, frames=resumed + 10)
        assert _frames(page, remote) > resumed
        expect(tiles[remote].locator("[data-status]")).to_have_text("")
        expect(tiles[remote].locator("[data-status]")).to_be_hidden()
        expect(tiles[remote]).not_to_have_class(_has_class("tile--reconnecting"))
    flowing = time.monotonic()

    # … through the relay again, on a pair of the new ICE generation.
    for page, remote in sides:
        after = _settled(page, remote)
        assert after["state"] in CONNECTED, after
        assert after["ufrag"] != ufrags[remote], after
        assert after["pair"] is not None, after
        assert after["pair"]["state"] == "succeeded", after
        assert (after["pair"]["local"], after["pair"]["remote"]) == ("relay", "relay"), after
        assert after["pair"]["ufrag"] in (None, after["ufrag"]), after  # None: no usernameFragment in stats
        types = page.evaluate(SELECTED_TYPES, remote)  # what the page's own call.js reports
        assert types, f"no selected candidate pair towards {remote}"
        assert set(types) == {"relay"}, types

    # The restart came from the page's own path, during the outage, on a connection in trouble.
    restarts = _restarts(agent) + _restarts(citizen)
    assert restarts
    assert all(
        restart["state"] in TROUBLE and stopped_at_ms < restart["at"] < back_at_ms for restart in restarts
    ), restarts
    assert people.script_errors() == {}
    sys.stdout.write(
        f"relay stopped → both notices {noticed - stopped:.1f} s, → restarted {restarted - stopped:.1f} s;"
        f" relay back → both connected {connected - back:.1f} s, → frames flowing {flowing - back:.1f} s\n"
    )
    for page, remote in sides:
        recorded = _recorded(page)
        events = sorted(
            [(entry["at"], entry["state"]) for entry in recorded["states"] if entry["at"] > stopped_at_ms]
            + [(entry["at"], "restartIce") for entry in recorded["restarts"]]
        )
        timeline = ", ".join(f"{event} {(at - stopped_at_ms) / 1000:+.1f} s" for at, event in events)
        back_after = (back_at_ms - stopped_at_ms) / 1000
        sys.stdout.write(f"towards {remote} after the stop: {timeline} (relay back {back_after:+.1f} s)\n")

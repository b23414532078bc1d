"""Helpers for the call tests: a consultation set up in the database, the people in their own
browser contexts, and checks on what WebRTC really delivers (``getStats``, ``<video>``).

The consultation starts the way the free-seat rule starts one (an available staff member, a
citizen entering with nobody waiting), through the service functions: the walk-in test already
drives that path through the pages, and the join rate limit is then no concern.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from buergerbuero.consult.models import Consultation
from buergerbuero.offices.models import Office, Service
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting.models import Mode, PresenceState
from buergerbuero.waiting.services import joining, staffing
from tests import factories
from tests.support.live import ALWAYS_OPEN
from tests.support.server import AsgiServer

AGENT_NAME = "Herr Albers"
CITIZEN_NAME = "Bürgerin Drei"
DESKTOP: ViewportSize = {"width": 1280, "height": 860}
PORTRAIT: ViewportSize = {"width": 360, "height": 740}
TIMEOUT_MS = 15_000


# What one peer connection delivers from ``peerRole``, read from getStats and from the tile that
# shows it: frames decoded, audio packets received, the <video>'s size, and whether the tile
# plays this connection's track (not a stale one of an earlier connection).
REMOTE_MEDIA_JS = """
async ([peerRole, kind]) => {
  const call = window.consultationCall;
  const peer = call && call.peers.get(peerRole);
  const result = {
    framesDecoded: 0, audioPackets: 0, videoWidth: 0, videoHeight: 0, tilePlaysPeer: false,
    connection: null, stale: false,
  };
  if (!peer) return result;
  const pc = peer.pc;
  result.connection = pc.connectionState;
  result.stale = Boolean(pc.testStale);
  const stats = await pc.getStats();
  stats.forEach((report) => {
    if (report.type !== "inbound-rtp") return;
    if (report.kind === "audio") result.audioPackets += report.packetsReceived || 0;
    if (report.kind === "video") result.framesDecoded += report.framesDecoded || 0;
  });
  const video = document.querySelector(`[data-tile="${peerRole}-${kind}"] video`);
  if (video) {
    result.videoWidth = video.videoWidth;
    result.videoHeight = video.videoHeight;
    const shown = video.srcObject ? video.srcObject.getVideoTracks() : [];
    result.tilePlaysPeer = pc.getReceivers().some((receiver) => shown.includes(receiver.track));
  }
  return result;
}
"""


@dataclass(frozen=True)
class CallOffice:
    office: Office
    agent: StaffMember


@dataclass(frozen=True)
class Meeting:
    consultation: Consultation
    token: str
    agent_path: str
    citizen_path: str


def make_call_office() -> CallOffice:
    organization = factories.make_org("rufstadt", state="BY", name="Stadt Rufstadt")
    office = factories.make_office(
        organization, "bauamt", hours=ALWAYS_OPEN, name="Bauamt", observes_public_holidays=False
    )
    Service.objects.create(office=office, name="Bauantrag", position=0)
    user = factories.make_staff(organization, "albers", Role.AGENT, [office])
    StaffMember.objects.filter(user=user).update(display_name=AGENT_NAME)
    return CallOffice(office=office, agent=StaffMember.objects.select_related("user").get(user=user))


def start_consultation(place: CallOffice, mode: str = Mode.VIDEO) -> Meeting:
    """An available staff member and a citizen entering: the free seat takes them at once."""
    staffing.set_presence(place.agent, PresenceState.AVAILABLE)
    ticket = joining.join(place.office, service=None, display_name=CITIZEN_NAME, language="de", mode=mode)
    consultation = Consultation.objects.get(ticket=ticket)
    return Meeting(
        consultation=consultation,
        token=ticket.token,
        agent_path=f"/staff/consultations/{consultation.pk}/",
        citizen_path=f"/w/{ticket.token}/consultation/",
    )


class People:
    """One German browser context per person, with their console logs for failure reports."""

    def __init__(self, browser: Browser, server: AsgiServer) -> None:
        self.browser = browser
        self.base = server.url
        self.contexts: list[BrowserContext] = []
        self.logs: dict[str, list[str]] = {}

    def open(self, name: str, viewport: ViewportSize | None = None, init_script: str = "") -> Page:
        context = self.browser.new_context(
            locale="de-DE", timezone_id="Europe/Berlin", viewport=viewport or DESKTOP
        )
        context.set_default_timeout(TIMEOUT_MS)
        if init_script:
            context.add_init_script(init_script)
        self.contexts.append(context)
        page = context.new_page()
        log = self.logs.setdefault(name, [])
        page.on("console", lambda message: log.append(f"[{message.type}] {message.text}"))
        page.on("pageerror", lambda error: log.append(f"[pageerror] {error}"))
        return page

    def script_errors(self, *expected: str) -> dict[str, list[str]]:
        """Errors in the browser consoles, except those containing one of ``expected`` (such as
        Chromium's note on a refused request the test provoked)."""
        return {
            name: errors
            for name, lines in self.logs.items()
            if (
                errors := [
                    line
                    for line in lines
                    if line.startswith(("[error]", "[pageerror]"))
                    and not any(text in line for text in expected)
                ]
            )
        }

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@contextlib.contextmanager
def watched_people(browser: Browser, server: AsgiServer, *, slow: bool = True) -> Iterator[People]:
    """People for one test; at the end their browser consoles and the server's log of the test
    are printed (pytest shows them when it fails). ``slow``: Playwright's expectations wait as
    long as a call on a busy two-core machine may take."""
    log_start = server.log_path.stat().st_size if server.log_path.exists() else 0
    crowd = People(browser, server)
    if slow:
        expect.set_options(timeout=TIMEOUT_MS)
    try:
        yield crowd
    finally:
        if slow:
            expect.set_options(timeout=5_000)  # Playwright's default again, for the other tests
        for name, lines in crowd.logs.items():
            sys.stdout.write("\n".join([f"--- browser console of {name} ---", *lines, ""]))
        with server.log_path.open("rb") as server_log:
            server_log.seek(log_start)
            sys.stdout.write(f"--- {server.log_path} ---\n{server_log.read().decode(errors='replace')}")
        crowd.close()


def log_in(page: Page, base: str, user: User, path: str) -> None:
    """The staff member's browser with a logged-in session, then ``path``.

    The session is made here with Django's test client (same database, same secret key as the
    server): a login through the form costs a second of PBKDF2 per test, and the walk-in test
    already logs in through the form.
    """
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base}])
    page.goto(base + path)
    expect(page.locator("#consultation [data-connection]")).to_have_attribute("data-connection", "open")


def open_call_page(page: Page, url: str) -> None:
    """Open a consultation page and wait until its socket is open."""
    page.goto(url)
    expect(page.locator("#consultation [data-connection]")).to_have_attribute("data-connection", "open")


def precheck_ready(page: Page) -> None:
    expect(page.locator("[data-precheck-panel]")).to_have_attribute("data-precheck", "ready")


def join_with_video(page: Page) -> None:
    precheck_ready(page)
    page.get_by_role("button", name="Mit Video teilnehmen").click()
    expect(page.locator("[data-stage]")).to_be_visible()
    expect(page.locator("[data-precheck-panel]")).to_be_hidden()


def remote_media(page: Page, peer_role: str, kind: str = "camera") -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(REMOTE_MEDIA_JS, [peer_role, kind])
    return result


# Waits in the page until REMOTE_MEDIA_JS meets the wanted figures (or time runs out), polling
# every 100 ms. (Playwright's wait_for_function does not await a predicate's promise, and
# getStats is asynchronous: a promise would count as "true" at once.)
WAIT_FOR_MEDIA_JS = f"""
async ([peerRole, kind, wanted, timeoutMs]) => {{
  const measure = {REMOTE_MEDIA_JS};
  const deadline = performance.now() + timeoutMs;
  for (;;) {{
    const r = await measure([peerRole, kind]);
    const ok = r.framesDecoded >= wanted.frames && r.videoWidth > 0 && r.tilePlaysPeer
      && (!r.stale || !wanted.fresh)
      && (!wanted.width || r.videoWidth === wanted.width) && (!wanted.audio || r.audioPackets > 0);
    if (ok || performance.now() > deadline) return {{ ok, ...r }};
    await new Promise((resolve) => setTimeout(resolve, 100));
  }}
}}
"""


def wait_for_remote_video(
    page: Page,
    peer_role: str,
    kind: str = "camera",
    *,
    audio: bool = True,
    width: int = 0,
    frames: int = 1,
    fresh: bool = True,
) -> dict[str, Any]:
    """Until the connection to ``peer_role`` decodes video (at least ``frames`` frames) that its
    tile shows, and receives audio: the proof that media really flow, not only that signalling
    happened. With ``fresh``, a connection marked stale (``mark_stale``) does not count."""
    wanted = {"frames": max(frames, 1), "audio": audio, "width": width, "fresh": fresh}
    result: dict[str, Any] = page.evaluate(WAIT_FOR_MEDIA_JS, [peer_role, kind, wanted, TIMEOUT_MS])
    assert result.pop("ok"), f"no {kind} from {peer_role} after {TIMEOUT_MS} ms: {result}"
    return result


def mark_stale(page: Page, peer_role: str) -> None:
    """Tag the current connection to ``peer_role``, to tell it from a new one later."""
    page.evaluate("(role) => { window.consultationCall.peers.get(role).pc.testStale = true; }", peer_role)


def same_connection(page: Page, peer_role: str) -> bool:
    """Whether the connection tagged by ``mark_stale`` is still the one in use."""
    return bool(
        page.evaluate("(role) => Boolean(window.consultationCall.peers.get(role)?.pc.testStale)", peer_role)
    )


def small_pdf(text: str = "Bauantrag") -> bytes:
    """A small but well-formed PDF (one page with a line of text), with a correct xref table."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)

"""The offices embedded in another website, in Chromium: the proof that ``/embed.js`` works.

A municipality's website is played by a tiny ``http.server`` on a second port of localhost (a
second origin) serving a page of its own: a heading, a styled paragraph, host CSS that would
wreck any page it leaked into (``* { color: red !important; font-size: 40px }``), a host
global (``window.$``) and the snippet. The organisation lists that origin as an embedding
website. In Chromium:

1. the snippet puts an iframe where it stands, with ``allow`` for camera, microphone and screen
   sharing; the frame grows to its content's height (the pages report it by ``postMessage``);
   the host's CSS and globals stay out of the frame and the host's own paragraph is unchanged;
2. the whole walk-in runs inside the frame: the citizen enters, waits, a staff member (in a
   browser context of their own, in the console) calls, the citizen confirms "Ich bin da", the
   consultation opens in the frame, camera and microphone work there (the staff member decodes
   the citizen's video, the frame decodes the staff member's), and they chat;
3. an appointment is booked inside the frame (service, time, details, confirmation page);
4. the same page on a third port, a website the organisation does not list, shows the clear
   refusal in the frame (never a blank box) and nothing of the offices; an iframe pointed
   straight at the directory there is blocked by the browser (``frame-ancestors``).

**Same-site, not cross-site.** Both websites are on localhost (only the ports differ), so the
browser treats the frame as same-site and sends its ``SameSite=Lax`` cookies (CSRF, language).
A real municipality's website is another site: there the frame's cookies only travel with
``SameSite=None; Secure``, which the product sets when ``SECURE_COOKIES=true`` and which needs
HTTPS; ``tests/embed/test_framing.py`` checks that setting's cookie.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from playwright.sync_api import Browser, Frame, FrameLocator, Page, expect

from buergerbuero.booking.models import Appointment
from buergerbuero.offices.models import Office, Service
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting.models import PresenceState, Ticket, TicketStatus
from buergerbuero.waiting.services import staffing
from tests import factories
from tests.browser.support_booking import german
from tests.browser.support_call import (
    TIMEOUT_MS,
    WAIT_FOR_MEDIA_JS,
    People,
    join_with_video,
    wait_for_remote_video,
    watched_people,
)
from tests.support.live import ALWAYS_OPEN, reset_join_limit
from tests.support.server import AsgiServer, free_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ORG = "einbettstadt"
ORG_NAME = "Stadt Einbettstadt"
OFFICE = "meldeamt"
OFFICE_NAME = "Meldeamt"
SERVICE = "Personalausweis"
AGENT_NAME = "Frau Rahmen"
CITIZEN = "Bürgerin im Rahmen"
HOST_TEXT = "Die Stadtbibliothek hat samstags von 10 bis 14 Uhr geöffnet."
RED = "rgb(255, 0, 0)"

HOST_PAGE = """<!doctype html>
<html lang="de">
<head>
  <meta charset="utf-8">
  <title>Stadt Einbettstadt — Rathaus online</title>
  <link rel="icon" href="data:,">
  <style>
    /* Host CSS that would break the offices if it reached into the frame. */
    * {{ color: red !important; font-size: 40px; }}
    h1, h2, button, a {{ text-transform: uppercase; letter-spacing: 1em; }}
    iframe {{ margin-block: 1rem; }}
  </style>
  <script>window.$ = 1; var csrftoken = "host";</script>
</head>
<body>
  <h1>Rathaus online</h1>
  <p id="host-news">{text}</p>
  <script src="{app}/embed.js" data-org="{org}" data-office="{office}" data-lang="de" async></script>
</body>
</html>
"""
# What a website not on the list might try besides the snippet: framing a page directly.
DIRECT_FRAME_PAGE = """<!doctype html>
<html lang="de">
<head><meta charset="utf-8"><title>Fremde Website</title><link rel="icon" href="data:,"></head>
<body><h1>Fremde Website</h1>
<iframe id="direct" src="{app}/{org}/" title="direkt" onload="document.body.dataset.loaded = 'yes'"></iframe>
</body>
</html>
"""


# --- the embedding websites -----------------------------------------------------------------------
class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""


class Website:
    """A static website on its own port of localhost (``http.server`` in a thread)."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"

    def __enter__(self) -> Website:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def site_folder(tmp_path: Path, asgi_server: AsgiServer) -> Path:
    (tmp_path / "index.html").write_text(
        HOST_PAGE.format(text=HOST_TEXT, app=asgi_server.url, org=ORG, office=OFFICE), encoding="utf-8"
    )
    (tmp_path / "direct.html").write_text(
        DIRECT_FRAME_PAGE.format(app=asgi_server.url, org=ORG), encoding="utf-8"
    )
    return tmp_path


@pytest.fixture
def website(site_folder: Path) -> Iterator[Website]:
    """The municipality's own website, listed by the organisation."""
    with Website(site_folder) as site:
        yield site


@pytest.fixture
def stranger(site_folder: Path) -> Iterator[Website]:
    """The same page on a website the organisation does not list."""
    with Website(site_folder) as site:
        yield site


# --- the organisation -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Place:
    office: Office
    agent: StaffMember


@pytest.fixture
def place(website: Website) -> Place:
    organization = factories.make_org(ORG, state="BY", name=ORG_NAME)
    organization.embed_origins = f"https://www.einbettstadt.de\n{website.origin}"
    organization.save()
    office = factories.make_office(
        organization,
        OFFICE,
        hours=ALWAYS_OPEN,
        name=OFFICE_NAME,
        observes_public_holidays=False,
        description="Ausweise, Pässe und Meldewesen.",
        waiting_area_text="Halten Sie bitte Ihren Ausweis bereit.",
        checklist="Personalausweis\nMeldebescheinigung",
    )
    Service.objects.create(office=office, name=SERVICE, position=0)
    Service.objects.create(office=office, name="Wohnsitz anmelden", position=1)
    user = factories.make_staff(organization, "rahmen", Role.AGENT, [office])
    StaffMember.objects.filter(user=user).update(display_name=AGENT_NAME)
    agent = StaffMember.objects.select_related("user").get(user=user)
    # On a break while the citizen arrives (else the free seat would take them at once).
    staffing.set_presence(agent, PresenceState.PAUSE)
    reset_join_limit()
    return Place(office=office, agent=agent)


@pytest.fixture
def people(browser: Browser, asgi_server: AsgiServer) -> Iterator[People]:
    with watched_people(browser, asgi_server) as crowd:
        yield crowd


# --- helpers --------------------------------------------------------------------------------------
def _open_console(page: Page, base: str, user: User) -> None:
    """The staff member's console with a session made by the test client (the walk-in test
    logs in through the form)."""
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base}])
    page.goto(f"{base}/staff/console/")
    expect(page.locator("#console [data-connection]")).to_have_attribute("data-connection", "open")


def _embedded(page: Page) -> tuple[FrameLocator, Frame]:
    """The snippet's frame, once its first page is there."""
    iframe = page.locator("iframe[data-buergerbuero]")
    expect(iframe).to_have_count(1)
    inside = page.frame_locator("iframe[data-buergerbuero]")
    expect(inside.locator("main")).to_be_visible()
    handle = iframe.element_handle()
    frame = handle.content_frame() if handle is not None else None
    assert frame is not None, "the iframe has no document"
    return inside, frame


def _frame_height(page: Page) -> float:
    height: float = page.locator("iframe[data-buergerbuero]").evaluate(
        "f => f.getBoundingClientRect().height"
    )
    return height


def _computed(target: Page | Frame, selector: str, properties: list[str]) -> list[str]:
    values: list[str] = target.evaluate(
        """([selector, properties]) => {
          const style = getComputedStyle(document.querySelector(selector));
          return properties.map((name) => style.getPropertyValue(name));
        }""",
        [selector, properties],
    )
    return values


def _host_paragraph_unchanged(page: Page) -> None:
    expect(page.locator("#host-news")).to_have_text(HOST_TEXT)
    assert _computed(page, "#host-news", ["color", "font-size"]) == [RED, "40px"]
    expect(page.get_by_role("heading", level=1)).to_have_text("Rathaus online")
    assert page.evaluate("window.$") == 1


def _content_height(frame: Frame) -> float:
    """The height of the frame's page itself (not stretched to the frame, as scrollHeight is)."""
    height: float = frame.evaluate("document.documentElement.getBoundingClientRect().height")
    return height


def _fits_its_content(page: Page, frame: Frame) -> None:
    """The frame has its page's height: it grew from the snippet's 600 px to all of it."""
    page.wait_for_function(
        "() => document.querySelector('iframe[data-buergerbuero]').getBoundingClientRect().height > 600"
    )
    assert abs(_frame_height(page) - _content_height(frame)) <= 2, (
        _frame_height(page),
        _content_height(frame),
    )
    _shows_everything(frame)


def _shows_everything(frame: Frame) -> None:
    """The frame never scrolls by itself: the page fits into it (once the host has applied the
    height the frame last reported — a message away after the content grew)."""
    frame.wait_for_function("() => document.documentElement.scrollHeight <= window.innerHeight + 1")
    assert _content_height(frame) <= frame.evaluate("window.innerHeight") + 1


# --- the test -------------------------------------------------------------------------------------
# The stranger's website frames the directory directly at the end: Chromium's refusal is the point.
@pytest.mark.csp_expected('violates the following Content Security Policy directive: "frame-ancestors')
def test_offices_embedded_in_a_website_walk_in_call_and_booking_inside_the_frame(
    people: People,
    asgi_server: AsgiServer,
    place: Place,
    website: Website,
    stranger: Website,
    artifacts_dir: Path,
) -> None:
    base = asgi_server.url

    # --- 1. the snippet on the municipality's page ------------------------------------------
    citizen = people.open("citizen on the municipality's website")
    citizen.goto(f"{website.origin}/index.html")
    inside, frame = _embedded(citizen)
    iframe = citizen.locator("iframe[data-buergerbuero]")
    allow = {feature.strip().split(" ")[0] for feature in (iframe.get_attribute("allow") or "").split(";")}
    assert {"camera", "microphone", "display-capture"} <= allow
    expect(iframe).to_have_attribute("title", "Virtuelles Bürgerbüro")
    assert frame.url == f"{base}/{ORG}/{OFFICE}/"  # through /embed/…, which let this website in
    expect(inside.get_by_role("heading", level=1)).to_contain_text(OFFICE_NAME)
    expect(inside.get_by_text("Ausweise, Pässe und Meldewesen.")).to_be_visible()

    _fits_its_content(citizen, frame)
    # The host's CSS and globals stay outside; the frame's own styles stay inside.
    heading = _computed(frame, "h1", ["color", "font-size", "text-transform"])
    assert heading[0] != RED
    assert heading[1] != "40px"
    assert heading[2] == "none"
    assert frame.evaluate("typeof window.$") == "undefined"
    _host_paragraph_unchanged(citizen)
    citizen.screenshot(path=str(artifacts_dir / "embed-office.png"), full_page=True)

    # --- 2. the walk-in, inside the frame -----------------------------------------------------
    agent = people.open("agent")
    _open_console(agent, base, place.agent.user)
    expect(agent.locator("[data-presence-label]")).to_have_text("Pause")

    inside.get_by_role("link", name="Eintreten").click()
    expect(inside.get_by_role("heading", level=1)).to_have_text(f"Eintreten: {OFFICE_NAME}")
    inside.get_by_label(SERVICE).check()
    inside.get_by_label("Video und Ton").check()
    inside.get_by_label("Name oder Pseudonym (freiwillig)").fill(CITIZEN)
    inside.get_by_role("button", name="Wartebereich betreten").click()
    frame.wait_for_url(re.compile(r"/w/[\w-]+/$"))
    room = frame.url
    expect(inside.get_by_role("heading", level=1)).to_have_text(f"Wartebereich: {OFFICE_NAME}")
    expect(inside.locator("#waiting-room [data-connection]")).to_have_attribute("data-connection", "open")
    expect(inside.locator("#waiting-room strong[data-position]")).to_have_text("1")
    expect(inside.get_by_text("Halten Sie bitte Ihren Ausweis bereit.")).to_be_visible()
    assert citizen.url == f"{website.origin}/index.html"  # the host page stays where it is
    citizen.screenshot(path=str(artifacts_dir / "embed-waiting.png"), full_page=True)

    # The staff member sees the arrival, goes available and calls.
    row = agent.locator("tbody[data-queue] tr").filter(has_text=CITIZEN)
    expect(row).to_contain_text(SERVICE)
    agent.get_by_role("button", name="Verfügbar").click()
    expect(agent.locator("[data-presence-label]")).to_have_text("verfügbar")
    agent.get_by_role("button", name="Nächste Person aufrufen").click()
    called = inside.locator("[data-called-panel]")
    expect(called.get_by_role("heading", name="Sie sind an der Reihe!")).to_be_visible()

    # "I'm here": the consultation opens in the frame, the console follows.
    inside.get_by_role("button", name="Ich bin da").click()
    # Two navigations race to the same page (the form's redirect, and the waiting room's own
    # reaction to the "admitted" event): one is aborted, so wait for the page, not a navigation.
    expect(inside.get_by_role("heading", level=1)).to_have_text(f"Beratung — {OFFICE_NAME}")
    assert frame.url == room + "consultation/"
    expect(agent).to_have_url(re.compile(r"/staff/consultations/\d+/$"))
    for side in (inside.locator("#consultation"), agent.locator("#consultation")):
        expect(side.locator("[data-connection]")).to_have_attribute("data-connection", "open")
    expect(inside.locator('[data-peer-role="agent"] [data-peer-online]')).to_have_text(
        f"{AGENT_NAME} ist da."
    )

    # Camera and microphone inside the frame: the pre-call check's preview plays …
    expect(inside.locator("[data-precheck-panel]")).to_have_attribute("data-precheck", "ready")
    frame.wait_for_function("() => document.querySelector('[data-preview]').videoWidth > 0")
    # … and both join with video: each decodes the other's camera.
    join_with_video(agent)
    inside.get_by_role("button", name="Mit Video teilnehmen").click()
    expect(inside.locator("[data-stage]")).to_be_visible()
    from_frame = wait_for_remote_video(agent, "citizen")
    assert from_frame["connection"] == "connected"
    wanted = {"frames": 1, "audio": True, "width": 0, "fresh": True}
    in_frame: dict[str, Any] = frame.evaluate(WAIT_FOR_MEDIA_JS, ["agent", "camera", wanted, TIMEOUT_MS])
    assert in_frame.pop("ok"), f"the frame decodes no video from the staff member: {in_frame}"

    # They chat.
    question = "Guten Tag, ich schreibe aus dem Rahmen der Stadt-Website."
    inside.get_by_label("Ihre Nachricht").fill(question)
    inside.get_by_role("button", name="Senden").click()
    expect(agent.locator("[data-chat-log] li").filter(has_text=question)).to_be_visible()
    answer = "Willkommen, ich sehe und höre Sie."
    agent.get_by_label("Ihre Nachricht").fill(answer)
    agent.get_by_role("button", name="Senden").click()
    expect(inside.locator("[data-chat-log] li").filter(has_text=answer)).to_be_visible()
    _shows_everything(frame)
    _host_paragraph_unchanged(citizen)
    citizen.screenshot(path=str(artifacts_dir / "embed-consultation.png"), full_page=True)

    agent.get_by_role("button", name="Beratung beenden").click()
    expect(agent).to_have_url(re.compile(r"/staff/console/$"))
    frame.wait_for_url(room + "done/")
    expect(inside.get_by_role("heading", level=1)).to_have_text("Die Beratung ist beendet")
    assert Ticket.objects.get(display_name=CITIZEN).status == TicketStatus.DONE

    # --- 3. an appointment, booked inside the frame ----------------------------------------------
    citizen.reload()
    inside, frame = _embedded(citizen)
    inside.get_by_role("link", name=german("Book an appointment"), exact=True).click()
    frame.wait_for_url(re.compile(r"/book/$"))
    inside.get_by_label(SERVICE).check()
    inside.get_by_role("button", name=german("Continue"), exact=True).click()
    first_time = inside.locator(".slot-list--day").get_by_role("link").first
    time_text = first_time.inner_text()
    first_time.click()
    frame.wait_for_url(re.compile(r"/book/details/\?"))
    expect(inside.locator(".booking-summary")).to_contain_text(time_text)
    inside.get_by_label(german("Your name")).fill(CITIZEN)
    inside.get_by_label(german("E-mail address")).fill("rahmen@example.org")
    inside.get_by_role("checkbox").check()
    inside.get_by_role("button", name=german("Book the appointment"), exact=True).click()
    frame.wait_for_url(re.compile(r"/a/[\w-]+/\?booked=1$"))
    expect(inside.get_by_role("status")).to_contain_text(german("Your appointment is booked."))
    expect(inside.locator(".booking-summary")).to_contain_text(time_text)
    token = re.search(r"/a/([\w-]+)/", frame.url)
    assert token is not None
    booked = Appointment.objects.get(token=token.group(1))
    assert (booked.name, booked.office_id, booked.agent_id) == (CITIZEN, place.office.pk, place.agent.pk)
    _host_paragraph_unchanged(citizen)
    citizen.screenshot(path=str(artifacts_dir / "embed-booked.png"), full_page=True)

    # --- 4. a website the organisation does not list --------------------------------------------
    visitor = people.open("visitor of another website")
    visitor.goto(f"{stranger.origin}/index.html")
    inside, frame = _embedded(visitor)
    expect(inside.get_by_role("heading", level=1)).to_have_text("Auf dieser Website nicht verfügbar")
    expect(inside.get_by_role("alert")).to_have_text(
        f"{ORG_NAME} hat dieser Website nicht erlaubt, die virtuellen Büros anzuzeigen."
    )
    direct = inside.get_by_role("link", name=f"{base}/{ORG}/{OFFICE}/")
    expect(direct).to_have_attribute("href", f"{base}/{ORG}/{OFFICE}/")
    expect(direct).to_have_attribute("target", "_blank")
    expect(inside.get_by_text(stranger.origin, exact=False)).to_be_visible()
    expect(inside.get_by_role("link", name="Eintreten")).to_have_count(0)
    expect(inside.get_by_text("Ausweise, Pässe und Meldewesen.")).to_have_count(0)
    visitor.screenshot(path=str(artifacts_dir / "embed-refused.png"), full_page=True)

    # Framing the directory directly, without the snippet: the browser refuses to show it.
    visitor.goto(f"{stranger.origin}/direct.html")
    expect(visitor.locator("body")).to_have_attribute("data-loaded", "yes")
    handle = visitor.locator("#direct").element_handle()
    blocked = handle.content_frame() if handle is not None else None
    assert blocked is not None
    assert blocked.url.startswith("chrome-error://"), blocked.url  # Chromium's "refused" page
    assert ORG_NAME not in blocked.content()

    # Expected: the refusal's status and the browser's note on the blocked direct frame.
    assert people.script_errors("status of 403", "violates the following Content Security Policy") == {}


def test_the_frame_shrinks_to_a_shorter_page(people: People, place: Place, website: Website) -> None:
    citizen = people.open("citizen on the municipality's website")
    citizen.goto(f"{website.origin}/index.html")
    inside, frame = _embedded(citizen)
    _fits_its_content(citizen, frame)
    tall = _frame_height(citizen)

    inside.get_by_role("link", name="Alle Büros").click()  # the directory: one office card
    frame.wait_for_url(re.compile(rf"/{ORG}/$"))
    expect(inside.get_by_role("heading", level=1)).to_contain_text(ORG_NAME)
    assert _content_height(frame) < tall - 100  # the test's premise: a much shorter page
    citizen.wait_for_function(
        """([height]) => {
          const frame = document.querySelector('iframe[data-buergerbuero]');
          return Math.abs(frame.getBoundingClientRect().height - height) <= 2;
        }""",
        arg=[_content_height(frame)],
        timeout=3_000,
    )

"""Events in Chromium: the pages in German and Arabic (axe-core clean, 360 px, keyboard), and
with a real Janus the whole stage: a host publishes, three viewers (one at 360 px, one in
Arabic) decode the video, a viewer raises a hand, is brought on stage and is seen and heard
by the others, a question goes through moderation, in a press conference the public has no
hand to raise, and in consultation hours a citizen takes a turn in the office's queue, is
called, comes on stage, and is no longer heard once the host mutes her.

The server process gets the test run's Janus (``tests/support/janus.py``) through its
environment; every step waits on what the pages show, never on a fixed delay.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from buergerbuero.events import services
from buergerbuero.events.models import Event, EventKind, Visibility
from buergerbuero.limits import services as limits
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember
from tests import factories
from tests.browser.support_a11y import axe_violations
from tests.support.live import ALWAYS_OPEN, reset_join_limit, server_password_hash
from tests.support.server import AsgiServer, free_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOST = "Bürgermeisterin Roth"
PHONE = {"width": 360, "height": 740}
# A tile shows decoded video once its width is known.
TILE_PLAYS = (
    "(count) => [...document.querySelectorAll('[data-tiles] video')]"
    ".filter((video) => video.videoWidth > 0).length >= count"
)

# The loudest sample of the named speaker's sound within a few seconds, as this page plays it
# (Chromium's fake microphone beeps once a second; silence or no sound track reads as 0).
PEAK_OF_SPEAKER = """async ([name, settleMs]) => {
  const figure = [...document.querySelectorAll("[data-tiles] figure")]
    .find((tile) => tile.querySelector("figcaption").textContent === name);
  const track = figure && figure.querySelector("video").srcObject.getAudioTracks()[0];
  if (!track) return 0;
  const context = new AudioContext();
  await context.resume();
  const analyser = context.createAnalyser();
  context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  let peak = 0;
  for (let step = 0; step < 60 && peak < 0.05; step += 1) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    analyser.getFloatTimeDomainData(samples);
    for (const sample of samples) peak = Math.max(peak, Math.abs(sample));
  }
  await context.close();
  return peak;
}"""


def hears(page: Page, speaker: str, *, settle_ms: int = 0) -> bool:
    """Whether ``page`` plays ``speaker``'s sound; ``settle_ms``: first let pass what was on
    its way (after a mute)."""
    return bool(page.evaluate(PEAK_OF_SPEAKER, [speaker, settle_ms]) >= 0.05)


@pytest.fixture
def town() -> tuple[Organization, StaffMember]:
    organization = factories.make_org("eventstadt", state="BY", name="Stadt Eventstadt")
    organization.languages = "de,en,ar"
    organization.save()
    user = factories.make_staff(organization, "roth", Role.AGENT)
    User.objects.filter(pk=user.pk).update(password=server_password_hash())
    StaffMember.objects.filter(user=user).update(display_name=HOST)
    for address in ("127.0.0.1", "::1/64"):
        for scope in ("event-join", "event-register"):
            limits.reset(scope, address)
    return organization, StaffMember.objects.select_related("user").get(user=user)


def make(organization: Organization, host: StaffMember, **fields: Any) -> Event:
    start = timezone.now() + dt.timedelta(minutes=30)
    values: dict[str, Any] = {
        "title": "Infoabend Neubaugebiet",
        "kind": EventKind.PUBLIC_EVENT,
        "starts_at": start,
        "ends_at": start + dt.timedelta(hours=2),
        "visibility": Visibility.PUBLIC,
        "link_token": services.new_token(),
        **fields,
    }
    event = Event.objects.create(organization=organization, **values)
    event.hosts.set([host])
    return event


def person(browser: Browser, language: str = "de-DE", **options: Any) -> Page:
    context = browser.new_context(locale=language, timezone_id="Europe/Berlin", **options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    # Shown by pytest when the test fails: what each page said.
    page.on("console", lambda message: print(f"[{language} {message.type}] {message.text}"))  # noqa: T201
    page.on("pageerror", lambda error: print(f"[{language} pageerror] {error}"))  # noqa: T201
    return page


def watch(page: Page, base: str, event: Event, name: str = "") -> None:
    """From the event's page into its live page, as a viewer."""
    page.goto(f"{base}/{event.organization.slug}/events/{event.pk}/")
    if name:
        page.locator("#join-name").fill(name)
    page.locator("form[action$='/events/join/'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/events/watch/[\w-]+/$"))
    expect(page.locator("[data-connection]")).to_have_attribute("data-connection", "open")


def log_in(page: Page, base: str, event: Event) -> None:
    page.goto(f"{base}/staff/login/?next=/staff/events/{event.pk}/")
    page.get_by_label("Benutzername").fill("roth")
    page.get_by_label("Passwort").fill(factories.PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    expect(page).to_have_url(re.compile(rf"/staff/events/{event.pk}/$"))


def host_on_camera(browser: Browser, base: str, event: Event) -> Page:
    """The host's page: logged in, the event live, camera and microphone on."""
    page = person(browser)
    log_in(page, base, event)
    page.get_by_role("button", name="Live gehen").click()
    expect(page.locator("[data-state-live]")).to_be_visible()
    page.get_by_role("button", name="Kamera und Mikrofon einschalten").click()
    return page


# --- the pages: accessible, right-to-left, phone-sized, keyboard --------------------------------
@pytest.mark.mode_independent
@pytest.mark.parametrize(("language", "direction"), [("de-DE", "ltr"), ("ar", "rtl")])
def test_event_pages_are_accessible_and_work_by_keyboard(
    browser: Browser,
    asgi_server: AsgiServer,
    town: tuple[Organization, StaffMember],
    language: str,
    direction: str,
) -> None:
    organization, host = town
    event = make(organization, host)
    services.go_live(host, event)
    make(
        organization,
        host,
        title="Pressekonferenz",
        kind=EventKind.PRESS_CONFERENCE,
        registration_required=True,
    )
    page = person(browser, language, viewport=PHONE)
    page.context.add_cookies([{"name": "bb_language", "value": language[:2], "url": asgi_server.url}])

    page.goto(f"{asgi_server.url}/{organization.slug}/events/")
    assert page.evaluate("document.documentElement.dir") == direction
    assert axe_violations(page) == []
    page.get_by_role("link", name="Pressekonferenz").click()
    expect(page.locator("#register-email")).to_be_visible()
    assert axe_violations(page) == []

    watch(page, asgi_server.url, event)
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    hand = page.locator("[data-hand]")
    for _ in range(40):  # only the keyboard reaches the button
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.hasAttribute('data-hand')"):
            break
    page.keyboard.press("Enter")
    expect(hand).to_have_attribute("aria-pressed", "true")
    for _ in range(50):  # the server has it (the button's state is the page's own)
        if services.raised_hands(event):
            break
        page.wait_for_timeout(100)
    assert len(services.raised_hands(event)) == 1


# --- the stage through a real Janus ------------------------------------------------------------
def test_host_publishes_viewers_decode_and_a_viewer_comes_on_stage(
    browser: Browser, janus_server: AsgiServer, town: tuple[Organization, StaffMember]
) -> None:
    organization, host = town
    event = make(organization, host)
    base = janus_server.url
    host_page = host_on_camera(browser, base, event)

    anna = person(browser)
    watch(anna, base, event, "Anna")
    phone = person(browser, viewport=PHONE)
    watch(phone, base, event, "Ben")
    arabic = person(browser, "ar")
    arabic.context.add_cookies([{"name": "bb_language", "value": "ar", "url": base}])
    watch(arabic, base, event, "Dalia")
    assert arabic.evaluate("document.documentElement.dir") == "rtl"
    for viewer in (anna, phone, arabic):
        viewer.wait_for_function(TILE_PLAYS, arg=1, timeout=30_000)
        expect(viewer.locator("[data-tiles] figcaption").first).to_have_text(HOST)

    # A hand, the stage, and the others see the newcomer.
    anna.get_by_role("button", name="Melden").click()
    host_page.get_by_role("button", name="Auf die Bühne holen").click()
    expect(anna.locator("[data-publish-controls]")).to_be_visible()
    anna.get_by_role("button", name="Kamera und Mikrofon einschalten").click()
    for viewer in (phone, arabic):
        viewer.wait_for_function(TILE_PLAYS, arg=2, timeout=30_000)
        expect(viewer.locator("[data-tiles] figcaption", has_text="Anna")).to_be_visible()
        assert hears(viewer, "Anna")

    # A question through moderation.
    phone.locator("#question-text").fill("Wann beginnt der Bau?")
    phone.get_by_role("button", name="Frage senden").click()
    expect(arabic.locator("[data-questions] li")).to_have_count(0)
    host_page.get_by_role("button", name="Freigeben").click()
    expect(arabic.locator("[data-questions] li")).to_have_count(1)
    expect(arabic.locator("[data-questions] li p")).to_have_text("Wann beginnt der Bau?")

    # Back to the audience: the stage stops showing her.
    host_page.get_by_role("button", name="Zurück ins Publikum").click()
    expect(anna.locator("[data-publish-controls]")).to_be_hidden()
    expect(phone.locator("[data-tiles] figcaption", has_text="Anna")).to_have_count(0)


def test_in_a_press_conference_the_public_has_no_hand_to_raise(
    browser: Browser, asgi_server: AsgiServer, town: tuple[Organization, StaffMember]
) -> None:
    organization, host = town
    press = make(organization, host, kind=EventKind.PRESS_CONFERENCE, registration_required=True)
    services.go_live(host, press)
    page = person(browser)
    page.goto(f"{asgi_server.url}/{organization.slug}/events/{press.pk}/")
    page.locator("#register-name").fill("Paula Public")
    page.locator("#register-email").fill("paula@example.org")
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_text("Angemeldet: Paula Public")).to_be_visible()
    page.locator("form[action$='/events/join/'] button[type=submit]").click()
    expect(page.locator("[data-connection]")).to_have_attribute("data-connection", "open")
    expect(page.locator("[data-no-hand]")).to_be_visible()
    expect(page.locator("[data-hand]")).to_have_count(0)
    expect(page.locator("[data-question-form]")).to_have_count(0)


# --- embedded in the town's website ------------------------------------------------------------
EMBEDDING_PAGE = """<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>Rathaus online</title>
<link rel="icon" href="data:,"></head>
<body><h1>Rathaus online</h1>
<script src="{base}/embed.js" data-org="{org}" data-page="events" data-lang="de" async></script>
</body></html>
"""


@pytest.fixture
def town_website(asgi_server: AsgiServer) -> Iterator[str]:
    """The town's own website on another port of localhost, with the embed snippet."""
    port = free_port()
    page = EMBEDDING_PAGE.format(base=asgi_server.url, org="eventstadt").encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    website = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=website.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{port}"
    website.shutdown()
    website.server_close()


def test_the_embed_shows_the_events_and_a_viewer_joins_in_the_frame(
    browser: Browser, asgi_server: AsgiServer, town: tuple[Organization, StaffMember], town_website: str
) -> None:
    organization, host = town
    organization.embed_origins = town_website
    organization.save()
    event = make(organization, host)
    services.go_live(host, event)
    page = person(browser)
    page.goto(town_website)
    frame = page.frame_locator("iframe[data-buergerbuero]")
    frame.get_by_role("link", name=event.title).click()
    frame.locator("form[action$='/events/join/'] button[type=submit]").click()
    expect(frame.locator("[data-connection]")).to_have_attribute("data-connection", "open")
    expect(frame.locator("[data-state-live]")).to_be_visible()


@pytest.mark.mode_independent
def test_the_host_page_is_accessible(
    browser: Browser, asgi_server: AsgiServer, town: tuple[Organization, StaffMember]
) -> None:
    organization, host = town
    press = make(organization, host, kind=EventKind.PRESS_CONFERENCE, registration_required=True)
    services.register(press, name="Paula Presse", email="paula@example.org", language="de", journalist=True)
    page = person(browser)
    log_in(page, asgi_server.url, press)
    assert axe_violations(page) == []
    page.get_by_role("button", name="Freigeben").click()
    expect(page.get_by_role("cell", name="bestätigt")).to_be_visible()


def test_consultation_hours_a_citizen_takes_a_turn_and_is_seen_on_stage(
    browser: Browser, janus_server: AsgiServer, town: tuple[Organization, StaffMember]
) -> None:
    """The Bürgersprechstunde: the citizen's turn is a place in the office's waiting room
    (position and estimate), the host calls the next one, the citizen confirms “I'm here” by
    keyboard and is brought on stage, where the other viewers see her."""
    organization, host = town
    office = factories.make_office(
        organization, "sprechstunde", hours=ALWAYS_OPEN, observes_public_holidays=False
    )
    host.offices.add(office)
    reset_join_limit()
    hours = make(
        organization, host, title="Bürgersprechstunde", kind=EventKind.CONSULTATION_HOURS, office=office
    )
    base = janus_server.url
    host_page = host_on_camera(browser, base, hours)
    citizen = person(browser, viewport=PHONE)
    watch(citizen, base, hours, "Anna")
    audience = person(browser)
    watch(audience, base, hours, "Ben")
    audience.wait_for_function(TILE_PLAYS, arg=1, timeout=30_000)

    citizen.get_by_role("button", name="Einreihen").click()
    turn = citizen.locator("[data-turn]")
    expect(turn).to_contain_text("Ihre Position: 1.")
    expect(citizen.get_by_role("button", name="Einreihen")).to_be_hidden()
    ticket = hours.attendees.get(display_name="Anna").ticket
    assert ticket is not None
    assert ticket.office_id == office.pk  # a place in the office's own queue

    host_page.get_by_role("button", name="Nächste Person aufrufen").click()
    expect(host_page.locator("[data-call-result]")).to_contain_text("Aufgerufen")
    expect(turn).to_have_text("Sie sind an der Reihe! Bitte bestätigen Sie, dass Sie da sind.")
    here = citizen.get_by_role("button", name="Ich bin da")
    expect(here).to_be_focused()  # a screen reader or keyboard user is right there
    citizen.keyboard.press("Enter")

    expect(citizen.locator("[data-publish-controls]")).to_be_visible()
    expect(turn).to_be_hidden()
    citizen.get_by_role("button", name="Kamera und Mikrofon einschalten").click()
    audience.wait_for_function(TILE_PLAYS, arg=2, timeout=30_000)
    expect(audience.locator("[data-tiles] figcaption", has_text="Anna")).to_be_visible()
    expect(host_page.locator("[data-tiles] figcaption", has_text="Anna")).to_be_visible()
    assert hears(audience, "Anna")
    assert hears(audience, HOST)

    # The host mutes her: the audience still sees her and no longer hears her.
    host_page.get_by_role("button", name="Stummschalten").click()
    expect(audience.locator("[data-tiles] figcaption", has_text="Anna")).to_be_visible()
    expect(citizen.get_by_text("stummgeschaltet")).to_be_visible()
    assert not hears(audience, "Anna", settle_ms=500)
    assert hears(audience, HOST)

"""Every citizen page in every state, in German and in Arabic (right to left), checked with
axe-core against WCAG 2.1 A and AA (BITV 2.0), with visible focus, no sideways scrolling at
360 px, the right ``lang``/``dir``, a mirrored layout in Arabic, live regions in the waiting
room, and animations off for people who asked for reduced motion.

One server process (``asgi_server``) and one browser context per language (a phone, 360 px,
with the ``bb_language`` cookie) walk through the states in order. A state the page only has to
load is set up through the service functions (a citizen waiting, a chat-only consultation, a
place given up, someone else booking the chosen time, an appointment that can be entered now);
a state that arrives live is caused in the server process, as in real life: the staff member,
in a German browser context of their own, announces, calls, joins the video consultation (so
the citizen's page shows a real remote picture), chats and ends it (in the embedded mode the
test process's events would not reach the server's sockets). Form errors and the cancellation
go through the pages. Every finding of every state is collected and reported at the end,
readably (rule, impact, element, html), so one run shows all of them.

Besides axe-core: ids named by ``aria-describedby``/``for`` … exist and no id is used twice (axe
lets a missing reference pass as "needs review"), ``<html lang dir>``, no sideways scrolling at
360 px, a visible focus on every focusable element, the mirrored layout (brand, accents, status
dots) compared by bounding boxes, and the waiting room's live regions for queue, announcement
and call events.

The real demo organisations (every citizen page of Musterstadt and Landkreis Beispiel) and a town
of long German compounds, e-mail addresses and URLs are checked with axe-core too, in German and
Arabic, by ``test_mobile``'s demo survey (one visit per page and language for width and axe).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from django.utils.translation.trans_real import DjangoTranslation
from playwright.sync_api import Browser, BrowserContext, Page, expect

from buergerbuero.booking import services as booking
from buergerbuero.booking.models import Appointment
from buergerbuero.waiting.models import Mode, Ticket, TicketStatus
from buergerbuero.waiting.services import calling, joining, periodic
from tests.browser.support_a11y import (
    Town,
    axe_script,
    axe_violations,
    describe_violations,
    focus_problems,
    make_town,
    mirroring_problems,
    motion_facts,
    reference_problems,
    sideways_overflow,
)
from tests.browser.support_call import (
    DESKTOP,
    PORTRAIT,
    TIMEOUT_MS,
    People,
    join_with_video,
    precheck_ready,
    wait_for_remote_video,
    watched_people,
)
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.mode_independent, pytest.mark.django_db(transaction=True)]

LOCALES = {"de": "de-DE", "ar": "ar"}
Motion = Literal["reduce", "no-preference"]
ANNOUNCEMENT = "Wegen einer Störung dauert es heute etwas länger."
CITIZEN = "Bürgerin Barrierefrei"


def js_text(language: str, msgid: str) -> str:
    """A text of the page scripts as the page shows it in ``language``."""
    return str(DjangoTranslation(language, domain="djangojs").gettext(msgid))


@dataclass
class Audit:
    """Checks page states of one language and collects what is wrong."""

    page: Page
    base: str
    language: str
    problems: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)

    def visit(self, path: str, state: str, live: str = "") -> None:
        """Open ``path``; with ``live``, wait until that part's socket is open."""
        self.page.goto(self.base + path)
        if live:
            self.wait_live(live)
        self.check(state)

    def wait_live(self, root: str) -> None:
        expect(self.page.locator(f"{root} [data-connection]")).to_have_attribute("data-connection", "open")

    def check(self, state: str) -> None:
        """axe-core, references between elements, the page's language and direction, its width
        at 360 px, visible focus."""
        self.states.append(state)
        self.problems += describe_violations(state, axe_violations(self.page))
        self.problems += [f"{state}: {problem}" for problem in reference_problems(self.page)]
        rtl = self.language == "ar"
        html = self.page.locator("html")
        attributes = (html.get_attribute("lang"), html.get_attribute("dir"))
        if attributes != (self.language, "rtl" if rtl else "ltr"):
            self.problems.append(f"{state}: <html lang dir> is {attributes}")
        overflow = sideways_overflow(self.page)
        if overflow:
            self.problems.append(f"{state}: scrolls sideways at 360 px: {overflow}")
        self.problems += [f"{state}: {problem}" for problem in focus_problems(self.page)]

    def expect_problem_free(self) -> None:
        report = "\n".join(self.problems)
        assert not self.problems, (
            f"{len(self.problems)} accessibility findings in {self.language} "
            f"({len(self.states)} states checked):\n{report}"
        )


@pytest.fixture
def town() -> Town:
    return make_town()


@pytest.fixture
def people(browser: Browser, asgi_server: AsgiServer) -> Iterator[People]:
    with watched_people(browser, asgi_server, slow=False) as crowd:
        yield crowd


def _citizen_context(
    browser: Browser, base: str, language: str, reduced_motion: Motion = "no-preference"
) -> BrowserContext:
    """A phone speaking ``language``: the language cookie the switcher would set, 360 px wide."""
    context = browser.new_context(
        locale=LOCALES[language],
        timezone_id="Europe/Berlin",
        viewport=PORTRAIT,
        reduced_motion=reduced_motion,
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.add_cookies([{"name": "bb_language", "value": language, "url": base}])
    return context


def open_console(page: Page, base: str, user: User) -> None:
    """The staff member's console with a logged-in session (made with Django's test client:
    the walk-in test logs in through the form)."""
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base}])
    page.goto(f"{base}/staff/console/")
    expect(page.locator("#console [data-connection]")).to_have_attribute("data-connection", "open")


def _fill_details(page: Page, name: str, email: str) -> None:
    page.locator("#id_name").fill(name)
    page.locator("#id_email").fill(email)
    page.locator("#id_consent").check()
    page.locator("form.form button[type=submit]").click()


def _walk_through_entering(audit: Audit, town: Town) -> None:
    """Directory, office pages (open, closed), the enter form (fresh, with errors, refused)."""
    page = audit.page
    audit.visit(town.paths["directory"], "directory")
    audit.problems += [
        f"directory: {problem}" for problem in mirroring_problems(page, audit.language == "ar")
    ]
    # Each language's name is written in that language, and marked so (screen readers switch voice).
    options = page.locator("#language-select option")
    expect(options).to_have_count(len(settings.LANGUAGES))
    for option in options.all():
        assert option.get_attribute("lang") == option.get_attribute("value"), option.inner_html()
    audit.visit(town.paths["office"], "office page (open)")
    audit.visit(town.paths["closed"], "office page (closed)")
    audit.visit(town.paths["office"] + "enter/", "enter form")
    page.locator("form.form button[type=submit]").click()  # no concern chosen
    expect(page.locator("fieldset .form-error")).to_be_visible()
    expect(page.locator("form.form [role=alert]")).to_be_visible()  # the failed sending is spoken
    audit.check("enter form with errors")
    audit.visit(town.paths["closed"] + "enter/", "enter page of the closed office, with booking suggestions")
    expect(page.locator("[role=alert] .slot-list a").first).to_be_visible()


def _walk_through_waiting_and_consultation(audit: Audit, town: Town, people: People) -> None:
    """Waiting, a staff announcement, called, the pre-call check, the video consultation with
    chat, switched to chat only, its end and the rating; a chat-only consultation; a place
    given up."""
    page, language = audit.page, audit.language
    ticket = joining.join(
        town.office, service=town.service, display_name=CITIZEN, language=language, mode=Mode.VIDEO
    )
    assert ticket.status == TicketStatus.WAITING  # nobody staffs a seat yet
    polite = page.locator("#waiting-room [aria-live=polite]")
    assertive = page.locator("#waiting-room [aria-live=assertive]")
    audit.visit(
        f"/w/{ticket.token}/", "waiting room (waiting, with Markdown text and checklist)", "#waiting-room"
    )
    expect(page.locator(".waiting-text strong")).to_have_text("Willkommen!")
    expect(page.locator(".checklist input[type=checkbox]")).to_have_count(2)
    # The queue event (the snapshot on connecting) is spoken by the polite live region.
    # The place and the wait together (one polite announcement, not two).
    expect(polite).to_contain_text(js_text(language, "Your place in the queue: %s").replace("%s", "1"))
    expect(polite).to_contain_text(js_text(language, "Estimated wait:"))

    # The staff member, in the console of their own browser, sends a message to everyone
    # waiting, goes available and calls: the events reach the page live.
    agent = people.open("staff member", viewport=DESKTOP)
    open_console(agent, audit.base, town.caller_user)
    agent.locator(".announce-form input[name=text]").fill(ANNOUNCEMENT)
    agent.locator(".announce-form button[type=submit]").click()
    expect(page.locator("[data-announcement]")).to_have_text(ANNOUNCEMENT)
    expect(polite).to_contain_text(ANNOUNCEMENT)  # arrives live, and is spoken
    audit.check("waiting room with a staff announcement")

    agent.locator("[data-set-presence=available]").click()
    expect(agent.locator("[data-set-presence=available]")).to_have_attribute("aria-pressed", "true")
    agent.locator("[data-call-next-button]").click()
    expect(page.locator("[data-called-panel]")).to_be_visible()
    expect(page.locator("[data-deadline-text]")).not_to_be_empty()
    expect(assertive).to_have_text(js_text(language, "It's your turn! Please confirm that you are here."))
    audit.check("waiting room (called: “It's your turn”, with the count-down)")

    page.locator("[data-confirm-button]").click()
    expect(page).to_have_url(re.compile(r"/consultation/$"))
    audit.wait_live("#consultation")
    precheck_ready(page)
    audit.check("consultation: pre-call check")

    # The console follows into the consultation; both join with video and chat.
    expect(agent).to_have_url(re.compile(r"/staff/consultations/\d+/$"))
    expect(agent.locator("#consultation [data-connection]")).to_have_attribute("data-connection", "open")
    join_with_video(agent)
    # The staff member's arrival is spoken (the participants list is a live region).
    expect(page.locator("[aria-live] [data-peer-role=agent] [data-peer-online]")).to_be_visible()
    page.locator("[data-join=video]").click()
    expect(page.locator("[data-stage]")).to_be_visible()
    wait_for_remote_video(page, "agent")
    # A conversation long enough for the chat log to scroll.
    lines = [(page, "Guten Tag!"), (agent, "Guten Tag, was kann ich für Sie tun?")]
    lines += [(page, f"Frage {number}: Welche Unterlagen brauche ich?") for number in range(1, 9)]
    for person, text in lines:
        person.locator("#chat-input").fill(text)
        person.locator("[data-chat-form] button[type=submit]").click()
    expect(page.locator("[data-chat-log] li")).to_have_count(len(lines))
    scrolls = page.evaluate(
        "(log) => log.scrollHeight > log.clientHeight", page.locator(".chat__log").element_handle()
    )
    assert scrolls, "the chat log should scroll by now"
    audit.check("consultation with video and a long chat")

    page.locator("[data-chat-only-toggle]").click()
    expect(page.locator("[data-tile=self]")).to_be_hidden()
    audit.check("consultation switched to chat only")

    agent.locator(".end-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/done/$"))
    audit.check("done page with the rating")
    page.locator("#rating-4").check()
    page.locator(".feedback-form button[type=submit]").click()
    expect(page.locator(".messages")).to_be_visible()
    audit.check("done page after rating")

    # A consultation chosen as chat only: a free seat takes the citizen at once.
    periodic.touch([], [town.caller.pk])
    chat = joining.join(town.office, service=None, display_name=CITIZEN, language=language, mode=Mode.CHAT)
    assert Ticket.objects.get(pk=chat.pk).status == TicketStatus.ADMITTED
    audit.visit(
        f"/w/{chat.token}/consultation/", "consultation chosen as chat only: pre-call", "#consultation"
    )
    expect(page.locator("[data-precheck-message]")).not_to_be_empty()
    page.locator("[data-join=chat]").click()
    expect(page.locator("[data-stage]")).to_be_visible()
    audit.check("consultation in chat-only mode")

    # Someone who left: the waiting room says their place has ended.
    gone = joining.join(town.office, service=None, display_name="", language=language, mode=Mode.VIDEO)
    assert calling.leave(gone)
    audit.visit(f"/w/{gone.token}/", "waiting room after leaving")


def _walk_through_booking(audit: Audit, town: Town) -> None:
    """Service, day strip and times, details (fresh, errors, time taken), the appointment
    (booked, rescheduling, cancelled, entering open)."""
    page = audit.page
    audit.visit(town.paths["book"], "booking: choose a service")
    page.locator(f"#service-{town.service.pk}").check()
    page.locator("form.booking-choice button[type=submit]").click()
    expect(page.locator(".day-strip")).to_be_visible()
    audit.check("booking: day strip and free times")

    page.locator("#agent").select_option(str(town.planner.pk))
    page.locator("form.booking-choice button[type=submit]").click()
    expect(page).to_have_url(re.compile(f"agent={town.planner.pk}"))
    page.locator(".slot-list--day a").first.click()
    expect(page).to_have_url(re.compile(r"/book/details/\?"))
    audit.check("booking: details form")
    page.locator("form.form button[type=submit]").click()
    expect(page.locator("form.form [role=alert]")).to_be_visible()
    audit.check("booking: details with errors")

    # Someone else takes the time meanwhile.
    start = dt.datetime.fromisoformat(parse_qs(urlparse(page.url).query)["start"][0])
    rival = booking.Contact(name="Jemand Anderes", email="jemand@example.org", consent=True)
    booking.book(town.office, town.service, start=start, contact=rival, agent=town.planner)
    _fill_details(page, CITIZEN, "buergerin@example.org")
    expect(page.locator("[role=alert] .slot-list a").first).to_be_visible()
    audit.check("booking: details, the time was just taken, with suggestions")

    page.locator("[role=alert] .slot-list a").first.click()
    _fill_details(page, CITIZEN, "buergerin@example.org")
    expect(page).to_have_url(re.compile(r"/a/[\w-]+/\?booked=1$"))
    audit.check("appointment page (just booked)")
    appointment_url = page.url.split("?")[0]
    audit.visit(appointment_url.removeprefix(audit.base) + "reschedule/", "reschedule: choose another time")
    page.goto(appointment_url)
    page.locator(".cancel-box summary").click()
    page.locator(".cancel-box button[type=submit]").click()
    expect(page.locator(".messages")).to_be_visible()
    audit.check("appointment page (cancelled)")

    # An appointment that can be entered now (booked as if two hours ago).
    now = timezone.now()
    earlier = now - dt.timedelta(hours=2)
    slots = booking.finder(town.office, town.service, now=earlier).next_free(
        10, after=now - dt.timedelta(minutes=40)
    )
    slot = next(slot for slot in slots if slot.start > now - dt.timedelta(minutes=40))
    contact = booking.Contact(name=CITIZEN, email="buergerin@example.org", consent=True)
    soon: Appointment = booking.book(
        town.office, town.service, start=slot.start, contact=contact, now=earlier
    )
    assert booking.can_join(soon), (soon.starts_at, now)
    audit.visit(f"/a/{soon.token}/", "appointment page (entering is open)")
    expect(page.locator("[data-join-appointment]")).to_be_visible()


def _walk_through_refusals(audit: Audit) -> None:
    audit.visit("/embed/barrierefrei/?origin=https://not-allowed.example", "embedding refused")
    audit.visit("/barrierefrei/gibt-es-nicht/", "page not found (404)")


@pytest.mark.parametrize("language", ["de", "ar"])
def test_citizen_pages_meet_wcag_aa_in_every_state(
    language: str, browser: Browser, asgi_server: AsgiServer, town: Town, people: People
) -> None:
    axe_script()  # installed by `make axe`; skipped without it, except in CI
    expect.set_options(timeout=TIMEOUT_MS)
    context = _citizen_context(browser, asgi_server.url, language)
    page = context.new_page()
    log = people.logs.setdefault(f"citizen ({language})", [])
    page.on("console", lambda message: log.append(f"[{message.type}] {message.text}"))
    page.on("pageerror", lambda error: log.append(f"[pageerror] {error}"))
    audit = Audit(page, asgi_server.url, language)
    try:
        _walk_through_entering(audit, town)
        _walk_through_waiting_and_consultation(audit, town, people)
        _walk_through_booking(audit, town)
        _walk_through_refusals(audit)
    finally:
        expect.set_options(timeout=5_000)  # Playwright's default again, for the other tests
        context.close()
    assert len(audit.states) >= 25
    audit.expect_problem_free()


def test_reduced_motion_switches_off_animations_and_transitions(
    browser: Browser, asgi_server: AsgiServer, town: Town
) -> None:
    """A component with its own transition and animation moves for everyone else, and not at all
    for someone whose system asks for reduced motion; nothing on the pages moves for them."""
    ticket = joining.join(town.office, service=None, display_name="", language="de", mode=Mode.VIDEO)
    room = f"/w/{ticket.token}/"
    seen = {}
    motions: tuple[Motion, ...] = ("no-preference", "reduce")
    for motion in motions:
        context = _citizen_context(browser, asgi_server.url, "de", reduced_motion=motion)
        try:
            page = context.new_page()
            pages = {}
            for path in (town.paths["directory"], town.paths["book"], room):
                page.goto(asgi_server.url + path)
                pages[path] = motion_facts(page)
            seen[motion] = pages
        finally:
            context.close()
    for path, facts in seen["no-preference"].items():
        assert not facts["reduce"], facts
        assert facts["transitionDuration"] == "2s", (path, facts)
        assert facts["animationName"] == "a11y-probe-spin", (path, facts)
    for path, facts in seen["reduce"].items():
        assert facts["reduce"], facts
        assert facts["transitionDuration"] == "0s", (path, facts)
        assert facts["animationName"] == "none", (path, facts)
        assert facts["running"] == 0, (path, facts)
        assert facts["moving"] == [], (path, facts)

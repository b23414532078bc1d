"""The citizen's ways through the product with the keyboard only, in Chromium.

The citizen's browser gets nothing but ``page.keyboard`` (Tab, Shift+Tab, Enter, Space, arrow
keys, typing): no ``click``, no ``fill``. Opening the office page by its address is the only
navigation the test does for them. Locators serve only to *check* where the focus is. The staff
member (not the subject here) works the console with the mouse.

At every key press the focused element is checked (``FOCUS_JS``): it is inside the window
(the browser scrolled it into view), not covered by anything else (the element at its centre
is itself, a descendant or one of its labels), matches ``:focus-visible`` and shows an
indicator, i.e. a computed outline of at least 2 px in a non-transparent colour or a
box-shadow. On every page the first Tab stop is the "skip to content" link, shown on focus;
Enter on it moves the focus to ``<main>``, from where the walk goes on.

Two walks: a walk-in (office page → enter form → waiting room → called → consultation with
video and chat → closing page with the rating) and a booking up to its confirmation page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, Locator, Page, expect

from buergerbuero.booking.models import Appointment
from buergerbuero.consult.models import Feedback
from buergerbuero.offices.models import Office
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting.models import Ticket, TicketStatus
from tests import factories
from tests.browser.support_booking import german, german_js
from tests.browser.support_call import (
    DESKTOP,
    People,
    make_call_office,
    start_consultation,
    watched_people,
)
from tests.support.live import ALWAYS_OPEN, reset_join_limit
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.mode_independent, pytest.mark.django_db(transaction=True)]

AGENT_NAME = "Frau Tastatur"
CITIZEN = "Bürgerin Tab"
SERVICES = ("Personalausweis", "Wohnsitz anmelden")
MAX_TABS = 40

# The focused element and whether a sighted keyboard user can see where the focus is.
FOCUS_JS = """
() => {
  const element = document.activeElement;
  if (!element || element === document.body || element === document.documentElement) return null;
  const style = getComputedStyle(element);
  const box = element.getBoundingClientRect();
  const x = Math.min(Math.max(box.left + box.width / 2, 0), window.innerWidth - 1);
  const y = Math.min(Math.max(box.top + box.height / 2, 0), window.innerHeight - 1);
  const hit = document.elementFromPoint(x, y);
  const labels = [...(element.labels || [])];
  const onTop = Boolean(hit) && (element.contains(hit) || labels.some((label) => label.contains(hit)));
  const opaque = (colour) => colour !== "transparent" && !/^rgba\\(.*,\\s*0\\)$/.test(colour);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2
    && opaque(style.outlineColor);
  const text = (element.innerText || element.value || element.getAttribute("aria-label")
    || labels.map((label) => label.innerText).join(" ") || "").trim().replace(/\\s+/g, " ").slice(0, 40);
  return {
    description: `<${element.tagName.toLowerCase()}${element.id ? "#" + element.id : ""}> "${text}"`,
    inView: box.width > 0 && box.height > 0 && box.top >= -0.5 && box.left >= -0.5
      && box.bottom <= window.innerHeight + 0.5 && box.right <= window.innerWidth + 0.5,
    onTop,
    focusVisible: element.matches(":focus-visible"),
    indicator: outline || style.boxShadow !== "none",
    style: `outline: ${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor}; `
      + `box-shadow: ${style.boxShadow}`,
  };
}
"""


@dataclass
class KeyboardUser:
    """A citizen with a keyboard and no mouse: every key press is followed by a check that the
    focus is visible (for keys that stay on the page)."""

    page: Page
    stops: list[str] = field(default_factory=list)  # every focus seen, for failure messages

    def focus(self) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.page.evaluate(FOCUS_JS)
        return found

    def press(self, key: str) -> dict[str, Any]:
        """Press ``key``; the focus must then be on an element, visibly."""
        self.page.keyboard.press(key)
        focus = self.focus()
        assert focus is not None, (
            f"{self.page.url}: after {key} the focus is lost (on <body>); before: {self.stops[-5:]}"
        )
        self.stops.append(focus["description"])
        where = f"{self.page.url}: after {key} the focus is on {focus['description']}"
        assert focus["inView"], f"{where}, outside the window"
        assert focus["onTop"], f"{where}, covered by another element"
        assert focus["focusVisible"], f"{where}, which does not match :focus-visible"
        assert focus["indicator"], f"{where}, without a focus indicator ({focus['style']})"
        return focus

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)

    def tab_to(self, target: Locator, limit: int = MAX_TABS) -> int:
        """Tab until ``target`` has the focus (it may have it already); the number of presses."""
        for presses in range(limit + 1):
            if _is_focused(target):
                return presses
            if presses < limit:
                self.press("Tab")
        raise AssertionError(
            f"{target} not reached with {limit} Tab presses; focus went {self.stops[-limit:]}"
        )

    def first_stop_is_skip_link(self) -> Locator:
        """The page's first Tab stop is the skip link, shown when it has the focus."""
        self.page.evaluate("window.scrollTo(0, 0)")
        assert self.focus() is None, f"{self.page.url}: {self.focus()} has the focus before the first Tab"
        self.press("Tab")
        skip = self.page.get_by_role("link", name=german("Skip to content"), exact=True)
        assert _is_focused(skip), (
            f"{self.page.url}: the first Tab stop is {self.stops[-1]}, not the skip link"
        )
        expect(skip).to_have_attribute("href", "#main")
        return skip

    def skip_to_content(self) -> None:
        """The skip link first, then Enter on it: the focus moves to the main content.

        The address then ends with ``#main``, and a form sent from there keeps the fragment
        through the redirect (the next page opens at its content, and its first Tab stop is no
        longer the skip link): the walks use it on pages they leave by a link."""
        self.first_stop_is_skip_link()
        self.page.keyboard.press("Enter")
        expect(self.page.locator("main#main")).to_be_focused()

    def follow(self, key: str, url: str | re.Pattern[str]) -> None:
        """Press a key that leads to another page, and wait for it."""
        self.page.keyboard.press(key)
        expect(self.page).to_have_url(url)
        self.page.wait_for_load_state()


def _is_focused(locator: Locator) -> bool:
    return bool(locator.evaluate("(element) => element === document.activeElement"))


# --- the places --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Place:
    office: Office
    agent: StaffMember

    @property
    def path(self) -> str:
        return f"/{self.office.organization.slug}/{self.office.slug}/"


@pytest.fixture
def place() -> Place:
    """An office open around the clock with two services (both bookable) and one staff member."""
    organization = factories.make_org("tastenstadt", state="BY", name="Stadt Tastenstadt")
    office = factories.make_office(
        organization, "buergerbuero", hours=ALWAYS_OPEN, name="Bürgerbüro", observes_public_holidays=False
    )
    for position, name in enumerate(SERVICES):
        factories.make_service(
            office, name, slot_minutes=20, buffer_minutes=10, lead_minutes=60, position=position
        )
    user = factories.make_staff(organization, "tastatur", Role.AGENT, [office])
    StaffMember.objects.filter(user=user).update(display_name=AGENT_NAME)
    reset_join_limit()
    return Place(office=office, agent=StaffMember.objects.select_related("user").get(user=user))


@pytest.fixture
def people(browser: Browser, asgi_server: AsgiServer) -> Iterator[People]:
    with watched_people(browser, asgi_server) as crowd:
        yield crowd


def _console(people: People, place: Place) -> Page:
    """The staff member's console (logged in with a session made here), on a break."""
    page = people.open("agent")
    client = Client()
    client.force_login(place.agent.user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": people.base}])
    page.goto(f"{people.base}/staff/console/")
    expect(page.locator("#console [data-connection]")).to_have_attribute("data-connection", "open")
    page.get_by_role("button", name=german("Pause"), exact=True).click()
    expect(page.locator("[data-presence-label]")).to_have_text(german_js("pause"))
    return page


# --- tests -----------------------------------------------------------------------------------------
def test_walk_in_from_office_page_to_rating_with_the_keyboard_only(people: People, place: Place) -> None:
    agent = _console(people, place)
    page = people.open("citizen", viewport=DESKTOP)
    citizen = KeyboardUser(page)

    # The office page: skip to the content, Tab to "Enter", Enter.
    page.goto(people.base + place.path)
    citizen.skip_to_content()
    citizen.tab_to(page.get_by_role("link", name=german("Enter"), exact=True))
    citizen.follow("Enter", re.compile(r"/enter/$"))

    # The form: arrow keys choose within a radio group, the name is typed, Enter submits.
    citizen.first_stop_is_skip_link()
    first = page.get_by_role("radio", name=SERVICES[0], exact=True)
    citizen.tab_to(first)
    expect(first).not_to_be_checked()  # Tab into a group without a choice stops at its first radio
    citizen.press("ArrowDown")
    second = page.get_by_role("radio", name=SERVICES[1], exact=True)
    expect(second).to_be_checked()
    expect(second).to_be_focused()
    video = page.get_by_role("radio", name=german("Video and audio"), exact=True)
    citizen.press("Tab")  # into the next group: onto its chosen radio
    expect(video).to_be_focused()
    expect(video).to_be_checked()
    citizen.tab_to(page.get_by_label(german("Name or pseudonym (optional)")), limit=3)
    citizen.type(CITIZEN)
    citizen.follow("Enter", re.compile(r"/w/[\w-]+/$"))
    room = page.url
    expect(page.locator("#waiting-room [data-connection]")).to_have_attribute("data-connection", "open")
    expect(page.locator("#waiting-room strong[data-position]")).to_have_text("1")
    ticket = Ticket.objects.get(display_name=CITIZEN)
    assert (ticket.service.name if ticket.service else None, ticket.mode) == (SERVICES[1], "video")

    # The waiting room; the staff member calls. The focus jumps to "I'm here" by itself.
    citizen.first_stop_is_skip_link()
    agent.get_by_role("button", name=german("Available"), exact=True).click()
    agent.get_by_role("button", name=german("Call next"), exact=True).click()
    confirm = page.get_by_role("button", name=german("I'm here"), exact=True)
    expect(confirm).to_be_visible()
    expect(confirm).to_be_focused()
    focus = citizen.focus()
    assert focus is not None
    assert focus["focusVisible"], focus
    assert focus["indicator"], focus
    assert citizen.tab_to(confirm) == 0
    citizen.follow("Space", room + "consultation/")

    # The consultation: the pre-call check with the keyboard, then video.
    expect(page.locator("#consultation [data-connection]")).to_have_attribute("data-connection", "open")
    expect(agent).to_have_url(re.compile(r"/staff/consultations/\d+/$"))
    citizen.skip_to_content()
    expect(page.locator("[data-precheck-panel]")).to_have_attribute("data-precheck", "ready")
    citizen.tab_to(page.get_by_role("button", name=german("Join with video"), exact=True))
    citizen.press("Enter")  # the focus moves into the call, to its first control
    expect(page.locator("[data-stage]")).to_be_visible()
    expect(page.locator("[data-precheck-panel]")).to_be_hidden()

    # The chat: Tab to the message box (past the call's controls), type, Enter sends.
    message = "Guten Tag, ich möchte meinen Wohnsitz anmelden."
    expect(page.get_by_role("button", name=german("Microphone on"), exact=True)).to_be_focused()
    citizen.tab_to(page.get_by_label(german("Your message")))
    citizen.type(message)
    citizen.press("Enter")
    expect(page.locator("[data-chat-log] li").filter(has_text=message)).to_be_visible()
    expect(agent.locator("[data-chat-log] li").filter(has_text=message)).to_be_visible()
    expect(page.get_by_label(german("Your message"))).to_have_value("")

    # The staff member ends; the closing page: arrow keys give four stars, Enter sends.
    agent.get_by_role("button", name=german("End consultation"), exact=True).click()
    expect(page).to_have_url(room + "done/")
    expect(page.get_by_role("heading", level=1)).to_have_text(german("The consultation has ended"))
    citizen.first_stop_is_skip_link()
    stars = [page.locator(f"#rating-{value}") for value in range(1, 6)]
    citizen.tab_to(stars[0])
    for _ in range(3):
        citizen.press("ArrowDown")
    expect(stars[3]).to_be_checked()
    expect(stars[3]).to_be_focused()
    citizen.press("Tab")
    expect(page.get_by_label(german("Comment (optional; please no personal data)"))).to_be_focused()
    citizen.type("Alles ohne Maus geschafft.")
    citizen.tab_to(page.get_by_role("button", name=german("Send feedback"), exact=True), limit=2)
    citizen.follow("Enter", room + "done/")
    expect(page.get_by_role("status")).to_contain_text(german("Thank you for your feedback."))
    assert list(Feedback.objects.values_list("rating", "comment")) == [(4, "Alles ohne Maus geschafft.")]
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.DONE
    assert people.script_errors() == {}


def test_booking_up_to_the_confirmation_with_the_keyboard_only(people: People, place: Place) -> None:
    page = people.open("citizen", viewport=DESKTOP)
    citizen = KeyboardUser(page)

    page.goto(people.base + place.path)
    citizen.skip_to_content()
    citizen.tab_to(page.get_by_role("link", name=german("Book an appointment"), exact=True))
    citizen.follow("Enter", re.compile(r"/book/$"))

    # The service: Space chooses the focused radio; "Continue" shows the free times.
    citizen.first_stop_is_skip_link()
    service = page.get_by_role("radio", name=re.compile(f"^{SERVICES[0]}"))
    citizen.tab_to(service)
    citizen.press("Space")
    expect(service).to_be_checked()
    citizen.tab_to(page.get_by_role("button", name=german("Continue"), exact=True), limit=3)
    citizen.follow("Enter", re.compile(r"/book/\?service=\d+"))

    # The first of the next free times.
    citizen.first_stop_is_skip_link()
    first_time = page.locator(".slot-list a.slot").first
    expect(first_time).to_be_visible()
    citizen.tab_to(first_time)
    citizen.follow("Enter", re.compile(r"/book/details/\?"))

    # The details: typed, the consent ticked with Space, then the button.
    citizen.first_stop_is_skip_link()
    citizen.tab_to(page.get_by_label(german("Your name")))
    citizen.type("Maria Muster")
    citizen.press("Tab")
    expect(page.get_by_label(german("E-mail address"))).to_be_focused()
    citizen.type("maria.muster@example.org")
    consent = page.get_by_role("checkbox")
    citizen.tab_to(consent, limit=4)
    citizen.press("Space")
    expect(consent).to_be_checked()
    citizen.tab_to(page.get_by_role("button", name=german("Book the appointment"), exact=True), limit=3)
    citizen.follow("Enter", re.compile(r"/a/[\w-]+/\?booked=1$"))
    expect(page.get_by_role("status")).to_contain_text(german("Your appointment is booked."))
    citizen.first_stop_is_skip_link()

    appointment = Appointment.objects.get()
    assert (appointment.name, appointment.email, appointment.service.name) == (
        "Maria Muster",
        "maria.muster@example.org",
        SERVICES[0],
    )
    assert appointment.token in page.url
    assert people.script_errors() == {}


def test_joining_the_call_with_the_keyboard_puts_the_focus_into_the_call(people: People) -> None:
    meeting = start_consultation(make_call_office())
    page = people.open("citizen", viewport=DESKTOP)
    citizen = KeyboardUser(page)
    page.goto(people.base + meeting.citizen_path)
    expect(page.locator("[data-precheck-panel]")).to_have_attribute("data-precheck", "ready")
    citizen.first_stop_is_skip_link()
    citizen.tab_to(page.get_by_role("button", name=german("Join with video"), exact=True))
    page.keyboard.press("Enter")
    stage = page.locator("[data-stage]")
    expect(stage).to_be_visible()
    focus = citizen.focus()
    assert focus is not None, "after joining with Enter, the focus is on <body>"
    assert stage.evaluate("(element) => element.contains(document.activeElement)"), focus
    assert focus["focusVisible"], focus
    assert focus["indicator"], focus

"""Helpers for the phone and tablet tests: the town whose citizen pages are surveyed, the
screens, and the measurements taken on every page (``SURVEY_JS``).

**The town.** One organisation with one office, set up through the service functions so that
every citizen page exists at the same time in the state it is surveyed in: a citizen waiting,
one called, one in a video consultation (its staff member's browser joins with video, so the
citizen's page shows a remote picture), one in a chat-only consultation, one whose
consultation has ended (the rating form), and a booked appointment (its page and the
"choose another time" page). The office is open around the clock, answers to calls may take
ten minutes and a lost place is held for an hour, so nothing changes while the pages are
surveyed.

**The measurements** (one ``page.evaluate`` per page, see ``SURVEY_JS``):

* *Sideways scrolling*: ``document.documentElement.scrollWidth <= window.innerWidth``, and the
  page is not zoomed out (``innerWidth`` equals the screen's width): a phone shrinks a page
  whose content is too wide, and ``innerWidth`` then grows with it, which would hide the
  overflow from the first comparison. The elements sticking out are listed for the report.
* *Touch targets* (WCAG 2.5.5, 44 × 44 CSS px): every rendered ``a[href]``, ``button``,
  ``input`` (not hidden), ``select``, ``textarea``, ``summary`` and ``[role=button]``.
  Not measured: elements that are not rendered (``hidden``, closed ``<details>``,
  ``visibility: hidden``), the visually-hidden pattern (a box of at most 1 × 1 px) and
  elements placed above or before the page's start (the skip link until it has the focus;
  it is measured separately, focused). The target of a radio button or checkbox is its own
  box joined with the boxes of its labels, because a tap on a label operates the control.
  **The inline exception** (2.5.5 “the target is in a sentence or block of text”): a link
  is exempt when its computed ``display`` is ``inline`` and its nearest block-level ancestor
  also holds text of its own (text outside the link), i.e. the link is part of a line of
  running text such as “You can visit the offices directly: <link>”. A link styled as a
  button (``inline-block``, ``flex`` …) or standing alone in its block is never exempt.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User

from buergerbuero.booking import services as booking
from buergerbuero.booking.models import Appointment
from buergerbuero.booking.views import details_url
from buergerbuero.consult import services as consult
from buergerbuero.consult.models import Consultation
from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting.models import Mode, PresenceState, Ticket
from buergerbuero.waiting.services import calling, joining, staffing
from tests import factories
from tests.support.live import ALWAYS_OPEN

ORG_SLUG = "handystadt"
OFFICE_SLUG = "buergeramt"
ALL_LANGUAGES = "de,en,tr,ar,uk,ru"
SERVICE = "Personalausweis"
OTHER_SERVICE = "Wohnsitz anmelden"
ELSEWHERE = "https://fremde-seite.example"  # not in the organisation's embed origins
TARGET_PX = 44


class KnownProblem(AssertionError):
    """A reported problem that an ``xfail(strict=True, raises=KnownProblem)`` mark expects:
    any other failure of the same test is reported as a failure."""


@dataclass(frozen=True)
class Screen:
    """A device's screen in CSS pixels and the citizen's language."""

    width: int
    height: int
    language: str

    @property
    def phone(self) -> bool:
        return self.width < 600

    @property
    def id(self) -> str:
        return f"{self.width}-{self.language}"

    def shot(self, page_name: str) -> str:
        """``mobile-<page>-360.png``; other languages than German get their code appended."""
        suffix = "" if self.language == "de" else f"-{self.language}"
        return f"mobile-{page_name}-{self.width}{suffix}.png"


PHONE_DE = Screen(360, 740, "de")
PHONE_AR = Screen(360, 740, "ar")
TABLET_DE = Screen(768, 1024, "de")
SCREENS = (PHONE_DE, PHONE_AR, TABLET_DE)

# The citizen pages in the order they are surveyed (each screen visits all of them).
PAGES = (
    "directory",
    "office",
    "enter",
    "waiting",
    "called",
    "precheck",
    "video",
    "chat",
    "done",
    "book",
    "times",
    "details",
    "appointment",
    "reschedule",
    "embed-refused",
)


# --- the town -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Town:
    organization: Organization
    office: Office
    paths: dict[str, str]  # page name -> path, for the pages opened directly
    video_agent: User  # the staff member in the video consultation
    video_agent_path: str
    video_citizen_path: str
    chat_citizen_path: str


def _member(organization: Organization, office: Office, username: str, name: str) -> StaffMember:
    user = factories.make_staff(organization, username, Role.AGENT, [office])
    StaffMember.objects.filter(user=user).update(display_name=name)
    return StaffMember.objects.select_related("user").get(user=user)


def _admitted(office: Office, member: StaffMember, name: str, mode: str) -> Ticket:
    """A citizen entering while ``member`` alone is free: straight into a consultation."""
    staffing.set_presence(member, PresenceState.AVAILABLE)
    ticket = joining.join(office, service=None, display_name=name, language="de", mode=mode)
    assert Consultation.objects.filter(ticket=ticket, agent=member).exists(), "not admitted at once"
    return ticket


def make_town() -> Town:
    organization = factories.make_org(ORG_SLUG, state="BY", name="Stadt Handystadt")
    Organization.objects.filter(pk=organization.pk).update(
        languages=ALL_LANGUAGES, embed_origins="https://www.handystadt.example"
    )
    organization.refresh_from_db()
    office = factories.make_office(
        organization,
        OFFICE_SLUG,
        hours=ALWAYS_OPEN,
        name="Bürgeramt",
        description="Ausweise, Pässe, Meldewesen und Führungszeugnisse.",
        observes_public_holidays=False,
        seats=5,
        call_confirm_seconds=600,
        hold_place_seconds=3600,
        waiting_area_text="Halten Sie bitte Ihren **Personalausweis** bereit.",
        checklist="Personalausweis\nMeldebescheinigung\nBiometrisches Passfoto",
    )
    service = factories.make_service(office, SERVICE, slot_minutes=20, buffer_minutes=10, lead_minutes=60)
    factories.make_service(office, OTHER_SERVICE, slot_minutes=30, buffer_minutes=0, position=1)
    caller, video, chat, ended = (
        _member(organization, office, username, name)
        for username, name in (
            ("schmidt", "Frau Schmidt"),
            ("yilmaz", "Herr Yılmaz"),
            ("nowak", "Frau Nowak"),
            ("weber", "Herr Weber"),
        )
    )
    # Consultations: each staff member alone available while their citizen enters.
    video_ticket = _admitted(office, video, "Bürgerin Video", Mode.VIDEO)
    chat_ticket = _admitted(office, chat, "Bürger Chat", Mode.CHAT)
    done_ticket = _admitted(office, ended, "Bürgerin Fertig", Mode.VIDEO)
    assert consult.end_consultation(Consultation.objects.get(ticket=done_ticket), ended)
    staffing.set_presence(ended, PresenceState.PAUSE)
    # Two citizens queue while nobody is free; then one staff member calls the first.
    called = joining.join(
        office, service=service, display_name="Bürger Gerufen", language="de", mode=Mode.VIDEO
    )
    queued = joining.join(
        office, service=service, display_name="Bürgerin Wartend", language="de", mode=Mode.CHAT
    )
    staffing.set_presence(caller, PresenceState.AVAILABLE)
    assert calling.call_next(caller) == called
    # An appointment at the next free time.
    slot = booking.finder(office, service).next_free(1)[0]
    appointment: Appointment = booking.book(
        office,
        service,
        start=slot.start,
        contact=booking.Contact(name="Maria Muster", phone="0151 23456789", consent=True),
    )
    later = booking.finder(office, service).next_free(1, after=slot.start + dt.timedelta(hours=2))[0]
    office_path = f"/{ORG_SLUG}/{OFFICE_SLUG}/"
    video_consultation = Consultation.objects.get(ticket=video_ticket)
    paths = {
        "directory": f"/{ORG_SLUG}/",
        "office": office_path,
        "enter": f"{office_path}enter/",
        "waiting": f"/w/{queued.token}/",
        "called": f"/w/{called.token}/",
        "done": f"/w/{done_ticket.token}/done/",
        "book": f"{office_path}book/",
        "times": f"{office_path}book/?service={service.pk}",
        "details": details_url(office, service, None, later),
        "appointment": f"/a/{appointment.token}/",
        "reschedule": f"/a/{appointment.token}/reschedule/",
        "embed-refused": f"/embed/{ORG_SLUG}/?origin={ELSEWHERE}&lang=de",
    }
    return Town(
        organization=organization,
        office=office,
        paths=paths,
        video_agent=video.user,
        video_agent_path=f"/staff/consultations/{video_consultation.pk}/",
        video_citizen_path=f"/w/{video_ticket.token}/consultation/",
        chat_citizen_path=f"/w/{chat_ticket.token}/consultation/",
    )


# --- measuring a page -----------------------------------------------------------------------------
SURVEY_JS = """
(minimum) => {
  const SELECTOR = 'a[href], button, input:not([type="hidden"]), select, textarea, summary, [role="button"]';
  const isBlock = (element) => {
    const display = getComputedStyle(element).display;
    return !display.startsWith("inline") && display !== "contents";
  };
  const describe = (element) => {
    const text = (element.innerText || element.value || element.getAttribute("aria-label")
      || element.labels?.[0]?.innerText || element.getAttribute("href") || "").trim().replace(/\\s+/g, " ");
    const names = (element.getAttribute("class") || "").trim().split(/\\s+/).filter(Boolean);
    const classes = names.map((name) => "." + name).join("");
    const id = element.id ? "#" + element.id : "";
    const type = element.type && element.tagName === "INPUT" ? `[type=${element.type}]` : "";
    return `<${element.tagName.toLowerCase()}${id}${classes}${type}> "${text.slice(0, 50)}"`;
  };
  const rendered = (element) => {
    if (!element.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) return false;
    const box = element.getBoundingClientRect();
    if (box.width <= 1 && box.height <= 1) return false;  // the visually-hidden pattern
    // Placed before the page's start (the skip link until it is focused).
    return box.bottom + window.scrollY > 0;
  };
  // The inline exception: an inline link that is part of a line of running text.
  const inRunningText = (link) => {
    if (link.tagName !== "A" || getComputedStyle(link).display !== "inline") return false;
    let block = link.parentElement;
    while (block && !isBlock(block)) block = block.parentElement;
    if (!block) return false;
    const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    let own = "";
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!link.contains(node) && node.parentElement.checkVisibility()) own += node.textContent;
    }
    return own.trim().length > 0;
  };
  const targetBox = (element) => {
    const boxes = [element.getBoundingClientRect()];
    if (element.type === "radio" || element.type === "checkbox") {
      for (const label of element.labels || []) {
        if (label.checkVisibility()) boxes.push(label.getBoundingClientRect());
      }
    }
    const left = Math.min(...boxes.map((b) => b.left)), right = Math.max(...boxes.map((b) => b.right));
    const top = Math.min(...boxes.map((b) => b.top)), bottom = Math.max(...boxes.map((b) => b.bottom));
    return { width: right - left, height: bottom - top };
  };
  const small = [], inline = [];
  let measured = 0;
  for (const element of document.querySelectorAll(SELECTOR)) {
    if (!rendered(element)) continue;
    if (inRunningText(element)) { inline.push(describe(element)); continue; }
    measured += 1;
    const box = targetBox(element);
    if (box.width < minimum - 0.05 || box.height < minimum - 0.05) {
      small.push(`${describe(element)} ${box.width.toFixed(1)}×${box.height.toFixed(1)}`);
    }
  }
  // What sticks out sideways: the innermost elements beyond the window's edges.
  const width = window.innerWidth;
  const out = (element) => {
    const box = element.getBoundingClientRect();
    return box.width > 0 && (box.right > width + 0.5 || box.left < -0.5);
  };
  const overflowing = [...document.body.querySelectorAll("*")]
    .filter((element) => out(element) && ![...element.children].some(out) && element.checkVisibility())
    .slice(0, 8)
    .map((element) => {
      const box = element.getBoundingClientRect();
      return `${describe(element)} from ${box.left.toFixed(0)} to ${box.right.toFixed(0)}`;
    });
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    dir: document.documentElement.dir,
    lang: document.documentElement.lang,
    measured, small, inline, overflowing,
  };
}
"""


@dataclass
class PageReport:
    """What one page measured on one screen."""

    name: str
    url: str
    scroll_width: int
    inner_width: int
    dir: str
    lang: str
    measured: int  # interactive elements whose size was checked
    small: list[str]  # those below 44 × 44 (with their size)
    inline: list[str]  # links exempt as part of running text
    overflowing: list[str]  # elements sticking out sideways
    screenshot: Path
    extra: dict[str, Any] = field(default_factory=dict)


def measure(page: Any, name: str, screenshot: Path) -> PageReport:
    """Measure the page as it is now, and take a full-page screenshot."""
    found: dict[str, Any] = page.evaluate(SURVEY_JS, TARGET_PX)
    page.screenshot(path=str(screenshot), full_page=True)
    return PageReport(
        name=name,
        url=str(page.url),
        scroll_width=int(found["scrollWidth"]),
        inner_width=int(found["innerWidth"]),
        dir=str(found["dir"]),
        lang=str(found["lang"]),
        measured=int(found["measured"]),
        small=list(found["small"]),
        inline=list(found["inline"]),
        overflowing=list(found["overflowing"]),
        screenshot=screenshot,
    )


# The box of an element (after scrolling it into view) against the window: for the checks of
# the consultation in portrait.
BOXES_JS = """
(selector) => [...document.querySelectorAll(selector)].filter((element) => element.checkVisibility())
  .map((element) => {
    element.scrollIntoView({ block: "nearest", inline: "nearest" });
    const box = element.getBoundingClientRect();
    return {
      left: box.left, right: box.right, top: box.top, bottom: box.bottom, width: box.width,
      height: box.height, innerWidth: window.innerWidth, innerHeight: window.innerHeight,
      scrollWidth: element.scrollWidth, clientWidth: element.clientWidth,
    };
  })
"""


def boxes(page: Any, selector: str) -> list[dict[str, float]]:
    """The boxes of the shown elements matching ``selector``, each once scrolled into view."""
    found: list[dict[str, float]] = page.evaluate(BOXES_JS, selector)
    return found


def box(page: Any, selector: str) -> dict[str, float] | None:
    """The first shown element's box once scrolled into view, or None when none is shown."""
    found = boxes(page, selector)
    return found[0] if found else None

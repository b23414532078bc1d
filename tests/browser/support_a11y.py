"""Helpers for the accessibility test: axe-core in the page, visible focus, right-to-left
mirroring, sideways scrolling, reduced motion, and the town whose pages are checked.

**axe-core** comes from the npm registry, pinned in ``tests/browser/package-lock.json`` and
installed by ``make axe`` (a prerequisite of ``make test-embedded`` and ``make test-scaled``)
into ``tests/browser/node_modules``. It is evaluated in each page from that file (through the
DevTools protocol: the page's CSP refuses inline scripts), never from a CDN: the pages make no
third-party request and the test machines have no internet. Without the file the test is skipped
locally and fails in CI (``CI=true``). axe's contrast rules are widened to Arabic text, which
axe-core (4.14) takes for an icon font's ligatures and would skip (see
``CONTRAST_FOR_EVERY_SCRIPT_JS``).

**Visible focus.** One real Tab press puts the browser in keyboard mode (the skip link gets the
focus, and must then be visible); from there every focusable element of the page is focused in
turn by script, which keeps ``:focus-visible`` (Chromium carries it over from a focused element
that had it), and its computed style must show an outline or a box shadow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page

from buergerbuero.offices.models import Closure, Office, Service
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember
from tests import factories
from tests.support.live import ALWAYS_OPEN, reset_join_limit

AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.1 A and AA: what BITV 2.0 asks of every citizen page.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

ORG_SLUG = "barrierefrei"
OPEN_OFFICE = "meldeamt"
CLOSED_OFFICE = "archiv"
WAITING_TEXT = (
    "**Willkommen!** Bitte halten Sie Ihre Unterlagen bereit.\n\n- Ausweis\n- [Formular](/formular.pdf)"
)
CHECKLIST = "Personalausweis\nMeldebescheinigung"


def axe_script() -> Path:
    """The local axe-core file; missing, the test is skipped (locally) or fails (in CI)."""
    if not AXE_JS.exists():
        message = f"axe-core missing at {AXE_JS}; `make axe` installs it (npm ci --prefix tests/browser)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return AXE_JS


# --- axe ----------------------------------------------------------------------------------------
RUN_AXE_JS = """
async (tags) => {
  const result = await axe.run(document, {
    runOnly: { type: "tag", values: tags },
    resultTypes: ["violations"],
  });
  return result.violations.map((rule) => ({
    id: rule.id,
    impact: rule.impact,
    help: rule.help,
    nodes: rule.nodes.map((node) => ({
      target: node.target.map(String).join(" "),
      html: node.html,
      summary: node.failureSummary || "",
    })),
  }));
}
"""


# axe-core decides whether an element's text is real text or an icon font's ligature by
# drawing its first letter alone and the whole text on a canvas: words of joined Arabic letters
# fail that test, and once three texts of a font family did, every text in that family counts as
# an icon. In Arabic, the contrast rules would then silently check almost nothing. Here they
# also take every element with letters or digits of its own (axe's own test first; what is
# hidden, off screen or clipped, the rule's check itself lets pass).
CONTRAST_FOR_EVERY_SCRIPT_JS = """
() => {
  if (window.__contrastForEveryScript) return;
  window.__contrastForEveryScript = true;
  const rules = ["color-contrast", "color-contrast-enhanced"].map(
    (id) => axe._audit.rules.find((rule) => rule.id === id));
  axe.configure({
    rules: rules.map((rule) => {
      const axesOwn = rule.matches;
      return {
        id: rule.id,
        matches(node, virtualNode, context) {
          if (axesOwn.call(rule, node, virtualNode, context)) return true;
          if (["OPTION", "SELECT", "INPUT", "TEXTAREA"].includes(node.nodeName)) return false;
          if (node.closest("[disabled], [inert]")) return false;
          const own = [...node.childNodes].filter((child) => child.nodeType === Node.TEXT_NODE);
          return own.some((child) => /[\\p{L}\\p{N}]/u.test(child.nodeValue));
        },
      };
    }),
  });
}
"""


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """What axe-core finds against WCAG 2.1 A/AA in the page as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol, not as a <script> element: the page's
        # Content-Security-Policy (rightly) refuses inline scripts without its nonce.
        page.evaluate(axe_script().read_text(encoding="utf-8"))
    page.evaluate(CONTRAST_FOR_EVERY_SCRIPT_JS)
    violations: list[dict[str, Any]] = page.evaluate(RUN_AXE_JS, WCAG_TAGS)
    return violations


def describe_violations(state: str, violations: list[dict[str, Any]]) -> list[str]:
    """Readable lines: rule id, impact, what it asks, and per element its target and html."""
    lines = []
    for rule in violations:
        lines.append(f"{state}: {rule['id']} ({rule['impact']}) — {rule['help']}")
        for node in rule["nodes"]:
            html = " ".join(node["html"].split())
            lines.append(f"    at {node['target']}: {html[:300]}")
            summary = " / ".join(line.strip() for line in node["summary"].splitlines()[1:] if line.strip())
            if summary:
                lines.append(f"       {summary[:400]}")
    return lines


# --- references between elements -----------------------------------------------------------------
# axe-core lets a reference to a missing id pass as "needs review": a field whose
# aria-describedby names no element has no error message or hint for a screen reader.
REFERENCES_JS = """
() => {
  const problems = [];
  const attributes = ["aria-describedby", "aria-labelledby", "aria-controls", "aria-errormessage", "for"];
  for (const attribute of attributes) {
    for (const element of document.querySelectorAll(`[${attribute}]`)) {
      const missing = element.getAttribute(attribute).split(/\\s+/).filter(
        (id) => id && !document.getElementById(id));
      if (missing.length) {
        const html = element.outerHTML.slice(0, 160);
        problems.push(`${attribute}="${missing.join(" ")}" names no element: ${html}`);
      }
    }
  }
  const seen = new Map();
  for (const element of document.querySelectorAll("[id]")) {
    seen.set(element.id, (seen.get(element.id) || 0) + 1);
  }
  for (const [id, count] of seen) {
    if (count > 1) problems.push(`id "${id}" is used ${count} times`);
  }
  return problems;
}
"""


def reference_problems(page: Page) -> list[str]:
    """References (``aria-describedby``, ``for`` …) to ids that do not exist, and ids used twice."""
    problems: list[str] = page.evaluate(REFERENCES_JS)
    return problems


# --- visible focus ------------------------------------------------------------------------------
FOCUS_STYLES_JS = """
() => {
  const describe = (element) => {
    const text = (element.innerText || element.value || element.getAttribute("aria-label") || "").trim();
    const classes = typeof element.className === "string" && element.className.trim()
      ? "." + element.className.trim().split(/\\s+/).join(".") : "";
    const id = element.id ? "#" + element.id : "";
    return `<${element.tagName.toLowerCase()}${id}${classes}> ${text.slice(0, 40)}`;
  };
  const shown = (element) => {
    const style = getComputedStyle(element);
    return style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0
      ? `outline ${style.outlineStyle} ${style.outlineWidth}`
      : style.boxShadow !== "none" ? `box-shadow ${style.boxShadow}` : "";
  };
  const candidates = document.querySelectorAll(
    "a[href], button, input, select, textarea, summary, video[controls], [tabindex]:not([tabindex='-1'])");
  const results = [];
  for (const element of candidates) {
    if (element.disabled || element.type === "hidden" || !element.checkVisibility()) continue;
    element.focus();
    if (document.activeElement !== element) continue;
    results.push({
      element: describe(element),
      focusVisible: element.matches(":focus-visible"),
      indicator: shown(element),
    });
  }
  document.activeElement?.blur();
  return results;
}
"""

# The next Tab starts from the top of the page, as after loading it (the page may have moved
# the focus, e.g. to the "I'm here" button, or the test may have clicked something).
RESTART_TAB_ORDER_JS = """
() => {
  const html = document.documentElement;
  html.tabIndex = -1;
  html.focus({ preventScroll: true });
  html.removeAttribute("tabindex");
  window.scrollTo(0, 0);
}
"""

FOCUSED_JS = """
() => {
  const element = document.activeElement;
  const box = element.getBoundingClientRect();
  const style = getComputedStyle(element);
  return {
    tag: element.tagName.toLowerCase(),
    cls: element.className,
    onScreen: box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0
      && box.top < innerHeight && box.left < innerWidth,
    indicator: (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0)
      || style.boxShadow !== "none",
  };
}
"""


def focus_problems(page: Page) -> list[str]:
    """Focusable elements without a visible focus indicator (and a skip link that is not shown
    when the keyboard reaches it first)."""
    page.evaluate(RESTART_TAB_ORDER_JS)
    page.keyboard.press("Tab")
    first: dict[str, Any] = page.evaluate(FOCUSED_JS)
    problems = []
    if "skip-link" not in str(first["cls"]) or not first["onScreen"] or not first["indicator"]:
        problems.append(f"the first Tab does not show the skip link with a focus indicator: {first}")
    results: list[dict[str, Any]] = page.evaluate(FOCUS_STYLES_JS)
    if not results:
        problems.append("no focusable element found")
    for result in results:
        if not result["focusVisible"] or not result["indicator"]:
            problems.append(f"no visible focus on {result['element']} ({result})")
    return problems


# --- layout -------------------------------------------------------------------------------------
def sideways_overflow(page: Page) -> str:
    """'' when the page fits the window's width, else what sticks out."""
    found: dict[str, Any] = page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const scroll = document.documentElement.scrollWidth;
          if (scroll <= width) return { scroll, width, culprits: [] };
          const culprits = [...document.body.querySelectorAll("*")]
            .filter((element) => {
              const box = element.getBoundingClientRect();
              return box.width > 0 && (box.right > width + 1 || box.left < -1);
            })
            .slice(0, 5)
            .map((element) => element.outerHTML.slice(0, 120));
          return { scroll, width, culprits };
        }"""
    )
    if found["scroll"] <= found["width"]:
        return ""
    return f"content {found['scroll']} px wide in a {found['width']} px window: {found['culprits']}"


MIRRORING_JS = """
() => {
  const box = (selector) => document.querySelector(selector)?.getBoundingClientRect();
  const inner = box(".site-header__inner");
  const brand = box(".site-header .brand");
  const card = document.querySelector(".office-card");
  const cardStyle = getComputedStyle(card);
  const dot = box(".office-card .status__dot");
  const label = box(".office-card .status__label");
  const title = box(".office-card__title a");
  const cardBox = card.getBoundingClientRect();
  return {
    brandGapStart: brand.left - inner.left,
    brandGapEnd: inner.right - brand.right,
    accentLeft: parseFloat(cardStyle.borderLeftWidth),
    accentRight: parseFloat(cardStyle.borderRightWidth),
    dotBeforeLabel: dot.right <= label.left,
    dotAfterLabel: dot.left >= label.right,
    titleGapLeft: title.left - cardBox.left,
    titleGapRight: cardBox.right - title.right,
  };
}
"""


def mirroring(page: Page) -> dict[str, Any]:
    """Where the directory puts things: the brand in the header, the office card's accent
    (``border-inline-start``), the status dot beside its label, the card's title."""
    facts: dict[str, Any] = page.evaluate(MIRRORING_JS)
    return facts


def mirroring_problems(page: Page, rtl: bool) -> list[str]:
    """What is on the wrong side for the page's direction."""
    facts = mirroring(page)
    start_gap, end_gap = facts["brandGapStart"], facts["brandGapEnd"]
    near_start = (end_gap < start_gap) if rtl else (start_gap < end_gap)
    problems = []
    if not near_start:
        problems.append(f"the brand is not at the start of the header: {facts}")
    accent, other = (
        (facts["accentRight"], facts["accentLeft"]) if rtl else (facts["accentLeft"], facts["accentRight"])
    )
    if not (accent > 0 and other == 0):
        problems.append(f"the office card's accent is not on the {'right' if rtl else 'left'}: {facts}")
    if not (facts["dotAfterLabel"] if rtl else facts["dotBeforeLabel"]):
        problems.append(f"the status dot does not precede its label in reading order: {facts}")
    title_start = facts["titleGapRight"] if rtl else facts["titleGapLeft"]
    title_end = facts["titleGapLeft"] if rtl else facts["titleGapRight"]
    if not title_start < title_end:
        problems.append(f"the office title does not start at the card's start: {facts}")
    return problems


# --- reduced motion -----------------------------------------------------------------------------
# A component with its own transition and animation, as a future stylesheet rule might add: the
# site's reduced-motion rule must switch both off.
MOTION_PROBE_JS = """
() => {
  // A constructed style sheet: the page's Content-Security-Policy refuses a <style> element.
  const style = new CSSStyleSheet();
  style.replaceSync("@keyframes a11y-probe-spin { to { transform: rotate(1turn); } }"
    + " .a11y-probe { transition: background-color 2s ease;"
    + " animation: a11y-probe-spin 2s linear infinite; }");
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, style];
  const probe = document.createElement("button");
  probe.className = "button a11y-probe";
  probe.textContent = "probe";
  document.querySelector("main").append(probe);
  const computed = getComputedStyle(probe);
  const facts = {
    reduce: matchMedia("(prefers-reduced-motion: reduce)").matches,
    transitionDuration: computed.transitionDuration,
    animationName: computed.animationName,
    running: document.getAnimations().length,
  };
  probe.remove();
  document.adoptedStyleSheets = document.adoptedStyleSheets.filter((sheet) => sheet !== style);
  const everywhere = [...document.querySelectorAll("*")].filter((element) => {
    const s = getComputedStyle(element);
    return s.animationName !== "none" || s.transitionDuration.split(",").some((d) => parseFloat(d) > 0);
  }).map((element) => element.tagName.toLowerCase() + "." + element.className);
  return { ...facts, moving: everywhere, runningAfter: document.getAnimations().length };
}
"""


def motion_facts(page: Page) -> dict[str, Any]:
    facts: dict[str, Any] = page.evaluate(MOTION_PROBE_JS)
    return facts


# --- the town -------------------------------------------------------------------------------------
@dataclass
class Town:
    organization: Organization
    office: Office  # open around the clock, with a waiting area
    closed: Office  # closed today, bookable from tomorrow
    service: Service
    other_service: Service
    caller: StaffMember  # takes walk-ins (offline until the test calls)
    planner: StaffMember  # a second bookable staff member
    caller_user: User
    paths: dict[str, str] = field(default_factory=dict)


def make_town() -> Town:
    """Stadt Barrierefrei: the Meldeamt open around the clock (two bookable services, two staff,
    a Markdown welcome text and a checklist), and the Archiv, closed today."""
    organization = factories.make_org(ORG_SLUG, state="BY", name="Stadt Barrierefrei")
    organization.languages = "de,en,ar"
    organization.save(update_fields=["languages"])
    office = factories.make_office(
        organization,
        OPEN_OFFICE,
        hours=ALWAYS_OPEN,
        name="Meldeamt",
        description="Anmelden, ummelden, Ausweise.",
        observes_public_holidays=False,
        waiting_area_text=WAITING_TEXT,
        checklist=CHECKLIST,
        position=0,
    )
    service = factories.make_service(
        office, "Personalausweis", slot_minutes=20, buffer_minutes=5, lead_minutes=60
    )
    other = factories.make_service(office, "Wohnsitz anmelden", slot_minutes=30, buffer_minutes=0, position=1)
    closed = factories.make_office(
        organization,
        CLOSED_OFFICE,
        hours=ALWAYS_OPEN,
        name="Archiv",
        observes_public_holidays=False,
        position=1,
    )
    factories.make_service(closed, "Akteneinsicht", lead_minutes=60)
    today = timezone.localdate(timezone.now(), organization.zone)
    Closure.objects.create(office=closed, starts_on=today, ends_on=today, reason="Inventur")
    members = []
    for username, name, offices in (
        ("rufer", "Frau Ruf", [office]),
        ("planer", "Herr Plan", [office, closed]),
    ):
        user = factories.make_staff(organization, username, Role.AGENT, offices)
        StaffMember.objects.filter(user=user).update(display_name=name)
        members.append(StaffMember.objects.select_related("user").get(user=user))
    caller, planner = members
    reset_join_limit()
    return Town(
        organization=organization,
        office=office,
        closed=closed,
        service=service,
        other_service=other,
        caller=caller,
        planner=planner,
        caller_user=caller.user,
        paths={
            "directory": f"/{ORG_SLUG}/",
            "office": f"/{ORG_SLUG}/{OPEN_OFFICE}/",
            "closed": f"/{ORG_SLUG}/{CLOSED_OFFICE}/",
            "book": f"/{ORG_SLUG}/{OPEN_OFFICE}/book/",
        },
    )

"""Every citizen page on a phone (360 × 740, touch, German and Arabic) and a tablet
(768 × 1024, German): no sideways scrolling, touch targets of at least 44 × 44 CSS px, and a
consultation that works held upright.

How: a module-scoped fixture sets up one town (``support_mobile.make_town``: every page exists
at once in the state it is surveyed in) and, for each screen the selected tests ask for, one
browser context visits all pages in turn, measures each with one script
(``support_mobile.SURVEY_JS``; the module's docstring states the rules, including the
inline-link exception) and saves a full-page screenshot (``mobile-<page>-360.png``,
``…-768.png``, Arabic ``…-360-ar.png``) into ``artifacts_dir``. The tests then judge the
measurements, one test per page and rule, so that a failure names the page and the elements.
The video consultation's staff member joins with video from a desktop browser, so that the
citizen's page shows a real remote picture.

The town is written outside any test transaction (the server process must see it) and deleted
at the end of the module; the tests themselves only read the measurements.

Problems found are marked ``xfail(strict=True, raises=KnownProblem)`` with the fix in the reason:
a test so marked still fails for any *other* problem, and fails once the known one is fixed
(then its entry is to be removed).
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page, expect
from playwright.sync_api import Error as PlaywrightError

from buergerbuero.booking.models import Appointment
from buergerbuero.consult import services as consult
from buergerbuero.consult.models import Consultation
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import PresenceState
from buergerbuero.waiting.services import calling, staffing
from tests.browser.support_a11y import axe_script
from tests.browser.support_call import DESKTOP, TIMEOUT_MS, join_with_video, log_in, wait_for_remote_video
from tests.browser.support_demo_mobile import (
    AXE_LANGUAGES,
    LANGUAGES,
    ROUND_THE_CLOCK,
    Width,
    demo_page_names,
    load_demo_town,
    measure_width,
    remove_demo,
)
from tests.browser.support_mobile import (
    ORG_SLUG,
    PAGES,
    PHONE_DE,
    SCREENS,
    TARGET_PX,
    KnownProblem,
    PageReport,
    Screen,
    Town,
    box,
    boxes,
    make_town,
    measure,
)
from tests.support.live import reset_join_limit
from tests.support.server import AsgiServer

# The marker makes pytest-django create the test database (see the fixture ``surveys``).
pytestmark = [pytest.mark.browser, pytest.mark.mode_independent, pytest.mark.django_db]


@dataclass(frozen=True)
class Known:
    elements: tuple[str, ...]  # how SURVEY_JS describes the too small elements (prefixes)
    reason: str


# Problems found here were fixed in templates and CSS; a new one is listed here while it is
# open (strict: once fixed, the test passes unexpectedly and fails until its entry is removed).
KNOWN_SMALL_TARGETS: dict[str, Known] = {}


@dataclass
class Survey:
    reports: dict[str, PageReport]
    portrait: dict[str, dict[str, Any]]  # page name -> element name -> box (video, chat)
    skip_link: dict[str, Any] | None  # the focused skip link's box on the office page


class Surveys:
    """Surveys every page on each screen: all at once, before the tests judge the results."""

    def __init__(self, browser: Browser, server: AsgiServer, town: Town, shots: Path) -> None:
        self.browser = browser
        self.base = server.url
        self.town = town
        self.shots = shots
        self.contexts: list[BrowserContext] = []
        self.logs: dict[str, list[str]] = {}
        self.done: dict[str, Survey] = {}

    def open(self, name: str, **options: Any) -> Page:
        context = self.browser.new_context(timezone_id="Europe/Berlin", **options)
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        log = self.logs.setdefault(name, [])
        page.on("console", lambda message: log.append(f"[{message.type}] {message.text}"))
        page.on("pageerror", lambda error: log.append(f"[pageerror] {error}"))
        return page

    def of(self, screen: Screen) -> Survey:
        assert screen.id in self.done, f"{screen.id} was not surveyed"
        return self.done[screen.id]

    def survey(self, screen: Screen) -> None:
        page = self.open(
            f"citizen {screen.id}",
            viewport={"width": screen.width, "height": screen.height},
            is_mobile=screen.phone,
            has_touch=screen.phone,
            locale="ar" if screen.language == "ar" else "de-DE",
        )
        page.context.add_cookies(
            [{"name": settings.LANGUAGE_COOKIE_NAME, "value": screen.language, "url": self.base}]
        )
        survey = Survey(reports={}, portrait={}, skip_link=None)
        for name in PAGES:
            self._show(page, name, survey)
            survey.reports[name] = measure(page, name, self.shots / screen.shot(name))
            if name == "office":
                survey.skip_link = _focused_skip_link(page)
        page.context.close()
        self.done[screen.id] = survey

    def _show(self, page: Page, name: str, survey: Survey) -> None:
        """Bring ``page`` to the state the page called ``name`` is surveyed in."""
        if name in self.town.paths:
            page.goto(self.base + self.town.paths[name])
            if name in ("waiting", "called"):
                expect(page.locator("#waiting-room [data-connection]")).to_have_attribute(
                    "data-connection", "open"
                )
                panel = page.locator("[data-called-panel]")
                if name == "called":
                    expect(panel).to_be_visible()
                else:
                    expect(panel).to_be_hidden()
            return
        if name == "precheck":
            page.goto(self.base + self.town.video_citizen_path)
            expect(page.locator("#consultation [data-connection]")).to_have_attribute(
                "data-connection", "open"
            )
            expect(page.locator("[data-precheck-panel]")).to_have_attribute("data-precheck", "ready")
        elif name == "video":
            page.locator("[data-join=video]").click()
            expect(page.locator("[data-stage]")).to_be_visible()
            wait_for_remote_video(page, "agent")
            survey.portrait[name] = _portrait_boxes(page, "[data-tile='agent-camera']")
        elif name == "chat":
            page.goto(self.base + self.town.chat_citizen_path)
            expect(page.locator("#consultation [data-connection]")).to_have_attribute(
                "data-connection", "open"
            )
            page.locator("[data-join=chat]").click()
            expect(page.locator("[data-stage]")).to_be_visible()
            survey.portrait[name] = _portrait_boxes(page, None)
        page.evaluate("window.scrollTo(0, 0)")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def _focused_skip_link(page: Page) -> dict[str, Any] | None:
    page.evaluate("window.scrollTo(0, 0)")
    page.keyboard.press("Tab")
    found: dict[str, Any] | None = page.evaluate(
        """() => {
          const element = document.activeElement;
          if (!element || !element.matches(".skip-link")) return null;
          const box = element.getBoundingClientRect();
          return { width: box.width, height: box.height, top: box.top, left: box.left, right: box.right,
                   innerWidth: window.innerWidth };
        }"""
    )
    page.keyboard.press("Shift+Tab")
    return found


def _portrait_boxes(page: Page, remote_tile: str | None) -> dict[str, Any]:
    """The boxes (each scrolled into view) of what a citizen needs in the call."""
    selectors = {
        "chat log": "[role=log]",
        "chat input": "#chat-input",
        "send button": ".chat__form button[type=submit]",
        "controls": ".controls",
    }
    if remote_tile:
        selectors = {"remote picture": remote_tile, "own picture": "[data-tile='self']", **selectors}
    found: dict[str, Any] = {name: box(page, selector) for name, selector in selectors.items()}
    found["control buttons"] = boxes(page, ".controls button, .controls select")
    return found


# --- fixtures -------------------------------------------------------------------------------------
def _screens_asked_for(request: pytest.FixtureRequest) -> set[Screen]:
    """The screens of this module's selected tests (``-k 360-ar`` surveys only that one)."""
    wanted = set()
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if getattr(item, "module", None) is request.module and callspec and "screen" in callspec.params:
            wanted.add(callspec.params["screen"])
    return wanted


@pytest.fixture(scope="module")
def surveys(
    request: pytest.FixtureRequest,
    browser: Browser,
    asgi_server: AsgiServer,
    django_db_blocker: Any,
    artifacts_dir: Path,
) -> Iterator[Surveys]:
    """The measurements of every page on the screens the selected tests ask for.

    They are taken here, before the first test: each test runs in a transaction (the module's
    ``django_db`` marker, which also makes pytest-django create the database the town lives
    in), and on SQLite that transaction would hold the write lock the server needs while the
    pages are open.
    """
    wanted = _screens_asked_for(request)
    expect.set_options(timeout=TIMEOUT_MS)
    with django_db_blocker.unblock():
        reset_join_limit()
        town = make_town()
        crowd = Surveys(browser, asgi_server, town, artifacts_dir)
        agent = crowd.open("agent (video)", viewport=DESKTOP, locale="de-DE")
        log_in(agent, crowd.base, town.video_agent, town.video_agent_path)
    try:
        join_with_video(agent)
        for screen in SCREENS:
            if screen in wanted:
                crowd.survey(screen)
        yield crowd
    finally:
        expect.set_options(timeout=5_000)  # Playwright's default again, for the other tests
        for name, lines in crowd.logs.items():
            sys.stdout.write("\n".join([f"--- browser console of {name} ---", *lines, ""]))
        crowd.close()
        with django_db_blocker.unblock():
            staff = list(
                User.objects.filter(staff_member__organization=town.organization).values_list("pk", flat=True)
            )
            Appointment.objects.filter(office__organization=town.organization).delete()
            Organization.objects.filter(pk=town.organization.pk).delete()  # with all it holds
            User.objects.filter(pk__in=staff).delete()


def _expected_failure(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, raises=KnownProblem, reason=reason)


def _cases(known: dict[str, Known]) -> list[Any]:
    return [
        pytest.param(
            screen,
            name,
            id=f"{name}-{screen.id}",
            marks=[_expected_failure(known[name].reason)] if name in known else [],
        )
        for screen in SCREENS
        for name in PAGES
    ]


# --- tests ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("screen", "name"), _cases({}))
def test_page_does_not_scroll_sideways(surveys: Surveys, screen: Screen, name: str) -> None:
    report = surveys.of(screen).reports[name]
    assert (report.lang, report.dir) == (screen.language, "rtl" if screen.language == "ar" else "ltr")
    assert report.inner_width == screen.width, (
        f"{report.url}: zoomed out to {report.inner_width} px to fit: {report.overflowing}"
    )
    assert report.scroll_width <= report.inner_width, (
        f"{report.url} scrolls sideways ({report.scroll_width} px > {report.inner_width} px): "
        f"{report.overflowing}"
    )


@pytest.mark.parametrize(("screen", "name"), _cases(KNOWN_SMALL_TARGETS))
def test_touch_targets_are_at_least_44_px(surveys: Surveys, screen: Screen, name: str) -> None:
    report = surveys.of(screen).reports[name]
    assert report.measured > 0, f"{report.url}: no interactive element found"
    known = KNOWN_SMALL_TARGETS.get(name)
    expected = known.elements if known else ()
    message = (
        f"{report.url}: targets below {TARGET_PX}×{TARGET_PX} px (exempt inline links: {report.inline}): "
    )
    unexpected = [target for target in report.small if not target.startswith(expected)]
    assert unexpected == [], message + "; ".join(unexpected)
    if report.small:
        raise KnownProblem(message + "; ".join(report.small))


@pytest.mark.parametrize("screen", SCREENS, ids=[screen.id for screen in SCREENS])
def test_inline_exception_covers_only_the_link_in_running_text(surveys: Surveys, screen: Screen) -> None:
    """The refusal page's direct link stands in a sentence; no other page has an exempt link
    (buttons, breadcrumbs, time slots and office names are full-size targets)."""
    reports = surveys.of(screen).reports
    exempt = {name: report.inline for name, report in reports.items() if report.inline}
    assert list(exempt) == ["embed-refused"], exempt
    [link] = exempt["embed-refused"]
    assert f"/{ORG_SLUG}/" in link


@pytest.mark.parametrize("screen", SCREENS, ids=[screen.id for screen in SCREENS])
def test_skip_link_is_a_full_size_target_inside_the_screen_when_focused(
    surveys: Surveys, screen: Screen
) -> None:
    skip = surveys.of(screen).skip_link
    assert skip is not None, "the first Tab stop of the office page is not the skip link"
    assert skip["top"] >= 0, skip
    assert skip["left"] >= 0, skip
    assert skip["right"] <= skip["innerWidth"], skip
    assert skip["width"] >= TARGET_PX, skip
    assert skip["height"] >= TARGET_PX, skip


@pytest.mark.parametrize("screen", SCREENS, ids=[screen.id for screen in SCREENS])
@pytest.mark.parametrize("name", ["video", "chat"])
def test_consultation_held_upright_shows_pictures_chat_and_controls_within_the_width(
    surveys: Surveys, screen: Screen, name: str
) -> None:
    """Every part (each scrolled into view) lies whole within the window, the controls wrap
    instead of overflowing, and the staff member's picture is the large one."""
    found = surveys.of(screen).portrait[name]
    problems = []
    for what, parts in found.items():
        for part in parts if isinstance(parts, list) else [parts]:
            if part is None:
                problems.append(f"{what}: not shown")
                continue
            if part["left"] < -0.5 or part["right"] > part["innerWidth"] + 0.5:
                problems.append(
                    f"{what}: {part['left']:.0f}–{part['right']:.0f} outside 0–{part['innerWidth']}"
                )
            if part["top"] < -0.5 or part["bottom"] > part["innerHeight"] + 0.5:
                problems.append(f"{what}: {part['height']:.0f} px high, cannot be seen whole")
    controls = found["controls"]
    if controls is not None and controls["scrollWidth"] > controls["clientWidth"]:
        problems.append(f"controls: {controls['scrollWidth']} px of content in {controls['clientWidth']} px")
    assert problems == [], f"{screen.id} {name}: " + "; ".join(problems)
    assert found["control buttons"], "no call controls shown"
    if name == "video":
        remote, own = found["remote picture"], found["own picture"]
        assert remote["width"] >= own["width"], (remote, own)
        assert remote["width"] >= min(300, remote["innerWidth"] - 32), f"the staff member's picture: {remote}"


# --- the real demo data in every language ----------------------------------------------------------
@dataclass
class DemoSurvey:
    widths: dict[tuple[str, str], Width]  # (language, page name) -> measurement
    logs: list[str]


def _walk_in(
    page: Page, base: str, path: str, agent: StaffMember, found: dict[str, Width], *, with_axe: bool
) -> None:
    """Enter the round-the-clock office through its form, wait, get called, confirm, end."""
    staffing.set_presence(agent, PresenceState.PAUSE)
    page.goto(base + path)
    page.locator("input[name=service]").first.check()
    page.locator("input[name=mode][value=chat]").check()
    page.locator("form.form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/w/[\w-]+/$"))
    expect(page.locator("#waiting-room [data-connection]")).to_have_attribute("data-connection", "open")
    found["walk-in-waiting"] = measure_width(page, with_axe=with_axe)
    staffing.set_presence(agent, PresenceState.AVAILABLE)
    ticket = calling.call_next(agent)
    assert ticket is not None
    page.reload()  # the test process's events do not reach the server's in-memory channel layer
    expect(page.locator("[data-called-panel]")).to_be_visible()
    found["walk-in-called"] = measure_width(page, with_axe=with_axe)
    page.locator("[data-confirm-button]").click()
    expect(page).to_have_url(re.compile(r"/consultation/$"))
    expect(page.locator("#consultation [data-connection]")).to_have_attribute("data-connection", "open")
    found["walk-in-precheck"] = measure_width(page, with_axe=with_axe)
    consultation = Consultation.objects.get(ticket=ticket)
    assert consult.end_consultation(consultation, agent)
    # In the scaled mode the end reaches the page, which goes there itself (aborting this goto).
    with contextlib.suppress(PlaywrightError):
        page.goto(f"{base}/w/{ticket.token}/done/")
    expect(page).to_have_url(re.compile(r"/done/$"))
    found["walk-in-done"] = measure_width(page, with_axe=with_axe)
    staffing.set_presence(agent, PresenceState.PAUSE)


@pytest.fixture(scope="module")
def demo_survey(
    browser: Browser, asgi_server: AsgiServer, django_db_blocker: Any, artifacts_dir: Path
) -> Iterator[DemoSurvey]:
    """Every citizen page of the demo, in each language on a 360 px phone (see
    ``support_demo_mobile``), checked with axe-core in ``AXE_LANGUAGES``; a screenshot of each
    page that is too wide."""
    axe_script()  # installed by `make axe`; skipped without it, except in CI
    expect.set_options(timeout=TIMEOUT_MS)
    logs: list[str] = []
    survey = DemoSurvey(widths={}, logs=logs)
    with django_db_blocker.unblock():
        reset_join_limit()
        town = load_demo_town(timezone.now())
        agent = StaffMember.objects.get(user__username="weber")
    try:
        for language in LANGUAGES:
            context = browser.new_context(
                timezone_id="Europe/Berlin",
                viewport={"width": PHONE_DE.width, "height": PHONE_DE.height},
                is_mobile=True,
                has_touch=True,
                locale=language,
            )
            context.set_default_timeout(TIMEOUT_MS)
            context.add_cookies(
                [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": asgi_server.url}]
            )
            page = context.new_page()
            page.on("pageerror", lambda error: logs.append(str(error)))
            found: dict[str, Width] = {}
            with_axe = language in AXE_LANGUAGES
            for name in demo_page_names():
                if name in town.paths:
                    page.goto(asgi_server.url + town.paths[name])
                    found[name] = measure_width(page, with_axe=with_axe)
            with django_db_blocker.unblock():
                walk_in_path = town.paths["/".join(ROUND_THE_CLOCK) + "/enter/"]
                _walk_in(page, asgi_server.url, walk_in_path, agent, found, with_axe=with_axe)
            for name, width in found.items():
                survey.widths[(language, name)] = width
                if width.scroll_width > width.inner_width or width.inner_width != PHONE_DE.width:
                    page.goto(width.url)
                    shot = "demo-" + re.sub(r"[^\w-]+", "_", name).strip("_") + f"-360-{language}.png"
                    page.screenshot(path=str(artifacts_dir / shot), full_page=True)
            context.close()
        yield survey
    finally:
        expect.set_options(timeout=5_000)
        with django_db_blocker.unblock():
            remove_demo()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", demo_page_names())
def test_demo_page_does_not_scroll_sideways_on_a_phone(
    demo_survey: DemoSurvey, language: str, name: str
) -> None:
    """Long German compounds wrap, the closures table fits, in every language."""
    width = demo_survey.widths[(language, name)]
    assert width.lang == language, width.url
    assert width.inner_width == PHONE_DE.width, (
        f"{width.url} ({language}): zoomed out to {width.inner_width} px to fit: {width.overflowing}"
    )
    assert width.scroll_width <= width.inner_width, (
        f"{width.url} ({language}) scrolls sideways ({width.scroll_width} px): {width.overflowing}"
    )


@pytest.mark.parametrize("language", AXE_LANGUAGES)
@pytest.mark.parametrize("name", demo_page_names())
def test_demo_page_meets_wcag_aa(demo_survey: DemoSurvey, language: str, name: str) -> None:
    """axe-core finds nothing against WCAG 2.1 A/AA on the demo's pages and the long words'."""
    width = demo_survey.widths[(language, name)]
    assert width.axe_checked, width.url
    assert width.axe == (), "\n".join(width.axe)


def test_demo_pages_run_without_script_errors(demo_survey: DemoSurvey) -> None:
    assert demo_survey.logs == []

"""A walk-in, end to end in Chromium: two citizens queue, a staff member calls, they meet and chat.

Three browser contexts (three people): the staff member works the console, two citizens enter
the office. The staff member is on a break while the citizens arrive (an available agent with
nobody waiting would take the first citizen at once: the free-seat rule), then goes available
and calls the next person. Every step waits on what the page shows, never on a fixed delay.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from buergerbuero.offices.models import Office, Service
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting.models import Ticket, TicketStatus
from tests import factories
from tests.support.live import ALWAYS_OPEN, reset_join_limit, server_password_hash
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AGENT_NAME = "Frau Berger"
FIRST = "Bürgerin Eins"
SECOND = "Bürger Zwei"


@dataclass(frozen=True)
class WalkInOffice:
    office: Office
    agent_username: str
    path: str  # the office page


@pytest.fixture
def walk_in() -> WalkInOffice:
    organization = factories.make_org("wartestadt", state="BY", name="Stadt Wartestadt")
    office = factories.make_office(
        organization,
        "meldeamt",
        hours=ALWAYS_OPEN,
        name="Meldeamt",
        observes_public_holidays=False,
        waiting_area_text="Halten Sie bitte Ihren Ausweis bereit.",
    )
    Service.objects.create(office=office, name="Personalausweis", position=0)
    Service.objects.create(office=office, name="Wohnsitz anmelden", position=1)
    user = factories.make_staff(organization, "berger", Role.AGENT, [office])
    User.objects.filter(pk=user.pk).update(password=server_password_hash())
    StaffMember.objects.filter(user=user).update(display_name=AGENT_NAME)
    reset_join_limit()
    return WalkInOffice(office=office, agent_username=user.username, path="/wartestadt/meldeamt/")


class People:
    """One browser context per person (German, like the page fixture), with their console logs."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.logs: dict[str, list[str]] = {}

    def open(self, name: str) -> Page:
        context = self.browser.new_context(locale="de-DE", timezone_id="Europe/Berlin")
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        log = self.logs.setdefault(name, [])
        page.on("console", lambda message: log.append(f"[{message.type}] {message.text}"))
        page.on("pageerror", lambda error: log.append(f"[pageerror] {error}"))
        return page

    def script_errors(self) -> dict[str, list[str]]:
        return {
            name: errors
            for name, lines in self.logs.items()
            if (errors := [line for line in lines if line.startswith(("[error]", "[pageerror]"))])
        }

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def people(browser: Browser, asgi_server: AsgiServer) -> Iterator[People]:
    """The people of the scenario; their browser consoles and the server log are printed at the
    end, which pytest shows when the test fails."""
    server_log_start = asgi_server.log_path.stat().st_size if asgi_server.log_path.exists() else 0
    crowd = People(browser)
    yield crowd
    for name, lines in crowd.logs.items():
        sys.stdout.write("\n".join([f"--- browser console of {name} ---", *lines, ""]))
    with asgi_server.log_path.open("rb") as server_log:
        server_log.seek(server_log_start)
        sys.stdout.write(f"--- {asgi_server.log_path} ---\n{server_log.read().decode(errors='replace')}")
    crowd.close()


def _log_in_to_console(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/staff/login/?next=/staff/console/")
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort").fill(factories.PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    expect(page).to_have_url(re.compile(r"/staff/console/$"))
    expect(page.locator("#console [data-connection]")).to_have_attribute("data-connection", "open")


def _enter(page: Page, base: str, office_path: str, name: str, service: str, mode: str) -> str:
    """From the office page into the waiting room; returns the room's address."""
    page.goto(f"{base}{office_path}")
    page.get_by_role("link", name="Eintreten").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Eintreten: Meldeamt")
    page.get_by_label(service).check()
    page.get_by_label(mode).check()
    page.get_by_label("Name oder Pseudonym (freiwillig)").fill(name)
    page.get_by_role("button", name="Wartebereich betreten").click()
    expect(page).to_have_url(re.compile(r"/w/[\w-]+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Wartebereich: Meldeamt")
    expect(page.locator("#waiting-room [data-connection]")).to_have_attribute("data-connection", "open")
    return str(page.url)


def _position(page: Page) -> Locator:
    return page.locator("#waiting-room strong[data-position]")


def _queue_row(console: Page, name: str) -> Locator:
    return console.locator("tbody[data-queue] tr").filter(has_text=name)


def _chat(page: Page, text: str) -> None:
    page.get_by_label("Ihre Nachricht").fill(text)
    page.get_by_role("button", name="Senden").click()


def _chat_author(page: Page, text: str) -> Locator:
    """Who the chat log says wrote ``text``."""
    return page.locator("[data-chat-log] li").filter(has_text=text).locator(".chat__author")


def test_walk_in_queue_call_consultation_and_end(
    people: People, asgi_server: AsgiServer, walk_in: WalkInOffice, artifacts_dir: Path
) -> None:
    base = asgi_server.url

    # The staff member logs in for real and takes a break while citizens arrive.
    agent = people.open("agent")
    _log_in_to_console(agent, base, walk_in.agent_username)
    expect(agent.get_by_role("heading", level=1)).to_have_text(f"Konsole — {AGENT_NAME}")
    agent.get_by_role("button", name="Pause", exact=True).click()
    expect(agent.locator("[data-presence-label]")).to_have_text("Pause")
    expect(agent.locator("[data-waiting-count]")).to_have_text("0")

    # The first citizen enters and is first in line; the console shows the arrival live.
    first = people.open("citizen 1")
    first_room = _enter(first, base, walk_in.path, FIRST, "Personalausweis", "Nur Chat")
    expect(_position(first)).to_have_text("1")
    expect(first.get_by_text("Halten Sie bitte Ihren Ausweis bereit.")).to_be_visible()
    expect(first.locator("[data-called-panel]")).to_be_hidden()
    expect(agent.locator("[data-waiting-count]")).to_have_text("1")
    row = _queue_row(agent, FIRST)
    expect(row).to_be_visible()
    expect(row).to_contain_text("Personalausweis")
    expect(row).to_contain_text("Nur Chat")
    expect(agent.locator("[data-alert]")).to_have_text("1 Person ist angekommen")

    # The second citizen is second in line; the first keeps place 1.
    second = people.open("citizen 2")
    second_room = _enter(second, base, walk_in.path, SECOND, "Wohnsitz anmelden", "Video und Ton")
    expect(_position(second)).to_have_text("2")
    expect(_position(first)).to_have_text("1")
    expect(agent.locator("[data-waiting-count]")).to_have_text("2")
    expect(_queue_row(agent, SECOND)).to_be_visible()
    expect(agent.locator("tbody[data-queue] tr").first).to_contain_text(FIRST)
    second.screenshot(path=str(artifacts_dir / "walkin-waiting.png"), full_page=True)
    second.evaluate("window.walkInNotReloaded = true")  # gone if the page reloads
    agent.screenshot(path=str(artifacts_dir / "walkin-console.png"), full_page=True)

    # Back from the break, the staff member calls the next person: the first citizen.
    agent.get_by_role("button", name="Verfügbar").click()
    expect(agent.locator("[data-presence-label]")).to_have_text("verfügbar")
    agent.get_by_role("button", name="Nächste Person aufrufen").click()
    expect(agent.locator("[data-current-call-text]")).to_have_text(
        f"{FIRST} aufgerufen — Bestätigung steht aus."
    )
    expect(agent.locator("[data-presence-label]")).to_have_text("in Beratung")
    expect(agent.get_by_role("button", name="Nächste Person aufrufen")).to_be_disabled()
    expect(_queue_row(agent, FIRST)).to_have_count(0)
    expect(agent.locator("[data-waiting-count]")).to_have_text("1")

    called_panel = first.locator("[data-called-panel]")
    expect(called_panel).to_be_visible()
    expect(called_panel.get_by_role("heading", name="Sie sind an der Reihe!")).to_be_visible()
    expect(first).to_have_title(re.compile(r"^🔔 Sie sind an der Reihe! — "))
    expect(first.locator("[data-queue-panel]")).to_be_hidden()
    expect(first.locator("[data-deadline-text]")).to_have_text(
        re.compile(r"^Bitte bestätigen Sie innerhalb von \d+ Sekunden\.$")
    )
    first.screenshot(path=str(artifacts_dir / "walkin-called.png"), full_page=True)

    # The second citizen moves up live, without a reload …
    expect(_position(second)).to_have_text("1")
    assert second.evaluate("window.walkInNotReloaded") is True
    assert second.url == second_room
    # … and keeps the place across a reload.
    second.reload()
    expect(_position(second)).to_have_text("1")  # as rendered by the server
    expect(second.locator("#waiting-room [data-connection]")).to_have_attribute("data-connection", "open")
    expect(_position(second)).to_have_text("1")  # and after the socket's fresh snapshot
    assert second.url == second_room

    # "I'm here": the citizen lands in the consultation, the console follows by itself.
    first.get_by_role("button", name="Ich bin da").click()
    expect(first).to_have_url(first_room + "consultation/")
    expect(agent).to_have_url(re.compile(r"/staff/consultations/\d+/$"))
    for page in (first, agent):
        expect(page.get_by_role("heading", level=1)).to_have_text("Beratung — Meldeamt")
        expect(page.locator("#consultation [data-connection]")).to_have_attribute("data-connection", "open")
    agent_presence = first.locator('[data-peer-role="agent"]')
    expect(agent_presence.locator("[data-peer-online]")).to_have_text(f"{AGENT_NAME} ist da.")
    expect(agent_presence).to_have_attribute("data-peer", "online")
    citizen_presence = agent.locator('[data-peer-role="citizen"]')
    expect(citizen_presence.locator("[data-peer-online]")).to_have_text(f"{FIRST} ist da.")
    expect(citizen_presence).to_have_attribute("data-peer", "online")

    # They chat, both ways.
    question = "Guten Tag, mein Personalausweis läuft ab."
    _chat(first, question)
    expect(_chat_author(first, question)).to_have_text("Sie")
    expect(_chat_author(agent, question)).to_have_text("Bürger:in")
    answer = "Gern, dafür brauchen wir ein biometrisches Passfoto."
    _chat(agent, answer)
    expect(_chat_author(agent, answer)).to_have_text("Sie")
    expect(_chat_author(first, answer)).to_have_text("Mitarbeiter:in")
    expect(first.locator("[data-chat-log] li")).to_have_count(2)
    expect(agent.locator("[data-chat-log] li")).to_have_count(2)
    first.screenshot(path=str(artifacts_dir / "walkin-consultation.png"), full_page=True)
    agent.screenshot(path=str(artifacts_dir / "walkin-consultation-agent.png"), full_page=True)

    # The staff member ends it: the citizen sees the closing page, the agent is back at the console.
    agent.get_by_role("button", name="Beratung beenden").click()
    expect(agent).to_have_url(re.compile(r"/staff/console/$"))
    expect(first).to_have_url(first_room + "done/")
    expect(first.get_by_role("heading", level=1)).to_have_text("Die Beratung ist beendet")
    first.screenshot(path=str(artifacts_dir / "walkin-done.png"), full_page=True)

    # The seat is free again and the second citizen is still first in line.
    expect(agent.locator("[data-presence-label]")).to_have_text("verfügbar")
    expect(agent.locator("[data-waiting-count]")).to_have_text("1")
    expect(_queue_row(agent, SECOND)).to_be_visible()
    expect(agent.get_by_role("button", name="Nächste Person aufrufen")).to_be_enabled()
    expect(_position(second)).to_have_text("1")

    assert people.script_errors() == {}
    statuses = dict(Ticket.objects.values_list("display_name", "status"))
    assert statuses == {FIRST: TicketStatus.DONE, SECOND: TicketStatus.WAITING}

"""The staff console in Chromium, by keyboard, under the real Content-Security-Policy: a
half-typed message and the focus survive the live list's updates; "Entfernen" and "Übergeben
an …" ask first in a dialog (Escape cancels, the focus comes back); a removal can be undone
for a few seconds and the citizen gets their place back; the message to everyone waiting can
be cleared; the tab title counts every waiting citizen, booked ones too."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from buergerbuero.offices.models import Office
from buergerbuero.staff.models import Role
from buergerbuero.waiting.models import QueueState, Ticket, TicketStatus
from buergerbuero.waiting.services import joining
from tests import factories
from tests.support.live import ALWAYS_OPEN
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def offices() -> tuple[Office, Office]:
    organization = factories.make_org("konsolstadt", state="BY", name="Stadt Konsolstadt")
    fields = {"observes_public_holidays": False, "waiting_room_limit": 100}
    meldeamt = factories.make_office(organization, "meldeamt", name="Meldeamt", hours=ALWAYS_OPEN, **fields)
    standesamt = factories.make_office(
        organization, "standesamt", name="Standesamt", hours=ALWAYS_OPEN, **fields
    )
    return meldeamt, standesamt


@pytest.fixture
def agent(offices: tuple[Office, Office]) -> User:
    return factories.make_staff(offices[0].organization, "konsole.agent", Role.AGENT, list(offices))


def eventually(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def join(office: Office, name: str) -> Ticket:
    return joining.join(office, service=None, display_name=name, language="de", mode="video")


def open_console(page: Page, server: AsgiServer, user: User) -> None:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    page.context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": server.url}])
    page.goto(f"{server.url}/staff/console/")
    expect(page.locator("#console [data-connection]")).to_have_attribute("data-connection", "open")


def names(page: Page) -> list[str]:
    return [cells.split("\t")[0] for cells in page.locator("tbody[data-queue] tr").all_inner_texts()]


def enter_as_citizen(browser: Browser, server: AsgiServer, name: str) -> None:
    """A citizen enters through the form in a browser of their own (a change the server
    publishes to the console, as in real life)."""
    context = browser.new_context(locale="de-DE")
    page = context.new_page()
    page.goto(f"{server.url}/konsolstadt/meldeamt/enter/")
    page.get_by_label("Name oder Pseudonym (freiwillig)").fill(name)
    page.get_by_label("Video und Ton").check()
    page.get_by_role("button", name="Wartebereich betreten").click()
    expect(page).to_have_url(re.compile(r"/w/[\w-]+/$"))
    context.close()


def test_typing_and_focus_survive_the_live_updates(
    page: Page, browser: Browser, asgi_server: AsgiServer, offices: tuple[Office, Office], agent: User
) -> None:
    join(offices[0], "Anna")
    open_console(page, asgi_server, agent)
    message = page.locator("[data-office] [data-announce-form] input").first
    message.focus()
    page.keyboard.type("Heute schließen wir um")

    enter_as_citizen(browser, asgi_server, "Berta")

    expect(page.locator("tbody[data-queue] tr")).to_have_count(2)
    expect(message).to_have_value("Heute schließen wir um")
    expect(message).to_be_focused()
    page.keyboard.type(" 15 Uhr.")
    page.keyboard.press("Enter")
    expect(message).to_have_value("")
    # The message is shown on the card and can be taken down for everyone.
    card = page.locator("[data-office]").first
    expect(card.locator("[data-announcement-text]")).to_have_text("Heute schließen wir um 15 Uhr.")
    card.locator("[data-clear-announcement]").click()
    expect(card.locator("[data-current-announcement]")).to_be_hidden()
    assert QueueState.objects.get(office=offices[0]).announcement == ""


def test_remove_asks_first_and_can_be_undone_by_keyboard(
    page: Page, asgi_server: AsgiServer, offices: tuple[Office, Office], agent: User
) -> None:
    anna, berta, clara = (join(offices[0], name) for name in ("Anna", "Berta", "Clara"))
    open_console(page, asgi_server, agent)
    expect(page.locator("tbody[data-queue] tr")).to_have_count(3)
    remove = page.locator(f"tr[data-ticket='{berta.pk}'] [data-key=remove]")
    dialog = page.locator("[data-confirm-dialog]")

    # Pressed by mistake: the dialog asks, Escape cancels, nothing happened, focus is back.
    remove.focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-confirm-cancel]")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(remove).to_be_focused()
    assert Ticket.objects.get(pk=berta.pk).status == TicketStatus.WAITING

    # Meant: confirmed; the row goes, "Rückgängig" takes the focus and brings Berta back.
    page.keyboard.press("Enter")
    dialog.locator("[data-confirm-ok]").focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"tr[data-ticket='{berta.pk}']")).to_have_count(0)
    assert Ticket.objects.get(pk=berta.pk).status == TicketStatus.REMOVED
    undo = page.locator("[data-undo-button]")
    expect(undo).to_be_focused()
    expect(page.locator("[data-undo-text]")).to_have_text("Berta wurde entfernt.")
    page.keyboard.press("Enter")

    expect(page.locator("tbody[data-queue] tr")).to_have_count(3)
    assert names(page) == ["Anna", "Berta", "Clara"]  # her old place, not the end
    assert Ticket.objects.get(pk=berta.pk).status == TicketStatus.WAITING
    assert {anna.pk, clara.pk} <= set(Ticket.objects.filter(status="waiting").values_list("pk", flat=True))


def test_transfer_waits_for_its_confirmation(
    page: Page, asgi_server: AsgiServer, offices: tuple[Office, Office], agent: User
) -> None:
    ticket = join(offices[0], "Anna")
    open_console(page, asgi_server, agent)
    select = page.locator(f"tr[data-ticket='{ticket.pk}'] [data-key=transfer]")
    dialog = page.locator("[data-confirm-dialog]")

    select.select_option(label="Standesamt")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-confirm-text]")).to_contain_text("Standesamt")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(select).to_have_value("")
    assert Ticket.objects.get(pk=ticket.pk).office_id == offices[0].pk

    select.select_option(label="Standesamt")
    dialog.locator("[data-confirm-ok]").click()
    expect(dialog).to_be_hidden()
    eventually(lambda: Ticket.objects.get(pk=ticket.pk).office_id == offices[1].pk, "the transfer")


def test_the_title_counts_a_booked_citizen(
    page: Page, asgi_server: AsgiServer, offices: tuple[Office, Office], agent: User
) -> None:
    joining.join_booked(
        offices[0], agent=agent.staff_member, service=None, display_name="Frau Termin", language="de"
    )

    open_console(page, asgi_server, agent)

    expect(page).to_have_title(re.compile(r"^\(1\) "))

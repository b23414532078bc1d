"""A citizen whom staff move to another office (#13): the waiting room shows the new office's
heading, welcome text and checklist at once — no reload — and says so politely to screen
readers, in the page's language. The staff member transfers through the real console."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from buergerbuero.offices.models import Office
from buergerbuero.staff.models import Role
from buergerbuero.waiting.services import joining
from tests import factories
from tests.support.live import ALWAYS_OPEN
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def offices() -> tuple[Office, Office]:
    organization = factories.make_org("wechselstadt", state="BY", name="Stadt Wechselstadt")
    fields = {"observes_public_holidays": False, "waiting_room_limit": 100}
    meldeamt = factories.make_office(
        organization,
        "meldeamt",
        name="Meldeamt",
        hours=ALWAYS_OPEN,
        waiting_area_text="Willkommen im Meldeamt.",
        checklist="Personalausweis\nMeldeschein",
        **fields,
    )
    standesamt = factories.make_office(
        organization,
        "standesamt",
        name="Standesamt",
        hours=ALWAYS_OPEN,
        waiting_area_text="Willkommen im Standesamt.",
        checklist="Geburtsurkunde",
        **fields,
    )
    return meldeamt, standesamt


@pytest.fixture
def agent(offices: tuple[Office, Office]) -> User:
    return factories.make_staff(offices[0].organization, "wechsel.agent", Role.AGENT, list(offices))


def open_console(page: Page, server: AsgiServer, user: User) -> None:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    page.context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": server.url}])
    page.goto(f"{server.url}/staff/console/")
    expect(page.locator("#console [data-connection]")).to_have_attribute("data-connection", "open")


@pytest.mark.parametrize(
    ("language", "notice"),
    [
        ("de", "Sie wurden in den Wartebereich „Standesamt“ verlegt."),
        ("ru", "Вас перевели в зал ожидания «Standesamt»."),
    ],
)
def test_a_transferred_citizen_sees_the_new_office_and_hears_why(
    browser: Browser,
    page: Page,
    asgi_server: AsgiServer,
    offices: tuple[Office, Office],
    agent: User,
    language: str,
    notice: str,
) -> None:
    ticket = joining.join(offices[0], service=None, display_name="Anna", language=language, mode="video")
    citizen = browser.new_context(locale="de-DE")
    citizen.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": asgi_server.url}])
    room = citizen.new_page()
    room.goto(f"{asgi_server.url}/w/{ticket.token}/")
    expect(room.locator("#waiting-room [data-connection]")).to_have_attribute("data-connection", "open")
    expect(room.locator("h1")).to_contain_text("Meldeamt")
    expect(room.locator(".checklist")).to_contain_text("Meldeschein")

    open_console(page, asgi_server, agent)
    page.locator(f"tr[data-ticket='{ticket.pk}'] [data-key=transfer]").select_option(label="Standesamt")
    page.locator("[data-confirm-dialog] [data-confirm-ok]").click()

    expect(room.locator("h1")).to_contain_text("Standesamt")
    expect(room.locator("h1")).not_to_contain_text("Meldeamt")
    expect(room.locator(".waiting-text")).to_contain_text("Willkommen im Standesamt.")
    expect(room.locator(".checklist")).to_contain_text("Geburtsurkunde")
    expect(room.locator(".checklist")).not_to_contain_text("Meldeschein")
    expect(room.locator("[data-transfer-notice]")).to_be_visible()
    expect(room.locator("[data-transfer-notice]")).to_contain_text(notice)
    # Screen readers hear it from the polite live region, with the place in the new queue.
    polite = room.locator("[data-polite][aria-live=polite]")
    expect(polite).to_contain_text(notice)
    assert "Standesamt" in room.title()
    citizen.close()

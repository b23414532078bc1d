"""Citizen details of #13 in Chromium: the language switches when one is picked (no extra
click), the waiting room works where the browser blocks storage (embedded in a third-party
frame), and chat text sent while the socket reconnects is kept and sent when it is back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from buergerbuero.waiting.models import Mode
from buergerbuero.waiting.services import joining
from tests.browser.support_call import make_call_office, open_call_page, start_consultation
from tests.support.live import reset_join_limit
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BLOCK_STORAGE = """
Object.defineProperty(window, "localStorage", {
  get() { throw new DOMException("The operation is insecure.", "SecurityError"); },
});
"""
# Sockets opened while window.blockSockets is set go nowhere (a network cut for this page).
CUTTABLE_SOCKETS = """
const RealSocket = window.WebSocket;
window.openSockets = [];
window.blockSockets = false;
window.WebSocket = class extends RealSocket {
  constructor(url, protocols) {
    super(window.blockSockets ? "ws://127.0.0.1:9/" : url, protocols);
    window.openSockets.push(this);
  }
};
"""


@pytest.mark.mode_independent
def test_picking_a_language_switches_without_another_click(page: Page, asgi_server: AsgiServer) -> None:
    place = make_call_office()
    page.goto(f"{asgi_server.url}/{place.office.organization.slug}/")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("[data-language-submit]")).to_be_hidden()

    page.select_option("#language-select", "ar")

    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")


def test_the_waiting_room_opens_its_socket_where_storage_is_blocked(
    page: Page, asgi_server: AsgiServer
) -> None:
    place = make_call_office()
    reset_join_limit()
    ticket = joining.join(place.office, service=None, display_name="Gast", language="de", mode=Mode.CHAT)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.context.add_init_script(BLOCK_STORAGE)

    page.goto(f"{asgi_server.url}/w/{ticket.token}/")

    expect(page.locator("#waiting-room [data-connection]")).to_have_attribute("data-connection", "open")
    expect(page.locator("#waiting-room strong[data-position]")).to_have_text("1")
    page.goto(f"{asgi_server.url}/{place.office.organization.slug}/{place.office.slug}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bauamt")
    assert errors == []


def test_chat_text_sent_while_reconnecting_is_kept_and_sent_when_back(
    page: Page, asgi_server: AsgiServer
) -> None:
    place = make_call_office()
    meeting = start_consultation(place, Mode.CHAT)
    page.context.add_init_script(CUTTABLE_SOCKETS)
    open_call_page(page, asgi_server.url + meeting.citizen_path)
    page.locator("[data-join=chat]").click()
    connection = page.locator("#consultation [data-connection]")

    page.evaluate("window.blockSockets = true; window.openSockets.forEach((socket) => socket.close())")
    expect(connection).not_to_have_attribute("data-connection", "open")
    box = page.locator("#chat-input")
    box.fill("Ist mein Antrag angekommen?")
    page.locator(".chat__form button[type=submit]").click()

    expect(box).to_have_value("Ist mein Antrag angekommen?")
    expect(page.locator("[data-chat-error]")).to_contain_text("Verbindung")
    page.evaluate("window.blockSockets = false")
    expect(connection).to_have_attribute("data-connection", "open", timeout=15_000)
    expect(page.locator("[data-chat-log]")).to_contain_text("Ist mein Antrag angekommen?")
    expect(box).to_have_value("")
    assert re.search(r"/consultation/$", page.url)

"""The office page offers the way back to a place this browser holds in the office's waiting
room: the link's address is the room's URL as Django reverses it (``data-room-url``), with this
browser's ticket filled in."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from buergerbuero.offices.models import Office
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.mode_independent, pytest.mark.django_db(transaction=True)]


def test_the_office_page_links_back_to_the_held_place(
    page: Page, asgi_server: AsgiServer, office: Office
) -> None:
    office_url = f"{asgi_server.url}/{office.organization.slug}/{office.slug}/"
    page.goto(office_url)
    link = page.locator("[data-return-to-place]")
    expect(link).to_be_hidden()  # no place held yet
    page.evaluate("(key) => localStorage.setItem(key, 'tok-en_1')", f"bb-ticket-{office.pk}")
    page.goto(office_url)
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", "/w/tok-en_1/")

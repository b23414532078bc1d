"""A live event in Chromium whose Janus is killed (SIGKILL) and started again: the pages say that
the connection to the media server is being restored (in Arabic too, axe-clean at 360 px),
questions still reach the host meanwhile, and without a reload the host publishes again and both
viewers decode the stage again.

Real Janus, real server process; Janus is started again in the ``finally`` for later tests.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, expect

from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import StaffMember
from tests.browser.support_a11y import axe_violations
from tests.browser.test_events import PHONE, TILE_PLAYS, host_on_camera, make, person, town, watch
from tests.support.janus import JanusTestServer
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["town"]  # the fixture, used by name

# Janus back → the viewer decodes again within this: the page's retries back off to 8 s at most
# while Janus is down this short, the server's health answer is cached 3 s, and ICE needs a moment.
RECOVERED_WITHIN_MS = 30_000
RECONNECTING = "Verbindung zum Medienserver wird wiederhergestellt …"
RECONNECTING_AR = "جارٍ إعادة الاتصال بخادم الوسائط …"


def test_the_stage_comes_back_after_janus_restarts_without_a_reload(
    browser: Browser, janus: JanusTestServer, janus_server: AsgiServer, town: tuple[Organization, StaffMember]
) -> None:
    organization, host = town
    event = make(organization, host)
    base = janus_server.url
    host_page = host_on_camera(browser, base, event)
    viewer = person(browser)
    watch(viewer, base, event, "Anna")
    arabic = person(browser, "ar", viewport=PHONE)
    arabic.context.add_cookies([{"name": "bb_language", "value": "ar", "url": base}])
    watch(arabic, base, event, "Dalia")
    for page in (viewer, arabic):
        page.wait_for_function(TILE_PLAYS, arg=1, timeout=30_000)
        page.evaluate("window.__sameDocument = true")  # gone if the page reloaded
    reconnecting = viewer.locator("[data-media-reconnecting]")
    expect(reconnecting).to_be_hidden()

    try:
        janus.kill()
        expect(reconnecting).to_be_visible(timeout=20_000)
        expect(reconnecting).to_have_text(RECONNECTING)
        expect(host_page.locator("[data-media-reconnecting]")).to_be_visible()
        expect(viewer.locator("[data-tiles] video")).to_have_count(0)
        expect(arabic.locator("[data-media-reconnecting]")).to_have_text(RECONNECTING_AR)
        assert axe_violations(arabic) == []

        # Without Janus the rest goes on: a question reaches the host.
        viewer.locator("#question-text").fill("Ist das Bild weg?")
        viewer.get_by_role("button", name="Frage senden").click()
        expect(host_page.locator("[data-questions] li p")).to_have_text("Ist das Bild weg?")

        janus.start()
        started = time.monotonic()
        for page in (viewer, arabic):
            page.wait_for_function(TILE_PLAYS, arg=1, timeout=RECOVERED_WITHIN_MS)
        print(f"the viewers decode again {time.monotonic() - started:.1f} s after Janus is back")  # noqa: T201
        expect(reconnecting).to_be_hidden()
        expect(arabic.locator("[data-media-reconnecting]")).to_be_hidden()
        expect(host_page.locator("[data-media-reconnecting]")).to_be_hidden()
        expect(viewer.locator("[data-tiles] figcaption")).to_have_text(host.public_name)
        for page in (viewer, arabic):
            assert page.evaluate("window.__sameDocument === true")
    finally:
        if janus.process is None or janus.process.poll() is not None:
            janus.start()

"""The Content-Security-Policy as Chromium applies it.

Every browser test runs under the real policy and fails on any refusal (``conftest.py``); these
tests show that the watch sees a refusal at all, that the nonce'd brand colour applies, and that
a script an attacker slipped into a page (without the nonce) does not run, and that the office
lead's admin page with its live preview works under it; and that Chromium keeps the camera
from every page but the consultation (``Permissions-Policy``).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from buergerbuero.offices.models import Office
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting.models import Mode, PresenceState
from buergerbuero.waiting.services import joining, staffing
from tests import factories
from tests.browser.conftest import csp_violations
from tests.support.live import ALWAYS_OPEN
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.mode_independent, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def town() -> None:
    organization = factories.make_org("cspstadt", state="BY", name="Stadt CSP")
    organization.primary_colour = "#1B5E20"
    organization.save()
    factories.make_office(organization, "meldeamt", name="Meldeamt", hours=ALWAYS_OPEN)


def test_the_brand_colour_applies_through_the_nonce(page: Any, asgi_server: AsgiServer, town: None) -> None:
    page.goto(f"{asgi_server.url}/cspstadt/")

    brand = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--brand')")
    assert brand.strip() == "#1B5E20"


@pytest.mark.csp_expected(
    # Our page's report and Chromium's own console line, for each.
    "CSP violation: script-src-elem refused inline",
    "Executing inline script violates",
    "CSP violation: style-src-attr",
    "Applying inline style violates",
)
def test_an_injected_inline_script_or_style_attribute_is_refused_and_reported(
    page: Any, asgi_server: AsgiServer, town: None
) -> None:
    page.goto(f"{asgi_server.url}/cspstadt/")

    # What a stored HTML injection would put into the page: no nonce.
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.injected = true";
          document.body.append(script);
          const box = document.createElement("div");
          box.id = "styled";
          box.setAttribute("style", "color: rgb(255, 0, 0)");
          document.body.append(box);
        }"""
    )

    assert page.evaluate("window.injected === undefined")
    assert page.evaluate("getComputedStyle(document.getElementById('styled')).color") != "rgb(255, 0, 0)"
    page.wait_for_timeout(200)
    assert any("script-src-elem refused inline" in line for line in csp_violations), csp_violations
    assert any("style-src-attr" in line for line in csp_violations), csp_violations


def test_the_admins_live_preview_of_the_waiting_area_works_under_the_policy(
    page: Any, asgi_server: AsgiServer, town: None
) -> None:
    """The office lead's admin page: Django's admin, our stylesheet and the preview script."""
    office = Office.objects.get(slug="meldeamt")
    lead = factories.make_staff(office.organization, "csp.lead", Role.OFFICE_LEAD, [office])
    client = Client()
    client.force_login(lead)
    name = settings.SESSION_COOKIE_NAME
    page.context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": asgi_server.url}])

    page.goto(f"{asgi_server.url}{reverse('admin:offices_office_change', args=[office.pk])}")
    page.locator("textarea[name=waiting_area_text]").fill("**Willkommen** im Meldeamt")

    preview = page.locator("[data-waiting-preview]")
    expect(preview.locator("strong")).to_have_text("Willkommen")
    assert preview.evaluate("(box) => getComputedStyle(box).borderTopStyle") == "solid"  # the stylesheet


def test_only_the_consultation_page_may_use_the_camera(
    page: Any, asgi_server: AsgiServer, town: None
) -> None:
    """``Permissions-Policy`` as Chromium applies it: the directory cannot even ask."""
    office = Office.objects.get(slug="meldeamt")
    agent = factories.make_staff(office.organization, "csp.agent", Role.AGENT, [office])
    staffing.set_presence(StaffMember.objects.get(user=agent), PresenceState.AVAILABLE)
    ticket = joining.join(office, service=None, display_name="Ben", language="de", mode=Mode.VIDEO)
    ask = "navigator.mediaDevices.getUserMedia({video: true}).then(() => 'granted', (error) => error.name)"
    allows = "['camera', 'microphone', 'display-capture'].map((f) => document.featurePolicy.allowsFeature(f))"

    page.goto(f"{asgi_server.url}/cspstadt/")
    assert page.evaluate(allows) == [False, False, False]
    assert page.evaluate(ask) == "NotAllowedError"

    page.goto(f"{asgi_server.url}/w/{ticket.token}/consultation/")
    assert page.evaluate(allows) == [True, True, True]
    assert page.evaluate(ask) == "granted"

"""The statistics page in Chromium under the real Content-Security-Policy: axe-clean (WCAG 2.1
AA), no sideways scrolling at 360 px, a visible focus on everything the keyboard reaches, in
German and English; the period picker works without JavaScript."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, expect

from buergerbuero.stats import services as stats
from tests.browser.support_a11y import (
    axe_script,
    axe_violations,
    describe_violations,
    focus_problems,
    reference_problems,
    sideways_overflow,
)
from tests.browser.support_call import PORTRAIT
from tests.stats.support import WEEK, at, make_known_week, make_lead
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.mode_independent, pytest.mark.django_db(transaction=True)]
PHONE = PORTRAIT


@pytest.mark.parametrize("language", ["de", "en"])
def test_the_statistics_page_is_accessible_at_360_px(
    browser: Browser, asgi_server: AsgiServer, language: str
) -> None:
    axe_script()  # installed by `make axe`; skipped without it, except in CI
    week = make_known_week()
    stats.aggregate_pending(at(WEEK[-1], "12:00") + dt.timedelta(days=1))
    client = Client()
    client.force_login(make_lead(week, "statistik-lead").user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context = browser.new_context(viewport=PHONE, locale=language, timezone_id="Europe/Berlin")
    context.add_cookies(
        [
            {"name": settings.SESSION_COOKIE_NAME, "value": session, "url": asgi_server.url},
            {"name": "bb_language", "value": language, "url": asgi_server.url},
        ]
    )
    page = context.new_page()
    try:
        page.goto(f"{asgi_server.url}/staff/")
        page.get_by_role("link", name="Statistik" if language == "de" else "Statistics", exact=True).click()
        # The period picker is a plain form: choose the known week.
        page.get_by_label("Zeitraum" if language == "de" else "Period", exact=True).select_option("custom")
        page.get_by_label("Von" if language == "de" else "From").fill(WEEK[0].isoformat())
        page.get_by_label("Bis" if language == "de" else "Until").fill(WEEK[-1].isoformat())
        page.get_by_role("button", name="Anzeigen" if language == "de" else "Show").click()
        expect(page.locator(".stats-chart__svg")).to_have_count(3)
        expect(page.locator(".stats-totals")).to_contain_text("840")  # the known week: 240 + 240 + 240 + 120

        problems = describe_violations("statistics", axe_violations(page))
        problems += reference_problems(page)
        overflow = sideways_overflow(page)
        if overflow:
            problems.append(f"scrolls sideways at 360 px: {overflow}")
        problems += focus_problems(page)
        page.screenshot(path=f"test-artifacts/statistics-{language}.png", full_page=True)
        assert not problems, "\n".join(problems)
    finally:
        context.close()

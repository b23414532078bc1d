"""An org admin's first login in Chromium, under the real Content-Security-Policy: the admin
leads to the staff login, the second factor is set up from the key on the page, the recovery
codes are shown, and the admin opens. Every page of the way is axe-clean and keyboard-usable."""

from __future__ import annotations

import base64
import re

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django_otp.oath import totp
from playwright.sync_api import Page, expect

from tests import factories
from tests.browser.support_a11y import axe_violations, describe_violations
from tests.support.live import server_password_hash
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.mode_independent, pytest.mark.django_db(transaction=True)]


def current_code(key_text: str) -> str:
    """What an authenticator app shows for the key typed in by hand."""
    secret = key_text.replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key, step=30, digits=6):06d}"


def assert_axe_clean(page: Page, state: str) -> None:
    violations = axe_violations(page)
    assert not violations, "\n".join(describe_violations(state, violations))


def test_org_admin_sets_up_the_second_factor_and_reaches_the_admin(
    page: Page, asgi_server: AsgiServer
) -> None:
    organization = factories.make_org("zweistadt", state="BY", name="Stadt Zweistadt")
    admin = factories.make_staff(organization, "admin.zweistadt", "org_admin")
    User.objects.filter(pk=admin.pk).update(password=server_password_hash())

    page.goto(f"{asgi_server.url}/admin/")
    expect(page).to_have_url(re.compile(r"/staff/login/\?next=%2Fadmin%2F$"))
    assert_axe_clean(page, "login")
    # Keyboard only: the user name field has the focus.
    page.keyboard.type("admin.zweistadt")
    page.keyboard.press("Tab")
    page.keyboard.type(factories.PASSWORD)
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Zweiten Faktor einrichten")
    expect(page.locator("figure.qr svg")).to_be_visible()
    assert_axe_clean(page, "setup")
    page.get_by_label("Code").fill(current_code(page.locator("code.secret").inner_text()))
    page.get_by_role("button", name="Bestätigen und einschalten").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Ihre Wiederherstellungscodes")
    expect(page.locator("ul.recovery-codes li")).to_have_count(10)
    assert_axe_clean(page, "recovery codes")
    page.get_by_role("link", name=re.compile("weiter")).click()

    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.locator("#site-name")).to_be_visible()


def test_the_lockout_page_is_ours_and_axe_clean(page: Page, asgi_server: AsgiServer) -> None:
    try:
        page.goto(f"{asgi_server.url}/staff/login/")
        for number in range(5):
            page.get_by_label("Benutzername").fill("niemand")
            page.get_by_label("Passwort").fill(f"falsch-{number}")
            page.get_by_role("button", name="Anmelden").click()
            if number < 4:  # the fifth failure locks
                expect(page.get_by_role("heading", level=1)).to_have_text("Anmeldung für Mitarbeitende")

        expect(page.get_by_role("heading", level=1)).to_have_text("Anmeldung vorübergehend gesperrt")
        expect(page.get_by_role("alert")).to_contain_text("15 Minuten")
        assert_axe_clean(page, "lockout")
    finally:
        # The browsers of every test come from 127.0.0.1: lift this address's lockout.
        apps.get_model("axes", "AccessAttempt").objects.all().delete()

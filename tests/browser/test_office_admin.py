"""The office lead's admin page for an office in Chromium at 1280 px, under the real
Content-Security-Policy: nothing wider than the screen (the services' booking rules in
sight), an error summary at the top that links to each refused field, a waiting-area
preview drawn like the citizen's page; the staff home offers only what the role may do,
and link-buttons carry their text in the middle."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Page, ViewportSize, expect

from buergerbuero.offices.models import Office, Service, SpecialOpening
from buergerbuero.staff.models import Role
from tests import factories
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.mode_independent, pytest.mark.django_db(transaction=True)]
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
WEEKDAYS = [(day, "08:00", "16:00") for day in range(5)]


@pytest.fixture
def office() -> Office:
    organization = factories.make_org("adminstadt", state="BY", name="Stadt Adminstadt")
    office = factories.make_office(
        organization, "buergerbuero", name="Bürgerbüro/Einwohnermeldeamt", hours=WEEKDAYS
    )
    for number, name in enumerate(["Personalausweis beantragen", "Reisepass", "Meldebescheinigung"]):
        Service.objects.create(
            office=office,
            name=name,
            description="Bitte bringen Sie Ihr altes Dokument und ein biometrisches Passbild mit.",
            position=number,
        )
    SpecialOpening.objects.create(
        office=office, date=dt.date(2030, 12, 24), opens=dt.time(9), closes=dt.time(12), note="Heiligabend"
    )
    office.waiting_area_text = "**Willkommen** im Bürgerbüro"
    office.checklist = "Personalausweis\nMeldebescheinigung"
    office.save()
    return office


def logged_in(page: Page, server: AsgiServer, user: User, path: str) -> None:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    page.context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": server.url}])
    page.set_viewport_size(DESKTOP)
    page.goto(server.url + path)


def page_width(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


def test_office_page_fits_1280_px_with_the_booking_rules_in_sight(
    page: Page, asgi_server: AsgiServer, office: Office
) -> None:
    lead = factories.make_staff(office.organization, "lead.admin", Role.OFFICE_LEAD, [office])
    logged_in(page, asgi_server, lead, reverse("admin:offices_office_change", args=[office.pk]))

    assert page_width(page) <= DESKTOP["width"]
    for name in ("slot_minutes", "buffer_minutes", "lead_minutes", "horizon_days"):
        box = page.locator(f"[name='services-0-{name}']").bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= DESKTOP["width"], name


def test_refused_save_shows_an_error_summary_at_the_top_linking_to_the_fields(
    page: Page, asgi_server: AsgiServer, office: Office
) -> None:
    lead = factories.make_staff(office.organization, "lead.errors", Role.OFFICE_LEAD, [office])
    logged_in(page, asgi_server, lead, reverse("admin:offices_office_change", args=[office.pk]))
    page.locator("[name='name']").fill("")
    page.locator("[name='special_openings-0-closes']").fill("08:00")  # before it opens
    page.locator("[name='_continue']").click()

    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    assert summary.bounding_box()["y"] < 400  # type: ignore[index]  # at the top, not below the fields
    texts = summary.locator("a").all_inner_texts()
    assert len(texts) == 2, texts
    closes_link = summary.locator("a[href='#id_special_openings-0-closes']")
    expect(closes_link).to_have_count(1)
    closes_link.click()
    expect(page.locator("#id_special_openings-0-closes")).to_be_focused()
    summary.locator("a[href='#id_name']").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#id_name")).to_be_focused()


def test_the_preview_looks_like_the_citizens_waiting_area(
    page: Page, asgi_server: AsgiServer, office: Office
) -> None:
    lead = factories.make_staff(office.organization, "lead.preview", Role.OFFICE_LEAD, [office])
    logged_in(page, asgi_server, lead, reverse("admin:offices_office_change", args=[office.pk]))
    preview = page.locator("[data-waiting-preview]")
    expect(preview.locator("strong")).to_have_text("Willkommen")
    in_preview: dict[str, Any] = preview.evaluate(
        """(box) => {
          const style = (selector) => getComputedStyle(box.querySelector(selector));
          return {
            heading: [style("h2").fontSize, style("h2").backgroundColor, style("h2").textTransform],
            item: [style(".checklist li").display, style(".checklist li").listStyleType],
            label: [style(".checklist label").cssFloat, style(".checklist label").display],
            font: getComputedStyle(box).lineHeight,
          };
        }"""
    )

    # site.css's values on the citizen's page: h2 1.25rem, no caption bar; checklist rows flex.
    assert in_preview["heading"] == ["20px", "rgba(0, 0, 0, 0)", "none"]  # site.css: h2 1.25rem
    assert in_preview["item"] == ["flex", "none"]
    assert in_preview["label"] == ["none", "flex"]
    assert in_preview["font"] == "24px"  # line-height 1.5 of 16 px


@pytest.mark.parametrize(
    ("role", "staff_link"),
    [(Role.OFFICE_LEAD, False), (Role.ORG_ADMIN, True), (Role.AGENT, None)],
)
def test_staff_home_offers_only_what_the_role_may_do(
    page: Page, asgi_server: AsgiServer, office: Office, role: str, staff_link: bool | None
) -> None:
    user = factories.make_staff(office.organization, f"home.{role}", role, [office])
    logged_in(page, asgi_server, user, reverse("staff:home"))

    admin_links = page.locator("a[href^='/admin/']")
    if staff_link is None:
        expect(admin_links).to_have_count(0)
        return
    expect(page.locator("a[href='/admin/offices/office/']")).to_have_count(1)
    expect(page.locator("a[href='/admin/auth/user/']")).to_have_count(1 if staff_link else 0)
    for href in admin_links.evaluate_all("(links) => links.map((link) => link.getAttribute('href'))"):
        assert page.request.get(asgi_server.url + href).status == 200, href


def test_link_buttons_carry_their_text_in_the_middle(
    page: Page, asgi_server: AsgiServer, office: Office
) -> None:
    agent = factories.make_staff(office.organization, "home.buttons", Role.AGENT, [office])
    logged_in(page, asgi_server, agent, reverse("staff:home"))

    link = page.locator("a.button").first
    gap = link.evaluate(
        """(link) => {
          const box = link.getBoundingClientRect();
          const range = document.createRange();
          range.selectNodeContents(link);
          const text = range.getBoundingClientRect();
          return [text.top - box.top, box.bottom - text.bottom];
        }"""
    )
    assert abs(gap[0] - gap[1]) <= 2, gap

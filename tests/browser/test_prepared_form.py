"""A form prepared before the appointment (#16), in Chromium on a 360 px phone: the citizen opens
it from the appointment's page and fills every kind of field with the keyboard alone (Tab,
typing, arrow keys, Space, Enter), saves, and finds the values again; axe-core finds nothing on
the form page in German and in Arabic (right to left), no reference points nowhere and nothing
scrolls sideways."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Browser, Page, ViewportSize, expect

from buergerbuero.booking.models import Appointment, PreparedForm
from buergerbuero.forms.fields import FormField
from buergerbuero.forms.models import FormTemplate, Source
from tests import factories
from tests.booking.conftest import make_appointment
from tests.booking.test_views import german
from tests.browser.support_a11y import (
    axe_violations,
    describe_violations,
    reference_problems,
    sideways_overflow,
)
from tests.browser.test_keyboard import KeyboardUser
from tests.support.live import ALWAYS_OPEN
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.mode_independent, pytest.mark.django_db(transaction=True)]

PHONE: ViewportSize = {"width": 360, "height": 740}
FIELDS = [
    FormField("surname", "Familienname", "text", required=True, help="Wie im Ausweis"),
    FormField("moved_on", "Einzugsdatum", "date"),
    FormField("reason", "Anlass", "radio", options=("Zuzug", "Umzug")),
    FormField("floor", "Stockwerk", "choice", options=("EG", "1. OG")),
    FormField("notes", "Bemerkungen", "textarea"),
    FormField("consent", "Ich versichere die Richtigkeit", "checkbox", required=True),
]


@pytest.fixture
def booked() -> tuple[Appointment, FormTemplate]:
    """An appointment in two days at an office open around the clock, whose service has a form."""
    organization = factories.make_org("vorbereitet", name="Stadt Vorbereitet")
    organization.languages = "de,en,ar"
    organization.save(update_fields=["languages"])
    office = factories.make_office(organization, "meldeamt", hours=ALWAYS_OPEN, name="Meldeamt")
    service = factories.make_service(office, "Anmeldung", bookable=True, slot_minutes=20)
    agent = factories.make_staff(organization, "vorbereiter", offices=[office]).staff_member
    template = FormTemplate.objects.create(
        office=office,
        title="Anmeldung einer Wohnung",
        source=Source.DEFINED,
        fields=[f.as_dict() for f in FIELDS],
    )
    template.services.add(service)
    start = (timezone.now() + dt.timedelta(days=2)).replace(second=0, microsecond=0)
    return make_appointment(service, agent, start), template


@pytest.fixture
def phone(browser: Browser, asgi_server: AsgiServer, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A phone's browser in German (or the language the test names)."""
    language = getattr(request, "param", "de")
    context = browser.new_context(
        locale="ar" if language == "ar" else "de-DE", timezone_id="Europe/Berlin", viewport=PHONE
    )
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": asgi_server.url}])
    page = context.new_page()
    yield page
    context.close()


def problems_of(page: Page, state: str) -> list[str]:
    problems = describe_violations(state, axe_violations(page)) + reference_problems(page)
    overflow = sideways_overflow(page)
    if overflow:
        problems.append(f"{state}: scrolls sideways at 360 px: {overflow}")
    return problems


def test_the_citizen_prepares_the_form_with_the_keyboard_alone(
    phone: Page, asgi_server: AsgiServer, booked: tuple[Appointment, FormTemplate], artifacts_dir: Path
) -> None:
    appointment, template = booked
    phone.goto(f"{asgi_server.url}/a/{appointment.token}/")
    citizen = KeyboardUser(phone)

    offer = phone.get_by_role("link", name=german("Prepare the form: %(title)s") % {"title": template.title})
    citizen.tab_to(offer)
    citizen.follow("Enter", f"{asgi_server.url}/a/{appointment.token}/forms/{template.pk}/")
    problems = problems_of(phone, "empty form")

    citizen.tab_to(phone.locator("#pf-0"))
    citizen.type("Beispiel")
    citizen.press("Tab")
    expect(phone.locator("#pf-1")).to_be_focused()
    # The date: the same day and month, so that the browser's order of the parts does not
    # matter. Tab moves between the parts inside the input (Chromium does not mark them
    # :focus-visible on the input itself), then on to the radio group's chosen "no answer yet".
    citizen.type("11112026")
    for _part in range(4):
        if phone.evaluate("document.activeElement.id") != "pf-1":
            break
        phone.keyboard.press("Tab")
    expect(phone.locator("#pf-2-none")).to_be_focused()
    citizen.press("ArrowDown")  # wraps round to "Zuzug"
    citizen.press("ArrowDown")
    expect(phone.locator("#pf-2-1")).to_be_checked()
    citizen.press("Tab")
    expect(phone.locator("#pf-3")).to_be_focused()
    citizen.press("ArrowDown")
    citizen.press("Tab")
    citizen.type("Zweite")
    citizen.press("Enter")
    citizen.type("Zeile")
    citizen.press("Tab")
    expect(phone.locator("#pf-5")).to_be_focused()
    citizen.press("Space")
    citizen.tab_to(phone.get_by_role("button", name=german("Save the form")))
    citizen.follow("Enter", f"{asgi_server.url}/a/{appointment.token}/forms/{template.pk}/")

    expect(
        phone.get_by_text(german("Your form is saved. You can change it until the appointment starts."))
    ).to_be_visible()
    assert PreparedForm.objects.get().values == {
        "surname": "Beispiel",
        "moved_on": "2026-11-11",
        "reason": "Umzug",
        "floor": "EG",
        "notes": "Zweite\nZeile",
        "consent": True,
    }
    expect(phone.locator("#pf-0")).to_have_value("Beispiel")
    expect(phone.locator("#pf-1")).to_have_value("2026-11-11")
    expect(phone.locator("#pf-5")).to_be_checked()
    problems += problems_of(phone, "saved form")
    phone.screenshot(path=artifacts_dir / "prepared_form_de.png", full_page=True)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("phone", ["ar"], indirect=True)
def test_the_form_page_meets_wcag_aa_right_to_left(
    phone: Page, asgi_server: AsgiServer, booked: tuple[Appointment, FormTemplate], artifacts_dir: Path
) -> None:
    appointment, template = booked

    phone.goto(f"{asgi_server.url}/a/{appointment.token}/forms/{template.pk}/")

    expect(phone.locator("html")).to_have_attribute("dir", "rtl")
    expect(phone.locator("[data-prepared-save]")).to_be_visible()
    problems = problems_of(phone, "form (ar)")
    phone.screenshot(path=artifacts_dir / "prepared_form_ar.png", full_page=True)
    phone.goto(f"{asgi_server.url}/a/{appointment.token}/")
    problems += problems_of(phone, "appointment with its form (ar)")
    assert not problems, "\n".join(problems)

"""A form of the office filled in together, live in the consultation, in Chromium.

The staff member opens the form; citizen and staff member type at the same time, first in
different fields, then in the same one; the interpreter watches (read-only); the citizen
reloads half-way. Every page ends with the server's values. The citizen confirms, signs (drawn
with the mouse, and the typed name), and the downloaded PDF holds every value and the drawn
signature. Nobody else gets the PDF. The page with the form open is checked with axe-core in
German and in Arabic (right to left) at 360 px.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader

from buergerbuero.consult import services as consult_services
from buergerbuero.consult.models import SharedForm, SharedFormValue
from buergerbuero.forms.models import FormTemplate
from buergerbuero.staff.models import Role
from buergerbuero.waiting.models import Mode
from tests import factories
from tests.browser.support_a11y import (
    axe_violations,
    describe_violations,
    reference_problems,
    sideways_overflow,
)
from tests.browser.support_call import (
    AGENT_NAME,
    PORTRAIT,
    CallOffice,
    Meeting,
    People,
    log_in,
    make_call_office,
    open_call_page,
    start_consultation,
    watched_people,
)
from tests.consult.filling_support import registration_form
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def call_office() -> CallOffice:
    return make_call_office()


@pytest.fixture
def template(call_office: CallOffice) -> FormTemplate:
    return registration_form(call_office.office)


@pytest.fixture
def people(browser: Browser, asgi_server: AsgiServer) -> Iterator[People]:
    with watched_people(browser, asgi_server) as crowd:
        yield crowd


def field(page: Page, name: str) -> str:
    return f'[data-shared-form] [data-sf-input="{name}"]'


def open_form(agent: Page, template: FormTemplate) -> None:
    expect(agent.locator("[data-form-picker]")).to_be_visible()
    agent.locator("[data-form-picker-select]").select_option(str(template.pk))
    agent.locator("[data-form-open]").click()
    expect(agent.locator("[data-shared-form] [data-sf-title]")).to_have_text(template.title)


def type_together(pages: list[tuple[Page, str, str]]) -> None:
    """Each (page, field, text): the pages type their texts key by key in turn, so that their
    edits cross at the server."""
    for page, name, _text in pages:
        page.locator(field(page, name)).click()
    for index in range(max(len(text) for _page, _name, text in pages)):
        for page, _name, text in pages:
            if index < len(text):
                page.keyboard.type(text[index])


def server_values(form_id: int) -> dict[str, object]:
    return {row.field: row.value for row in SharedFormValue.objects.filter(form_id=form_id)}


def expect_shows(page: Page, values: dict[str, object]) -> None:
    for name in ("surname", "street", "notes"):
        expect(page.locator(field(page, name))).to_have_value(str(values[name]))


def interpreter_page(people: People, meeting: Meeting) -> Page:
    """The interpreter, invited by the staff member and with the claimed invite's cookie."""
    agent = meeting.consultation.agent
    assert agent is not None
    secret = consult_services.invite_interpreter(meeting.consultation, agent)
    _consultation, session = consult_services.claim_invite(secret)
    page = people.open("interpreter")
    name = consult_services.interpreter_cookie(meeting.consultation.pk)
    page.context.add_cookies([{"name": name, "value": session, "url": people.base}])
    open_call_page(page, f"{people.base}/interpret/consultations/{meeting.consultation.pk}/")
    return page


def test_citizen_and_staff_fill_in_confirm_and_sign_together(
    people: People, call_office: CallOffice, template: FormTemplate, asgi_server: AsgiServer
) -> None:
    meeting = start_consultation(call_office, mode=Mode.CHAT)
    agent = people.open("agent")
    log_in(agent, people.base, call_office.agent.user, meeting.agent_path)
    citizen = people.open("citizen", viewport=PORTRAIT)
    open_call_page(citizen, people.base + meeting.citizen_path)
    interpreter = interpreter_page(people, meeting)

    open_form(agent, template)
    for page in (citizen, interpreter):
        expect(page.locator("[data-sf-title]")).to_have_text(template.title)
    # The interpreter reads only, unless the staff member lets them write.
    expect(interpreter.locator(field(interpreter, "surname"))).to_be_disabled()
    agent.locator("[data-sf-interpreter]").check()
    expect(interpreter.locator(field(interpreter, "surname"))).to_be_enabled()
    agent.locator("[data-sf-interpreter]").uncheck()
    expect(interpreter.locator(field(interpreter, "surname"))).to_be_disabled()
    form_id = SharedForm.objects.get(consultation=meeting.consultation).pk

    # Different fields at the same time; each sees where the other is.
    agent.locator(field(agent, "street")).click()
    expect(citizen.locator('[data-sf-field="street"] [data-sf-presence]')).to_have_text(
        f"{AGENT_NAME} (Mitarbeiter:in) tippt hier"
    )
    type_together([(agent, "street", "Hauptstraße 12"), (citizen, "surname", "Beispiel")])
    expect(citizen.locator(field(citizen, "street"))).to_have_value("Hauptstraße 12")
    expect(agent.locator(field(agent, "surname"))).to_have_value("Beispiel")
    # The staff member's value is a suggestion for the citizen until confirmed.
    expect(citizen.locator('[data-sf-field="street"] [data-sf-suggested]')).to_be_visible()
    expect(citizen.locator('[data-sf-field="surname"] [data-sf-suggested]')).to_be_hidden()
    # …and a screen reader hears it with the field (and only then).
    suggested_id = citizen.locator('[data-sf-field="street"] [data-sf-suggested]').get_attribute("id")
    assert suggested_id is not None
    described = citizen.locator(field(citizen, "street")).get_attribute("aria-describedby") or ""
    assert suggested_id in described.split()
    described = citizen.locator(field(citizen, "surname")).get_attribute("aria-describedby") or ""
    assert not any(part.endswith("-suggested") for part in described.split())

    # The citizen reloads half-way: the form comes back as it is.
    citizen.reload()
    expect(citizen.locator("#consultation [data-connection]")).to_have_attribute("data-connection", "open")
    expect(citizen.locator(field(citizen, "street"))).to_have_value("Hauptstraße 12")
    expect(citizen.locator(field(citizen, "surname"))).to_have_value("Beispiel")

    # Both in the same field at once: the server's order decides, everyone ends on its value.
    type_together([(agent, "notes", "Termin am Vormittag"), (citizen, "notes", "Bitte Rückruf")])
    agent.locator(field(agent, "street")).focus()
    citizen.locator(field(citizen, "surname")).focus()

    def settled() -> dict[str, object]:
        # Every keystroke is one edit: once the server has applied them all, every page must
        # come to show its values.
        edits = len("Termin am Vormittag") + len("Bitte Rückruf")
        deadline = time.monotonic() + 15
        while SharedFormValue.objects.get(form_id=form_id, field="notes").version < edits:
            assert time.monotonic() < deadline, "the server did not apply every keystroke"
            time.sleep(0.05)
        values = server_values(form_id)
        for page in (agent, citizen, interpreter):
            expect_shows(page, values)
        return values

    values = settled()
    # Last writer wins per field: whatever the crossing keystrokes left, it is one person's text.
    notes = SharedFormValue.objects.get(form_id=form_id, field="notes")
    assert notes.written_by in ("agent", "citizen")
    assert notes.version >= len("Bitte Rückruf")

    # The remaining fields, then review, confirm and sign.
    citizen.locator(field(citizen, "moved_on")).fill("2026-11-01")
    citizen.locator('[data-sf-input="reason"][value="Zuzug"]').check()
    citizen.locator(field(citizen, "consent")).check()
    expect(agent.locator(field(agent, "consent"))).to_be_checked()
    citizen.locator("[data-sf-review]").click()
    summary = citizen.locator("[data-sf-summary]")
    expect(summary).to_contain_text("01.11.2026")
    expect(summary).to_contain_text("Hauptstraße 12")
    citizen.locator("[data-sf-confirm]").click()
    expect(citizen.locator("[data-sf-sign]")).to_be_visible()
    expect(citizen.locator('[data-sf-field="street"] [data-sf-suggested]')).to_be_hidden()
    assert suggested_id not in (
        citizen.locator(field(citizen, "street")).get_attribute("aria-describedby") or ""
    )
    canvas = citizen.locator("[data-sf-canvas]")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    citizen.mouse.move(box["x"] + 20, box["y"] + box["height"] * 0.7)
    citizen.mouse.down()
    for step in range(1, 12):
        citizen.mouse.move(box["x"] + 20 + step * 20, box["y"] + box["height"] * (0.3 if step % 2 else 0.7))
    citizen.mouse.up()
    citizen.locator("[data-sf-signer]").fill("Anna Beispiel")
    citizen.locator("[data-sf-sign-button]").click()
    expect(citizen.locator("[data-sf-download-box]")).to_be_visible()
    expect(agent.locator("[data-sf-download-box]")).to_be_visible()
    expect(interpreter.locator("[data-sf-download-box]")).to_be_hidden()

    with citizen.expect_download() as download_info:
        citizen.locator("[data-sf-download]").click()
    document = PdfReader(io.BytesIO(download_info.value.path().read_bytes()))
    text = "\n".join(page.extract_text() for page in document.pages)
    for expected in (
        "Beispiel",
        "Hauptstraße 12",
        "01.11.2026",
        "Zuzug",
        str(values["notes"]),
        "Anna Beispiel",
    ):
        assert expected in text
    images = [image for page in document.pages for image in page.images]
    assert images, "the drawn signature is in the PDF"

    # Nobody else: no ticket, another office's staff member.
    url = f"{people.base}/consultations/{meeting.consultation.pk}/forms/{form_id}/pdf/"
    stranger = people.open("stranger")
    assert stranger.request.get(url).status == 404
    foreign = factories.make_staff(factories.make_org("fremdstadt", state="BY"), "fremd", Role.AGENT, [])
    log_in_plain(stranger, people.base, foreign)
    assert stranger.request.get(url).status == 404


def log_in_plain(page: Page, base: str, user: User) -> None:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base}])


@pytest.mark.mode_independent
@pytest.mark.parametrize("language", ["de", "ar"])
def test_the_consultation_page_with_a_form_open_meets_wcag_aa(
    language: str, people: People, call_office: CallOffice, template: FormTemplate
) -> None:
    meeting = start_consultation(call_office, mode=Mode.CHAT)
    agent = people.open("agent")
    log_in(agent, people.base, call_office.agent.user, meeting.agent_path)
    open_form(agent, template)
    agent.locator(field(agent, "street")).fill("Hauptstraße 12")
    agent.locator(field(agent, "street")).focus()

    citizen = people.open(f"citizen ({language})", viewport=PORTRAIT)
    citizen.context.add_cookies([{"name": "bb_language", "value": language, "url": people.base}])
    open_call_page(citizen, people.base + meeting.citizen_path)
    expect(citizen.locator("[data-sf-title]")).to_have_text(template.title)
    expect(citizen.locator('[data-sf-field="street"] [data-sf-suggested]')).to_be_visible()
    expect(citizen.locator("html")).to_have_attribute("dir", "rtl" if language == "ar" else "ltr")
    problems = describe_violations("form open", axe_violations(citizen))
    problems += reference_problems(citizen)
    overflow = sideways_overflow(citizen)
    if overflow:
        problems.append(f"scrolls sideways at 360 px: {overflow}")
    citizen.locator("[data-sf-review]").click()
    problems += describe_violations("summary", axe_violations(citizen))
    assert not problems, "\n".join(problems)


@pytest.mark.mode_independent
def test_the_citizen_confirms_and_signs_with_the_keyboard_alone(
    people: People, call_office: CallOffice, template: FormTemplate
) -> None:
    meeting = start_consultation(call_office, mode=Mode.CHAT)
    agent = people.open("agent")
    log_in(agent, people.base, call_office.agent.user, meeting.agent_path)
    open_form(agent, template)
    citizen = people.open("citizen", viewport=PORTRAIT)
    open_call_page(citizen, people.base + meeting.citizen_path)
    form_id = SharedForm.objects.get(consultation=meeting.consultation).pk

    expect(citizen.locator(field(citizen, "surname"))).to_have_attribute("maxlength", "500")
    citizen.locator(field(citizen, "surname")).focus()
    citizen.keyboard.type("Beispiel")
    citizen.keyboard.press("Tab")
    citizen.keyboard.type("Hauptstraße 12")
    citizen.locator(field(citizen, "moved_on")).fill("2026-11-01")
    citizen.locator(field(citizen, "consent")).focus()
    citizen.keyboard.press("Space")
    expect(agent.locator(field(agent, "consent"))).to_be_checked()
    # From the last field on: Tab and Enter only.
    citizen.keyboard.press("Tab")
    expect(citizen.locator("[data-sf-review]")).to_be_focused()
    citizen.keyboard.press("Enter")
    expect(citizen.locator("#sf-summary-heading")).to_be_focused()
    citizen.keyboard.press("Tab")
    expect(citizen.locator("[data-sf-confirm]")).to_be_focused()
    citizen.keyboard.press("Enter")
    expect(citizen.locator("#sf-sign-heading")).to_be_focused()
    citizen.keyboard.press("Tab")
    citizen.keyboard.press("Tab")
    expect(citizen.locator("[data-sf-signer]")).to_be_focused()
    citizen.keyboard.type("Anna Beispiel")
    citizen.keyboard.press("Tab")
    expect(citizen.locator("[data-sf-sign-button]")).to_be_focused()
    citizen.keyboard.press("Enter")
    expect(citizen.locator("[data-sf-download-box]")).to_be_visible()
    expect(citizen.locator("[data-sf-status]")).to_have_text("Unterschrieben von Anna Beispiel.")

    signed = SharedForm.objects.get(pk=form_id)
    text = "\n".join(page.extract_text() for page in PdfReader(signed.pdf.open("rb")).pages)
    assert "Anna Beispiel" in text
    assert "Hauptstraße 12" in text


# The page's rule with events in every order (as two server threads or processes may deliver
# them): crafted events straight into the page's form (window.consultationForm).
OUT_OF_ORDER_JS = """
() => {
  const form = window.consultationForm;
  const id = form.form.id;
  const input = document.querySelector('[data-sf-input="notes"]');
  const event = (value, version, client, seq) => ({
    type: "form.value", form: id, field: "notes", value, version, client, seq, status: "filling",
    by: client === form.client ? "citizen" : "agent", confirmed: client === form.client,
  });
  const seen = [];
  // The person typed "mein Text"; edit 901 is on its way.
  input.value = "mein Text";
  form.pending.set("notes", 901);
  form.onValue(event("fremd 1", 500, "other", 1));       // someone else's, newer than ours so far
  seen.push(input.value);                                 // typing is not overwritten
  form.onValue(event("fremd 2", 502, "other", 2));       // overtakes our echo
  form.onValue(event("mein Text", 501, form.client, 901)); // our echo, late
  seen.push(input.value, form.pending.has("notes"));     // the newest version shows, no wait left
  form.onValue(event("fremd 1", 500, "other", 1));       // a duplicate, late
  const stale = structuredClone(form.form);
  stale.values.notes = { value: "alt", version: 3, by: "agent", confirmed: false };
  form.load(stale);                                       // a whole state older than what we have
  seen.push(input.value);
  // A refused edit: the field shows what holds again, with the reason.
  input.value = "kaputt";
  form.pending.set("notes", 950);
  const holds = { value: "fremd 2", version: 502, by: "agent", confirmed: false };
  form.onRefused({ type: "form.refused", of: "form.edit", client: form.client, field: "notes", seq: 950,
                   code: "length", message: "Zu lang.", value: holds });
  const error = document.querySelector('[data-sf-field="notes"] [data-sf-field-error]');
  seen.push(input.value, form.pending.has("notes"), error.textContent);
  return seen;
}
"""


def test_the_page_orders_events_by_version_and_never_waits_for_a_lost_echo(
    people: People, call_office: CallOffice, template: FormTemplate
) -> None:
    meeting = start_consultation(call_office, mode=Mode.CHAT)
    agent = people.open("agent")
    log_in(agent, people.base, call_office.agent.user, meeting.agent_path)
    open_form(agent, template)
    citizen = people.open("citizen")
    open_call_page(citizen, people.base + meeting.citizen_path)
    expect(citizen.locator("[data-sf-title]")).to_have_text(template.title)

    assert citizen.evaluate(OUT_OF_ORDER_JS) == [
        "mein Text", "fremd 2", False, "fremd 2", "fremd 2", False, "Zu lang.",
    ]  # fmt: skip

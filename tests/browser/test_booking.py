"""An appointment, end to end in Chromium: booked in the browser, confirmed by real e-mail, and
entered at the start time through the mail's link, straight to the booked staff member.

The citizen books on a phone (360 px): office page → “Termin buchen” → service → a day in the
strip and a free time → name, e-mail, mobile number, consent → the appointment's page. The
server (in its own process, on a moved clock: see ``support_booking``) sends the confirmation
to a real SMTP server (aiosmtpd); the test reads the link and the calendar file from that mail.
Then the server is restarted five minutes before the start; the citizen opens the link in a
fresh browser and enters; the booked staff member, available in the console, is alerted and
admits them; a colleague of the same office, also available, can neither see them as callable
nor call them. Every step waits on what the pages show, never on a fixed delay.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import icalendar
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from buergerbuero.booking import services as booking
from buergerbuero.booking.models import Appointment, AppointmentStatus
from buergerbuero.consult.models import Consultation
from buergerbuero.waiting.models import Ticket, TicketStatus
from tests.browser.support_booking import (
    BOOKED_AGENT,
    CITIZEN,
    CITIZEN_EMAIL,
    CITIZEN_PHONE,
    OTHER_AGENT,
    RECORD_ALERTS,
    SERVICE,
    BookingOffice,
    ClockedServer,
    Moments,
    attachment,
    german,
    german_js,
    german_when,
    go_available,
    link_in,
    make_booking_office,
    moments,
    no_horizontal_scrolling,
    open_console,
    open_person,
    text_part,
    wait_for_mail,
)
from tests.browser.support_call import DESKTOP, PORTRAIT, TIMEOUT_MS, People
from tests.support.smtp import SmtpServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def place() -> BookingOffice:
    return make_booking_office()


@pytest.fixture
def when() -> Moments:
    return moments()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def server(smtp: SmtpServer) -> Iterator[ClockedServer]:
    """Not started: each test starts it at its moment. Its log is printed at the end (pytest
    shows it when the test fails)."""
    clocked = ClockedServer(smtp)
    log_start = clocked.log_path.stat().st_size if clocked.log_path.exists() else 0
    yield clocked
    clocked.stop()
    if clocked.log_path.exists():
        with clocked.log_path.open("rb") as log:
            log.seek(log_start)
            sys.stdout.write(f"--- {clocked.log_path} ---\n{log.read().decode(errors='replace')}")


@pytest.fixture
def people(browser: Browser, server: ClockedServer) -> Iterator[People]:
    """Browser consoles are printed at the end (pytest shows them on failure)."""
    crowd = People(browser, server.server)
    expect.set_options(timeout=TIMEOUT_MS)
    yield crowd
    expect.set_options(timeout=5_000)  # Playwright's default again, for the other tests
    for name, lines in crowd.logs.items():
        sys.stdout.write("\n".join([f"--- browser console of {name} ---", *lines, ""]))
    crowd.close()


def _queue_row(console: Page, name: str) -> Locator:
    return console.locator("tbody[data-queue] tr").filter(has_text=name)


def _admit_button(console: Page, name: str) -> Locator:
    return _queue_row(console, name).get_by_role("button", name=german_js("Admit"), exact=True)


def _chat(page: Page, text: str) -> None:
    page.get_by_label(german("Your message")).fill(text)
    page.get_by_role("button", name=german("Send"), exact=True).click()


def _length(place: BookingOffice) -> dt.timedelta:
    return dt.timedelta(minutes=place.service.slot_minutes)


def _book_on_a_phone(
    citizen: Page, server: ClockedServer, place: BookingOffice, when: Moments, shots: Path
) -> str:
    """The citizen's booking through the pages; returns the appointment's token."""
    citizen.goto(server.url + place.path)
    citizen.get_by_role("link", name=german("Book an appointment"), exact=True).click()
    expect(citizen).to_have_url(re.compile(r"/book/$"))
    citizen.get_by_label(SERVICE).check()
    citizen.get_by_role("button", name=german("Continue"), exact=True).click()

    # The day strip opens on the booking day (free from 13:00, an hour's lead time); the
    # citizen picks the next day, then 10:00.
    chosen = citizen.locator('.day-strip a[aria-current="date"]')
    expect(chosen).to_have_attribute("href", re.compile(f"day={when.booking.date().isoformat()}$"))
    day = when.start.date().isoformat()
    citizen.locator(f'.day-strip a.day[href$="day={day}"]').click()
    expect(chosen).to_have_attribute("href", re.compile(f"day={day}$"))
    times = citizen.locator(".slot-list--day")
    expect(times.get_by_role("link", name="10:00", exact=True)).to_be_visible()
    # Slots on the half hour from opening (20 minutes and 10 of buffer).
    expect(times.get_by_role("link").first).to_have_text("08:00")
    expect(times.get_by_role("link", name="08:30", exact=True)).to_be_visible()
    no_horizontal_scrolling(citizen)
    citizen.screenshot(path=str(shots / "booking-slots-360.png"), full_page=True)
    citizen.set_viewport_size(DESKTOP)
    citizen.screenshot(path=str(shots / "booking-slots-desktop.png"), full_page=True)
    citizen.set_viewport_size(PORTRAIT)
    times.get_by_role("link", name="10:00", exact=True).click()

    # Details: name, e-mail, mobile number, consent.
    expect(citizen).to_have_url(re.compile(r"/book/details/\?"))
    expect(citizen.locator(".booking-summary")).to_contain_text(german_when(when.start, _length(place)))
    no_horizontal_scrolling(citizen)
    citizen.get_by_label(german("Your name")).fill(CITIZEN)
    citizen.get_by_label(german("E-mail address")).fill(CITIZEN_EMAIL)
    citizen.get_by_label(german("Mobile number (for an SMS)")).fill(CITIZEN_PHONE)
    citizen.get_by_role("checkbox").check()
    citizen.screenshot(path=str(shots / "booking-details-360.png"), full_page=True)
    citizen.get_by_role("button", name=german("Book the appointment"), exact=True).click()

    # The confirmation page.
    expect(citizen).to_have_url(re.compile(r"/a/[\w-]+/\?booked=1$"))
    expect(citizen.get_by_role("status")).to_contain_text(german("Your appointment is booked."))
    summary = citizen.locator(".booking-summary")
    expect(summary).to_contain_text(german_when(when.start, _length(place)))
    expect(summary).to_contain_text(BOOKED_AGENT)
    expect(citizen.locator("[data-join-appointment]")).to_have_count(0)  # not yet: a day early
    no_horizontal_scrolling(citizen)
    citizen.screenshot(path=str(shots / "booking-confirmation-360.png"), full_page=True)
    match = re.search(r"/a/([\w-]+)/", citizen.url)
    assert match is not None
    return match.group(1)


def test_citizen_books_gets_the_mail_and_meets_the_booked_agent_through_its_link(
    people: People,
    server: ClockedServer,
    smtp: SmtpServer,
    place: BookingOffice,
    when: Moments,
    artifacts_dir: Path,
) -> None:
    # --- the day before: booking on a phone --------------------------------------------------
    server.start_at(when.booking)
    booker = open_person(people, "citizen booking", server, viewport=PORTRAIT)
    token = _book_on_a_phone(booker, server, place, when, artifacts_dir)
    appointment = Appointment.objects.get(token=token)
    assert appointment.agent_id == place.booked.pk
    assert appointment.starts_at == when.start
    assert (appointment.email, appointment.phone) == (CITIZEN_EMAIL, "+4915123456789")

    # --- the confirmation arrives at the mail server, with the link and the calendar file --
    mail = wait_for_mail(smtp, lambda received: CITIZEN_EMAIL in received.rcpt_tos)
    message = mail.message
    assert message["Subject"] == german("Your appointment: %(office)s") % {"office": place.office.name}
    text = text_part(message)
    link = link_in(text)
    assert link == f"{server.url}/a/{token}/"
    assert CITIZEN in text
    ics = attachment(message, "termin.ics")
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_param("method") == "REQUEST"
    payload = ics.get_payload(decode=True)
    assert isinstance(payload, bytes)
    calendar = icalendar.Calendar.from_ical(payload)
    assert calendar["METHOD"] == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert event.decoded("DTSTART") == when.start
    assert event.decoded("DTEND") == when.start + _length(place)
    assert str(event["URL"]) == link
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["ATTENDEE"]) == f"mailto:{CITIZEN_EMAIL}"
    assert [str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert len(smtp.messages) == 1  # the confirmation only

    # --- five minutes before the start: both staff members at their consoles --------------
    server.start_at(when.entering)
    agent = open_person(people, "booked agent", server, init_script=RECORD_ALERTS)
    open_console(agent, server, place.booked.user)
    go_available(agent)
    colleague = open_person(people, "other agent", server)
    open_console(colleague, server, place.other.user)
    expect(colleague.get_by_role("heading", level=1)).to_have_text(f"{german('Console')} — {OTHER_AGENT}")
    go_available(colleague)
    for console in (agent, colleague):
        expect(console.locator("[data-waiting-count]")).to_have_text("0")

    # The citizen opens the mail's link in a fresh browser and enters.
    citizen = open_person(people, "citizen", server, viewport=PORTRAIT)
    citizen.goto(link)
    assert abs(citizen.evaluate("Date.now()") / 1000 - server.now().timestamp()) < 5  # same clock
    enter = citizen.locator("[data-join-appointment]")
    expect(enter).to_have_text(german("Enter now"))
    no_horizontal_scrolling(citizen)
    citizen.screenshot(path=str(artifacts_dir / "appointment-enter-360.png"), full_page=True)
    enter.click()
    expect(citizen).to_have_url(re.compile(r"/w/[\w-]+/$"))
    room = citizen.url
    expect(citizen.locator("#waiting-room [data-connection]")).to_have_attribute("data-connection", "open")
    notice = citizen.locator("[data-booked-notice]")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(BOOKED_AGENT)
    expect(citizen.locator("[data-called-panel]")).to_be_hidden()
    citizen.screenshot(path=str(artifacts_dir / "appointment-waiting-360.png"), full_page=True)

    # The booked staff member is alerted and sees the citizen with the button to let them in …
    row = _queue_row(agent, CITIZEN)
    expect(row).to_contain_text(f"{CITIZEN} ({german_js('appointment')})")
    expect(row).to_contain_text(SERVICE)
    expect(_admit_button(agent, CITIZEN)).to_be_visible()
    booked_alert = german_js("A citizen with an appointment with you has arrived. Please let them in.")
    agent.wait_for_function("(text) => window.alertTexts.includes(text)", arg=booked_alert)
    agent.screenshot(path=str(artifacts_dir / "appointment-console.png"), full_page=True)

    # … the colleague sees them waiting, but cannot let them in or call them.
    expect(_queue_row(colleague, CITIZEN)).to_be_visible()
    expect(_admit_button(colleague, CITIZEN)).to_have_count(0)
    colleague.get_by_role("button", name=german("Call next"), exact=True).click()
    expect(colleague.locator("[data-console-error]")).to_have_text(
        german_js("Nobody is waiting for you right now.")
    )
    ticket = Ticket.objects.get(appointment__token=token)
    refused = colleague.evaluate(
        """async (url) => {
          const csrf = document.querySelector("#console input[name=csrfmiddlewaretoken]").value;
          const response = await fetch(url, { method: "POST", headers: { "X-CSRFToken": csrf } });
          return [response.status, (await response.json()).code];
        }""",
        f"/staff/console/tickets/{ticket.pk}/call/",
    )
    assert refused == [409, "gone"]
    expect(colleague.locator("[data-presence-label]")).to_have_text(german_js("available"))
    ticket.refresh_from_db()
    assert (ticket.status, ticket.reserved_for_id, ticket.called_by_id) == (
        TicketStatus.WAITING,
        place.booked.pk,
        None,
    )
    expect(citizen.locator("[data-called-panel]")).to_be_hidden()

    # The booked staff member admits; the citizen confirms, as in a walk-in.
    _admit_button(agent, CITIZEN).click()
    expect(agent.locator("[data-current-call-text]")).to_contain_text(CITIZEN)
    expect(citizen.locator("[data-called-panel]")).to_be_visible()
    # The count-down compares the server's deadline with the phone's clock: both say 09:55.
    deadline_text = citizen.locator("[data-deadline-text]")
    expect(deadline_text).to_have_text(re.compile(r"\d+"))
    match = re.search(r"\d+", deadline_text.inner_text())
    assert match is not None
    confirm_within = place.office.call_confirm_seconds
    assert confirm_within - 10 <= int(match.group()) <= confirm_within
    citizen.get_by_role("button", name=german("I'm here"), exact=True).click()

    expect(citizen).to_have_url(room + "consultation/")
    expect(agent).to_have_url(re.compile(r"/staff/consultations/\d+/$"))
    for page in (citizen, agent):
        expect(page.get_by_role("heading", level=1)).to_have_text(
            f"{german('Consultation')} — {place.office.name}"
        )
        expect(page.locator("#consultation [data-connection]")).to_have_attribute("data-connection", "open")
    consultation_id = agent.locator("#consultation").get_attribute("data-consultation")
    assert consultation_id is not None
    assert citizen.locator("#consultation").get_attribute("data-consultation") == consultation_id
    assert agent.url.endswith(f"/staff/consultations/{consultation_id}/")
    question = "Guten Morgen, ich habe um 10 Uhr einen Termin."
    _chat(citizen, question)
    expect(agent.locator("[data-chat-log] li").filter(has_text=question)).to_be_visible()
    answer = "Willkommen, Frau Muster."
    _chat(agent, answer)
    expect(citizen.locator("[data-chat-log] li").filter(has_text=answer)).to_be_visible()
    no_horizontal_scrolling(citizen)
    citizen.screenshot(path=str(artifacts_dir / "appointment-consultation-360.png"), full_page=True)

    # The colleague was never involved.
    expect(colleague).to_have_url(re.compile(r"/staff/console/$"))
    expect(colleague.locator("[data-waiting-count]")).to_have_text("0")
    consultation = Consultation.objects.get(pk=consultation_id)
    assert (consultation.agent_id, consultation.ticket_id) == (place.booked.pk, ticket.pk)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.ATTENDED
    # The 15-minute reminder went out when the server woke up; no 24-hour one (booked later).
    reminder = german("Reminder of your appointment: %(office)s") % {"office": place.office.name}
    wait_for_mail(smtp, lambda received: received.message["Subject"] == reminder)
    assert len(smtp.messages) == 2
    assert people.script_errors("409 (Conflict)") == {}  # the colleague's refused call


def test_console_alert_still_names_the_appointment_after_the_list_refreshes(
    people: People, server: ClockedServer, place: BookingOffice, when: Moments
) -> None:
    appointment = booking.book(
        place.office,
        place.service,
        start=when.start,
        contact=booking.Contact(name=CITIZEN, email=CITIZEN_EMAIL, consent=True),
        now=when.booking,
    )
    server.start_at(when.entering)
    agent = open_person(people, "booked agent", server, init_script=RECORD_ALERTS)
    open_console(agent, server, place.booked.user)
    go_available(agent)
    citizen = open_person(people, "citizen", server, viewport=PORTRAIT)
    citizen.goto(f"{server.url}/a/{appointment.token}/")
    citizen.locator("[data-join-appointment]").click()
    expect(citizen.locator("[data-booked-notice]")).to_be_visible()

    booked_alert = german_js("A citizen with an appointment with you has arrived. Please let them in.")
    agent.wait_for_function("(text) => window.alertTexts.includes(text)", arg=booked_alert)
    expect(_admit_button(agent, CITIZEN)).to_be_visible()  # the list has been refreshed
    announced = agent.evaluate("window.alertTexts")
    assert announced[-1] == booked_alert, f"announced in turn: {announced}"

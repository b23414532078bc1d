"""Appointment e-mails, end to end through a real SMTP server.

Booking, moving and cancelling go through ``booking.services``; ``notify.services.deliver_due``
sends the outbox through Django's SMTP backend to an ``aiosmtpd`` server on loopback
(``tests/support/smtp.py``), and the tests take apart what that server received: envelope,
headers, the text and HTML parts, and the calendar file (parsed with ``icalendar``). The link
in the mail is then followed with the test client.

German strings are being translated while these tests are written, so German texts are
compared with ``translation.override("de")`` of the same msgid, never with a literal.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.utils import formats, translation
from django.utils.translation import gettext
from icalendar import Timezone

from buergerbuero.booking import messages as appointment_messages
from buergerbuero.booking import services as booking
from buergerbuero.booking.ical import appointment_link
from buergerbuero.booking.messages import topic
from buergerbuero.notify import services
from buergerbuero.notify.models import Channel, DeliveryStatus, Notification
from buergerbuero.offices.models import Office, Service
from tests.notify.conftest import (
    CITIZEN_E164,
    CITIZEN_EMAIL,
    CITIZEN_NAME,
    CITIZEN_PHONE,
    LATER_START,
    NOW,
    PUBLIC_URL,
    SENDER,
    SENDER_ADDRESS,
    START,
    book,
    calendar_of,
    event_of,
    leaf_parts,
    text_of,
)
from tests.support.smtp import ReceivedMail, SmtpServer

LINK = re.compile(re.escape(PUBLIC_URL) + r"/a/[A-Za-z0-9_-]+/")
ANY_URL = re.compile(r"""(?:https?:)?//[^\s"'<>()]+""", re.IGNORECASE)


def translated(language: str, msgid: str, **values: str) -> str:
    with translation.override(language):
        return gettext(msgid) % values


def the_one_mail(server: SmtpServer) -> ReceivedMail:
    mails = server.messages
    assert len(mails) == 1, [mail.message["Subject"] for mail in mails]
    return mails[0]


def deliver_and_receive(server: SmtpServer, now: dt.datetime = NOW) -> ReceivedMail:
    server.clear()
    assert services.deliver_due(now=now) == 1
    return the_one_mail(server)


# --- the outbox ---------------------------------------------------------------------------------
def test_booking_writes_one_pending_row_per_channel_and_sends_nothing_yet(
    office: Office, service: Service, agent: User, mail_settings: SmtpServer
) -> None:
    appointment = book(office, service, agent, phone=CITIZEN_PHONE)

    rows = {row.channel: row for row in Notification.objects.filter(topic=topic(appointment.pk))}
    assert set(rows) == {Channel.EMAIL, Channel.SMS}
    for row in rows.values():
        assert (row.kind, row.status, row.attempts) == ("booked", DeliveryStatus.PENDING, 0)
        assert row.next_attempt_at == NOW
        assert row.sent_at is None
    assert rows[Channel.EMAIL].recipient == CITIZEN_EMAIL
    assert "BEGIN:VCALENDAR" in rows[Channel.EMAIL].attachment
    assert rows[Channel.SMS].recipient == CITIZEN_E164
    assert mail_settings.messages == []  # written to the outbox, not sent during the booking


def test_a_booking_that_is_rolled_back_leaves_no_message_behind(
    office: Office, service: Service, agent: User, mail_settings: SmtpServer
) -> None:
    """The outbox shares the booking's transaction: no mail about a booking that never was."""

    class Abort(Exception):
        pass

    def book_then_fail() -> None:
        with transaction.atomic():
            book(office, service, agent)
            assert Notification.objects.count() == 1
            raise Abort

    with pytest.raises(Abort):
        book_then_fail()

    assert not Notification.objects.exists()
    assert services.deliver_due(now=NOW + dt.timedelta(hours=1)) == 0
    assert mail_settings.messages == []


# --- the booking mail ---------------------------------------------------------------------------
@pytest.mark.parametrize("language", ["de", "en"])
def test_booking_mail_arrives_once_in_the_citizens_language_with_an_invitation(
    office: Office, service: Service, agent: User, mail_settings: SmtpServer, language: str
) -> None:
    appointment = book(office, service, agent, language=language)
    link = appointment_link(appointment)

    mail = deliver_and_receive(mail_settings)

    assert mail.rcpt_tos == (CITIZEN_EMAIL,)
    assert mail.mail_from == SENDER_ADDRESS
    assert mail.message["To"] == CITIZEN_EMAIL
    assert mail.message["From"] == SENDER
    subject = translated(language, "Your appointment: %(office)s", office=office.name)
    if language == "en":
        assert subject == "Your appointment: Bürgerbüro"
    assert mail.message["Subject"] == subject

    parts = leaf_parts(mail.message)
    assert set(parts) == {"text/plain", "text/html", "text/calendar"}
    text, html = text_of(parts["text/plain"]), text_of(parts["text/html"])
    greeting = translated(language, "Hello %(name)s,", name=CITIZEN_NAME)
    assert text.startswith(greeting)
    assert greeting in html
    assert f'<html lang="{language}">' in html
    assert link in text
    assert f'href="{link}"' in html
    assert "10:00" in text

    calendar_part = parts["text/calendar"]
    assert calendar_part.get_param("method") == "REQUEST"
    assert calendar_part.get_filename() == "termin.ics"
    calendar = calendar_of(mail)
    assert calendar["METHOD"] == "REQUEST"
    event = event_of(calendar)
    assert str(event["UID"]).startswith("appointment-")
    assert event.decoded("SEQUENCE") == 0
    assert event["STATUS"] == "CONFIRMED"
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event.decoded("DTSTART") == START
    assert event.decoded("DTSTART").timetuple()[:5] == (2026, 12, 2, 10, 0)  # the wall time as booked
    assert event.decoded("DTEND") == START + dt.timedelta(minutes=service.slot_minutes)
    assert str(event["ORGANIZER"]) == f"mailto:{SENDER_ADDRESS}"
    assert str(event["ATTENDEE"]) == f"mailto:{CITIZEN_EMAIL}"
    assert event["ATTENDEE"].params["CN"] == CITIZEN_NAME
    assert str(event["URL"]) == link
    description = translated(
        language,
        "Your appointment (video consultation). Open this link at the start time:\n%(link)s",
        link=link,
    )
    assert event["DESCRIPTION"] == description

    alarms = event.walk("VALARM")
    assert len(alarms) == 1
    assert alarms[0].decoded("TRIGGER") < dt.timedelta(0)

    zones = calendar.walk("VTIMEZONE")
    assert [str(zone["TZID"]) for zone in zones] == ["Europe/Berlin"]
    assert isinstance(zones[0], Timezone)
    # The VTIMEZONE's own rules (not a lookup of the name) put 10:00 local at 09:00 UTC.
    described = zones[0].to_tz(lookup_tzid=False)
    assert dt.datetime(2026, 12, 2, 10, 0, tzinfo=described).astimezone(dt.UTC) == START.astimezone(dt.UTC)

    row = Notification.objects.get(topic=topic(appointment.pk))
    assert (row.status, row.attempts, row.sent_at, row.last_error) == (DeliveryStatus.SENT, 1, NOW, "")
    # Every attempt at this row carries the same Message-ID (a repeat is recognisably the same).
    assert mail.message["Message-ID"] == f"<notification-{row.pk}@{SENDER_ADDRESS.rpartition('@')[2]}>"


def test_the_link_in_the_mail_opens_the_appointment_page(
    office: Office, service: Service, agent: User, mail_settings: SmtpServer, client: Client
) -> None:
    appointment = book(office, service, agent)
    mail = deliver_and_receive(mail_settings)
    found = LINK.findall(text_of(leaf_parts(mail.message)["text/plain"]))
    assert len(set(found)) == 1
    link = found[0]
    assert link.startswith(PUBLIC_URL + "/")
    assert str(event_of(calendar_of(mail))["URL"]) == link

    response = client.get(urlsplit(link).path)

    assert response.status_code == 200
    page = response.content.decode()
    assert response.context["appointment"] == appointment
    assert service.name in page
    assert office.name in page
    assert "10:00–10:20" in page
    with translation.override("de"):  # the page speaks the visitor's language, German by default
        assert formats.date_format(START, "l, j. F Y") in page


def test_the_html_part_loads_nothing_from_elsewhere(
    office: Office, service: Service, agent: User, mail_settings: SmtpServer
) -> None:
    """Privacy: no image, style sheet or font from a server; the only address is the link."""
    appointment = book(office, service, agent)
    link = appointment_link(appointment)

    def html_sent_at(moment: dt.datetime) -> str:
        return text_of(leaf_parts(deliver_and_receive(mail_settings, moment).message)["text/html"])

    htmls = [html_sent_at(NOW)]
    booking.reschedule(appointment, LATER_START, now=NOW + dt.timedelta(minutes=5))
    htmls.append(html_sent_at(NOW + dt.timedelta(minutes=5)))
    booking.cancel(appointment, now=NOW + dt.timedelta(minutes=10))
    cancelled = html_sent_at(NOW + dt.timedelta(minutes=10))

    for html in [*htmls, cancelled]:
        lowered = html.lower()
        for loader in ("<img", "<link", "<script", "<iframe", "<object", "<embed", "src=", "url(", "@import"):
            assert loader not in lowered
    for html in htmls:
        assert set(ANY_URL.findall(html)) == {link}
    assert ANY_URL.findall(cancelled) == []  # a cancelled appointment has nothing to open


# --- changes ------------------------------------------------------------------------------------
def test_moving_the_appointment_sends_an_update_with_sequence_1_and_the_new_start(
    office: Office, service: Service, agent: User, mail_settings: SmtpServer
) -> None:
    appointment = book(office, service, agent, language="en")
    first = event_of(calendar_of(deliver_and_receive(mail_settings)))
    moved_at = NOW + dt.timedelta(hours=1)

    booking.reschedule(appointment, LATER_START, now=moved_at)
    mail = deliver_and_receive(mail_settings, moved_at)

    assert mail.rcpt_tos == (CITIZEN_EMAIL,)
    assert mail.message["Subject"] == "Your appointment was moved: Bürgerbüro"
    assert leaf_parts(mail.message)["text/calendar"].get_param("method") == "REQUEST"
    calendar = calendar_of(mail)
    assert calendar["METHOD"] == "REQUEST"
    event = event_of(calendar)
    assert event["UID"] == first["UID"]  # the same event, updated in the citizen's calendar
    assert event.decoded("SEQUENCE") == 1
    assert event.decoded("DTSTART") == LATER_START
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event.decoded("DTEND") == LATER_START + dt.timedelta(minutes=20)
    text = text_of(leaf_parts(mail.message)["text/plain"])
    assert "11:00" in text  # the new time
    with translation.override("en"):
        assert appointment_messages.local_when(START, appointment) in text  # … and the one it was moved from


def test_cancelling_sends_a_calendar_cancellation(
    office: Office, service: Service, agent: User, mail_settings: SmtpServer
) -> None:
    appointment = book(office, service, agent)
    first = event_of(calendar_of(deliver_and_receive(mail_settings)))
    cancelled_at = NOW + dt.timedelta(hours=2)

    booking.cancel(appointment, now=cancelled_at)
    mail = deliver_and_receive(mail_settings, cancelled_at)

    subject = translated("de", "Your appointment was cancelled: %(office)s", office=office.name)
    assert mail.message["Subject"] == subject
    assert leaf_parts(mail.message)["text/calendar"].get_param("method") == "CANCEL"
    calendar = calendar_of(mail)
    assert calendar["METHOD"] == "CANCEL"
    event = event_of(calendar)
    assert event["UID"] == first["UID"]
    assert event["STATUS"] == "CANCELLED"
    assert event.decoded("SEQUENCE") == 1
    assert event.decoded("DTSTART") == START
    assert event.walk("VALARM") == []  # no alarm for what no longer happens


# --- the mail server says no ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "status", "retried"),
    [
        ("550 5.1.1 No such user here", DeliveryStatus.FAILED, False),
        ("450 4.2.1 Mailbox busy, try again later", DeliveryStatus.PENDING, True),
    ],
)
def test_a_refused_recipient_fails_at_once_and_a_deferred_one_is_retried(
    office: Office,
    service: Service,
    agent: User,
    mail_settings: SmtpServer,
    reply: str,
    status: str,
    retried: bool,
) -> None:
    appointment = book(office, service, agent)
    mail_settings.refuse_recipients = reply

    assert services.deliver_due(now=NOW) == 0

    row = Notification.objects.get(topic=topic(appointment.pk))
    assert (row.status, row.attempts) == (status, 1)
    assert reply[:3] in row.last_error
    assert mail_settings.messages == []
    mail_settings.refuse_recipients = ""
    assert services.deliver_due(now=NOW + dt.timedelta(hours=1)) == (1 if retried else 0)
    assert len(mail_settings.messages) == (1 if retried else 0)

"""Fixtures of the notification tests: a real SMTP server, a local SMS gateway, and the product's
settings pointed at them; helpers that book an appointment and take received mails apart.

Time is pinned with ``time_machine`` (the autouse :func:`clock` fixture) and passed as ``now=`` to the
service functions, so the tests run the same on any day. The dates avoid Bavarian holidays:
"now" is Tuesday 1 December 2026, 08:00 in Berlin, the appointment is on Wednesday 2 December
2026 at 10:00 (the office is open Monday to Friday 08–16).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from icalendar import Calendar, Event

from buergerbuero.booking import services as booking
from buergerbuero.booking.models import Appointment
from buergerbuero.offices.models import Office, Service
from tests import factories
from tests.support.sms_gateway import SmsGateway
from tests.support.smtp import HOST, ReceivedMail, SmtpServer

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=BERLIN)  # Tuesday
START = dt.datetime(2026, 12, 2, 10, 0, tzinfo=BERLIN)  # Wednesday
LATER_START = dt.datetime(2026, 12, 3, 11, 0, tzinfo=BERLIN)  # Thursday

PUBLIC_URL = "https://termine.testhausen.example"
SENDER_ADDRESS = "termine@testhausen.example"
SENDER = f"Stadt Testhausen <{SENDER_ADDRESS}>"
CITIZEN_NAME = "Erika Mustermann"
CITIZEN_EMAIL = "erika.mustermann@example.org"
CITIZEN_PHONE = "0151 23456789"
CITIZEN_E164 = "+4915123456789"
GATEWAY_USER = "testhausen-sms"
GATEWAY_PASSWORD = "gateway-secret-42"
SMS_SENDER = "Testhausen"
SMS_BODY = '{"to": "{to}", "text": "{text}", "sender": "{sender}"}'


# --- time -------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def clock() -> Iterator[Any]:
    """In every test ``timezone.now()`` is :data:`NOW` and stands still (the servers' event loops
    and socket timeouts run on the monotonic clock, which time_machine leaves alone)."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


# --- real servers -----------------------------------------------------------------------------
@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def sms_gateway() -> Iterator[SmsGateway]:
    with SmsGateway() as gateway:
        yield gateway


@pytest.fixture
def mail_settings(settings: Any, smtp_server: SmtpServer) -> SmtpServer:
    """Django sends through SMTP to :func:`smtp_server`; no SMS gateway (SMS go to the log)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = HOST
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = SENDER
    settings.PUBLIC_URL = PUBLIC_URL
    settings.SMS_GATEWAY_URL = ""
    return smtp_server


@pytest.fixture
def sms_settings(settings: Any, sms_gateway: SmsGateway) -> SmsGateway:
    """SMS go to :func:`sms_gateway` as JSON with Basic auth; e-mail stays in memory."""
    settings.SMS_GATEWAY_URL = sms_gateway.url
    settings.SMS_GATEWAY_USER = GATEWAY_USER
    settings.SMS_GATEWAY_PASSWORD = GATEWAY_PASSWORD
    settings.SMS_GATEWAY_TOKEN = ""
    settings.SMS_GATEWAY_FORMAT = "json"
    settings.SMS_GATEWAY_BODY = SMS_BODY
    settings.SMS_SENDER = SMS_SENDER
    settings.PUBLIC_URL = PUBLIC_URL
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return sms_gateway


# --- the office and its appointment ------------------------------------------------------------
@pytest.fixture
def service(office: Office) -> Service:
    """20 minutes and 10 minutes buffer: slots every half hour from 08:00, so 10:00 is one."""
    return factories.make_service(office, "Meldebescheinigung", slot_minutes=20, buffer_minutes=10)


def book(
    office: Office,
    service: Service,
    agent: User,
    *,
    start: dt.datetime = START,
    email: str = CITIZEN_EMAIL,
    phone: str = "",
    language: str = "de",
    now: dt.datetime = NOW,
    name: str = CITIZEN_NAME,
) -> Appointment:
    """Book through the product's service function, as the citizen's form does."""
    contact = booking.Contact(name=name, email=email, phone=phone, language=language, consent=True)
    return booking.book(office, service, start=start, contact=contact, agent=agent.staff_member, now=now)


# --- taking mails apart ------------------------------------------------------------------------
def leaf_parts(message: EmailMessage) -> dict[str, EmailMessage]:
    """The non-multipart parts of a mail by content type (each type once)."""
    found: dict[str, EmailMessage] = {}
    for part in message.walk():
        assert isinstance(part, EmailMessage)
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        assert content_type not in found, f"two {content_type} parts"
        found[content_type] = part
    return found


def text_of(part: EmailMessage) -> str:
    content = part.get_content()
    assert isinstance(content, str)
    return content


def calendar_of(mail: ReceivedMail) -> Calendar:
    part = leaf_parts(mail.message)["text/calendar"]
    return Calendar.from_ical(text_of(part))


def event_of(calendar: Calendar) -> Event:
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, Event)
    return event

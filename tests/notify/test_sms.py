"""Appointment SMS, end to end through a local HTTP gateway.

The product posts to ``SMS_GATEWAY_URL``; here that is a real HTTP server on loopback
(``tests/support/sms_gateway.py``) that records each request and can be told to answer with
an error. The tests check what the gateway received (number in E.164, text, sender, Basic
credentials, JSON or form body) and how the outbox reacts to each kind of answer: 5xx and 429
are tried again after ``retry_delay``, 4xx fails at once, an unreachable gateway is temporary.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User

from buergerbuero.booking.ical import appointment_link
from buergerbuero.booking.messages import topic
from buergerbuero.booking.models import Appointment
from buergerbuero.notify import services
from buergerbuero.notify.models import Channel, DeliveryStatus, Notification
from buergerbuero.offices.models import Office, Service
from tests.notify.conftest import (
    CITIZEN_E164,
    CITIZEN_PHONE,
    GATEWAY_PASSWORD,
    GATEWAY_USER,
    NOW,
    SMS_SENDER,
    book,
)
from tests.support.sms_gateway import GatewayRequest, SmsGateway


def book_by_phone(office: Office, service: Service, agent: User) -> Appointment:
    """A citizen who gave only a mobile number: the outbox holds one SMS."""
    return book(office, service, agent, email="", phone=CITIZEN_PHONE)


def sms_row(appointment: Appointment) -> Notification:
    return Notification.objects.get(topic=topic(appointment.pk), channel=Channel.SMS)


def the_one_request(gateway: SmsGateway) -> GatewayRequest:
    requests = gateway.requests
    assert len(requests) == 1, requests
    return requests[0]


def test_booking_posts_one_sms_with_time_office_link_and_sender(
    office: Office, service: Service, agent: User, sms_settings: SmsGateway
) -> None:
    appointment = book_by_phone(office, service, agent)
    assert sms_settings.requests == []  # nothing leaves during the booking itself

    assert services.deliver_due(now=NOW) == 1

    request = the_one_request(sms_settings)
    assert (request.method, request.path) == ("POST", "/send")
    assert request.basic_auth() == (GATEWAY_USER, GATEWAY_PASSWORD)
    assert request.content_type == "application/json"
    body = request.json()
    assert set(body) == {"to", "text", "sender"}
    assert body["to"] == CITIZEN_E164
    assert body["sender"] == SMS_SENDER
    text = body["text"]
    assert "10:00" in text  # local time in Berlin (09:00 UTC)
    assert "09:00" not in text
    assert office.name in text
    assert appointment_link(appointment) in text
    assert "\n" not in text
    assert "<" not in text  # plain text, no HTML
    assert len(text) <= 200
    row = sms_row(appointment)
    assert (row.status, row.attempts, row.sent_at) == (DeliveryStatus.SENT, 1, NOW)


def test_the_gateway_can_take_a_form_body(
    office: Office, service: Service, agent: User, sms_settings: SmsGateway, settings: object
) -> None:
    settings.SMS_GATEWAY_FORMAT = "form"  # type: ignore[attr-defined]
    appointment = book_by_phone(office, service, agent)

    assert services.deliver_due(now=NOW) == 1

    request = the_one_request(sms_settings)
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.basic_auth() == (GATEWAY_USER, GATEWAY_PASSWORD)
    form = request.form()
    assert form["to"] == CITIZEN_E164
    assert form["sender"] == SMS_SENDER
    assert form["text"] == sms_row(appointment).body_text
    assert appointment_link(appointment) in form["text"]


def test_a_bearer_token_is_sent_instead_of_basic_credentials(
    office: Office, service: Service, agent: User, sms_settings: SmsGateway, settings: object
) -> None:
    settings.SMS_GATEWAY_USER = ""  # type: ignore[attr-defined]
    settings.SMS_GATEWAY_PASSWORD = ""  # type: ignore[attr-defined]
    settings.SMS_GATEWAY_TOKEN = "token-of-the-provider"  # type: ignore[attr-defined]
    book_by_phone(office, service, agent)

    assert services.deliver_due(now=NOW) == 1

    request = the_one_request(sms_settings)
    assert request.headers["authorization"] == "Bearer token-of-the-provider"
    assert request.basic_auth() is None


@pytest.mark.parametrize("status", [503, 429])
def test_a_busy_gateway_keeps_the_sms_pending_and_it_goes_out_after_the_delay(
    office: Office, service: Service, agent: User, sms_settings: SmsGateway, status: int
) -> None:
    appointment = book_by_phone(office, service, agent)
    sms_settings.answer_next(status)

    assert services.deliver_due(now=NOW) == 0

    row = sms_row(appointment)
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 1)
    assert row.next_attempt_at == NOW + services.retry_delay(1)
    assert str(status) in row.last_error
    assert row.claimed_until is None
    # Not before its time …
    assert services.deliver_due(now=row.next_attempt_at - dt.timedelta(seconds=1)) == 0
    assert len(sms_settings.requests) == 1
    # … but then.
    assert services.deliver_due(now=row.next_attempt_at) == 1
    assert [request.answered for request in sms_settings.requests] == [status, 200]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.SENT, 2, "")


def test_a_refused_number_fails_at_once_and_is_not_tried_again(
    office: Office, service: Service, agent: User, sms_settings: SmsGateway
) -> None:
    appointment = book_by_phone(office, service, agent)
    sms_settings.answer_next(400)

    assert services.deliver_due(now=NOW) == 0

    row = sms_row(appointment)
    assert (row.status, row.attempts) == (DeliveryStatus.FAILED, 1)
    assert "400" in row.last_error
    assert services.deliver_due(now=NOW + dt.timedelta(days=1)) == 0
    assert len(sms_settings.requests) == 1
    assert sms_row(appointment).status == DeliveryStatus.FAILED


def test_an_unreachable_gateway_is_a_temporary_failure(
    office: Office, service: Service, agent: User, sms_settings: SmsGateway
) -> None:
    appointment = book_by_phone(office, service, agent)
    sms_settings.stop()  # the port is closed: connections are refused

    assert services.deliver_due(now=NOW) == 0

    row = sms_row(appointment)
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 1)
    assert row.next_attempt_at == NOW + services.retry_delay(1)
    assert "not reachable" in row.last_error
    sms_settings.start()  # back on the same port
    assert services.deliver_due(now=row.next_attempt_at) == 1
    assert the_one_request(sms_settings).json()["to"] == CITIZEN_E164
    assert sms_row(appointment).status == DeliveryStatus.SENT

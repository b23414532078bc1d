"""What SMS may cost: only the countries the organisation allows, at most its daily budget.

Through the real local gateway of ``tests/support/sms_gateway.py``: a message that the
organisation's rules do not allow never reaches it, is marked ``skipped`` with the reason (shown
in the admin's list of notifications), and the e-mail of the same booking still goes out.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client

from buergerbuero.booking.messages import topic
from buergerbuero.booking.models import Appointment
from buergerbuero.notify import services
from buergerbuero.notify.models import Channel, DeliveryStatus, Notification
from buergerbuero.offices.models import Office, Service
from buergerbuero.orgs.models import Organization
from tests.notify.conftest import CITIZEN_PHONE, NOW, START, book
from tests.support.sms_gateway import SmsGateway

pytestmark = pytest.mark.django_db


def book_three(office: Office, service: Service, agent: User) -> list[Appointment]:
    """Three citizens, each with an e-mail address and a mobile number of their own."""
    return [
        book(
            office,
            service,
            agent,
            start=START + dt.timedelta(minutes=30 * number),
            email=f"buerger{number}@example.org",
            phone=f"0151 2345678{number}",
        )
        for number in range(3)
    ]


def statuses(channel: str) -> list[str]:
    return list(Notification.objects.filter(channel=channel).order_by("pk").values_list("status", flat=True))


def test_beyond_the_daily_budget_no_sms_is_sent_but_the_emails_are(
    org: Organization,
    office: Office,
    service: Service,
    agent: User,
    sms_settings: SmsGateway,
    caplog: pytest.LogCaptureFixture,
) -> None:
    org.sms_daily_limit = 2
    org.save(update_fields=["sms_daily_limit"])
    book_three(office, service, agent)

    with caplog.at_level(logging.WARNING, logger="buergerbuero.notify.services"):
        services.deliver_due(now=NOW)
        book(
            office,
            service,
            agent,
            start=START + dt.timedelta(hours=3),
            email="spaet@example.org",
            phone="0151 99999999",
        )
        services.deliver_due(now=NOW)

    assert len(sms_settings.requests) == 2
    assert statuses(Channel.SMS) == [DeliveryStatus.SENT] * 2 + [DeliveryStatus.SKIPPED] * 2
    assert statuses(Channel.EMAIL) == [DeliveryStatus.SENT] * 4
    assert len(mail.outbox) == 4
    skipped = Notification.objects.filter(status=DeliveryStatus.SKIPPED).first()
    assert skipped is not None
    assert skipped.last_error == "Nicht gesendet: Das tägliche SMS-Kontingent (2) ist aufgebraucht."
    assert [record.levelname for record in caplog.records if "budget" in record.getMessage()] == ["WARNING"]


def test_the_budget_starts_again_the_next_day_and_counts_a_message_once(
    org: Organization, office: Office, service: Service, agent: User, sms_settings: SmsGateway
) -> None:
    org.sms_daily_limit = 1
    org.save(update_fields=["sms_daily_limit"])
    first = book(office, service, agent, email="", phone=CITIZEN_PHONE)
    sms_settings.answer_next(503)
    services.deliver_due(now=NOW)  # a temporary failure: the retry is the same message

    services.deliver_due(now=NOW + dt.timedelta(minutes=5))
    assert Notification.objects.get(topic=topic(first.pk)).status == DeliveryStatus.SENT

    tomorrow = NOW + dt.timedelta(days=1)
    second = book(
        office,
        service,
        agent,
        start=START + dt.timedelta(days=1),
        email="",
        phone="0151 23456780",
        now=tomorrow,
    )
    services.deliver_due(now=tomorrow)
    assert Notification.objects.get(topic=topic(second.pk)).status == DeliveryStatus.SENT


@pytest.mark.parametrize("recipient", ["+870773111632", "+881631234567", "+252612345678", "+79123456789"])
def test_a_stored_sms_to_a_country_not_allowed_is_never_sent(
    office: Office, service: Service, agent: User, sms_settings: SmsGateway, recipient: str
) -> None:
    appointment = book(office, service, agent, phone=CITIZEN_PHONE)
    Notification.objects.filter(channel=Channel.SMS).update(recipient=recipient)  # stored before the rule

    services.deliver_due(now=NOW)

    assert sms_settings.requests == []
    row = Notification.objects.get(topic=topic(appointment.pk), channel=Channel.SMS)
    assert row.status == DeliveryStatus.SKIPPED
    code = recipient[1:4] if recipient.startswith(("+87", "+88", "+25")) else "7"
    assert f"+{code}" in row.last_error
    assert (
        Notification.objects.get(topic=topic(appointment.pk), channel=Channel.EMAIL).status
        == DeliveryStatus.SENT
    )


def test_the_admins_list_of_notifications_shows_the_skipped_sms_with_its_reason(
    org: Organization,
    office: Office,
    service: Service,
    agent: User,
    office_lead: User,
    sms_settings: SmsGateway,
) -> None:
    org.sms_daily_limit = 0
    org.save(update_fields=["sms_daily_limit"])
    book(office, service, agent, phone=CITIZEN_PHONE)
    services.deliver_due(now=NOW)
    client = Client()
    client.force_login(office_lead)

    page = client.get("/admin/notify/notification/?status=skipped").content.decode()

    assert "übersprungen" in page
    assert "Nicht gesendet: Das tägliche SMS-Kontingent (0) ist aufgebraucht." in page

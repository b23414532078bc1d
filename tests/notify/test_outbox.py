"""The outbox's promises: nothing is lost while the mail server is down, nothing is sent twice,
retries stop at ``NOTIFY_MAX_ATTEMPTS``, reminders are written once and follow the
appointment, and staff see and resend their own organisation's messages in the admin.

Sending goes to a real SMTP server (``tests/support/smtp.py``) that the outage test stops and
starts again on the same port; SMS go to the local gateway (``tests/support/sms_gateway.py``).
Time moves through the ``now=`` arguments of the service functions; the concurrency test uses
real threads with their own database connections (``transaction=True``), so that on PostgreSQL
the two "workers" really race for the same rows.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, ngettext

from buergerbuero.booking import messages as appointment_messages
from buergerbuero.booking import services as booking
from buergerbuero.booking.messages import topic
from buergerbuero.booking.models import Appointment
from buergerbuero.notify import services
from buergerbuero.notify.models import Channel, DeliveryStatus, Notification
from buergerbuero.offices.models import Office, Service
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role
from tests import factories
from tests.notify.conftest import (
    CITIZEN_E164,
    CITIZEN_EMAIL,
    CITIZEN_PHONE,
    LATER_START,
    NOW,
    START,
    book,
    calendar_of,
)
from tests.support.sms_gateway import SmsGateway
from tests.support.smtp import SmtpServer

DAY_BEFORE = START - dt.timedelta(minutes=1440)
QUARTER_BEFORE = START - dt.timedelta(minutes=15)
OTHER_PHONE = "0160 98765432"


def email_row(appointment: Appointment) -> Notification:
    return Notification.objects.get(topic=topic(appointment.pk), channel=Channel.EMAIL)


# --- the mail server is down ----------------------------------------------------------------------
def test_nothing_is_lost_while_the_mail_server_is_down_and_the_mail_arrives_exactly_once(
    office: Office, service: Service, agent: User, mail_settings: SmtpServer, settings: Any
) -> None:
    port = mail_settings.port
    mail_settings.stop()
    appointment = book(office, service, agent)

    assert services.deliver_due(now=NOW) == 0

    row = email_row(appointment)
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 1)
    assert row.last_error  # why it did not go out, for the admin
    assert row.next_attempt_at == NOW + services.retry_delay(1)
    assert row.claimed_until is None
    # Before the backoff is over nothing is tried (the attempt count stays).
    assert services.deliver_due(now=NOW + dt.timedelta(seconds=10)) == 0
    assert email_row(appointment).attempts == 1

    mail_settings.start()
    assert mail_settings.port == port == settings.EMAIL_PORT  # back where the settings point
    assert services.deliver_due(now=row.next_attempt_at) == 1

    assert [mail.rcpt_tos for mail in mail_settings.messages] == [(CITIZEN_EMAIL,)]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.SENT, 2, "")
    assert row.sent_at == row.next_attempt_at
    # Later runs find nothing left to do.
    assert services.deliver_due(now=NOW + dt.timedelta(hours=2)) == 0
    assert len(mail_settings.messages) == 1


def test_after_the_last_attempt_the_message_fails_and_send_again_revives_it(
    office: Office, service: Service, agent: User, mail_settings: SmtpServer, settings: Any
) -> None:
    settings.NOTIFY_MAX_ATTEMPTS = 4
    mail_settings.stop()
    appointment = book(office, service, agent)
    moment = NOW
    for attempt in range(1, 5):
        assert services.deliver_due(now=moment) == 0
        row = email_row(appointment)
        assert row.attempts == attempt
        expected = DeliveryStatus.FAILED if attempt == 4 else DeliveryStatus.PENDING
        assert row.status == expected, attempt
        if attempt < 4:
            assert row.next_attempt_at == moment + services.retry_delay(attempt)
        moment = row.next_attempt_at
    # Failed is final: no more tries, however late.
    mail_settings.start()
    assert services.deliver_due(now=moment + dt.timedelta(days=1)) == 0
    assert mail_settings.messages == []

    resent_at = moment + dt.timedelta(days=1)
    assert services.retry_now([row.pk], now=resent_at) == 1

    row.refresh_from_db()
    assert (row.status, row.next_attempt_at, row.claimed_until) == (DeliveryStatus.PENDING, resent_at, None)
    assert services.deliver_due(now=resent_at) == 1
    assert len(mail_settings.messages) == 1
    assert email_row(appointment).status == DeliveryStatus.SENT


def test_send_again_leaves_sent_messages_alone(
    office: Office, service: Service, agent: User, mail_settings: SmtpServer
) -> None:
    appointment = book(office, service, agent)
    assert services.deliver_due(now=NOW) == 1

    assert services.retry_now([email_row(appointment).pk], now=NOW + dt.timedelta(minutes=1)) == 0

    assert services.deliver_due(now=NOW + dt.timedelta(minutes=1)) == 0
    assert len(mail_settings.messages) == 1


def test_after_an_outage_the_last_mail_the_citizen_gets_is_the_cancellation(
    office: Office, service: Service, agent: User, mail_settings: SmtpServer
) -> None:
    """The job runs all the time; the invitation has failed twice (its backoff has grown) when
    the citizen cancels, and the cancellation fails once. Then the server is back."""
    mail_settings.stop()
    appointment = book(office, service, agent)
    assert services.deliver_due(now=NOW) == 0  # invitation: next try at +30 s
    assert services.deliver_due(now=NOW + dt.timedelta(seconds=30)) == 0  # … at +90 s
    cancelled_at = NOW + dt.timedelta(seconds=40)
    booking.cancel(appointment, now=cancelled_at)
    assert services.deliver_due(now=cancelled_at) == 0  # cancellation: next try at +70 s
    mail_settings.start()

    moment = cancelled_at
    while moment < NOW + dt.timedelta(minutes=5):  # the job keeps running every 5 seconds
        services.deliver_due(now=moment)
        moment += dt.timedelta(seconds=5)

    methods = [str(calendar_of(mail)["METHOD"]) for mail in mail_settings.messages]
    assert methods.count("CANCEL") == 1
    assert methods[-1] == "CANCEL", methods  # not an invitation to what no longer exists


# --- two workers ----------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_the_same_time_send_each_message_once(
    office: Office, service: Service, agent: User, mail_settings: SmtpServer
) -> None:
    recipients = [f"citizen{number}@example.org" for number in range(4)]
    for number, recipient in enumerate(recipients):
        book(office, service, agent, email=recipient, start=START + dt.timedelta(minutes=30 * number))
    mail_settings.delay = 0.4  # each DATA takes a while, so both workers are busy at once
    barrier = threading.Barrier(2)
    sent: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            sent.append(services.deliver_due(now=NOW))
        except BaseException as error:  # reported by the test below
            errors.append(error)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    received = Counter(recipient for mail in mail_settings.messages for recipient in mail.rcpt_tos)
    assert received == Counter(recipients)  # each once, none twice
    assert sorted(sent) != [0, 4]  # both workers did part of the work …
    assert sum(sent) == 4
    assert mail_settings.most_at_once == 2  # … at the same time
    rows = Notification.objects.all()
    assert {(row.status, row.attempts) for row in rows} == {(DeliveryStatus.SENT, 1)}


# --- reminders ------------------------------------------------------------------------------------
def reminders(appointment: Appointment) -> Counter[tuple[str, str]]:
    """(kind, channel) of the appointment's reminder rows that wait to be sent."""
    rows = Notification.objects.filter(
        topic=topic(appointment.pk), kind__startswith="reminder", status=DeliveryStatus.PENDING
    )
    return Counter((row.kind, row.channel) for row in rows)


BOTH_DAY = Counter({("reminder-1440", Channel.EMAIL): 1, ("reminder-1440", Channel.SMS): 1})
BOTH_QUARTER = Counter({("reminder-15", Channel.EMAIL): 1, ("reminder-15", Channel.SMS): 1})


def test_the_day_before_reminders_are_written_once_for_email_and_sms(
    office: Office, service: Service, agent: User
) -> None:
    appointment = book(office, service, agent, phone=CITIZEN_PHONE)

    assert appointment_messages.enqueue_reminders(DAY_BEFORE - dt.timedelta(minutes=1)) == 0
    assert appointment_messages.enqueue_reminders(DAY_BEFORE) == 2
    assert appointment_messages.enqueue_reminders(DAY_BEFORE) == 0
    assert appointment_messages.enqueue_reminders(DAY_BEFORE + dt.timedelta(minutes=1)) == 0

    assert reminders(appointment) == BOTH_DAY
    mail = Notification.objects.get(topic=topic(appointment.pk), kind="reminder-1440", channel=Channel.EMAIL)
    with translation.override("de"):
        subject = gettext("Reminder of your appointment: %(office)s") % {"office": office.name}
    assert mail.subject == subject
    assert mail.next_attempt_at == DAY_BEFORE
    sms = Notification.objects.get(topic=topic(appointment.pk), kind="reminder-1440", channel=Channel.SMS)
    assert "10:00" in sms.body_text


def test_the_quarter_hour_reminders_come_in_addition(office: Office, service: Service, agent: User) -> None:
    appointment = book(office, service, agent, phone=CITIZEN_PHONE)
    appointment_messages.enqueue_reminders(DAY_BEFORE)

    assert appointment_messages.enqueue_reminders(QUARTER_BEFORE - dt.timedelta(minutes=1)) == 0
    assert appointment_messages.enqueue_reminders(QUARTER_BEFORE) == 2
    assert appointment_messages.enqueue_reminders(QUARTER_BEFORE + dt.timedelta(minutes=1)) == 0

    assert reminders(appointment) == BOTH_DAY + BOTH_QUARTER


def test_an_appointment_booked_two_hours_ahead_gets_only_the_quarter_hour_reminder(
    office: Office, service: Service, agent: User
) -> None:
    booked_at = START - dt.timedelta(hours=2)
    appointment = book(office, service, agent, phone=CITIZEN_PHONE, now=booked_at)

    assert appointment_messages.enqueue_reminders(booked_at) == 0
    assert appointment_messages.enqueue_reminders(booked_at + dt.timedelta(minutes=30)) == 0
    assert appointment_messages.enqueue_reminders(QUARTER_BEFORE) == 2

    assert reminders(appointment) == BOTH_QUARTER


def test_moving_drops_the_old_times_reminders_and_the_new_time_gets_its_own(
    office: Office, service: Service, agent: User
) -> None:
    appointment = book(office, service, agent, phone=CITIZEN_PHONE)
    appointment_messages.enqueue_reminders(DAY_BEFORE)
    assert reminders(appointment) == BOTH_DAY

    booking.reschedule(appointment, LATER_START, now=DAY_BEFORE + dt.timedelta(minutes=5))

    assert reminders(appointment) == Counter()
    # Nothing for the old time any more …
    assert appointment_messages.enqueue_reminders(QUARTER_BEFORE) == 0
    assert reminders(appointment) == Counter()
    # … and the new time is reminded of at its own moments.
    assert appointment_messages.enqueue_reminders(LATER_START - dt.timedelta(minutes=1440)) == 2
    assert appointment_messages.enqueue_reminders(LATER_START - dt.timedelta(minutes=15)) == 2
    assert reminders(appointment) == BOTH_DAY + BOTH_QUARTER
    day_mail = Notification.objects.get(
        topic=topic(appointment.pk),
        kind="reminder-1440",
        channel=Channel.EMAIL,
        status=DeliveryStatus.PENDING,
    )
    assert "11:00" in day_mail.body_text  # the new time, not 10:00


def test_an_appointment_moved_to_a_time_a_few_hours_ahead_gets_no_day_before_reminder(
    office: Office, service: Service, agent: User
) -> None:
    appointment = book(office, service, agent, phone=CITIZEN_PHONE)  # a day ahead
    moved_at = START - dt.timedelta(hours=1)
    new_start = START + dt.timedelta(hours=3)
    booking.reschedule(appointment, new_start, now=moved_at)

    # The citizen has just been told the new time; like a booking made a few hours ahead,
    # it gets the quarter-hour reminder only.
    appointment_messages.enqueue_reminders(moved_at + dt.timedelta(minutes=1))
    appointment_messages.enqueue_reminders(new_start - dt.timedelta(minutes=15))

    assert reminders(appointment) == BOTH_QUARTER


def test_a_cancelled_appointment_gets_no_reminders(office: Office, service: Service, agent: User) -> None:
    appointment = book(office, service, agent, phone=CITIZEN_PHONE)
    appointment_messages.enqueue_reminders(DAY_BEFORE)
    assert reminders(appointment) == BOTH_DAY

    booking.cancel(appointment, now=DAY_BEFORE + dt.timedelta(minutes=5))

    assert reminders(appointment) == Counter()
    assert appointment_messages.enqueue_reminders(DAY_BEFORE + dt.timedelta(minutes=10)) == 0
    assert appointment_messages.enqueue_reminders(QUARTER_BEFORE) == 0
    assert reminders(appointment) == Counter()
    other = book(office, service, agent, phone=CITIZEN_PHONE, start=START + dt.timedelta(hours=1))
    booking.cancel(other, now=NOW + dt.timedelta(minutes=1))  # cancelled before any reminder was due
    assert (
        appointment_messages.enqueue_reminders(START + dt.timedelta(hours=1) - dt.timedelta(minutes=1440))
        == 0
    )
    assert not Notification.objects.filter(topic=topic(other.pk), kind__startswith="reminder").exists()


# --- the admin ------------------------------------------------------------------------------------
@pytest.fixture
def elsewhere(other_org: Organization) -> tuple[Office, Service, User]:
    """An office of another organisation, with its own staff member and service."""
    office = factories.make_office(
        other_org, "buergerbuero", hours=[(day, "08:00", "16:00") for day in range(5)]
    )
    member = factories.make_staff(other_org, "other-agent", Role.AGENT, [office])
    service = factories.make_service(office, "Gewerbeanmeldung", slot_minutes=20, buffer_minutes=10)
    return office, service, member


def test_office_lead_sees_and_resends_only_the_own_organisations_messages(
    office: Office,
    service: Service,
    agent: User,
    office_lead: User,
    elsewhere: tuple[Office, Service, User],
    sms_settings: SmsGateway,
    client: Client,
) -> None:
    # In each organisation one SMS failed for good (the gateway refused the number) …
    other_office, other_service, other_agent = elsewhere
    refused = book(office, service, agent, email="", phone=CITIZEN_PHONE)
    other_refused = book(other_office, other_service, other_agent, email="", phone=OTHER_PHONE)
    sms_settings.answer_next(400, count=2)
    assert services.deliver_due(now=NOW) == 0
    own_failed = Notification.objects.get(topic=topic(refused.pk), status=DeliveryStatus.FAILED)
    other_failed = Notification.objects.get(topic=topic(other_refused.pk), status=DeliveryStatus.FAILED)
    # … and one e-mail waits for its time.
    later = NOW + dt.timedelta(minutes=1)
    waiting = book(office, service, agent, email="waiting@example.org", start=LATER_START, now=later)
    other_waiting = book(
        other_office, other_service, other_agent, email="other@example.org", start=LATER_START, now=later
    )
    own_pending = Notification.objects.get(topic=topic(waiting.pk), status=DeliveryStatus.PENDING)
    other_pending = Notification.objects.get(topic=topic(other_waiting.pk), status=DeliveryStatus.PENDING)

    client.force_login(office_lead)
    url = reverse("admin:notify_notification_changelist")
    response = client.get(url)

    assert response.status_code == 200
    shown = {row.pk for row in response.context["cl"].result_list}
    assert shown == {own_pending.pk, own_failed.pk}
    page = response.content.decode()
    assert "waiting@example.org" in page
    assert other_pending.recipient not in page
    assert other_failed.recipient not in page

    # "Send again" with the other organisation's message smuggled into the selection.
    response = client.post(
        url,
        {"action": "send_again", ACTION_CHECKBOX_NAME: [own_failed.pk, other_failed.pk], "index": "0"},
        follow=True,
    )

    assert response.status_code == 200
    with translation.override("de"):
        expected = ngettext("%d message will be sent again.", "%d messages will be sent again.", 1) % 1
    assert [str(message) for message in response.context["messages"]] == [expected]
    own_failed.refresh_from_db()
    other_failed.refresh_from_db()
    assert (own_failed.status, own_failed.next_attempt_at) == (DeliveryStatus.PENDING, NOW)
    assert own_failed.claimed_until is None
    assert other_failed.status == DeliveryStatus.FAILED
    # … and the next run sends it (and nothing of the other organisation).
    assert services.deliver_due(now=NOW) == 1
    assert [request.json()["to"] for request in sms_settings.requests][-1] == CITIZEN_E164
    assert Notification.objects.get(pk=own_failed.pk).status == DeliveryStatus.SENT
    assert Notification.objects.get(pk=other_failed.pk).status == DeliveryStatus.FAILED

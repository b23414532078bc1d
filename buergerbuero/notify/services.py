"""The outbox: notifications are written in the transaction of the change they report and sent
by the job worker, with retries and backoff, so that a dead mail server or SMS gateway loses
nothing.

The outbox is generic: the app whose change a message reports renders it (in the recipient's
language) and writes it with :func:`write`, naming what it is about (:class:`About`); the
appointment messages and reminders are booking's (:mod:`buergerbuero.booking.messages`). A
message is unique by ``dedupe_key``: a reminder is never written twice, however often the job
runs. Each channel's transport (``transports/``) raises a temporary or a permanent failure. Sending claims
a message for a while (``claimed_until``), so that two workers never send it both.

SMS cost money, so before one is sent (not when it is written: only sending costs, and a
message dropped by a later move or cancellation never does) it is checked against the
organisation's rules and marked ``skipped`` with the reason instead of being sent:

- its number's country calling code must be one the organisation allows
  (``Organization.sms_calling_codes``; the booking form refuses others, this is the backstop
  for anything stored before or around it);
- at most ``Organization.sms_daily_limit`` SMS per organisation and (UTC) day, counted once per
  message at its first attempt in the shared ``limits`` counters; the e-mail is still sent.
  The first SMS over the budget logs a warning. The booking form uses ``sms_budget_left`` to
  ask a citizen who gives only a mobile number for an e-mail address instead.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from buergerbuero.limits import services as limits
from buergerbuero.notify.models import Channel, DeliveryStatus, Notification
from buergerbuero.notify.transports.base import DeliveryError, Transport
from buergerbuero.notify.transports.email import EmailTransport
from buergerbuero.notify.transports.sms import sms_transport
from buergerbuero.orgs.models import Organization

logger = logging.getLogger(__name__)
CLAIM = dt.timedelta(minutes=5)
BATCH = 50
FIRST_RETRY = dt.timedelta(seconds=30)
LONGEST_RETRY = dt.timedelta(hours=1)
SMS_BUDGET_SCOPE = "sms-day"
DEFAULT_SMS_CALLING_CODES = ["49"]  # for a message without an organisation


@dataclass(frozen=True)
class Message:
    """One rendered message for one way of reaching someone."""

    channel: str  # a Channel
    recipient: str
    subject: str
    text: str
    html: str = ""
    attachment: str = ""  # an e-mail's calendar file (.ics)


@dataclass(frozen=True)
class About:
    """What a batch of messages is about, as the writing app names it: ``topic`` groups the
    messages of one subject (dropped together, deleted with it), ``dedupe_key`` makes a
    message unique (with its channel appended), the organisation's SMS rules apply and its
    staff (or the office's leads) see the messages in the admin."""

    topic: str
    kind: str
    dedupe_key: str
    organization_id: int | None
    office_id: int | None = None


def write(about: About, messages: list[Message], now: dt.datetime) -> list[Notification]:
    """Put messages into the outbox (call inside the transaction of the change they report);
    one already written with the same key is left as it is."""
    rows = [
        Notification(
            topic=about.topic,
            kind=about.kind,
            dedupe_key=about.dedupe_key + message.channel,
            organization_id=about.organization_id,
            office_id=about.office_id,
            channel=message.channel,
            recipient=message.recipient,
            subject=message.subject,
            body_text=message.text,
            body_html=message.html,
            attachment=message.attachment,
            next_attempt_at=now,
            created_at=now,
        )
        for message in messages
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return rows


def drop_unsent(topic: str) -> None:
    """Forget the messages about ``topic`` not sent yet (a later change replaces them)."""
    Notification.objects.filter(topic=topic, status=DeliveryStatus.PENDING).delete()


def was_written(dedupe_key: str) -> bool:
    return Notification.objects.filter(dedupe_key__startswith=dedupe_key).exists()


def forget(topics: list[str]) -> int:
    """Delete every message about these topics (their subject's personal data is deleted)."""
    deleted, _detail = Notification.objects.filter(topic__in=topics).delete()
    return deleted


def _transport(channel: str) -> Transport:
    return EmailTransport() if channel == Channel.EMAIL else sms_transport()


def retry_delay(attempts: int) -> dt.timedelta:
    """30 s, 1 min, 2 min, … at most an hour between attempts."""
    delay: dt.timedelta = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)
    return delay


def _unclaimed(now: dt.datetime) -> Q:
    """No worker holds the message (or its claim ran out: that worker died)."""
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def _claim(notification: Notification, now: dt.datetime) -> bool:
    return (
        Notification.objects.filter(
            _unclaimed(now), pk=notification.pk, status=DeliveryStatus.PENDING
        ).update(claimed_until=now + CLAIM)
        == 1
    )


def deliver_due(now: dt.datetime | None = None, keep_going: Callable[[], bool] | None = None) -> int:
    """Send the messages that are due; returns how many were sent. ``keep_going`` is asked
    before each message (the job loop stops between two messages, never during one)."""
    now = now or timezone.now()
    due = (
        Notification.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(_unclaimed(now))
        .select_related("organization")
        .order_by("next_attempt_at", "pk")[:BATCH]
    )
    sent = 0
    for notification in due:
        if keep_going is not None and not keep_going():
            break
        if not _claim(notification, now):
            continue  # another worker has it
        sent += deliver(notification, now)
    return sent


def sms_budget_left(organization: Organization, now: dt.datetime | None = None) -> bool:
    """Whether the organisation may still send an SMS today (without counting one)."""
    return limits.peek(
        SMS_BUDGET_SCOPE, str(organization.pk), organization.sms_daily_limit, limits.DAY, now
    ).allowed


def _sms_refusal(notification: Notification, now: dt.datetime) -> str:
    """Why this SMS is not sent (for the admin's list), or "" — then it has been counted
    against the day's budget (once per message, at its first attempt)."""
    organization = notification.organization
    codes = organization.sms_calling_codes if organization is not None else DEFAULT_SMS_CALLING_CODES
    try:
        code = str(phonenumbers.parse(notification.recipient).country_code)
    except phonenumbers.NumberParseException:
        code = ""
    with translation.override(settings.LANGUAGE_CODE):
        if code not in codes:
            return _("Not sent: SMS to +%(code)s are not allowed (allowed: %(allowed)s).") % {
                "code": code or "?",
                "allowed": ", ".join(f"+{allowed}" for allowed in codes),
            }
        if organization is None or notification.attempts:
            return ""
        budget = limits.hit(
            SMS_BUDGET_SCOPE, str(organization.pk), organization.sms_daily_limit, limits.DAY, now
        )
        if budget.allowed:
            return ""
        if budget.first_refusal:
            logger.warning(
                "the daily SMS budget of %s (%d) is used up: further SMS today are skipped, e-mails still go",
                organization.slug,
                organization.sms_daily_limit,
            )
        return _("Not sent: the daily SMS budget (%(limit)d) is used up.") % {
            "limit": organization.sms_daily_limit
        }


def _skip(notification: Notification, reason: str) -> None:
    logger.info("skipped %s notification %s: %s", notification.channel, notification.pk, reason)
    Notification.objects.filter(pk=notification.pk).update(
        status=DeliveryStatus.SKIPPED, claimed_until=None, last_error=reason[:500]
    )


def deliver(notification: Notification, now: dt.datetime) -> bool:
    """Send one claimed message and record the outcome (an SMS the organisation's rules do not
    allow is skipped, see the module's docstring)."""
    if notification.channel == Channel.SMS:
        reason = _sms_refusal(notification, now)
        if reason:
            _skip(notification, reason)
            return False
    attempts = notification.attempts + 1
    try:
        _transport(notification.channel).send(notification)
    except DeliveryError as error:
        given_up = error.permanent or attempts >= settings.NOTIFY_MAX_ATTEMPTS
        logger.warning(
            "%s %s to notification %s (attempt %d): %s",
            "gave up sending" if given_up else "will retry sending",
            notification.channel,
            notification.pk,
            attempts,
            error,
        )
        Notification.objects.filter(pk=notification.pk).update(
            attempts=attempts,
            status=DeliveryStatus.FAILED if given_up else DeliveryStatus.PENDING,
            next_attempt_at=now + retry_delay(attempts),
            claimed_until=None,
            last_error=str(error)[:500],
        )
        return False
    Notification.objects.filter(pk=notification.pk).update(
        attempts=attempts, status=DeliveryStatus.SENT, sent_at=now, claimed_until=None, last_error=""
    )
    return True


def retry_now(notification_ids: list[int], now: dt.datetime | None = None) -> int:
    """Staff send failed or waiting messages again at once (from the admin)."""
    now = now or timezone.now()
    return (
        Notification.objects.filter(pk__in=notification_ids)
        .exclude(status=DeliveryStatus.SENT)
        .update(status=DeliveryStatus.PENDING, next_attempt_at=now, claimed_until=None)
    )

"""The outbox: notifications are written in the transaction of the change they report and sent
by the job worker, with retries and backoff, so that a dead mail server or SMS gateway loses
nothing.

Each message is rendered when it is written, in the recipient's language, and is unique by
``dedupe_key``: a reminder is never written twice, however often the job runs. Sending claims
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

import phonenumbers
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from buergerbuero.booking.ical import appointment_ics, appointment_link
from buergerbuero.booking.models import Appointment, AppointmentStatus
from buergerbuero.lib.dates import long_date
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


def _subject(kind: str, appointment: Appointment) -> str:
    office = appointment.office.name
    if kind == "booked":
        return _("Your appointment: %(office)s") % {"office": office}
    if kind == "rescheduled":
        return _("Your appointment was moved: %(office)s") % {"office": office}
    if kind == "cancelled":
        return _("Your appointment was cancelled: %(office)s") % {"office": office}
    return _("Reminder of your appointment: %(office)s") % {"office": office}


def local_when(moment: dt.datetime, appointment: Appointment) -> str:
    """“Montag, 30. November 2026, 10:00” in the active language and the office's time zone."""
    local = moment.astimezone(appointment.office.organization.zone)
    return f"{long_date(local)}, {formats.time_format(local, 'H:i')}"


def _messages(
    appointment: Appointment, kind: str, previous_start: dt.datetime | None
) -> list[tuple[str, str, str, str, str, str]]:
    """(channel, recipient, subject, text, html, attachment) for each way of reaching the citizen."""
    with translation.override(appointment.language):
        context = {
            "kind": kind,
            "appointment": appointment,
            "when": local_when(appointment.starts_at, appointment),
            "previous_when": local_when(previous_start, appointment) if previous_start else "",
            "zone": appointment.office.organization.time_zone,
            "link": appointment_link(appointment),
            "cancelled": appointment.status == AppointmentStatus.CANCELLED,
            "language": appointment.language,
        }
        messages: list[tuple[str, str, str, str, str, str]] = []
        if appointment.email:
            messages.append(
                (
                    Channel.EMAIL,
                    appointment.email,
                    _subject(kind, appointment),
                    render_to_string("notify/appointment_email.txt", context).strip() + "\n",
                    render_to_string("notify/appointment_email.html", context),
                    appointment_ics(appointment).decode(),
                )
            )
        if appointment.phone:
            text = " ".join(render_to_string("notify/appointment_sms.txt", context).split())
            messages.append((Channel.SMS, appointment.phone, "", text, "", ""))
    return messages


def _key(appointment: Appointment, kind: str) -> str:
    # The sequence changes with every reschedule: the new time gets its own reminders.
    return f"appointment:{appointment.pk}:{appointment.sequence}:{kind}:"


def appointment_changed(
    appointment: Appointment, kind: str, now: dt.datetime, *, previous_start: dt.datetime | None = None
) -> list[Notification]:
    """Write the messages about a booking, reschedule, cancellation or reminder to the outbox
    (call inside the change's transaction). A move or cancellation carries the whole current
    state, so unsent messages about an earlier state are dropped: after an outage the
    citizen's last message is never a stale invitation."""
    if kind in ("rescheduled", "cancelled"):
        Notification.objects.filter(appointment=appointment, status=DeliveryStatus.PENDING).delete()
    rows = [
        Notification(
            appointment=appointment,
            channel=channel,
            kind=kind,
            dedupe_key=_key(appointment, kind) + channel,
            recipient=recipient,
            subject=subject,
            body_text=text,
            body_html=html,
            attachment=attachment,
            next_attempt_at=now,
            created_at=now,
        )
        for channel, recipient, subject, text, html, attachment in _messages(
            appointment, kind, previous_start
        )
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return rows


# --- jobs ---------------------------------------------------------------------------------------
def enqueue_reminders(now: dt.datetime | None = None) -> int:
    """Reminders (default 24 hours and 15 minutes before) for appointments whose moment has
    come; not for one booked after that moment (a booking 2 hours ahead gets no 24-hour one)."""
    now = now or timezone.now()
    written = 0
    for minutes in settings.APPOINTMENT_REMINDERS:
        lead = dt.timedelta(minutes=minutes)
        due = Appointment.objects.filter(
            status=AppointmentStatus.BOOKED, starts_at__gt=now, starts_at__lte=now + lead
        ).select_related("office__organization", "service", "agent")
        for appointment in due:
            if appointment.scheduled_at > appointment.starts_at - lead:
                continue
            kind = f"reminder-{minutes}"
            if Notification.objects.filter(dedupe_key__startswith=_key(appointment, kind)).exists():
                continue
            with transaction.atomic():
                written += len(appointment_changed(appointment, kind, now))
    return written


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
        .select_related("appointment__office__organization")
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
    appointment = notification.appointment
    organization = appointment.office.organization if appointment is not None else None
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

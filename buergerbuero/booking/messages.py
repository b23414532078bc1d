"""The messages about an appointment: booked, moved, cancelled, and the reminders.

They are rendered here, in the citizen's language, and written to the generic outbox of the
notify app (:func:`buergerbuero.notify.services.write`) in the transaction of the change, under
the appointment's topic: a move or cancellation drops the unsent messages about the earlier
state, and deleting the appointment deletes its messages (:func:`forget`).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from buergerbuero.booking.ical import appointment_ics, appointment_link
from buergerbuero.booking.models import Appointment, AppointmentStatus
from buergerbuero.lib.dates import long_date
from buergerbuero.notify import services as outbox
from buergerbuero.notify.models import Channel, Notification
from buergerbuero.notify.services import Message


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


def _messages(appointment: Appointment, kind: str, previous_start: dt.datetime | None) -> list[Message]:
    """One message for each way of reaching the citizen, in their language."""
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
        messages: list[Message] = []
        if appointment.email:
            messages.append(
                Message(
                    Channel.EMAIL,
                    appointment.email,
                    _subject(kind, appointment),
                    render_to_string("booking/appointment_email.txt", context).strip() + "\n",
                    render_to_string("booking/appointment_email.html", context),
                    appointment_ics(appointment).decode(),
                )
            )
        if appointment.phone:
            text = " ".join(render_to_string("booking/appointment_sms.txt", context).split())
            messages.append(Message(Channel.SMS, appointment.phone, "", text))
    return messages


def topic(appointment_id: int) -> str:
    """What the outbox files an appointment's messages under."""
    return f"appointment:{appointment_id}"


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
        outbox.drop_unsent(topic(appointment.pk))
    about = outbox.About(
        topic=topic(appointment.pk),
        kind=kind,
        dedupe_key=_key(appointment, kind),
        organization_id=appointment.office.organization_id,
        office_id=appointment.office_id,
    )
    return outbox.write(about, _messages(appointment, kind, previous_start), now)


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
            if outbox.was_written(_key(appointment, kind)):
                continue
            with transaction.atomic():
                written += len(appointment_changed(appointment, kind, now))
    return written


def forget(appointment_ids: list[int]) -> int:
    """Delete the messages about these appointments (with their personal data)."""
    return outbox.forget([topic(pk) for pk in appointment_ids])

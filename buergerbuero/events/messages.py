"""The messages about a registration: the confirmation (with a calendar file), the
accreditation decision and the reminders before the start.

Rendered in the person's language and written to the generic outbox (``notify``) in the
transaction of the change, under the registration's topic, so that deleting the registration
deletes its messages (:func:`forget`).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from icalendar import Alarm, Calendar
from icalendar import Event as CalendarEvent

from buergerbuero.events.models import Accreditation, Event, EventStatus, Registration
from buergerbuero.lib.dates import long_date
from buergerbuero.notify import services as outbox
from buergerbuero.notify.models import Channel, Notification
from buergerbuero.notify.services import Message

PRODID = "-//Virtuelles Buergerbuero//Veranstaltungen//DE"
# Minutes before the start at which the reminders go out.
REMINDERS = (1440, 15)
TIME_ZONE_SPAN = dt.timedelta(days=400)


def registration_link(registration: Registration) -> str:
    return settings.PUBLIC_URL + reverse("events:registration", args=[registration.token])


def local_when(moment: dt.datetime, event: Event) -> str:
    local = moment.astimezone(event.organization.zone)
    return f"{long_date(local)}, {formats.time_format(local, 'H:i')}"


def event_ics(registration: Registration) -> bytes:
    """The person's calendar file of the event (RFC 5545, made with ``icalendar``)."""
    event = registration.event
    zone = event.organization.zone
    link = registration_link(registration)
    host = settings.PUBLIC_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", f"event-{event.pk}-{registration.pk}@{host}")
    entry.add("dtstamp", timezone.now())
    entry.add("dtstart", event.starts_at.astimezone(zone))
    entry.add("dtend", event.ends_at.astimezone(zone))
    entry.add("summary", f"{event.organization.name}: {event.title}")
    entry.add("description", _("Open this link at the start time:\n%(link)s") % {"link": link})
    entry.add("url", link)
    entry.add("location", link)
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", entry["summary"])
    alarm.add("trigger", -dt.timedelta(minutes=15))
    entry.add_component(alarm)
    calendar.add_component(entry)
    day = event.starts_at.date()
    calendar.add_missing_timezones(first_date=day - TIME_ZONE_SPAN, last_date=day + TIME_ZONE_SPAN)
    ical: bytes = calendar.to_ical()
    return ical


def _subject(kind: str, registration: Registration) -> str:
    title = registration.event.title
    if kind == "registered":
        return _("Your registration: %(title)s") % {"title": title}
    if kind == "accreditation":
        return _("Your accreditation: %(title)s") % {"title": title}
    return _("Reminder: %(title)s") % {"title": title}


def _message(registration: Registration, kind: str) -> Message:
    event = registration.event
    with translation.override(registration.language):
        context = {
            "kind": kind,
            "registration": registration,
            "event": event,
            "when": local_when(event.starts_at, event),
            "zone": event.organization.time_zone,
            "link": registration_link(registration),
            "pending": registration.accreditation == Accreditation.PENDING,
            "approved": registration.accreditation == Accreditation.APPROVED,
            "refused": registration.accreditation == Accreditation.REFUSED,
        }
        return Message(
            Channel.EMAIL,
            registration.email,
            _subject(kind, registration),
            render_to_string("events/registration_email.txt", context).strip() + "\n",
            "",
            event_ics(registration).decode() if kind == "registered" else "",
        )


def topic(registration_id: int) -> str:
    return f"event-registration:{registration_id}"


def _key(registration: Registration, kind: str) -> str:
    return f"event-registration:{registration.pk}:{kind}:{registration.accreditation}:"


def registration_changed(registration: Registration, kind: str, now: dt.datetime) -> list[Notification]:
    """Write the message about a registration to the outbox (inside the change's transaction)."""
    about = outbox.About(
        topic=topic(registration.pk),
        kind=f"event-{kind}",
        dedupe_key=_key(registration, kind),
        organization_id=registration.event.organization_id,
        office_id=registration.event.office_id,
    )
    return outbox.write(about, [_message(registration, kind)], now)


def enqueue_reminders(now: dt.datetime | None = None) -> int:
    """Reminders before the start for registrations made before the reminder's moment (not
    for refused journalists)."""
    now = now or timezone.now()
    written = 0
    for minutes in REMINDERS:
        lead = dt.timedelta(minutes=minutes)
        due = (
            Registration.objects.filter(
                event__status=EventStatus.SCHEDULED,
                event__starts_at__gt=now,
                event__starts_at__lte=now + lead,
            )
            .exclude(accreditation=Accreditation.REFUSED)
            .select_related("event__organization")
        )
        for registration in due:
            if registration.created_at > registration.event.starts_at - lead:
                continue
            kind = f"reminder-{minutes}"
            if outbox.was_written(_key(registration, kind)):
                continue
            with transaction.atomic():
                written += len(registration_changed(registration, kind, now))
    return written


def forget(registration_ids: list[int]) -> int:
    return outbox.forget([topic(pk) for pk in registration_ids])

"""Calendar files (iCalendar, RFC 5545) made with the ``icalendar`` library: the one attached
to the citizen's e-mails and the staff member's private feed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Alarm, Calendar, Event, vCalAddress, vText

from buergerbuero.booking.models import Appointment, AppointmentStatus

PRODID = "-//Virtuelles Buergerbuero//Termine//DE"
ALARM_BEFORE = dt.timedelta(minutes=15)
TIME_ZONE_SPAN = dt.timedelta(days=400)


def appointment_link(appointment: Appointment) -> str:
    return settings.PUBLIC_URL + reverse("booking:appointment", args=[appointment.token])


def _uid(appointment: Appointment) -> str:
    host = settings.PUBLIC_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return f"appointment-{appointment.pk}@{host}"


def _calendar(method: str | None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    if method:
        calendar.add("method", method)
    return calendar


def _event(appointment: Appointment, *, for_citizen: bool) -> Event:
    zone = appointment.office.organization.zone
    link = appointment_link(appointment)
    event = Event()
    event.add("uid", _uid(appointment))
    event.add("dtstamp", timezone.now())
    event.add("sequence", appointment.sequence)
    event.add("dtstart", appointment.starts_at.astimezone(zone))
    event.add("dtend", appointment.ends_at.astimezone(zone))
    if for_citizen:
        event.add("summary", f"{appointment.office.organization.name}: {appointment.service.name}")
        event.add(
            "description",
            _("Your appointment (video consultation). Open this link at the start time:\n%(link)s")
            % {"link": link},
        )
        event.add("url", link)
        event.add("location", vText(link))
    else:
        event.add("summary", f"{appointment.service.name}: {appointment.name}")
        event.add("description", f"{appointment.office.name} · {appointment.service.name}")
    organizer = vCalAddress(f"mailto:{_sender_address()}")
    organizer.params["cn"] = vText(f"{appointment.office.organization.name} – {appointment.office.name}")
    event.add("organizer", organizer)
    if for_citizen and appointment.email:
        attendee = vCalAddress(f"mailto:{appointment.email}")
        attendee.params["cn"] = vText(appointment.name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", attendee)
    cancelled = appointment.status == AppointmentStatus.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if not cancelled:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", event["summary"])
        alarm.add("trigger", -ALARM_BEFORE)
        event.add_component(alarm)
    return event


def _sender_address() -> str:
    sender = settings.DEFAULT_FROM_EMAIL
    return sender.rsplit("<", 1)[-1].rstrip(">").strip() if "<" in sender else sender


def appointment_ics(appointment: Appointment) -> bytes:
    """The citizen's calendar file: an invitation, or its cancellation."""
    cancelled = appointment.status == AppointmentStatus.CANCELLED
    calendar = _calendar("CANCEL" if cancelled else "REQUEST")
    calendar.add_component(_event(appointment, for_citizen=True))
    # The time zone's rules around the appointment only, not since 1970.
    day = appointment.starts_at.date()
    calendar.add_missing_timezones(first_date=day - TIME_ZONE_SPAN, last_date=day + TIME_ZONE_SPAN)
    ical: bytes = calendar.to_ical()
    return ical


def staff_feed(appointments: Iterable[Appointment], title: str) -> bytes:
    """A subscribable calendar of a staff member's appointments."""
    calendar = _calendar("PUBLISH")
    calendar.add("x-wr-calname", title)
    for appointment in appointments:
        calendar.add_component(_event(appointment, for_citizen=False))
    today = timezone.now().date()
    calendar.add_missing_timezones(first_date=today - TIME_ZONE_SPAN, last_date=today + TIME_ZONE_SPAN)
    ical: bytes = calendar.to_ical()
    return ical

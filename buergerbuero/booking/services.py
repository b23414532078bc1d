"""Appointments: booking without double booking, cancelling, rescheduling, no-shows, and
joining the booked staff member's waiting area at the start time.

No double booking: ``book`` and ``reschedule`` lock the staff member's row (``SELECT … FOR
UPDATE`` on PostgreSQL; SQLite's ``IMMEDIATE`` write transactions are exclusive anyway), look
at the free slots again and only then write. The partial unique index on (staff member, start)
of booked appointments is the database's backstop; its violation is reported like any other
taken slot. Every change writes its notifications to the outbox in the same transaction.

Which times are free is decided in ``booking.slots``.

Abuse limits (counted in the database by ``buergerbuero.limits``, so every process sees them):

- booking attempts per client address per hour (``BOOKING_LIMIT_PER_ADDRESS_HOUR``); every
  attempt with valid details counts, also one that finds its time taken;
- bookings per e-mail address and per mobile number per (UTC) day
  (``BOOKING_LIMIT_PER_CONTACT_DAY``); an attempt that books nothing gives its count back;
- moves and cancellations per client address per hour (``BOOKING_CHANGES_PER_ADDRESS_HOUR``);
- moves per appointment (``APPOINTMENT_MAX_MOVES``): each move sends the e-mail and SMS again;
- mobile numbers only of the countries the organisation sends SMS to
  (``Organization.sms_calling_codes``), and, while the organisation's SMS budget of the day is
  spent, no booking that could be reached by SMS only.

A refusal is a ``BookingError`` with code ``limited`` (or ``too_many_moves``) and changes
nothing.

Forms prepared beforehand: the booked service's forms (``forms.services.forms_for`` of the
appointment's office and service, nothing else) can be filled in from the appointment's link
while it may still be changed (booked, not begun). A save is a draft: every value is checked
by ``forms.fields.clean_value`` (an empty required field is fine), one wrong value refuses the
whole save and changes nothing; saves are limited per appointment
(``PREPARED_FORM_SAVES_PER_HOUR``). The values are personal data of the appointment: they are
deleted when it is cancelled or marked as no-show (nobody will read them), otherwise with the
appointment (``prune_appointments``); staff see only that a form was prepared until the
consultation opens it (``prepared_values``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

import phonenumbers
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone, translation
from django.utils.timesince import timeuntil
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from phonenumbers import geocoder

from buergerbuero.booking import messages
from buergerbuero.booking.models import Appointment, AppointmentStatus, CalendarFeed, PreparedForm
from buergerbuero.booking.slots import Slot, SlotFinder, bookable_agents
from buergerbuero.forms.fields import FormField, FormValueError, clean_value, template_fields
from buergerbuero.forms.models import FormTemplate
from buergerbuero.forms.services import forms_for
from buergerbuero.lib.errors import ServiceError
from buergerbuero.lib.locking import locked
from buergerbuero.lib.text import clean_text
from buergerbuero.lib.tokens import looks_like_token
from buergerbuero.limits import services as limits
from buergerbuero.notify import services as notify
from buergerbuero.offices.models import Office, Service
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.staff.services import offices_served
from buergerbuero.waiting.models import ACTIVE_STATUSES, Ticket, TicketStatus
from buergerbuero.waiting.services import joining

SUGGESTIONS = 5
TOKEN_BYTES = 16  # 128 bits: unguessable, and short enough for an SMS
PHONE_REGION = "DE"


class BookingError(ServiceError):
    """A refusal of a booking; ``suggestions`` are free times near the one refused."""

    def __init__(self, message: str, code: str, suggestions: list[Slot] | None = None) -> None:
        super().__init__(message, code)
        self.suggestions = suggestions or []


@dataclass
class Contact:
    name: str
    email: str = ""
    phone: str = ""
    language: str = "de"
    consent: bool = False
    errors: dict[str, str] = field(default_factory=dict)


# --- input -------------------------------------------------------------------------------------
def normalise_phone(raw: str) -> str:
    """A mobile number in E.164 (Germany is the default region), or ValidationError."""
    raw = raw.strip()
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, PHONE_REGION)
    except phonenumbers.NumberParseException as error:
        raise ValidationError(_("Please enter a valid mobile number, e.g. 0151 23456789.")) from error
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("Please enter a valid mobile number, e.g. 0151 23456789."))
    kind = phonenumbers.number_type(number)
    if kind not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise ValidationError(_("Please enter a mobile number: we send the link by SMS."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def country_names(calling_codes: list[str]) -> str:
    """“Germany (+49), Austria (+43)” in the active language (English where phonenumbers has
    no name in it; only the code for non-geographic codes)."""
    language = (translation.get_language() or "de").split("-")[0]
    names = []
    for code in calling_codes:
        regions = phonenumbers.region_codes_for_country_code(int(code)) if code.isdigit() else ()
        example = (
            phonenumbers.example_number_for_type(regions[0], phonenumbers.PhoneNumberType.MOBILE)
            if regions and regions[0] != phonenumbers.UNKNOWN_REGION and regions[0] != "001"
            else None
        )
        name = geocoder.country_name_for_number(example, language) if example is not None else ""
        names.append(f"{name} (+{code})" if name else f"+{code}")
    return ", ".join(names)


def sms_refusal(phone: str, organization: Organization) -> str:
    """Why the organisation does not send an SMS to ``phone`` (E.164), or "" if it does: a
    country it does not allow (SMS pumping to expensive destinations)."""
    number = phonenumbers.parse(phone)
    if str(number.country_code) not in organization.sms_calling_codes:
        return _(
            "We can only send SMS to mobile numbers from: %(countries)s. "
            "Please give an e-mail address instead."
        ) % {"countries": country_names(organization.sms_calling_codes)}
    return ""


def check_contact(
    contact: Contact, organization: Organization | None = None, now: dt.datetime | None = None
) -> Contact:
    """The contact details cleaned, with a message per field that is wrong; with the
    ``organization``, also its SMS rules (allowed countries, and a phone-only contact is
    refused while the day's SMS budget is spent)."""
    errors: dict[str, str] = {}
    name = clean_text(contact.name, multiline=False)
    if not name:
        errors["name"] = _("Please enter your name.")
    elif len(name) > 100:
        errors["name"] = _("Please enter at most 100 characters.")
    email = contact.email.strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = _("Please enter a valid e-mail address.")
    phone = ""
    try:
        phone = normalise_phone(contact.phone)
    except ValidationError as error:
        errors["phone"] = error.messages[0]
    if not email and not contact.phone.strip() and "email" not in errors:
        errors["email"] = _(
            "Please give an e-mail address or a mobile number, so that we can send you the link."
        )
    if phone and organization is not None:
        refusal = sms_refusal(phone, organization)
        if not refusal and not email and not notify.sms_budget_left(organization, now):
            refusal = _("We cannot send any more SMS today. Please give an e-mail address instead.")
        if refusal:
            errors["phone"] = refusal
    if contact.language not in dict(settings.LANGUAGES):
        errors["language"] = _("Please choose one of the languages offered.")
    if not contact.consent:
        errors["consent"] = _("Please agree to the processing of your details for this appointment.")
    return Contact(name, email, phone, contact.language, contact.consent, errors)


# --- looking up ---------------------------------------------------------------------------------
def appointment_by_token(token: str) -> Appointment | None:
    if not looks_like_token(token):
        return None
    return (
        Appointment.objects.select_related("office__organization", "service", "agent__user")
        .filter(token=token)
        .first()
    )


def finder(
    office: Office,
    service: Service,
    agent: StaffMember | None = None,
    now: dt.datetime | None = None,
    *,
    ignore: Appointment | None = None,
) -> SlotFinder:
    agents = [agent] if agent is not None else list(bookable_agents(office, service))
    return SlotFinder(office, service, agents, now or timezone.now(), ignore=ignore)


def suggestions(
    office: Office, per_service: int = 3, most_services: int = 3
) -> list[tuple[Service, list[Slot]]]:
    """The next free times of the office's bookable services (for the “full” or “closed”
    message of the waiting room)."""
    now = timezone.now()
    found = []
    for service in office.services.filter(bookable=True)[:most_services]:
        slots = finder(office, service, now=now).next_free(per_service)
        if slots:
            found.append((service, slots))
    return found


def _check_choice(office: Office, service: Service, agent: StaffMember | None) -> None:
    if service.office_id != office.pk or not service.bookable:
        raise BookingError(_("Please choose one of this office's services."), "bad_service")
    if agent is not None and not bookable_agents(office, service).filter(pk=agent.pk).exists():
        raise BookingError(_("This staff member does not take appointments for this service."), "bad_agent")


def _lock_agent(agent_id: int) -> None:
    """Bookings of one staff member take turns."""
    list(locked(StaffMember.objects.filter(pk=agent_id)).values_list("pk"))


def _refusal(slots: SlotFinder, agent_id: int | None, start: dt.datetime, now: dt.datetime) -> BookingError:
    """Why ``start`` cannot be booked, with the next free times as suggestions."""
    suggestions = slots.next_free(SUGGESTIONS, after=max(start, now))
    if start < now:
        return BookingError(_("This time is in the past. Please choose another one."), "past", suggestions)
    if start < slots.earliest:
        return BookingError(
            _("This time is too soon to be booked. Please choose a later one."), "too_soon", suggestions
        )
    if start > slots.latest:
        return BookingError(
            _("This time cannot be booked yet. Please choose an earlier one."), "too_late", suggestions
        )
    agent_ids = [agent_id] if agent_id is not None else slots.agent_ids
    end = start + slots.length
    taken = any(slots.conflict_end(candidate, start, end) is not None for candidate in agent_ids)
    if not taken or not any(slots.is_working(candidate, start) for candidate in agent_ids):
        return BookingError(
            _("No appointments are offered at this time. Please choose one of the free times."),
            "not_offered",
            suggestions,
        )
    return BookingError(_("This slot was just taken. Please choose another time."), "taken", suggestions)


# --- abuse limits -------------------------------------------------------------------------------
def _wait(verdict: limits.Verdict, now: dt.datetime) -> str:
    """“2 Stunden” until the window ends, in the active language."""
    return timeuntil(verdict.resets_at, now, depth=1)


def _limited(message: str, verdict: limits.Verdict, now: dt.datetime) -> BookingError:
    return BookingError(message % {"wait": _wait(verdict, now)}, "limited")


def _count_booking(contact: Contact, address: str | None, now: dt.datetime) -> list[limits.Verdict]:
    """Count this booking attempt against the address and contact limits, or refuse it; the
    contact counts to give back if nothing gets booked."""
    if address is not None:
        attempt = limits.hit(
            "booking-address", address, settings.BOOKING_LIMIT_PER_ADDRESS_HOUR, limits.HOUR, now
        )
        if not attempt.allowed:
            raise _limited(
                _("Too many bookings were made from your connection. Please try again in %(wait)s."),
                attempt,
                now,
            )
    counted: list[limits.Verdict] = []
    for scope, subject, message in (
        (
            "booking-email",
            contact.email.lower(),
            _(
                "This e-mail address has as many appointments today as we allow. "
                "Please try again in %(wait)s."
            ),
        ),
        (
            "booking-phone",
            contact.phone,
            _("This mobile number has as many appointments today as we allow. Please try again in %(wait)s."),
        ),
    ):
        if not subject:
            continue
        verdict = limits.hit(scope, subject, settings.BOOKING_LIMIT_PER_CONTACT_DAY, limits.DAY, now)
        if not verdict.allowed:
            for earlier in counted:
                limits.give_back(earlier)
            raise _limited(message, verdict, now)
        counted.append(verdict)
    return counted


def _count_change(address: str | None, now: dt.datetime) -> None:
    """Count a move or cancellation from ``address``, or refuse it."""
    if address is None:
        return
    verdict = limits.hit(
        "booking-change-address", address, settings.BOOKING_CHANGES_PER_ADDRESS_HOUR, limits.HOUR, now
    )
    if not verdict.allowed:
        raise _limited(
            _("Too many appointments were changed from your connection. Please try again in %(wait)s."),
            verdict,
            now,
        )


# --- booking ------------------------------------------------------------------------------------
def book(
    office: Office,
    service: Service,
    *,
    start: dt.datetime,
    contact: Contact,
    agent: StaffMember | None = None,
    now: dt.datetime | None = None,
    address: str | None = None,
) -> Appointment:
    """Book ``start`` with ``agent`` (or with whoever of the service's staff is free then);
    ``address`` is the citizen's client address for the rate limit (None: not from the web)."""
    now = now or timezone.now()
    contact = check_contact(contact, office.organization, now)
    if contact.errors:
        raise BookingError(next(iter(contact.errors.values())), "bad_contact")
    _check_choice(office, service, agent)
    counted = _count_booking(contact, address, now)
    try:
        return _book(office, service, start.astimezone(dt.UTC), contact, agent, now)
    except BaseException:
        for verdict in counted:  # nothing was booked: the contact keeps its allowance
            limits.give_back(verdict)
        raise


def _book(
    office: Office,
    service: Service,
    start: dt.datetime,
    contact: Contact,
    agent: StaffMember | None,
    now: dt.datetime,
) -> Appointment:
    """The booking itself, under each candidate staff member's lock in turn."""
    # Who is free then, as far as we can tell without a lock; each is checked again under it.
    offered = finder(office, service, agent, now).free_at(start)
    for agent_id in offered.agent_ids if offered is not None else ():
        with transaction.atomic():
            _lock_agent(agent_id)
            slot = SlotFinder(office, service, [StaffMember(pk=agent_id)], now).free_at(start)
            if slot is None:
                continue
            try:
                with transaction.atomic():
                    appointment = Appointment.objects.create(
                        office=office,
                        service=service,
                        agent_id=agent_id,
                        starts_at=slot.start,
                        ends_at=slot.end,
                        token=secrets.token_urlsafe(TOKEN_BYTES),
                        name=contact.name,
                        email=contact.email,
                        phone=contact.phone,
                        language=contact.language,
                        consented_at=now,
                        created_at=now,
                        scheduled_at=now,
                    )
            except IntegrityError:  # the database's backstop: someone else was faster
                continue
            messages.appointment_changed(appointment, "booked", now)
            return appointment
    slots = finder(office, service, agent, now)
    raise _refusal(slots, agent.pk if agent is not None else None, start, now)


def _locked_appointment(appointment: Appointment) -> Appointment:
    queryset = Appointment.objects.select_related("office__organization", "service", "agent__user")
    return locked(queryset).get(pk=appointment.pk)


def is_changeable(appointment: Appointment, now: dt.datetime) -> bool:
    """Citizens may cancel or move an appointment that is booked and has not begun."""
    return appointment.status == AppointmentStatus.BOOKED and appointment.starts_at > now


def _require_changeable(appointment: Appointment, now: dt.datetime) -> None:
    if appointment.status == AppointmentStatus.CANCELLED:
        raise BookingError(_("This appointment has already been cancelled."), "cancelled")
    if not is_changeable(appointment, now):
        raise BookingError(_("This appointment has already begun and can no longer be changed."), "begun")


def cancel(
    appointment: Appointment, now: dt.datetime | None = None, *, address: str | None = None
) -> Appointment:
    """The citizen cancels (a second cancellation is refused and changes nothing)."""
    now = now or timezone.now()
    _count_change(address, now)
    with transaction.atomic():
        appointment = _locked_appointment(appointment)
        _require_changeable(appointment, now)
        appointment.status = AppointmentStatus.CANCELLED
        appointment.cancelled_at = now
        appointment.sequence += 1
        appointment.save(update_fields=["status", "cancelled_at", "sequence"])
        PreparedForm.objects.filter(appointment=appointment).delete()  # nobody will read them now
        messages.appointment_changed(appointment, "cancelled", now)
    return appointment


def moves_left(appointment: Appointment) -> int:
    return max(settings.APPOINTMENT_MAX_MOVES - appointment.moves, 0)


def reschedule(
    appointment: Appointment,
    start: dt.datetime,
    now: dt.datetime | None = None,
    *,
    address: str | None = None,
) -> Appointment:
    """Move the appointment to another free time of the same staff member, at most
    ``APPOINTMENT_MAX_MOVES`` times (every move sends the e-mail and SMS again)."""
    now = now or timezone.now()
    start = start.astimezone(dt.UTC)
    _count_change(address, now)
    with transaction.atomic():
        _lock_agent(appointment.agent_id)
        appointment = _locked_appointment(appointment)
        _require_changeable(appointment, now)
        if not moves_left(appointment):
            raise BookingError(
                _(
                    "This appointment has been moved as often as possible. Please cancel it and "
                    "book a new one."
                ),
                "too_many_moves",
            )
        slots = SlotFinder(
            appointment.office, appointment.service, [appointment.agent], now, ignore=appointment
        )
        slot = slots.free_at(start)
        if slot is None:
            raise _refusal(slots, appointment.agent_id, start, now)
        previous = appointment.starts_at
        appointment.starts_at, appointment.ends_at = slot.start, slot.end
        appointment.sequence += 1
        appointment.moves += 1
        appointment.scheduled_at = now
        try:
            with transaction.atomic():
                appointment.save(update_fields=["starts_at", "ends_at", "sequence", "moves", "scheduled_at"])
        except IntegrityError:
            raise _refusal(slots, appointment.agent_id, start, now) from None
        messages.appointment_changed(appointment, "rescheduled", now, previous_start=previous)
    return appointment


# --- the day itself ----------------------------------------------------------------------------
def join_opens_at(appointment: Appointment) -> dt.datetime:
    return appointment.starts_at - dt.timedelta(minutes=settings.APPOINTMENT_JOIN_EARLY_MINUTES)


def link_expires_at(appointment: Appointment) -> dt.datetime:
    return appointment.ends_at + dt.timedelta(minutes=settings.APPOINTMENT_GRACE_MINUTES)


def was_held(appointment: Appointment) -> bool:
    """The consultation of this appointment has taken place (its ticket ended as done): the
    link no longer leads into the waiting area, so the citizen is not queued a second time."""
    ticket = appointment.ticket
    return ticket is not None and ticket.status == TicketStatus.DONE


def can_join(appointment: Appointment, now: dt.datetime | None = None) -> bool:
    """From ``join_opens_at`` until the link expires, while booked, or attended and not yet
    held (a reload or a lost connection leads back to the same place)."""
    now = now or timezone.now()
    return (
        appointment.status in (AppointmentStatus.BOOKED, AppointmentStatus.ATTENDED)
        and not was_held(appointment)
        and join_opens_at(appointment) <= now <= link_expires_at(appointment)
    )


def join(appointment: Appointment, now: dt.datetime | None = None) -> Ticket:
    """The citizen arrives: a place in the booked staff member's waiting area (the same one
    again after a reload)."""
    now = now or timezone.now()
    with transaction.atomic():
        appointment = _locked_appointment(appointment)
        if appointment.status == AppointmentStatus.CANCELLED:
            raise BookingError(_("This appointment has been cancelled."), "cancelled")
        if now > link_expires_at(appointment) or appointment.status == AppointmentStatus.NO_SHOW:
            raise BookingError(_("This appointment is over. Please book a new one."), "expired")
        if was_held(appointment):
            raise BookingError(
                _("Your appointment has taken place. Please book a new one if needed."), "held"
            )
        if now < join_opens_at(appointment):
            raise BookingError(
                ngettext(
                    "You can enter from %(minutes)d minute before your appointment.",
                    "You can enter from %(minutes)d minutes before your appointment.",
                    settings.APPOINTMENT_JOIN_EARLY_MINUTES,
                )
                % {"minutes": settings.APPOINTMENT_JOIN_EARLY_MINUTES},
                "too_early",
            )
        current = appointment.ticket
        if current is not None and current.status in ACTIVE_STATUSES:
            return current
        ticket = joining.join_booked(
            appointment.office,
            agent=appointment.agent,
            service=appointment.service,
            display_name=appointment.name,
            language=appointment.language,
            now=now,
        )
        appointment.ticket = ticket
        appointment.status = AppointmentStatus.ATTENDED
        appointment.save(update_fields=["ticket", "status"])
    return ticket


def mark_no_show(member: StaffMember, appointment: Appointment, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    with transaction.atomic():
        appointment = _locked_appointment(appointment)
        if not can_see(member, appointment):
            raise PermissionDenied
        if appointment.status != AppointmentStatus.BOOKED or appointment.starts_at > now:
            raise BookingError(
                _("Only a booked appointment that has begun can be marked as no-show."), "not_due"
            )
        appointment.status = AppointmentStatus.NO_SHOW
        appointment.save(update_fields=["status"])
        PreparedForm.objects.filter(appointment=appointment).delete()  # nobody will read them now


# --- staff --------------------------------------------------------------------------------------
def can_see(member: StaffMember, appointment: Appointment) -> bool:
    """Agents see their own appointments; office leads and org admins those of their offices."""
    if appointment.agent_id == member.pk:
        return True
    return member.role != Role.AGENT and offices_served(member).filter(pk=appointment.office_id).exists()


def calendar_of(
    member: StaffMember, first_day: dt.datetime, last_day: dt.datetime, agent: StaffMember | None = None
) -> list[Appointment]:
    """Appointments between two instants that ``member`` may see (optionally one agent's)."""
    appointments = (
        Appointment.objects.filter(starts_at__gte=first_day, starts_at__lt=last_day)
        .exclude(status=AppointmentStatus.CANCELLED)
        .annotate(has_prepared_form=Exists(PreparedForm.objects.filter(appointment=OuterRef("pk"))))
    )
    if member.role == Role.AGENT:
        appointments = appointments.filter(agent=member)
    else:
        appointments = appointments.filter(office__in=offices_served(member))
        if agent is not None:
            appointments = appointments.filter(agent=agent)
    return list(appointments.select_related("service", "agent__user", "office").order_by("starts_at"))


def colleagues_of(member: StaffMember) -> QuerySet[StaffMember]:
    """Whose calendars ``member`` may pick: the staff of the offices they serve (agents: none)."""
    if member.role == Role.AGENT:
        return StaffMember.objects.none()
    return (
        StaffMember.objects.filter(offices__in=offices_served(member))
        .distinct()
        .select_related("user")
        .order_by("display_name")
    )


FEED_PAST = dt.timedelta(days=30)  # how far back a calendar program sees appointments


def feed_appointments(member: StaffMember, now: dt.datetime) -> QuerySet[Appointment]:
    """The private feed's appointments: the member's own, not cancelled, from a month ago on."""
    return (
        Appointment.objects.filter(agent=member, starts_at__gte=now - FEED_PAST)
        .exclude(status=AppointmentStatus.CANCELLED)
        .select_related("office__organization", "service")
    )


def calendar_feed(
    member: StaffMember, *, renew: bool = False, now: dt.datetime | None = None
) -> CalendarFeed:
    """The staff member's private calendar address; renewing it makes the old one stop working."""
    now = now or timezone.now()
    feed, created = CalendarFeed.objects.get_or_create(
        member=member, defaults={"token": secrets.token_urlsafe(32), "created_at": now}
    )
    if renew and not created:
        feed.token = secrets.token_urlsafe(32)
        feed.created_at = now
        feed.save(update_fields=["token", "created_at"])
    return feed


def feed_owner(token: str) -> StaffMember | None:
    if not looks_like_token(token):
        return None
    feed = CalendarFeed.objects.select_related("member__organization").filter(token=token).first()
    return feed.member if feed is not None else None


# --- forms prepared beforehand ---------------------------------------------------------------------
# Saves of one appointment's forms per hour: enough to save after every few fields, and a
# script cannot make the database write without end.
PREPARED_FORM_SAVES_PER_HOUR = 60

Values = dict[str, str | bool]


class PreparedFormError(BookingError):
    """A save with wrong values: ``errors`` holds a translated message per field name."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(_("Please correct the marked fields. Nothing has been saved."), "invalid")
        self.errors = errors


@dataclass
class Preparation:
    """One form of the booked service as the citizen prepares it."""

    template: FormTemplate
    fields: list[FormField]
    values: Values  # the saved values the fields still take
    saved_at: dt.datetime | None


def _still_valid(fields: list[FormField], stored: dict[str, object]) -> Values:
    """The stored values that the fields (perhaps changed by the office since) still take."""
    values: Values = {}
    for form_field in fields:
        if form_field.name in stored:
            try:
                values[form_field.name] = clean_value(form_field, stored[form_field.name])
            except FormValueError:
                continue
    return values


def forms_to_prepare(appointment: Appointment) -> list[tuple[FormTemplate, dt.datetime | None]]:
    """The booked service's forms, each with when the citizen last saved it (None: not yet);
    one query."""
    saved = PreparedForm.objects.filter(appointment=appointment, template=OuterRef("pk")).values("updated_at")
    templates = forms_for(appointment.office, appointment.service).annotate(saved_at=Subquery(saved[:1]))
    return [(template, template.saved_at) for template in templates]


def preparation(appointment: Appointment, template_id: int) -> Preparation | None:
    """The booked service's form ``template_id`` with what the citizen saved; None for a form
    of another office or service (or none at all)."""
    template = forms_for(appointment.office, appointment.service).filter(pk=template_id).first()
    if template is None:
        return None
    prepared = PreparedForm.objects.filter(appointment=appointment, template=template).first()
    fields = template_fields(template)
    if prepared is None:
        return Preparation(template, fields, {}, None)
    return Preparation(template, fields, _still_valid(fields, prepared.values), prepared.updated_at)


def save_preparation(
    appointment: Appointment, prepared: Preparation, raw: dict[str, object], now: dt.datetime | None = None
) -> Values:
    """Save the citizen's values of one form (a draft: fields left out are empty). Refused
    when the appointment can no longer be changed, beyond the limit, or with a wrong value."""
    now = now or timezone.now()
    _require_changeable(appointment, now)
    verdict = limits.hit("prepared-form", str(appointment.pk), PREPARED_FORM_SAVES_PER_HOUR, limits.HOUR, now)
    if not verdict.allowed:
        raise _limited(_("This form has been saved very often. Please try again in %(wait)s."), verdict, now)
    values: Values = {}
    errors: dict[str, str] = {}
    for form_field in prepared.fields:
        try:
            values[form_field.name] = clean_value(form_field, raw.get(form_field.name, form_field.empty()))
        except FormValueError as error:
            errors[form_field.name] = error.message
    if errors:
        raise PreparedFormError(errors)
    with transaction.atomic():
        # Under the appointment's lock: a cancellation or a start in between is seen.
        _require_changeable(_locked_appointment(appointment), now)
        PreparedForm.objects.update_or_create(
            appointment=appointment,
            template=prepared.template,
            defaults={"values": values, "updated_at": now},
        )
    prepared.values, prepared.saved_at = values, now
    return values


def prepared_values(ticket: Ticket) -> dict[int, Values]:
    """The forms the citizen prepared for the appointment checked in with ``ticket``: template
    id → the values its current fields still take (one query; empty for a walk-in)."""
    prepared = PreparedForm.objects.filter(appointment__ticket=ticket).select_related("template")
    return {item.template_id: _still_valid(template_fields(item.template), item.values) for item in prepared}


# --- jobs ---------------------------------------------------------------------------------------
def prune_appointments(now: dt.datetime | None = None) -> int:
    """Personal data of appointments past the retention period is deleted (with its messages)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.APPOINTMENT_RETENTION_DAYS)
    with transaction.atomic():
        old = list(Appointment.objects.filter(ends_at__lt=cutoff).values_list("pk", flat=True))
        forgotten = messages.forget(old)
        deleted, _detail = Appointment.objects.filter(pk__in=old).delete()
    return deleted + forgotten

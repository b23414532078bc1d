"""The appointment rules of ``booking.services``: booking, cancelling, rescheduling, joining at
the start time, no-shows, retention and the staff calendar address.

The clock is pinned to Tuesday, 1 December 2026, 08:00 in Berlin (``clock``) and every call
also gets ``now=`` explicitly. The fixture office is open Monday to Friday 08:00–16:00; the
service's slots start every 25 minutes from 08:00 (20 minutes plus 5 minutes buffer). Refusals
are checked by their ``code``; the messages are translated elsewhere.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.utils import translation

from buergerbuero.booking import messages as appointment_messages
from buergerbuero.booking import services
from buergerbuero.booking.messages import topic
from buergerbuero.booking.models import Appointment, AppointmentStatus, CalendarFeed
from buergerbuero.booking.services import BookingError, Contact
from buergerbuero.notify.models import Channel, DeliveryStatus, Notification
from buergerbuero.offices.models import Office, Service
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting.models import PresenceState, Ticket, TicketStatus
from buergerbuero.waiting.services import calling, joining, staffing
from buergerbuero.waiting.services.errors import QueueError
from tests import factories
from tests.booking.conftest import NOW, at, make_agent, make_appointment

# Every test has the `agent` persona as a bookable agent of the office.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock", "agent_member")]

WEDNESDAY_10_05 = at(2026, 12, 2, 10, 5)  # on the 25-minute grid from 08:00
# URL-safe base64 of at least 128 random bits (16 bytes make 22 characters).
TOKEN = re.compile(r"[A-Za-z0-9_-]{22,}")


def book(
    office: Office,
    service: Service,
    contact: Contact,
    start: dt.datetime = WEDNESDAY_10_05,
    agent: StaffMember | None = None,
    now: dt.datetime = NOW,
) -> Appointment:
    return services.book(office, service, start=start, contact=contact, agent=agent, now=now)


def refusal(call: Any, *args: Any, **kwargs: Any) -> BookingError:
    with pytest.raises(BookingError) as caught:
        call(*args, **kwargs)
    return caught.value


def kinds(appointment: Appointment) -> list[tuple[str, str]]:
    return sorted(Notification.objects.filter(topic=topic(appointment.pk)).values_list("kind", "channel"))


# --- booking --------------------------------------------------------------------------------------
def test_booking_a_free_slot_writes_the_appointment_and_its_notifications(
    office: Office, service: Service, agent_member: StaffMember, contact: Contact
) -> None:
    appointment = book(office, service, contact)

    appointment.refresh_from_db()
    assert TOKEN.fullmatch(appointment.token)
    assert appointment.status == AppointmentStatus.BOOKED
    assert appointment.agent == agent_member
    assert (appointment.starts_at, appointment.ends_at) == (WEDNESDAY_10_05, at(2026, 12, 2, 10, 25))
    assert (appointment.name, appointment.email) == ("Erika Mustermann", "erika@example.org")
    assert appointment.sequence == 0
    assert appointment.consented_at == NOW
    rows = {row.channel: row for row in Notification.objects.filter(topic=topic(appointment.pk))}
    assert set(rows) == {Channel.EMAIL, Channel.SMS}
    assert Notification.objects.count() == 2
    assert rows[Channel.EMAIL].recipient == "erika@example.org"
    assert rows[Channel.SMS].recipient == "+4915123456789"
    assert all(row.kind == "booked" and row.status == DeliveryStatus.PENDING for row in rows.values())
    assert all(row.next_attempt_at == NOW for row in rows.values())
    assert "BEGIN:VCALENDAR" in rows[Channel.EMAIL].attachment
    assert appointment.token in rows[Channel.SMS].body_text


def test_two_bookings_have_different_tokens(office: Office, service: Service, contact: Contact) -> None:
    first = book(office, service, contact)
    second = book(office, service, contact, start=at(2026, 12, 2, 10, 30))

    assert first.token != second.token


@pytest.mark.parametrize(
    ("email", "phone", "channels"),
    [("erika@example.org", "", [Channel.EMAIL]), ("", "0170 1234567", [Channel.SMS])],
)
def test_a_booking_notifies_only_the_ways_given(
    office: Office, service: Service, email: str, phone: str, channels: list[str]
) -> None:
    appointment = book(office, service, Contact("Erika", email=email, phone=phone, consent=True))

    assert [channel for _kind, channel in kinds(appointment)] == channels


def test_notifications_are_written_in_the_booking_transaction(
    office: Office, service: Service, contact: Contact, monkeypatch: pytest.MonkeyPatch
) -> None:
    def outbox_fails(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(appointment_messages, "appointment_changed", outbox_fails)

    with pytest.raises(RuntimeError):
        book(office, service, contact)

    assert not Appointment.objects.exists()
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    ("name", "email", "phone", "consent", "field"),
    [
        ("Erika", "erika@", "", True, "email"),
        ("Erika", "erika example.org", "", True, "email"),
        ("Erika", "", "12", True, "phone"),
        ("Erika", "", "030 12345678", True, "phone"),  # a landline gets no SMS
        ("Erika", "erika@example.org", "0800 1234567", True, "phone"),
        ("Erika", "", "", True, "email"),  # neither way to reach her
        ("Erika", "erika@example.org", "", False, "consent"),
        ("   ", "erika@example.org", "", True, "name"),
        ("E" * 101, "erika@example.org", "", True, "name"),
    ],
)
def test_bad_contact_details_are_refused_and_nothing_is_written(
    office: Office, service: Service, name: str, email: str, phone: str, consent: bool, field: str
) -> None:
    contact = Contact(name, email=email, phone=phone, consent=consent)

    error = refusal(book, office, service, contact)

    assert error.code == "bad_contact"
    assert error.message
    assert field in services.check_contact(contact).errors
    assert not Appointment.objects.exists()
    assert not Notification.objects.exists()


def test_an_unknown_language_is_refused(office: Office, service: Service) -> None:
    contact = Contact("Erika", email="erika@example.org", language="xx", consent=True)

    assert refusal(book, office, service, contact).code == "bad_contact"
    assert set(services.check_contact(contact).errors) == {"language"}
    assert not Appointment.objects.exists()


def test_the_contact_message_is_in_the_active_language(office: Office, service: Service) -> None:
    contact = Contact("Erika", email="", phone="", consent=True)
    with translation.override("de"):
        german = services.check_contact(contact).errors["email"]
        error = refusal(book, office, service, contact)

    assert error.message == german
    with translation.override("en"):
        assert services.check_contact(contact).errors["email"] == (
            "Please give an e-mail address or a mobile number, so that we can send you the link."
        )


@pytest.mark.parametrize(
    "raw",
    ["0151 23456789", "0151/23456789", "+49 151 23456789", "0049 151 23456789", "+49 (0)151 2345 6789"],
)
def test_mobile_numbers_are_stored_in_e164(office: Office, service: Service, raw: str) -> None:
    assert services.normalise_phone(raw) == "+4915123456789"

    appointment = book(office, service, Contact("Erika", phone=raw, consent=True))

    appointment.refresh_from_db()
    assert appointment.phone == "+4915123456789"
    assert Notification.objects.get(topic=topic(appointment.pk)).recipient == "+4915123456789"


def test_names_and_addresses_are_stripped(office: Office, service: Service) -> None:
    appointment = book(office, service, Contact("  Erika  ", email=" erika@example.org ", consent=True))

    appointment.refresh_from_db()
    assert (appointment.name, appointment.email) == ("Erika", "erika@example.org")


# --- times that cannot be booked ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "code"),
    [
        (at(2026, 11, 30, 10, 0), "past"),  # yesterday
        (at(2026, 12, 1, 7, 35), "past"),  # earlier today
        (at(2026, 12, 1, 8, 50), "too_soon"),  # within the 60 minutes lead time
        (at(2027, 2, 2, 10, 0), "too_late"),  # beyond the 60 days horizon
        (at(2026, 12, 2, 17, 0), "not_offered"),  # after the office closes
        (at(2026, 12, 5, 10, 0), "not_offered"),  # Saturday
        (at(2026, 12, 25, 10, 0), "not_offered"),  # Christmas Day
        (at(2026, 12, 2, 10, 1), "not_offered"),  # a free minute, but not a slot's start
    ],
)
def test_times_outside_the_rules_are_refused_with_their_reason(
    office: Office,
    service: Service,
    agent_member: StaffMember,
    contact: Contact,
    start: dt.datetime,
    code: str,
) -> None:
    error = refusal(book, office, service, contact, start=start)

    assert error.code == code
    if code != "too_late":  # (nothing is free after a time beyond the horizon)
        assert error.suggestions  # the next free times are offered instead
    assert all(slot.start >= NOW + dt.timedelta(minutes=60) for slot in error.suggestions)
    assert not Appointment.objects.exists()
    assert not Notification.objects.exists()


def test_outside_an_agents_working_times_is_not_offered(
    office: Office, service: Service, shift_agent: StaffMember, contact: Contact
) -> None:
    # The office is open at 08:00, but the agent starts at 10:00.
    error = refusal(book, office, service, contact, start=at(2026, 12, 2, 8, 0), agent=shift_agent)

    assert error.code == "not_offered"
    assert error.suggestions[0].start == at(2026, 12, 2, 10, 0)


def test_a_taken_slot_is_refused_with_the_next_free_times(
    office: Office, service: Service, agent_member: StaffMember, contact: Contact
) -> None:
    first = book(office, service, contact)
    other = Contact("Otto Normal", email="otto@example.org", consent=True)

    error = refusal(book, office, service, other)

    assert error.code == "taken"
    assert [slot.start for slot in error.suggestions] == [
        at(2026, 12, 2, 10, 30),
        at(2026, 12, 2, 10, 55),
        at(2026, 12, 2, 11, 20),
        at(2026, 12, 2, 11, 45),
        at(2026, 12, 2, 12, 10),
    ]
    assert list(Appointment.objects.all()) == [first]
    assert Notification.objects.exclude(topic=topic(first.pk)).count() == 0


def test_two_citizens_never_get_the_same_agent_at_the_same_time(
    org: Organization, office: Office, service: Service, agent_member: StaffMember, contact: Contact
) -> None:
    colleague = make_agent(org, "kollegin", [office])
    first = book(office, service, contact)
    second = book(office, service, Contact("Otto", email="otto@example.org", consent=True))

    assert {first.agent_id, second.agent_id} == {agent_member.pk, colleague.pk}
    assert (
        refusal(book, office, service, Contact("Anna", email="a@example.org", consent=True)).code == "taken"
    )


def test_an_overlapping_time_of_the_same_agent_is_taken(
    office: Office, service: Service, agent_member: StaffMember, contact: Contact
) -> None:
    longer = factories.make_service(office, "Bauantrag", slot_minutes=45, buffer_minutes=5)
    # 09:40–10:25 (its own grid has 50-minute steps from 08:00): busy until 10:30 with the buffer.
    book(office, longer, contact, start=at(2026, 12, 2, 9, 40))

    error = refusal(book, office, service, contact, start=WEDNESDAY_10_05)

    assert error.code == "taken"
    assert error.suggestions[0].start == at(2026, 12, 2, 10, 30)


def test_a_service_of_another_office_is_refused(
    org: Organization, office: Office, service: Service, agent_member: StaffMember, contact: Contact
) -> None:
    elsewhere = factories.make_office(org, "standesamt", hours=[(day, "08:00", "16:00") for day in range(5)])
    foreign_service = factories.make_service(elsewhere, "Eheschließung")

    assert refusal(book, office, foreign_service, contact).code == "bad_service"
    assert not Appointment.objects.exists()


def test_a_service_not_bookable_online_is_refused(
    office: Office, agent_member: StaffMember, contact: Contact
) -> None:
    counter_only = factories.make_service(office, "Nur vor Ort", bookable=False)

    assert refusal(book, office, counter_only, contact).code == "bad_service"
    assert not Appointment.objects.exists()


def test_an_agent_of_another_office_is_refused(
    org: Organization, office: Office, service: Service, agent_member: StaffMember, contact: Contact
) -> None:
    elsewhere = factories.make_office(org, "standesamt", hours=[(day, "08:00", "16:00") for day in range(5)])
    stranger = make_agent(org, "standesbeamtin", [elsewhere])

    assert refusal(book, office, service, contact, agent=stranger).code == "bad_agent"
    assert not Appointment.objects.exists()


def test_an_agent_of_another_organisation_is_refused(
    other_org: Organization, office: Office, service: Service, agent_member: StaffMember, contact: Contact
) -> None:
    stranger = make_agent(other_org, "fremd", [])

    assert refusal(book, office, service, contact, agent=stranger).code == "bad_agent"
    assert not Appointment.objects.exists()


def test_an_agent_who_does_not_handle_the_service_is_refused(
    org: Organization, office: Office, service: Service, agent_member: StaffMember, contact: Contact
) -> None:
    specialist = make_agent(org, "spezialistin", [office])
    specialist.services.set([factories.make_service(office, "Führerschein")])

    assert refusal(book, office, service, contact, agent=specialist).code == "bad_agent"
    # … and “anyone” does not pick them either.
    assert book(office, service, contact).agent == agent_member


def test_booking_with_a_chosen_agent_takes_that_agent(
    org: Organization, office: Office, service: Service, agent_member: StaffMember, contact: Contact
) -> None:
    colleague = make_agent(org, "kollegin", [office])

    assert book(office, service, contact, agent=colleague).agent == colleague


# --- cancelling -----------------------------------------------------------------------------------
def test_cancelling_marks_the_appointment_and_notifies(
    office: Office, service: Service, contact: Contact
) -> None:
    appointment = book(office, service, contact)
    later = at(2026, 12, 1, 9, 0)

    services.cancel(appointment, now=later)

    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.sequence == 1
    assert appointment.cancelled_at == later
    cancelled = Notification.objects.filter(topic=topic(appointment.pk), kind="cancelled")
    assert sorted(cancelled.values_list("channel", flat=True)) == [Channel.EMAIL, Channel.SMS]
    assert "METHOD:CANCEL" in cancelled.get(channel=Channel.EMAIL).attachment


def test_cancelling_frees_the_slot(office: Office, service: Service, contact: Contact) -> None:
    appointment = book(office, service, contact)
    services.cancel(appointment, now=NOW)

    again = book(office, service, Contact("Otto", email="otto@example.org", consent=True))

    assert again.starts_at == appointment.starts_at


def test_cancelling_drops_unsent_messages_but_keeps_sent_ones(
    office: Office, service: Service, contact: Contact
) -> None:
    appointment = book(office, service, contact)
    assert appointment_messages.enqueue_reminders(now=at(2026, 12, 1, 12, 0)) == 2  # 24 hours before
    sent = Notification.objects.get(topic=topic(appointment.pk), kind="reminder-1440", channel=Channel.EMAIL)
    Notification.objects.filter(pk=sent.pk).update(status=DeliveryStatus.SENT)

    services.cancel(appointment, now=at(2026, 12, 1, 13, 0))

    # The pending SMS reminder and the unsent booking messages are gone: the cancellation is
    # the last word.
    assert kinds(appointment) == [
        ("cancelled", Channel.EMAIL),
        ("cancelled", Channel.SMS),
        ("reminder-1440", Channel.EMAIL),
    ]
    assert Notification.objects.get(kind="reminder-1440").pk == sent.pk


def test_a_second_cancellation_is_refused_and_changes_nothing(
    office: Office, service: Service, contact: Contact
) -> None:
    appointment = book(office, service, contact)
    services.cancel(appointment, now=at(2026, 12, 1, 9, 0))
    before = Appointment.objects.values().get(pk=appointment.pk)
    notifications = Notification.objects.count()

    error = refusal(services.cancel, appointment, now=at(2026, 12, 1, 9, 30))

    assert error.code == "cancelled"
    assert Appointment.objects.values().get(pk=appointment.pk) == before
    assert Notification.objects.count() == notifications


def test_an_appointment_that_has_begun_cannot_be_cancelled(
    office: Office, service: Service, contact: Contact
) -> None:
    appointment = book(office, service, contact)

    error = refusal(services.cancel, appointment, now=WEDNESDAY_10_05 + dt.timedelta(minutes=1))

    assert error.code == "begun"
    appointment.refresh_from_db()
    assert (appointment.status, appointment.sequence) == (AppointmentStatus.BOOKED, 0)
    assert not Notification.objects.filter(kind="cancelled").exists()


# --- rescheduling ---------------------------------------------------------------------------------
def test_rescheduling_moves_the_appointment_with_the_same_agent(
    org: Organization, office: Office, service: Service, agent_member: StaffMember, contact: Contact
) -> None:
    make_agent(org, "kollegin", [office])  # someone else is free too: the agent stays the same
    appointment = book(office, service, contact, agent=agent_member)
    target = at(2026, 12, 3, 10, 55)

    services.reschedule(appointment, target, now=at(2026, 12, 1, 9, 0))

    appointment.refresh_from_db()
    assert appointment.agent == agent_member
    assert (appointment.starts_at, appointment.ends_at) == (target, at(2026, 12, 3, 11, 15))
    assert appointment.sequence == 1
    assert appointment.status == AppointmentStatus.BOOKED
    rescheduled = Notification.objects.filter(topic=topic(appointment.pk), kind="rescheduled")
    assert sorted(rescheduled.values_list("channel", flat=True)) == [Channel.EMAIL, Channel.SMS]
    slots = services.finder(office, service, agent_member, NOW)
    assert slots.free_at(WEDNESDAY_10_05) is not None  # the old time is free again
    assert slots.free_at(target) is None  # the new one is taken


def test_rescheduling_may_overlap_the_appointments_own_old_time(
    office: Office, service: Service, agent_member: StaffMember, contact: Contact
) -> None:
    appointment = book(office, service, contact)

    services.reschedule(appointment, at(2026, 12, 2, 10, 30), now=NOW)

    appointment.refresh_from_db()
    assert appointment.starts_at == at(2026, 12, 2, 10, 30)


def test_rescheduling_to_a_taken_time_is_refused_and_changes_nothing(
    org: Organization, office: Office, service: Service, agent_member: StaffMember, contact: Contact
) -> None:
    colleague = make_agent(org, "kollegin", [office])  # free at the target, but not the booked agent
    appointment = book(office, service, contact, agent=agent_member)
    make_appointment(service, agent_member, at(2026, 12, 3, 10, 55))
    before = Appointment.objects.values().get(pk=appointment.pk)

    error = refusal(services.reschedule, appointment, at(2026, 12, 3, 10, 55), now=NOW)

    assert error.code == "taken"
    assert Appointment.objects.values().get(pk=appointment.pk) == before
    assert not Notification.objects.filter(kind="rescheduled").exists()
    assert services.finder(office, service, colleague, NOW).free_at(at(2026, 12, 3, 10, 55)) is not None


def test_a_cancelled_appointment_cannot_be_rescheduled(
    office: Office, service: Service, contact: Contact
) -> None:
    appointment = book(office, service, contact)
    services.cancel(appointment, now=NOW)

    assert refusal(services.reschedule, appointment, at(2026, 12, 3, 10, 55), now=NOW).code == "cancelled"
    appointment.refresh_from_db()
    assert appointment.starts_at == WEDNESDAY_10_05


def test_rescheduling_drops_the_reminders_of_the_old_time(
    office: Office, service: Service, contact: Contact
) -> None:
    appointment = book(office, service, contact)
    appointment_messages.enqueue_reminders(now=at(2026, 12, 1, 12, 0))
    assert Notification.objects.filter(kind="reminder-1440").count() == 2

    services.reschedule(appointment, at(2026, 12, 7, 10, 5), now=at(2026, 12, 1, 13, 0))

    assert not Notification.objects.filter(kind="reminder-1440").exists()


# --- joining at the start time --------------------------------------------------------------------
def test_joining_more_than_ten_minutes_early_is_refused(
    office: Office, service: Service, contact: Contact
) -> None:
    appointment = book(office, service, contact)

    error = refusal(services.join, appointment, now=at(2026, 12, 2, 9, 54))

    assert error.code == "too_early"
    assert not Ticket.objects.exists()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_joining_from_ten_minutes_before_puts_the_citizen_in_the_agents_waiting_area(
    office: Office, service: Service, agent_member: StaffMember, contact: Contact
) -> None:
    appointment = book(office, service, contact)

    ticket = services.join(appointment, now=at(2026, 12, 2, 9, 55))

    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.WAITING
    assert ticket.reserved_for == agent_member
    assert ticket.priority == joining.BOOKED_PRIORITY > 0
    assert ticket.office == office
    assert ticket.service == service
    assert ticket.display_name == "Erika Mustermann"
    appointment.refresh_from_db()
    assert appointment.ticket == ticket
    assert appointment.status == AppointmentStatus.ATTENDED


def test_joining_again_returns_the_same_ticket(office: Office, service: Service, contact: Contact) -> None:
    appointment = book(office, service, contact)
    first = services.join(appointment, now=at(2026, 12, 2, 9, 55))

    second = services.join(appointment, now=at(2026, 12, 2, 10, 2))

    assert second.pk == first.pk
    assert Ticket.objects.count() == 1


def test_joining_after_the_grace_period_is_refused(
    office: Office, service: Service, contact: Contact
) -> None:
    appointment = book(office, service, contact)  # ends 10:25, grace 30 minutes

    assert services.join(appointment, now=at(2026, 12, 2, 10, 55)) is not None  # the last minute
    late = book(office, service, contact, start=at(2026, 12, 3, 10, 5))
    error = refusal(services.join, late, now=at(2026, 12, 3, 10, 56))

    assert error.code == "expired"
    late.refresh_from_db()
    assert late.ticket is None
    assert late.status == AppointmentStatus.BOOKED


def test_a_cancelled_appointment_cannot_be_joined(office: Office, service: Service, contact: Contact) -> None:
    appointment = book(office, service, contact)
    services.cancel(appointment, now=NOW)

    assert refusal(services.join, appointment, now=at(2026, 12, 2, 10, 0)).code == "cancelled"
    assert not Ticket.objects.exists()


def test_a_no_show_cannot_join_any_more(
    office: Office, service: Service, contact: Contact, agent_member: StaffMember
) -> None:
    appointment = book(office, service, contact)
    services.mark_no_show(agent_member, appointment, now=at(2026, 12, 2, 10, 10))

    assert refusal(services.join, appointment, now=at(2026, 12, 2, 10, 12)).code == "expired"
    assert not Ticket.objects.exists()


# --- the booked citizen in the waiting area ----------------------------------------------------------
@pytest.fixture
def colleague(org: Organization, office: Office) -> StaffMember:
    return make_agent(org, "kollegin", [office], display_name="Frau Kollegin")


@pytest.fixture
def arrived(office: Office, service: Service, agent_member: StaffMember, contact: Contact) -> Ticket:
    """A walk-in waits (nobody is available), then the booked citizen arrives at 10:00."""
    appointment = book(office, service, contact, agent=agent_member)
    return services.join(appointment, now=at(2026, 12, 2, 10, 0))


def walk_in(office: Office, now: dt.datetime) -> Ticket:
    return joining.join(
        office, service=None, display_name="Laufkundschaft", language="de", mode="video", now=now
    )


def test_the_booked_citizen_is_callable_only_by_the_booked_agent_and_before_walk_ins(
    office: Office, agent_member: StaffMember, colleague: StaffMember, arrived: Ticket
) -> None:
    earlier = walk_in(office, at(2026, 12, 2, 9, 0))  # arrived an hour before the booked citizen

    assert list(calling.callable_tickets(agent_member)) == [arrived, earlier]
    assert list(calling.callable_tickets(colleague)) == [earlier]


def test_a_walk_in_is_not_given_the_agent_who_expects_a_booked_citizen(
    office: Office, agent_member: StaffMember, arrived: Ticket
) -> None:
    staffing.set_presence(agent_member, PresenceState.AVAILABLE, now=at(2026, 12, 2, 10, 1))

    ticket = walk_in(office, at(2026, 12, 2, 10, 2))

    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.WAITING
    assert ticket.called_by is None


def test_another_available_agent_calls_the_walk_in_not_the_booked_citizen(
    office: Office, agent_member: StaffMember, colleague: StaffMember, arrived: Ticket
) -> None:
    Office.objects.filter(pk=office.pk).update(seats=2)
    staffing.set_presence(agent_member, PresenceState.AVAILABLE, now=at(2026, 12, 2, 10, 1))
    staffing.set_presence(colleague, PresenceState.PAUSE, now=at(2026, 12, 2, 10, 1))
    ticket = walk_in(office, at(2026, 12, 2, 10, 2))  # queues: the colleague pauses
    staffing.set_presence(colleague, PresenceState.AVAILABLE, now=at(2026, 12, 2, 10, 3))

    called = calling.call_next(colleague, now=at(2026, 12, 2, 10, 3))

    assert called is not None
    assert called.pk == ticket.pk
    assert called.called_by == colleague
    arrived.refresh_from_db()
    assert (arrived.status, arrived.called_by) == (TicketStatus.WAITING, None)


def test_a_walk_in_goes_straight_to_another_free_agent_while_a_booked_citizen_waits_for_theirs(
    office: Office, agent_member: StaffMember, colleague: StaffMember, arrived: Ticket
) -> None:
    Office.objects.filter(pk=office.pk).update(seats=2)
    staffing.set_presence(agent_member, PresenceState.AVAILABLE, now=at(2026, 12, 2, 10, 1))
    staffing.set_presence(colleague, PresenceState.AVAILABLE, now=at(2026, 12, 2, 10, 1))

    ticket = walk_in(office, at(2026, 12, 2, 10, 2))

    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.ADMITTED
    assert ticket.called_by == colleague
    arrived.refresh_from_db()
    assert arrived.status == TicketStatus.WAITING


def test_the_booked_agent_calls_the_booked_citizen_in_a_queue_office(
    office: Office, agent_member: StaffMember, colleague: StaffMember, arrived: Ticket
) -> None:
    assert office.admission_mode == "queue"
    walk_in(office, at(2026, 12, 2, 9, 0))

    with pytest.raises(QueueError) as refused:
        calling.call_ticket(colleague, arrived.pk, now=at(2026, 12, 2, 10, 1))
    assert refused.value.code == "gone"
    called = calling.call_ticket(agent_member, arrived.pk, now=at(2026, 12, 2, 10, 1))

    assert called.pk == arrived.pk
    assert called.status == TicketStatus.CALLED
    assert called.called_by == agent_member


def test_call_next_of_the_booked_agent_takes_the_booked_citizen_first(
    office: Office, agent_member: StaffMember, arrived: Ticket
) -> None:
    walk_in(office, at(2026, 12, 2, 9, 0))

    called = calling.call_next(agent_member, now=at(2026, 12, 2, 10, 1))

    assert called is not None
    assert called.pk == arrived.pk


# --- no-shows -------------------------------------------------------------------------------------
@pytest.fixture
def due(office: Office, service: Service, agent_member: StaffMember, contact: Contact) -> Appointment:
    return book(office, service, contact, agent=agent_member)


AFTER_START = WEDNESDAY_10_05 + dt.timedelta(minutes=5)


def test_the_agent_marks_their_own_appointment_as_no_show(
    agent_member: StaffMember, due: Appointment
) -> None:
    services.mark_no_show(agent_member, due, now=AFTER_START)

    due.refresh_from_db()
    assert due.status == AppointmentStatus.NO_SHOW


@pytest.mark.parametrize("persona", ["office_lead", "org_admin"])
def test_office_leads_and_org_admins_mark_no_shows_of_their_offices(
    request: pytest.FixtureRequest, due: Appointment, persona: str
) -> None:
    lead: User = request.getfixturevalue(persona)

    services.mark_no_show(lead.staff_member, due, now=AFTER_START)

    due.refresh_from_db()
    assert due.status == AppointmentStatus.NO_SHOW


def test_another_agent_may_not_mark_a_no_show(colleague: StaffMember, due: Appointment) -> None:
    with pytest.raises(PermissionDenied):
        services.mark_no_show(colleague, due, now=AFTER_START)

    due.refresh_from_db()
    assert due.status == AppointmentStatus.BOOKED


def test_staff_of_another_organisation_may_not_mark_a_no_show(
    other_org: Organization, due: Appointment
) -> None:
    foreign_office = factories.make_office(other_org, "kfz")
    for role in (Role.AGENT, Role.OFFICE_LEAD, Role.ORG_ADMIN):
        stranger = factories.make_staff(other_org, f"fremd-{role}", role, [foreign_office]).staff_member
        with pytest.raises(PermissionDenied):
            services.mark_no_show(stranger, due, now=AFTER_START)

    due.refresh_from_db()
    assert due.status == AppointmentStatus.BOOKED


def test_a_lead_of_another_office_may_not_mark_a_no_show(org: Organization, due: Appointment) -> None:
    elsewhere = factories.make_office(org, "standesamt")
    lead = factories.make_staff(org, "andere-leitung", Role.OFFICE_LEAD, [elsewhere]).staff_member

    with pytest.raises(PermissionDenied):
        services.mark_no_show(lead, due, now=AFTER_START)


def test_a_no_show_cannot_be_marked_before_the_start(agent_member: StaffMember, due: Appointment) -> None:
    error = refusal(services.mark_no_show, agent_member, due, now=WEDNESDAY_10_05 - dt.timedelta(minutes=1))

    assert error.code == "not_due"
    due.refresh_from_db()
    assert due.status == AppointmentStatus.BOOKED


def test_a_cancelled_appointment_cannot_be_marked_as_no_show(
    agent_member: StaffMember, due: Appointment
) -> None:
    services.cancel(due, now=NOW)

    assert refusal(services.mark_no_show, agent_member, due, now=AFTER_START).code == "not_due"
    due.refresh_from_db()
    assert due.status == AppointmentStatus.CANCELLED


# --- retention ------------------------------------------------------------------------------------
def test_pruning_deletes_old_appointments_with_their_notifications_and_keeps_recent_ones(
    office: Office, service: Service, agent_member: StaffMember, settings: Any
) -> None:
    settings.APPOINTMENT_RETENTION_DAYS = 30
    old = make_appointment(service, agent_member, at(2026, 10, 30, 10, 0))  # ended 32 days ago
    recent = make_appointment(service, agent_member, at(2026, 11, 2, 10, 0))  # ended 29 days ago
    for appointment in (old, recent):
        appointment_messages.appointment_changed(appointment, "booked", appointment.created_at)
    assert Notification.objects.filter(topic=topic(old.pk)).count() == 1

    services.prune_appointments(now=NOW)

    assert list(Appointment.objects.all()) == [recent]
    assert not Notification.objects.filter(topic=topic(old.pk)).exists()
    assert Notification.objects.filter(topic=topic(recent.pk)).count() == 1


# --- the staff member's private calendar address ------------------------------------------------------
def test_renewing_the_calendar_address_makes_the_old_one_stop_working(agent_member: StaffMember) -> None:
    feed = services.calendar_feed(agent_member, now=NOW)
    old = feed.token
    assert TOKEN.fullmatch(old)
    assert services.calendar_feed(agent_member).token == old  # asking again keeps it
    assert services.feed_owner(old) == agent_member

    renewed = services.calendar_feed(agent_member, renew=True, now=NOW)

    assert renewed.token != old
    assert services.feed_owner(old) is None
    assert services.feed_owner(renewed.token) == agent_member
    assert CalendarFeed.objects.count() == 1


@pytest.mark.parametrize("token", ["", "x", "a" * 65])
def test_unknown_calendar_addresses_have_no_owner(agent_member: StaffMember, token: str) -> None:
    services.calendar_feed(agent_member)

    assert services.feed_owner(token) is None

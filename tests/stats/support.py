"""A known week at a Bavarian office, built row by row so that every figure can be computed by
hand (``KNOWN_MONDAY`` and ``OPEN_MINUTES`` below are that computation).

Week of Monday 11 May 2026 (Europe/Berlin, summer time). Hours Mon–Fri 08:00–12:00, Thursday
also 14:00–18:00. Thursday 14 May is Ascension Day (a public holiday in Bavaria), Friday 15 May
is a closure, Saturday 16 May an extra opening 10:00–12:00.

Monday: the agent is available 08:00–10:00, on a pause 10:00–10:30, available 10:30–12:00
(staffed 210 minutes, pause 30). Tickets: (1) walk-in for "Reisepass" at 08:10, called 08:20,
consultation 08:21–08:41 with an interpreter; (2) walk-in without a service at 09:00, called
09:30, consultation 09:31–09:46; (3) walk-in at 09:05 who left without being called; (4)
walk-in at 11:00, called 11:05, a no-show; (5) with an appointment at 11:40, arrived 11:38,
called 11:40, consultation 11:40–11:50. Another appointment at 11:30 was a no-show (no ticket).
Two ratings: 5 and 4. Tuesday: one walk-in at 09:00 removed by staff.
"""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
import zoneinfo
from dataclasses import dataclass

from buergerbuero.booking.models import Appointment, AppointmentStatus
from buergerbuero.consult.models import Consultation, Feedback, InterpreterInvite
from buergerbuero.offices.models import Closure, Office, Service, SpecialOpening
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting.models import PresenceState, Ticket, TicketStatus
from buergerbuero.waiting.services import staffing
from tests import factories

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
MONDAY = dt.date(2026, 5, 11)
WEEK = [MONDAY + dt.timedelta(days=offset) for offset in range(7)]
OPEN_MINUTES = {
    MONDAY: 240,
    MONDAY + dt.timedelta(days=1): 240,
    MONDAY + dt.timedelta(days=2): 240,
    MONDAY + dt.timedelta(days=3): 0,  # Ascension Day (Thursday would be 480)
    MONDAY + dt.timedelta(days=4): 0,  # closure
    MONDAY + dt.timedelta(days=5): 120,  # extra opening on Saturday
    MONDAY + dt.timedelta(days=6): 0,
}
KNOWN_MONDAY = {
    "meetings": 3,
    "citizens": 3,
    "interpreters": 1,
    "staff_participants": 3,
    "walk_ins": 4,
    "appointments": 2,
    "served": 3,
    "left_before_call": 1,
    "removed": 0,
    "no_shows": 2,
    "waits_counted": 4,
    "wait_p50_min": 7.5,  # waits 2, 5, 10, 30
    "wait_p90_min": 24.0,  # 10 + 0.7 * (30 - 10)
    "handling_p50_min": 15.0,  # 20, 15, 10
    "handling_minutes": 45.0,
    "open_minutes": 240,
    "staffed_minutes": 210,
    "pause_minutes": 30,
    "active_staff": 1,
    "ratings": 2,
    "rating_sum": 9,
    "is_demo": False,
}
_keys = itertools.count(1)


def at(date: dt.date, clock: str) -> dt.datetime:
    hour, minute = map(int, clock.split(":"))
    return dt.datetime.combine(date, dt.time(hour, minute), tzinfo=BERLIN)


@dataclass
class KnownWeek:
    organization: Organization
    office: Office
    other_office: Office
    agent: StaffMember


def _ticket(
    office: Office,
    arrived: dt.datetime,
    status: str,
    *,
    called: dt.datetime | None = None,
    service: Service | None = None,
) -> Ticket:
    return Ticket.objects.create(
        office=office,
        service=service,
        token=secrets.token_urlsafe(24),
        display_name="Bürgerin",
        status=status,
        arrived_at=arrived,
        queue_key=next(_keys),
        called_at=called,
        last_seen_at=arrived,
        ended_at=(called or arrived) + dt.timedelta(minutes=30),
    )


def _consultation(ticket: Ticket, agent: StaffMember, start: dt.datetime, end: dt.datetime) -> Consultation:
    return Consultation.objects.create(
        ticket=ticket, office=ticket.office, agent=agent, started_at=start, ended_at=end
    )


def _appointment(
    office: Office,
    service: Service,
    agent: StaffMember,
    start: dt.datetime,
    status: str,
    ticket: Ticket | None = None,
) -> Appointment:
    return Appointment.objects.create(
        office=office,
        service=service,
        agent=agent,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=15),
        token=secrets.token_urlsafe(24),
        name="Max Mustermann",
        email="max@example.org",
        status=status,
        consented_at=start - dt.timedelta(days=3),
        created_at=start - dt.timedelta(days=3),
        scheduled_at=start - dt.timedelta(days=3),
        ticket=ticket,
    )


def make_known_week(slug: str = "statstadt") -> KnownWeek:
    organization = factories.make_org(slug, state="BY", name="Stadt Statistik")
    hours = [(day, "08:00", "12:00") for day in range(5)] + [(3, "14:00", "18:00")]
    office = factories.make_office(organization, "buergerbuero", hours=hours, name="Bürgerbüro")
    other_office = factories.make_office(organization, "bauamt", hours=hours, name="Bauamt")
    Closure.objects.create(office=office, starts_on=WEEK[4], ends_on=WEEK[4], reason="Betriebsausflug")
    SpecialOpening.objects.create(office=office, date=WEEK[5], opens=dt.time(10), closes=dt.time(12))
    passport = Service.objects.create(office=office, name="Reisepass")
    agent = StaffMember.objects.get(
        user=factories.make_staff(organization, f"{slug}-agent", offices=[office])
    )
    # A colleague of the other office only: never part of this office's staffing.
    colleague = StaffMember.objects.get(
        user=factories.make_staff(organization, f"{slug}-colleague", offices=[other_office])
    )
    for member, clock, state in [
        (agent, "08:00", PresenceState.AVAILABLE),
        (colleague, "08:00", PresenceState.AVAILABLE),
        (agent, "10:00", PresenceState.PAUSE),
        (agent, "10:30", PresenceState.AVAILABLE),
        (agent, "12:00", PresenceState.OFFLINE),
        (colleague, "12:00", PresenceState.OFFLINE),
    ]:
        staffing.set_presence(member, state, at(MONDAY, clock))

    first = _ticket(
        office, at(MONDAY, "08:10"), TicketStatus.DONE, called=at(MONDAY, "08:20"), service=passport
    )
    meeting = _consultation(first, agent, at(MONDAY, "08:21"), at(MONDAY, "08:41"))
    InterpreterInvite.objects.create(
        consultation=meeting,
        token_hash=secrets.token_hex(32),
        created_at=at(MONDAY, "08:22"),
        expires_at=at(MONDAY, "09:22"),
        claimed_at=at(MONDAY, "08:25"),
    )
    # An invitation never opened: no participant.
    InterpreterInvite.objects.create(
        consultation=meeting,
        token_hash=secrets.token_hex(32),
        created_at=at(MONDAY, "08:23"),
        expires_at=at(MONDAY, "09:23"),
    )
    second = _ticket(office, at(MONDAY, "09:00"), TicketStatus.DONE, called=at(MONDAY, "09:30"))
    _consultation(second, agent, at(MONDAY, "09:31"), at(MONDAY, "09:46"))
    _ticket(office, at(MONDAY, "09:05"), TicketStatus.LEFT)
    _ticket(office, at(MONDAY, "11:00"), TicketStatus.NO_SHOW, called=at(MONDAY, "11:05"))
    _appointment(office, passport, agent, at(MONDAY, "11:30"), AppointmentStatus.NO_SHOW)
    booked = _ticket(
        office, at(MONDAY, "11:38"), TicketStatus.DONE, called=at(MONDAY, "11:40"), service=passport
    )
    _appointment(office, passport, agent, at(MONDAY, "11:40"), AppointmentStatus.ATTENDED, ticket=booked)
    _consultation(booked, agent, at(MONDAY, "11:40"), at(MONDAY, "11:50"))
    Feedback.objects.create(office=office, rating=5, comment="Sehr freundlich", given_on=MONDAY)
    Feedback.objects.create(office=office, rating=4, given_on=MONDAY)
    # Cancelled appointments are no demand.
    _appointment(office, passport, agent, at(WEEK[1], "08:30"), AppointmentStatus.CANCELLED)
    _ticket(office, at(WEEK[1], "09:00"), TicketStatus.REMOVED)
    return KnownWeek(organization, office, other_office, agent)


def make_lead(week: KnownWeek, username: str) -> StaffMember:
    user = factories.make_staff(week.organization, username, role=Role.OFFICE_LEAD, offices=[week.office])
    return StaffMember.objects.get(user=user)

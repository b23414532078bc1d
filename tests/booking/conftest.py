"""Fixtures and builders of the appointment tests: a bookable service, agents with and without
working times, a citizen's contact details and a pinned clock.

The clock stands on Tuesday, 1 December 2026, 08:00 in Berlin (the fixture office of
``tests/conftest.py`` is open Monday to Friday 08:00–16:00). December 2026 in Bavaria: the 8th
(Mariä Empfängnis) is *not* a public holiday there, the 25th (a Friday) is; the 26th is a
Saturday. Builders here are plain functions, so that other test packages can import them
(``from tests.booking.conftest import at, make_appointment``).
"""

from __future__ import annotations

import datetime as dt
import secrets
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User

from buergerbuero.booking.models import Absence, AbsenceKind, Appointment, AppointmentStatus, WorkingTime
from buergerbuero.booking.services import Contact
from buergerbuero.offices.models import Office, Service
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember
from tests import factories

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
# Tuesday, 1 December 2026, 08:00 local: the fixture office has just opened.
NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=BERLIN)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    """A Berlin wall-clock time as an aware datetime."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def local_times(starts: list[dt.datetime]) -> list[str]:
    """“HH:MM” in Berlin for each instant (how the pages show them)."""
    return [start.astimezone(BERLIN).strftime("%H:%M") for start in starts]


def add_working_time(member: StaffMember, weekday: int, opens: str, closes: str) -> WorkingTime:
    return WorkingTime.objects.create(
        member=member,
        weekday=weekday,
        opens=dt.time.fromisoformat(opens),
        closes=dt.time.fromisoformat(closes),
    )


def add_absence(
    member: StaffMember, starts_at: dt.datetime, ends_at: dt.datetime, kind: str = AbsenceKind.ABSENCE
) -> Absence:
    return Absence.objects.create(member=member, starts_at=starts_at, ends_at=ends_at, kind=kind)


def make_appointment(
    service: Service,
    agent: StaffMember,
    start: dt.datetime,
    *,
    minutes: int | None = None,
    name: str = "Max Mustermann",
    email: str = "max@example.org",
    phone: str = "",
    status: str = AppointmentStatus.BOOKED,
    created_at: dt.datetime | None = None,
) -> Appointment:
    """An appointment row written directly (no rules checked): for setting up a calendar."""
    length = dt.timedelta(minutes=minutes if minutes is not None else service.slot_minutes)
    created = created_at or start - dt.timedelta(days=7)
    return Appointment.objects.create(
        office=service.office,
        service=service,
        agent=agent,
        starts_at=start,
        ends_at=start + length,
        token=secrets.token_urlsafe(32),
        name=name,
        email=email,
        phone=phone,
        status=status,
        consented_at=created,
        created_at=created,
        scheduled_at=created,
    )


def make_agent(
    organization: Organization, username: str, offices: list[Office], **fields: Any
) -> StaffMember:
    """A further agent (as a StaffMember) serving ``offices``."""
    user = factories.make_staff(organization, username, Role.AGENT, offices)
    member = user.staff_member
    for name, value in fields.items():
        setattr(member, name, value)
    if fields:
        member.save(update_fields=list(fields))
    return member


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def clock() -> Iterator[Any]:
    """“Now” pinned to NOW; tests may move it with ``clock.move_to(...)``."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def service(office: Office) -> Service:
    """The office's bookable service: 20 minutes plus 5 minutes buffer, 60 minutes lead time,
    60 days horizon."""
    return factories.make_service(
        office,
        "Personalausweis",
        bookable=True,
        slot_minutes=20,
        buffer_minutes=5,
        lead_minutes=60,
        horizon_days=60,
    )


@pytest.fixture
def agent_member(agent: User) -> StaffMember:
    """The ``agent`` persona's StaffMember; has no working times (takes the office's hours)."""
    member: StaffMember = agent.staff_member
    return member


@pytest.fixture
def shift_agent(org: Organization, office: Office) -> StaffMember:
    """An agent with working times Monday to Friday 10:00–12:00 and 14:00–18:00 (the latter
    partly after the office closes at 16:00)."""
    member = make_agent(org, "schicht", [office], display_name="Frau Schicht")
    for weekday in range(5):
        add_working_time(member, weekday, "10:00", "12:00")
        add_working_time(member, weekday, "14:00", "18:00")
    return member


@pytest.fixture
def contact() -> Contact:
    """Valid details with both an e-mail address and a German mobile number."""
    return Contact(
        name="Erika Mustermann",
        email="erika@example.org",
        phone="0151 23456789",
        language="de",
        consent=True,
    )

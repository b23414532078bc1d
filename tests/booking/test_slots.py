"""The free-slot rules of ``booking.slots.SlotFinder``, checked on exact lists of local times.

The fixture office is open Monday to Friday 08:00–16:00 (Berlin); the service lasts 20 minutes
with a 5-minute buffer, so slots start every 25 minutes from the start of a window. “Now” is
passed to the finder (Tuesday, 1 December 2026, 08:00) unless a test says otherwise; December
dates are chosen with Bavaria's holidays in mind (25 December is one, 8 December is not).
"""

from __future__ import annotations

import datetime as dt

import holidays
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from buergerbuero.booking.models import AbsenceKind, AppointmentStatus
from buergerbuero.booking.slots import SlotFinder
from buergerbuero.offices.models import Closure, Office, Service, SpecialOpening
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import StaffMember
from tests import factories
from tests.booking.conftest import (
    BERLIN,
    NOW,
    add_absence,
    add_working_time,
    at,
    local_times,
    make_agent,
    make_appointment,
)

pytestmark = pytest.mark.django_db

WEDNESDAY = dt.date(2026, 12, 2)
# 08:00, 08:25, … 15:30: every 25 minutes while a 20-minute slot still ends by 16:00.
FULL_DAY = [f"{(480 + 25 * step) // 60:02d}:{(480 + 25 * step) % 60:02d}" for step in range(19)]


def day_times(
    office: Office, service: Service, agents: list[StaffMember], day: dt.date, now: dt.datetime = NOW
) -> list[str]:
    slots = SlotFinder(office, service, agents, now).slots_on(day)
    return local_times([slot.start for slot in slots])


# --- windows: office hours ∩ working times --------------------------------------------------------
def test_without_working_times_slots_fill_the_office_hours_at_length_plus_buffer(
    office: Office, service: Service, agent_member: StaffMember
) -> None:
    slots = SlotFinder(office, service, [agent_member], NOW).slots_on(WEDNESDAY)

    assert local_times([slot.start for slot in slots]) == FULL_DAY
    assert FULL_DAY[-1] == "15:30"
    assert all(slot.end - slot.start == dt.timedelta(minutes=20) for slot in slots)
    assert all(slot.agent_ids == (agent_member.pk,) for slot in slots)


@pytest.mark.parametrize(
    ("slot_minutes", "buffer_minutes", "expected_first", "expected_last", "count"),
    [
        (30, 0, ["08:00", "08:30", "09:00"], "15:30", 16),
        (45, 15, ["08:00", "09:00", "10:00"], "15:00", 8),
        (20, 10, ["08:00", "08:30", "09:00"], "15:30", 16),
    ],
)
def test_the_step_between_slots_is_the_service_length_plus_its_buffer(
    office: Office,
    agent_member: StaffMember,
    slot_minutes: int,
    buffer_minutes: int,
    expected_first: list[str],
    expected_last: str,
    count: int,
) -> None:
    service = factories.make_service(
        office, "Anders lang", slot_minutes=slot_minutes, buffer_minutes=buffer_minutes, lead_minutes=0
    )

    times = day_times(office, service, [agent_member], WEDNESDAY)

    assert times[:3] == expected_first
    assert times[-1] == expected_last
    assert len(times) == count


def test_slots_lie_inside_office_hours_intersected_with_working_times(
    office: Office, service: Service, shift_agent: StaffMember
) -> None:
    # Works 10–12 and 14–18; the office closes at 16:00, so nothing after 15:40.
    times = day_times(office, service, [shift_agent], WEDNESDAY)

    assert times == ["10:00", "10:25", "10:50", "11:15", "11:40", "14:00", "14:25", "14:50", "15:15", "15:40"]


def test_working_times_on_other_weekdays_leave_the_day_without_slots(
    org: Organization, office: Office, service: Service
) -> None:
    monday_only = make_agent(org, "montags", [office])
    add_working_time(monday_only, 0, "09:00", "10:00")

    assert day_times(office, service, [monday_only], WEDNESDAY) == []
    assert day_times(office, service, [monday_only], dt.date(2026, 12, 7)) == ["09:00", "09:25"]


def test_weekends_outside_the_office_hours_have_no_slots(
    office: Office, service: Service, agent_member: StaffMember
) -> None:
    assert day_times(office, service, [agent_member], dt.date(2026, 12, 5)) == []
    assert day_times(office, service, [agent_member], dt.date(2026, 12, 6)) == []


# --- lead time and horizon -------------------------------------------------------------------------
def test_slots_start_no_earlier_than_the_lead_time(
    office: Office, service: Service, agent_member: StaffMember
) -> None:
    # Now 08:00, lead 60 min: 09:00 is the earliest start; the grid has 08:50 and 09:15.
    assert day_times(office, service, [agent_member], NOW.date())[:2] == ["09:15", "09:40"]
    # At 08:30 the earliest start is 09:30: 09:15 is gone, 09:40 is the first.
    assert day_times(office, service, [agent_member], NOW.date(), now=at(2026, 12, 1, 8, 30))[0] == "09:40"


def test_a_slot_exactly_at_the_lead_time_is_offered(
    office: Office, service: Service, agent_member: StaffMember
) -> None:
    assert day_times(office, service, [agent_member], NOW.date(), now=at(2026, 12, 1, 8, 15))[0] == "09:15"


def test_slots_end_at_the_booking_horizon(office: Office, agent_member: StaffMember) -> None:
    service = factories.make_service(office, "Kurzfristig", lead_minutes=0, horizon_days=1)
    finder = SlotFinder(office, service, [agent_member], NOW)

    # Horizon: Wednesday 08:00, the first slot of that day is the last one offered.
    assert local_times([slot.start for slot in finder.slots_on(WEDNESDAY)]) == ["08:00"]
    assert finder.slots_on(dt.date(2026, 12, 3)) == []
    assert list(finder.days()) == [NOW.date(), WEDNESDAY]
    assert finder.next_free(100)[-1].start == at(2026, 12, 2, 8, 0)


def test_on_the_last_day_of_the_horizon_slots_end_at_the_time_of_day_of_now(
    office: Office, agent_member: StaffMember
) -> None:
    service = factories.make_service(office, "Zwei Wochen", lead_minutes=0, horizon_days=14)
    finder = SlotFinder(office, service, [agent_member], at(2026, 12, 1, 10, 0))

    # Horizon: Tuesday 15 December, 10:00.
    assert local_times([slot.start for slot in finder.slots_on(dt.date(2026, 12, 15))]) == [
        "08:00",
        "08:25",
        "08:50",
        "09:15",
        "09:40",
    ]
    assert local_times([slot.start for slot in finder.slots_on(dt.date(2026, 12, 14))]) == FULL_DAY
    assert finder.slots_on(dt.date(2026, 12, 16)) == []
    assert finder.last_day() == dt.date(2026, 12, 15)


# --- holidays, closures, extra openings ----------------------------------------------------------
def test_public_holidays_of_bavaria_give_no_slots_but_8_december_does(
    office: Office, service: Service, agent_member: StaffMember
) -> None:
    bavaria = holidays.country_holidays("DE", subdiv="BY", years=2026)
    assert dt.date(2026, 12, 25) in bavaria
    assert dt.date(2026, 12, 8) not in bavaria
    finder = SlotFinder(office, service, [agent_member], NOW)

    assert finder.slots_on(dt.date(2026, 12, 25)) == []  # Christmas Day, a Friday
    assert local_times([slot.start for slot in finder.slots_on(dt.date(2026, 12, 8))]) == FULL_DAY
    assert local_times([slot.start for slot in finder.slots_on(dt.date(2026, 12, 24))]) == FULL_DAY


def test_an_office_that_ignores_holidays_offers_slots_on_them(
    office: Office, service: Service, agent_member: StaffMember
) -> None:
    Office.objects.filter(pk=office.pk).update(observes_public_holidays=False)

    assert day_times(office, service, [agent_member], dt.date(2026, 12, 25)) == FULL_DAY


def test_closures_give_no_slots(office: Office, service: Service, agent_member: StaffMember) -> None:
    Closure.objects.create(
        office=office, starts_on=dt.date(2026, 12, 3), ends_on=dt.date(2026, 12, 4), reason="Umzug"
    )
    finder = SlotFinder(office, service, [agent_member], NOW)

    assert finder.slots_on(dt.date(2026, 12, 3)) == []
    assert finder.slots_on(dt.date(2026, 12, 4)) == []
    assert local_times([slot.start for slot in finder.slots_on(WEDNESDAY)]) == FULL_DAY
    assert local_times([slot.start for slot in finder.slots_on(dt.date(2026, 12, 7))]) == FULL_DAY


def test_an_extra_opening_replaces_the_hours_of_its_day(
    office: Office, service: Service, agent_member: StaffMember
) -> None:
    SpecialOpening.objects.create(
        office=office, date=dt.date(2026, 12, 5), opens=dt.time(9, 0), closes=dt.time(10, 0)
    )

    assert day_times(office, service, [agent_member], dt.date(2026, 12, 5)) == ["09:00", "09:25"]


# --- absences, blocked times, appointments ---------------------------------------------------------
@pytest.mark.parametrize("kind", [AbsenceKind.ABSENCE, AbsenceKind.BLOCKED])
def test_absences_and_blocked_times_remove_the_slots_they_overlap(
    office: Office, service: Service, agent_member: StaffMember, kind: str
) -> None:
    add_absence(agent_member, at(2026, 12, 2, 10, 0), at(2026, 12, 2, 11, 0), kind)

    slots = SlotFinder(office, service, [agent_member], NOW).slots_on(WEDNESDAY)
    times = local_times([slot.start for slot in slots])

    blocked = (at(2026, 12, 2, 10, 0), at(2026, 12, 2, 11, 0))
    assert not [slot for slot in slots if slot.start < blocked[1] and slot.end > blocked[0]]
    assert "09:40" in times  # ends at 10:00, where the absence begins
    assert "10:05" not in times
    assert "11:00" in times  # the next slot starts when the absence is over
    assert times[times.index("09:40") + 1] == "11:00"


def test_an_absence_over_whole_days_empties_them(
    office: Office, service: Service, agent_member: StaffMember
) -> None:
    add_absence(agent_member, at(2026, 12, 2), at(2026, 12, 4))
    finder = SlotFinder(office, service, [agent_member], NOW)

    assert finder.slots_on(WEDNESDAY) == []
    assert finder.slots_on(dt.date(2026, 12, 3)) == []
    assert local_times([slot.start for slot in finder.slots_on(dt.date(2026, 12, 4))]) == FULL_DAY


def test_a_booked_appointment_removes_overlapping_slots_including_the_buffer(
    office: Office, service: Service, agent_member: StaffMember
) -> None:
    # 10:05–10:25 booked: with 5 minutes of buffer on each side the agent is busy 10:00–10:30.
    make_appointment(service, agent_member, at(2026, 12, 2, 10, 5))

    times = day_times(office, service, [agent_member], WEDNESDAY)

    assert "10:05" not in times
    assert times[times.index("09:40") + 1] == "10:30"
    assert times[times.index("10:30") + 1] == "10:55"


def test_after_a_longer_appointment_the_next_slot_starts_when_it_and_the_buffer_are_over(
    office: Office, service: Service, agent_member: StaffMember
) -> None:
    longer = factories.make_service(office, "Bauantrag", slot_minutes=45, buffer_minutes=5)
    make_appointment(longer, agent_member, at(2026, 12, 2, 10, 5))  # until 10:50

    times = day_times(office, service, [agent_member], WEDNESDAY)

    assert [time for time in times if "10:00" <= time < "11:00"] == ["10:55"]
    assert times[times.index("09:40") + 1] == "10:55"


def test_an_appointment_off_the_grid_moves_the_next_slot_behind_it(
    office: Office, service: Service, agent_member: StaffMember
) -> None:
    # 09:00–09:20 (busy 08:55–09:25): 08:50 would overlap, so 08:25 is followed by 09:25.
    make_appointment(service, agent_member, at(2026, 12, 2, 9, 0))

    times = day_times(office, service, [agent_member], WEDNESDAY)

    assert times[:4] == ["08:00", "08:25", "09:25", "09:50"]


@pytest.mark.parametrize("status", [AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW])
def test_appointments_no_longer_booked_do_not_block(
    office: Office, service: Service, agent_member: StaffMember, status: str
) -> None:
    make_appointment(service, agent_member, at(2026, 12, 2, 10, 5), status=status)

    assert day_times(office, service, [agent_member], WEDNESDAY) == FULL_DAY


def test_another_agents_appointment_does_not_block(
    org: Organization, office: Office, service: Service, agent_member: StaffMember
) -> None:
    colleague = make_agent(org, "kollegin", [office])
    make_appointment(service, colleague, at(2026, 12, 2, 10, 5))

    assert day_times(office, service, [agent_member], WEDNESDAY) == FULL_DAY


# --- “anyone who is free” --------------------------------------------------------------------------
def test_anyone_merges_the_staff_and_names_who_is_free_per_slot(
    office: Office, agent_member: StaffMember, shift_agent: StaffMember
) -> None:
    # Half-hour slots without buffer: both agents' grids meet at the full and half hours.
    service = factories.make_service(
        office, "Halbstündlich", slot_minutes=30, buffer_minutes=0, lead_minutes=0
    )
    make_appointment(service, agent_member, at(2026, 12, 2, 10, 30))

    slots = SlotFinder(office, service, [agent_member, shift_agent], NOW).slots_on(WEDNESDAY)
    by_time = dict(
        zip(local_times([slot.start for slot in slots]), [set(slot.agent_ids) for slot in slots], strict=True)
    )

    assert by_time["08:00"] == {agent_member.pk}  # shift_agent starts at 10:00
    assert by_time["10:00"] == {agent_member.pk, shift_agent.pk}
    assert by_time["10:30"] == {shift_agent.pk}  # agent_member is booked then
    assert by_time["11:00"] == {agent_member.pk, shift_agent.pk}
    assert by_time["12:00"] == {agent_member.pk}  # shift_agent's break
    assert by_time["15:30"] == {agent_member.pk, shift_agent.pk}
    assert len(by_time) == 16  # 08:00 … 15:30, each time once


def test_anyone_offers_the_union_of_the_agents_times_in_time_order(
    office: Office, service: Service, agent_member: StaffMember, shift_agent: StaffMember
) -> None:
    # 25-minute steps from 08:00 and from 10:00 do not meet: each time has one agent.
    slots = SlotFinder(office, service, [agent_member, shift_agent], NOW).slots_on(WEDNESDAY)
    times = local_times([slot.start for slot in slots])

    alone = day_times(office, service, [agent_member], WEDNESDAY)
    shift = day_times(office, service, [shift_agent], WEDNESDAY)
    assert times == sorted(set(alone) | set(shift))
    assert times[times.index("09:40") : times.index("09:40") + 3] == ["09:40", "10:00", "10:05"]
    by_time = dict(zip(times, [slot.agent_ids for slot in slots], strict=True))
    assert by_time["10:00"] == (shift_agent.pk,)
    assert by_time["10:05"] == (agent_member.pk,)


def test_a_time_nobody_is_free_at_is_not_offered(
    office: Office, service: Service, agent_member: StaffMember, shift_agent: StaffMember
) -> None:
    make_appointment(service, agent_member, at(2026, 12, 2, 10, 0))
    make_appointment(service, shift_agent, at(2026, 12, 2, 10, 0))

    finder = SlotFinder(office, service, [agent_member, shift_agent], NOW)

    assert finder.free_at(at(2026, 12, 2, 10, 0)) is None
    free = finder.free_at(at(2026, 12, 2, 8, 0))
    assert free is not None
    assert free.agent_ids == (agent_member.pk,)


# --- daylight saving time -------------------------------------------------------------------------
@pytest.fixture
def sunday_office(org: Organization) -> Office:
    """Open on Sundays 01:00–05:00 (across the clock change) and 08:00–12:00."""
    return factories.make_office(org, "nachtschalter", hours=[(6, "01:00", "05:00"), (6, "08:00", "12:00")])


def test_on_the_spring_clock_change_slots_skip_the_missing_hour(
    org: Organization, sunday_office: Office
) -> None:
    service = factories.make_service(sunday_office, "Nachts", lead_minutes=0)
    member = make_agent(org, "nachteule", [sunday_office])
    day = dt.date(2026, 3, 29)

    slots = SlotFinder(sunday_office, service, [member], at(2026, 3, 20, 12, 0)).slots_on(day)
    local = [slot.start.astimezone(BERLIN).strftime("%H:%M%z") for slot in slots]

    # 01:00 CET is 00:00 UTC, 05:00 CEST is 03:00 UTC: three real hours, 02:00–03:00 does not exist.
    assert local[:7] == [
        "01:00+0100",
        "01:25+0100",
        "01:50+0100",
        "03:15+0200",
        "03:40+0200",
        "04:05+0200",
        "04:30+0200",
    ]
    assert local[7] == "08:00+0200"
    assert slots[7].start == dt.datetime(2026, 3, 29, 6, 0, tzinfo=dt.UTC)
    assert all(slot.end - slot.start == dt.timedelta(minutes=20) for slot in slots)


def test_on_the_autumn_clock_change_slots_run_through_the_repeated_hour(
    org: Organization, sunday_office: Office
) -> None:
    service = factories.make_service(sunday_office, "Nachts", lead_minutes=0)
    member = make_agent(org, "nachteule", [sunday_office])
    day = dt.date(2026, 10, 25)

    slots = SlotFinder(sunday_office, service, [member], at(2026, 10, 20, 12, 0)).slots_on(day)
    local = [slot.start.astimezone(BERLIN).strftime("%H:%M%z") for slot in slots]

    # 01:00 CEST is 23:00 UTC the day before, 05:00 CET is 04:00 UTC: five real hours.
    assert local[:12] == [
        "01:00+0200",
        "01:25+0200",
        "01:50+0200",
        "02:15+0200",
        "02:40+0200",
        "02:05+0100",
        "02:30+0100",
        "02:55+0100",
        "03:20+0100",
        "03:45+0100",
        "04:10+0100",
        "04:35+0100",
    ]
    assert local[12] == "08:00+0100"
    assert slots[0].start == dt.datetime(2026, 10, 24, 23, 0, tzinfo=dt.UTC)
    assert slots[12].start == dt.datetime(2026, 10, 25, 7, 0, tzinfo=dt.UTC)


def test_working_times_follow_local_time_across_the_clock_change(
    org: Organization, sunday_office: Office
) -> None:
    service = factories.make_service(sunday_office, "Vormittags", lead_minutes=0)
    member = make_agent(org, "sonntags", [sunday_office])
    add_working_time(member, 6, "09:00", "10:00")

    before = SlotFinder(sunday_office, service, [member], at(2026, 3, 20)).slots_on(dt.date(2026, 3, 22))
    after = SlotFinder(sunday_office, service, [member], at(2026, 3, 20)).slots_on(dt.date(2026, 3, 29))

    assert local_times([slot.start for slot in before]) == local_times([slot.start for slot in after])
    assert local_times([slot.start for slot in after]) == ["09:00", "09:25"]
    assert before[0].start == dt.datetime(2026, 3, 22, 8, 0, tzinfo=dt.UTC)
    assert after[0].start == dt.datetime(2026, 3, 29, 7, 0, tzinfo=dt.UTC)


# --- next_free ----------------------------------------------------------------------------------
def test_next_free_lists_the_earliest_slots_in_time_order_across_days(
    office: Office, service: Service, agent_member: StaffMember
) -> None:
    finder = SlotFinder(office, service, [agent_member], NOW)

    slots = finder.next_free(25)
    starts = [slot.start for slot in slots]

    assert len(slots) == 25
    assert starts == sorted(starts)
    assert len(set(starts)) == 25
    # Today from 09:15 (lead time) to 15:30 are 16 slots; the other 9 are Wednesday's first ones.
    today = [start for start in starts if start.astimezone(BERLIN).date() == NOW.date()]
    assert local_times(today) == local_times(starts[:16])
    assert local_times(starts[:1]) == ["09:15"]
    assert local_times(starts[16:]) == FULL_DAY[:9]
    assert all(start.astimezone(BERLIN).date() == WEDNESDAY for start in starts[16:])


def test_next_free_from_a_given_instant_skips_earlier_slots(
    office: Office, service: Service, agent_member: StaffMember
) -> None:
    finder = SlotFinder(office, service, [agent_member], NOW)

    slots = finder.next_free(3, after=at(2026, 12, 3, 12, 0))

    assert [slot.start for slot in slots] == [
        at(2026, 12, 3, 12, 10),
        at(2026, 12, 3, 12, 35),
        at(2026, 12, 3, 13, 0),
    ]


def test_next_free_skips_holidays_and_weekends(office: Office, agent_member: StaffMember) -> None:
    service = factories.make_service(office, "Jahresende", lead_minutes=0)

    slots = SlotFinder(office, service, [agent_member], at(2026, 12, 24, 16, 0)).next_free(1)

    # Thursday 24th is over, Friday 25th is Christmas, then the weekend: Monday 28th, 08:00.
    assert [slot.start for slot in slots] == [at(2026, 12, 28, 8, 0)]


# --- a fixed number of queries ---------------------------------------------------------------------
def test_a_search_over_90_days_for_10_agents_costs_the_same_queries_as_one_day_for_one(
    org: Organization, office: Office
) -> None:
    service = factories.make_service(office, "Weit voraus", horizon_days=90)
    agents = []
    for number in range(10):
        member = make_agent(org, f"team{number}", [office])
        add_working_time(member, number % 5, "08:00", "12:00")
        add_working_time(member, (number + 1) % 5, "13:00", "16:00")
        add_absence(member, at(2026, 12, 10 + number, 9, 0), at(2026, 12, 10 + number, 11, 0))
        make_appointment(service, member, at(2026, 12, 14, 13, 0) + dt.timedelta(days=number))
        agents.append(member)

    with CaptureQueriesContext(connection) as small:
        one = SlotFinder(office, service, agents[:1], NOW)
        one.slots_on(WEDNESDAY)
    with CaptureQueriesContext(connection) as large:
        everyone = SlotFinder(office, service, agents, NOW)
        found = [slot for day in everyone.days() for slot in everyone.slots_on(day)]
        everyone.next_free(1000)

    assert len(list(everyone.days())) == 91
    assert len(found) > 900  # the search really covered the quarter
    assert len(large) == len(small)
    assert len(large) <= 8

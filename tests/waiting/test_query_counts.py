"""The console's state, the directory's live status and presence changes cost a fixed number
of queries, however long the queue (pinned: a query per waiting citizen would show here first)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.contrib.auth.models import User
from pytest_django import DjangoAssertNumQueries

from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting import console, directory
from buergerbuero.waiting.models import PresenceState, QueueState, Ticket
from buergerbuero.waiting.services import staffing
from tests import factories

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))  # a Thursday, open

# Twelve, and four per office served (its figures: queue, presence, running and recent
# consultations); the queue list, hours and announcements are read for all offices at once.
CONSOLE_STATE_QUERIES = {1: 16, 2: 20}
# Four for the offices with their hours, three per office for its figures (nobody on duty, so
# no running consultations to read).
DIRECTORY_STATUS_QUERIES = {1: 7, 2: 10}
SET_PRESENCE_QUERIES = 15  # a change, one office served (whose figures go out)
SET_PRESENCE_UNCHANGED_QUERIES = 6  # the same state again: nothing written, nothing sent


def member(user: User) -> StaffMember:
    return user.staff_member


def waiting_tickets(office: Office, count: int) -> None:
    Ticket.objects.bulk_create(
        Ticket(
            office=office,
            token=f"count-{office.pk}-{i}",
            display_name=f"Bürgerin {i}",
            arrived_at=NOW - dt.timedelta(seconds=600 - i),
            queue_key=i,
            last_seen_at=NOW,
        )
        for i in range(count)
    )


@pytest.mark.parametrize("already_waiting", [3, 30])
@pytest.mark.parametrize("offices", [1, 2])
def test_console_state_costs_a_fixed_number_of_queries_per_office(
    org: Organization,
    office: Office,
    django_assert_num_queries: DjangoAssertNumQueries,
    already_waiting: int,
    offices: int,
) -> None:
    served = [office, *(factories.make_office(org, f"amt-{i}") for i in range(1, offices))]
    lead = member(factories.make_staff(org, "leitung", Role.OFFICE_LEAD, served))
    for each in served:
        waiting_tickets(each, already_waiting)
        QueueState.objects.create(office=each)
    staffing.set_presence(lead, PresenceState.AVAILABLE, now=NOW)

    with django_assert_num_queries(CONSOLE_STATE_QUERIES[offices]):
        state = console.state(lead)
    assert len(state["waiting"]) == already_waiting * offices


@pytest.mark.parametrize("already_waiting", [3, 30])
def test_a_presence_change_costs_a_fixed_number_of_queries(
    office: Office, agent: User, django_assert_num_queries: DjangoAssertNumQueries, already_waiting: int
) -> None:
    waiting_tickets(office, already_waiting)
    QueueState.objects.create(office=office)
    staffing.set_presence(member(agent), PresenceState.AVAILABLE, now=NOW)

    with django_assert_num_queries(SET_PRESENCE_QUERIES):
        staffing.set_presence(member(agent), PresenceState.PAUSE, now=NOW + dt.timedelta(minutes=1))
    with django_assert_num_queries(SET_PRESENCE_UNCHANGED_QUERIES):
        staffing.set_presence(member(agent), PresenceState.PAUSE, now=NOW + dt.timedelta(minutes=2))


@pytest.mark.parametrize("already_waiting", [3, 30])
@pytest.mark.parametrize("offices", [1, 2])
def test_the_directory_status_costs_a_fixed_number_of_queries_per_office(
    org: Organization,
    office: Office,
    django_assert_num_queries: DjangoAssertNumQueries,
    already_waiting: int,
    offices: int,
) -> None:
    listed = [office, *(factories.make_office(org, f"amt-{i}") for i in range(1, offices))]
    for each in listed:
        waiting_tickets(each, already_waiting)

    with django_assert_num_queries(DIRECTORY_STATUS_QUERIES[offices]):
        status = directory.status(org, "de", NOW)
    assert [item["waiting"] for item in status["offices"]] == [already_waiting] * offices

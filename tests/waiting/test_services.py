"""The queue rules of ``waiting.services``: joining, calling, admitting, leaving, moving.

Times are passed as ``now=`` (an open Thursday in the fixture office's hours, Europe/Berlin),
so no test depends on the wall clock. Arrivals are one second apart: two citizens arriving
in the same microsecond are ordered by a random tail, on purpose.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.utils import translation
from pytest_django import DjangoAssertNumQueries, DjangoCaptureOnCommitCallbacks

from buergerbuero.consult import services as consult_services
from buergerbuero.consult.models import Consultation
from buergerbuero.offices.models import AdmissionMode, Office, Service
from buergerbuero.orgs.models import Organization
from buergerbuero.realtime import publish as realtime_publish
from buergerbuero.realtime.publish import encode
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting.models import AgentPresence, PresenceState, QueueState, Ticket, TicketStatus
from buergerbuero.waiting.services import calling, groups, joining, periodic, snapshots, staffing
from buergerbuero.waiting.services.errors import QueueError
from tests import factories

pytestmark = pytest.mark.django_db
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
OPEN = dt.datetime(2026, 11, 26, 10, 0, tzinfo=BERLIN)  # a Thursday, 08:00–16:00
START = dt.datetime(2026, 11, 26, 13, 0, tzinfo=BERLIN)
WEEKDAYS = [(day, "08:00", "16:00") for day in range(5)]


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages are checked in English (the site's default is German)."""
    with translation.override("en"):
        yield


# --- helpers ------------------------------------------------------------------------------
def at(seconds: float, start: dt.datetime = OPEN) -> dt.datetime:
    return start + dt.timedelta(seconds=seconds)


def join(
    office: Office,
    now: dt.datetime = OPEN,
    *,
    name: str = "",
    service: Service | None = None,
    mode: str = "video",
) -> Ticket:
    return joining.join(office, service=service, display_name=name, language="de", mode=mode, now=now)


def member(user: User) -> StaffMember:
    return user.staff_member


def position(ticket: Ticket) -> int | None:
    value: int | None = snapshots.snapshot(ticket)["position"]
    return value


def reload(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def finished_consultations(office: Office, agent: StaffMember, *, minutes: int, count: int = 5) -> None:
    """Past consultations that make the office's handling time known."""
    for i in range(count):
        started = at(-3600 * (i + 3))
        ticket = Ticket.objects.create(
            office=office,
            token=f"past-{office.pk}-{i}",
            status=TicketStatus.DONE,
            arrived_at=started,
            queue_key=0,
            last_seen_at=started,
            admitted_at=started,
            ended_at=started + dt.timedelta(minutes=minutes),
        )
        Consultation.objects.create(
            ticket=ticket,
            office=office,
            agent=agent,
            started_at=started,
            ended_at=started + dt.timedelta(minutes=minutes),
        )


def waiting_tickets(office: Office, count: int) -> None:
    """Citizens already waiting, written directly (the cost tests need many)."""
    Ticket.objects.bulk_create(
        Ticket(
            office=office,
            token=f"bulk-{office.pk}-{i}",
            display_name=f"Bürgerin {i}",
            arrived_at=at(-600 + i),
            queue_key=int(at(-600 + i).timestamp() * 1_000_000) * 1000,
            last_seen_at=at(-600 + i),
        )
        for i in range(count)
    )


@dataclass(frozen=True)
class Published:
    group: str
    payload: dict[str, Any]


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[Published]:
    """Everything the waiting services publish, in order (recorded at the call), and the
    consultation app's announcement of a consultation they start."""
    sent: list[Published] = []

    def record(group: str, payload: dict[str, Any]) -> None:
        sent.append(Published(group, payload))

    monkeypatch.setattr(realtime_publish, "publish", record)
    monkeypatch.setattr(consult_services, "publish", record)
    return sent


def to_group(sent: list[Published], group: str) -> list[dict[str, Any]]:
    return [message.payload for message in sent if message.group == group]


@pytest.fixture
def passport(office: Office) -> Service:
    return Service.objects.create(office=office, name="Reisepass")


@pytest.fixture
def id_card(office: Office) -> Service:
    return Service.objects.create(office=office, name="Personalausweis")


# --- joining ------------------------------------------------------------------------------
def test_join_queues_citizens_in_arrival_order(office: Office) -> None:
    first, second, third = (join(office, at(i)) for i in range(3))

    assert [position(t) for t in (first, second, third)] == [1, 2, 3]
    assert {reload(t).status for t in (first, second, third)} == {TicketStatus.WAITING}
    snapshot = snapshots.snapshot(second)
    assert snapshot["type"] == "snapshot"
    assert snapshot["status"] == TicketStatus.WAITING
    assert snapshot["key"] == second.order_key
    assert snapshot["seq"] == 3
    assert snapshot["live"]["waiting"] == 3


def test_position_moves_up_when_someone_ahead_leaves(office: Office) -> None:
    first, second, third = (join(office, at(i)) for i in range(3))

    calling.leave(second, now=at(10))

    assert position(first) == 1
    assert position(third) == 2
    assert position(second) is None


def test_free_seat_admits_at_once_and_starts_a_consultation(office: Office, agent: User) -> None:
    staffing.set_presence(member(agent), PresenceState.AVAILABLE, now=at(-60))

    ticket = join(office, name="Anna")

    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.ADMITTED
    consultation = Consultation.objects.get(ticket=ticket)
    assert consultation.agent == member(agent)
    assert consultation.is_open
    assert AgentPresence.objects.get(member=member(agent)).state == PresenceState.BUSY
    assert snapshots.snapshot(ticket)["status"] == TicketStatus.ADMITTED
    assert ticket.admitted_at is not None
    assert ticket.called_by == member(agent)


def test_free_seat_does_not_let_a_newcomer_jump_the_queue(office: Office, agent: User) -> None:
    waiting = join(office, at(0))  # nobody staffed yet
    staffing.set_presence(member(agent), PresenceState.AVAILABLE, now=at(5))

    newcomer = join(office, at(10))

    assert reload(newcomer).status == TicketStatus.WAITING
    assert position(waiting) == 1
    assert position(newcomer) == 2
    assert not Consultation.objects.exists()


def test_free_seat_only_for_an_agent_who_handles_the_service(
    office: Office, agent: User, passport: Service, id_card: Service
) -> None:
    member(agent).services.set([passport])
    staffing.set_presence(member(agent), PresenceState.AVAILABLE, now=at(-60))

    other_concern = join(office, service=id_card)
    assert reload(other_concern).status == TicketStatus.WAITING

    handled = join(office, at(1), service=passport)
    assert reload(handled).status == TicketStatus.WAITING  # someone waits ahead: no jumping


def test_knock_office_never_admits_automatically(office: Office, agent: User) -> None:
    Office.objects.filter(pk=office.pk).update(admission_mode=AdmissionMode.KNOCK)
    office.refresh_from_db()
    staffing.set_presence(member(agent), PresenceState.AVAILABLE, now=at(-60))

    ticket = join(office)

    assert reload(ticket).status == TicketStatus.WAITING
    assert not Consultation.objects.exists()
    assert AgentPresence.objects.get(member=member(agent)).state == PresenceState.AVAILABLE


def test_join_refused_when_closed_naming_the_next_opening(office: Office) -> None:
    thursday_evening = dt.datetime(2026, 11, 26, 17, 0, tzinfo=BERLIN)

    refusal = joining.join_refusal(office, thursday_evening)
    assert refusal is not None
    assert refusal.code == "closed"
    assert refusal.message == "The office is closed right now."
    assert refusal.opens_at == dt.datetime(2026, 11, 27, 8, 0, tzinfo=BERLIN)

    with pytest.raises(QueueError) as refused:
        join(office, thursday_evening)
    assert refused.value.code == "closed"
    assert not Ticket.objects.exists()


def test_join_refused_when_the_waiting_room_is_full(office: Office) -> None:
    Office.objects.filter(pk=office.pk).update(waiting_room_limit=2)
    office.refresh_from_db()
    join(office, at(0))
    join(office, at(1))

    with pytest.raises(QueueError) as refused:
        join(office, at(2))

    assert refused.value.code == "full"
    assert refused.value.message == "The waiting room is full right now."
    assert Ticket.objects.count() == 2


def test_join_refused_when_the_expected_wait_runs_past_closing(office: Office, agent: User) -> None:
    # Enough 60-minute cases that the configured durations' prior hardly counts any more.
    finished_consultations(office, member(agent), minutes=60, count=40)
    first = join(office, at(0, START))  # 13:00, nobody staffed: the estimate is not known
    staffing.set_presence(member(agent), PresenceState.AVAILABLE, now=at(60, START))

    # Second in line behind one 60-minute case at 14:00: called at about 15:00, fine.
    second = join(office, at(3600, START))
    assert reload(second).status == TicketStatus.WAITING
    calling.leave(first, now=at(7200, START))

    # Second in line at 15:45: called at about 16:45; even the short end of the range shown
    # (about 16:20) is after closing.
    with pytest.raises(QueueError) as refused:
        join(office, at(9900, START))
    assert refused.value.code == "past_closing"
    assert refused.value.message == "The expected wait runs past today's closing time."
    assert Ticket.objects.filter(status=TicketStatus.WAITING).count() == 1


def test_join_rejects_another_offices_service_and_unknown_modes(
    office: Office, second_office: Office
) -> None:
    foreign_service = Service.objects.create(office=second_office, name="Eheschließung")

    with pytest.raises(QueueError) as bad_service:
        join(office, service=foreign_service)
    with pytest.raises(QueueError) as bad_mode:
        join(office, mode="telepathy")

    assert (bad_service.value.code, bad_mode.value.code) == ("bad_service", "bad_mode")
    assert not Ticket.objects.exists()


def test_display_name_is_trimmed_to_sixty_characters(office: Office) -> None:
    ticket = join(office, name="  " + "x" * 80 + "  ")
    assert reload(ticket).display_name == "x" * 60


# --- calling --------------------------------------------------------------------------------
def test_call_next_takes_priority_first_then_arrival(office: Office, agent: User) -> None:
    early, middle, late = (join(office, at(i)) for i in range(3))
    Ticket.objects.filter(pk=late.pk).update(priority=1)

    called = calling.call_next(member(agent), now=at(10))

    assert called is not None
    assert called.pk == late.pk
    assert called.status == TicketStatus.CALLED
    assert called.called_by == member(agent)
    assert called.call_deadline == at(10 + office.call_confirm_seconds)
    assert [t.pk for t in calling.callable_tickets(member(agent))] == [early.pk, middle.pk]


def test_call_next_only_calls_services_the_agent_handles(
    office: Office, agent: User, passport: Service, id_card: Service
) -> None:
    member(agent).services.set([passport])
    for_id_card = join(office, at(0), service=id_card)
    for_passport = join(office, at(1), service=passport)
    unspecified = join(office, at(2))

    assert [t.pk for t in calling.callable_tickets(member(agent))] == [for_passport.pk, unspecified.pk]
    called = calling.call_next(member(agent), now=at(10))
    assert called is not None
    assert called.pk == for_passport.pk
    assert reload(for_id_card).status == TicketStatus.WAITING


def test_agent_without_services_handles_every_service(
    office: Office, agent: User, passport: Service, id_card: Service
) -> None:
    first = join(office, at(0), service=id_card)
    join(office, at(1), service=passport)

    called = calling.call_next(member(agent), now=at(10))
    assert called is not None
    assert called.pk == first.pk


def test_call_next_only_calls_from_offices_served(
    office: Office, second_office: Office, agent: User, org_admin: User
) -> None:
    elsewhere = join(second_office, at(0))

    assert calling.call_next(member(agent), now=at(10)) is None
    assert reload(elsewhere).status == TicketStatus.WAITING

    # The organisation's admin serves every office of the organisation.
    called = calling.call_next(member(org_admin), now=at(20))
    assert called is not None
    assert called.pk == elsewhere.pk


def test_call_next_with_nobody_waiting_calls_nobody(office: Office, agent: User) -> None:
    assert calling.call_next(member(agent), now=OPEN) is None
    assert AgentPresence.objects.get(member=member(agent)).state == PresenceState.OFFLINE


def test_agent_cannot_call_twice_while_a_call_or_consultation_is_active(office: Office, agent: User) -> None:
    first = join(office, at(0))
    second = join(office, at(1))
    calling.call_next(member(agent), now=at(10))

    with pytest.raises(QueueError) as while_calling:
        calling.call_next(member(agent), now=at(11))
    calling.confirm_call(first, now=at(12))
    with pytest.raises(QueueError) as while_consulting:
        calling.call_next(member(agent), now=at(13))

    assert (while_calling.value.code, while_consulting.value.code) == ("busy", "busy")
    assert reload(second).status == TicketStatus.WAITING


def test_call_ticket_is_refused_in_a_queue_office(office: Office, agent: User) -> None:
    join(office, at(0))
    second = join(office, at(1))

    with pytest.raises(QueueError) as refused:
        calling.call_ticket(member(agent), second.pk, now=at(10))

    assert refused.value.code == "not_knock"
    assert reload(second).status == TicketStatus.WAITING
    assert not Ticket.objects.filter(status=TicketStatus.CALLED).exists()


def test_call_ticket_in_a_knock_office_calls_that_citizen(office: Office, agent: User) -> None:
    Office.objects.filter(pk=office.pk).update(admission_mode=AdmissionMode.KNOCK)
    first = join(office, at(0))
    second = join(office, at(1))

    called = calling.call_ticket(member(agent), second.pk, now=at(10))

    assert called.pk == second.pk
    assert reload(second).status == TicketStatus.CALLED
    assert reload(first).status == TicketStatus.WAITING


def test_call_ticket_of_a_citizen_who_left_is_refused(office: Office, agent: User) -> None:
    Office.objects.filter(pk=office.pk).update(admission_mode=AdmissionMode.KNOCK)
    ticket = join(office, at(0))
    calling.leave(ticket, now=at(1))

    with pytest.raises(QueueError) as refused:
        calling.call_ticket(member(agent), ticket.pk, now=at(10))
    assert refused.value.code == "gone"


def test_confirm_call_creates_exactly_one_consultation(office: Office, agent: User) -> None:
    ticket = join(office, at(0))
    calling.call_next(member(agent), now=at(10))

    calling.confirm_call(ticket, now=at(20))
    calling.confirm_call(ticket, now=at(21))

    (consultation,) = Consultation.objects.filter(ticket=ticket)
    assert consultation.agent == member(agent)
    assert consultation.started_at == at(20)
    assert reload(ticket).status == TicketStatus.ADMITTED
    assert reload(ticket).admitted_at == at(20)
    assert AgentPresence.objects.get(member=member(agent)).state == PresenceState.BUSY


def test_confirm_without_a_call_is_refused(office: Office) -> None:
    ticket = join(office, at(0))

    with pytest.raises(QueueError) as refused:
        calling.confirm_call(ticket, now=at(10))

    assert refused.value.code == "not_called"
    assert not Consultation.objects.exists()


def test_unanswered_call_goes_back_to_the_end_of_the_queue(office: Office, agent: User) -> None:
    late_sleeper = join(office, at(0))
    patient = join(office, at(1))
    calling.call_next(member(agent), now=at(10))
    deadline = at(10 + office.call_confirm_seconds)

    assert periodic.expire_unanswered_calls(now=deadline - dt.timedelta(seconds=1)) == 0
    assert reload(late_sleeper).status == TicketStatus.CALLED

    assert periodic.expire_unanswered_calls(now=deadline + dt.timedelta(seconds=1)) == 1

    requeued = reload(late_sleeper)
    assert requeued.status == TicketStatus.WAITING
    assert requeued.missed_calls == 1
    assert requeued.called_by is None
    assert requeued.call_deadline is None
    assert requeued.arrived_at == at(0)  # the arrival is kept, the place is not
    assert position(patient) == 1
    assert position(requeued) == 2
    assert AgentPresence.objects.get(member=member(agent)).state == PresenceState.AVAILABLE


def test_second_unanswered_call_is_a_no_show(office: Office, agent: User) -> None:
    ticket = join(office, at(0))
    calling.call_next(member(agent), now=at(10))
    periodic.expire_unanswered_calls(now=at(100))
    calling.call_next(member(agent), now=at(200))

    assert periodic.expire_unanswered_calls(now=at(300)) == 1

    ended = reload(ticket)
    assert ended.status == TicketStatus.NO_SHOW
    assert ended.ended_at == at(300)
    assert AgentPresence.objects.get(member=member(agent)).state == PresenceState.AVAILABLE
    assert calling.call_next(member(agent), now=at(310)) is None


# --- leaving, removing, no-show ---------------------------------------------------------------
def test_leave_ends_the_place_and_leaving_twice_is_harmless(office: Office) -> None:
    ticket = join(office, at(0))

    calling.leave(ticket, now=at(10))
    calling.leave(ticket, now=at(20))

    ended = reload(ticket)
    assert ended.status == TicketStatus.LEFT
    assert ended.ended_at == at(10)


def test_leaving_during_a_call_frees_the_agent(office: Office, agent: User) -> None:
    ticket = join(office, at(0))
    calling.call_next(member(agent), now=at(10))

    calling.leave(ticket, now=at(20))

    assert reload(ticket).status == TicketStatus.LEFT
    assert AgentPresence.objects.get(member=member(agent)).state == PresenceState.AVAILABLE
    assert calling.call_next(member(agent), now=at(30)) is None  # not "busy" any more


def test_leave_after_admission_does_not_end_the_consultation(office: Office, agent: User) -> None:
    ticket = join(office, at(0))
    calling.call_next(member(agent), now=at(10))
    calling.confirm_call(ticket, now=at(11))

    calling.leave(ticket, now=at(20))

    assert reload(ticket).status == TicketStatus.ADMITTED


def test_staff_remove_a_citizen_or_mark_a_no_show(
    office: Office, agent: User, office_lead: User, org_admin: User
) -> None:
    removed, no_show, by_admin = (join(office, at(i)) for i in range(3))

    calling.remove(member(agent), removed.pk, now=at(10))
    calling.remove(member(office_lead), no_show.pk, no_show=True, now=at(11))
    calling.remove(member(org_admin), by_admin.pk, now=at(12))

    assert reload(removed).status == TicketStatus.REMOVED
    assert reload(no_show).status == TicketStatus.NO_SHOW
    assert reload(by_admin).status == TicketStatus.REMOVED
    assert reload(removed).ended_at == at(10)


def test_removing_a_citizen_no_longer_waiting_is_refused(office: Office, agent: User) -> None:
    ticket = join(office, at(0))
    calling.leave(ticket, now=at(1))

    with pytest.raises(QueueError) as refused:
        calling.remove(member(agent), ticket.pk, now=at(10))

    assert refused.value.code == "gone"
    assert reload(ticket).status == TicketStatus.LEFT


# --- transfer ---------------------------------------------------------------------------------
def test_transfer_keeps_the_arrival_time_and_the_place_in_order(
    office: Office, second_office: Office, agent: User, passport: Service
) -> None:
    moved = join(office, at(0), service=passport)
    already_there = join(second_office, at(5))

    result = calling.transfer(member(agent), moved.pk, second_office, now=at(10))

    after = reload(moved)
    assert result.pk == moved.pk
    assert after.office == second_office
    assert after.service is None  # the services of the new office differ
    assert after.arrived_at == moved.arrived_at
    assert after.queue_key == moved.queue_key
    assert after.status == TicketStatus.WAITING
    assert position(after) == 1
    assert position(already_there) == 2


def test_transfer_to_another_organisations_office_is_refused(
    office: Office, foreign_office: Office, agent: User
) -> None:
    ticket = join(office, at(0))

    with pytest.raises(QueueError) as refused:
        calling.transfer(member(agent), ticket.pk, foreign_office, now=at(10))

    assert refused.value.code == "bad_target"
    assert reload(ticket).office == office


def test_transfer_to_the_same_office_or_of_a_citizen_not_waiting_is_refused(
    office: Office, second_office: Office, agent: User
) -> None:
    ticket = join(office, at(0))
    with pytest.raises(QueueError) as same_office:
        calling.transfer(member(agent), ticket.pk, office, now=at(10))

    calling.leave(ticket, now=at(11))
    with pytest.raises(QueueError) as gone:
        calling.transfer(member(agent), ticket.pk, second_office, now=at(12))

    assert (same_office.value.code, gone.value.code) == ("bad_target", "gone")
    assert reload(ticket).office == office


# --- announcements --------------------------------------------------------------------------
def test_announcement_reaches_the_snapshot(office: Office, agent: User) -> None:
    ticket = join(office, at(0))

    calling.announce(member(agent), office, "  Heute ab 14 Uhr nur Terminkunden.  ", now=at(10))

    assert snapshots.snapshot(ticket)["announcement"] == "Heute ab 14 Uhr nur Terminkunden."
    state = QueueState.objects.get(office=office)
    assert state.announced_at == at(10)


@pytest.mark.parametrize("text", ["", "   ", "x" * 501])
def test_announcement_must_be_between_one_and_500_characters(office: Office, agent: User, text: str) -> None:
    with pytest.raises(QueueError) as refused:
        calling.announce(member(agent), office, text, now=OPEN)

    assert refused.value.code == "bad_text"
    assert not QueueState.objects.filter(office=office).exclude(announcement="").exists()


def test_announcement_of_exactly_500_characters_is_accepted(office: Office, agent: User) -> None:
    calling.announce(member(agent), office, "x" * 500, now=OPEN)
    assert QueueState.objects.get(office=office).announcement == "x" * 500


# --- who may act on which ticket ------------------------------------------------------------
StaffAction = Callable[[StaffMember, Ticket, Office], object]
STAFF_ACTIONS: dict[str, StaffAction] = {
    "remove": lambda staff, ticket, target: calling.remove(staff, ticket.pk, now=OPEN),
    "no_show": lambda staff, ticket, target: calling.remove(staff, ticket.pk, no_show=True, now=OPEN),
    "transfer": lambda staff, ticket, target: calling.transfer(staff, ticket.pk, target, now=OPEN),
    "announce": lambda staff, ticket, target: calling.announce(staff, ticket.office, "Hallo", now=OPEN),
}


@pytest.mark.parametrize("action", STAFF_ACTIONS)
def test_staff_of_another_organisation_may_not_act_on_tickets(
    office: Office, second_office: Office, foreign_agent: User, action: str
) -> None:
    ticket = join(office, at(0))

    with pytest.raises(PermissionDenied):
        STAFF_ACTIONS[action](member(foreign_agent), ticket, second_office)

    assert reload(ticket).status == TicketStatus.WAITING
    assert reload(ticket).office == office
    assert not QueueState.objects.filter(office=office).exclude(announcement="").exists()


@pytest.mark.parametrize("action", STAFF_ACTIONS)
def test_agent_of_another_office_may_not_act_on_tickets(
    office: Office, second_office: Office, org: Organization, action: str
) -> None:
    colleague = factories.make_staff(org, "kollegin", Role.AGENT, [second_office])
    ticket = join(office, at(0))

    with pytest.raises(PermissionDenied):
        STAFF_ACTIONS[action](member(colleague), ticket, second_office)

    assert reload(ticket).status == TicketStatus.WAITING


# --- presence and liveness ------------------------------------------------------------------
def test_set_presence_changes_the_seat_and_counts_it(office: Office, agent: User) -> None:
    ticket = join(office, at(0))
    assert snapshots.snapshot(ticket)["live"]["staffed"] == 0

    presence = staffing.set_presence(member(agent), PresenceState.AVAILABLE, now=at(10))

    assert presence.state == PresenceState.AVAILABLE
    assert presence.changed_at == at(10)
    live = snapshots.snapshot(ticket)["live"]
    assert (live["staffed"], live["free"]) == (1, 1)

    staffing.set_presence(member(agent), PresenceState.PAUSE, now=at(20))
    live = snapshots.snapshot(ticket)["live"]
    assert (live["staffed"], live["free"]) == (0, 0)


def test_unknown_presence_state_is_refused(agent: User) -> None:
    with pytest.raises(QueueError) as refused:
        staffing.set_presence(member(agent), "asleep", now=OPEN)
    assert refused.value.code == "bad_state"


def test_seat_stays_busy_during_a_call(office: Office, agent: User) -> None:
    join(office, at(0))
    calling.call_next(member(agent), now=at(10))

    presence = staffing.set_presence(member(agent), PresenceState.AVAILABLE, now=at(11))

    assert presence.state == PresenceState.BUSY


def test_agent_who_went_offline_during_a_call_stays_offline_when_it_expires(
    office: Office, agent: User
) -> None:
    join(office, at(0))
    calling.call_next(member(agent), now=at(10))
    staffing.set_presence(member(agent), PresenceState.OFFLINE, now=at(20))

    periodic.expire_unanswered_calls(now=at(100))

    assert AgentPresence.objects.get(member=member(agent)).state == PresenceState.OFFLINE


def test_walk_in_is_not_admitted_to_an_agent_who_went_offline_during_a_call(
    office: Office, agent: User
) -> None:
    called = join(office, at(0))
    calling.call_next(member(agent), now=at(10))
    staffing.set_presence(member(agent), PresenceState.OFFLINE, now=at(20))
    calling.leave(called, now=at(30))

    walk_in = join(office, at(40))

    assert reload(walk_in).status == TicketStatus.WAITING
    assert not Consultation.objects.exists()


def test_absent_agents_go_offline_after_the_grace_period(
    office: Office, agent: User, org: Organization
) -> None:
    pausing = factories.make_staff(org, "pause", Role.AGENT, [office])
    staffing.set_presence(member(agent), PresenceState.AVAILABLE, now=at(0))
    staffing.set_presence(member(pausing), PresenceState.PAUSE, now=at(0))

    assert staffing.mark_absent_agents_offline(now=at(40), grace_seconds=45) == 0
    assert staffing.mark_absent_agents_offline(now=at(46), grace_seconds=45) == 2

    states = set(AgentPresence.objects.values_list("state", flat=True))
    assert states == {PresenceState.OFFLINE}


def test_absent_agent_in_a_consultation_keeps_the_seat(office: Office, agent: User) -> None:
    staffing.set_presence(member(agent), PresenceState.AVAILABLE, now=at(0))
    ticket = join(office, at(1))  # admitted at once: busy
    assert reload(ticket).status == TicketStatus.ADMITTED

    assert staffing.mark_absent_agents_offline(now=at(3600), grace_seconds=45) == 0
    assert AgentPresence.objects.get(member=member(agent)).state == PresenceState.BUSY


def test_touch_keeps_agents_present(office: Office, agent: User) -> None:
    staffing.set_presence(member(agent), PresenceState.AVAILABLE, now=at(0))

    periodic.touch([], [member(agent).pk], now=at(40))

    assert staffing.mark_absent_agents_offline(now=at(60), grace_seconds=45) == 0


def test_lost_place_is_kept_for_the_offices_hold_time(office: Office) -> None:
    Office.objects.filter(pk=office.pk).update(hold_place_seconds=120)
    ticket = join(office, at(0))

    assert periodic.expire_lost_tickets(now=at(119)) == 0
    assert reload(ticket).status == TicketStatus.WAITING

    assert periodic.expire_lost_tickets(now=at(121)) == 1
    expired = reload(ticket)
    assert expired.status == TicketStatus.EXPIRED
    assert expired.ended_at == at(121)


def test_every_lost_place_is_given_up_in_one_run(office: Office) -> None:
    Office.objects.filter(pk=office.pk).update(hold_place_seconds=60)
    lost = [join(office, at(i)) for i in range(5)]
    kept = join(office, at(100))

    assert periodic.expire_lost_tickets(now=at(130)) == 5

    assert {reload(t).status for t in lost} == {TicketStatus.EXPIRED}
    assert reload(kept).status == TicketStatus.WAITING
    assert position(kept) == 1


def test_touch_keeps_waiting_places_alive(office: Office) -> None:
    Office.objects.filter(pk=office.pk).update(hold_place_seconds=120)
    ticket = join(office, at(0))

    periodic.touch([ticket.pk], [], now=at(100))

    assert periodic.expire_lost_tickets(now=at(200)) == 0
    assert periodic.expire_lost_tickets(now=at(221)) == 1


def test_touch_does_not_revive_ended_places(office: Office) -> None:
    ticket = join(office, at(0))
    calling.leave(ticket, now=at(1))

    periodic.touch([ticket.pk], [], now=at(100))

    assert reload(ticket).last_seen_at == at(0)


def test_calls_are_not_expired_as_lost_places(office: Office, agent: User) -> None:
    ticket = join(office, at(0))
    calling.call_next(member(agent), now=at(1))

    assert periodic.expire_lost_tickets(now=at(3600)) == 0
    assert reload(ticket).status == TicketStatus.CALLED


# --- cost of the hot paths --------------------------------------------------------------------
# Each test starts with empty per-process caches: a join and a snapshot here include loading
# the office's opening calendar (4 queries) and a snapshot building the office's cached view;
# tests/waiting/test_snapshot_cache.py pins the warm figures.
JOIN_QUERIES = 16  # the queue row is locked and its sequence number bumped in one statement
CALL_NEXT_QUERIES = 19
SNAPSHOT_QUERIES = 11


@pytest.mark.parametrize("already_waiting", [3, 30])
def test_join_costs_a_fixed_number_of_queries(
    office: Office, agent: User, django_assert_num_queries: DjangoAssertNumQueries, already_waiting: int
) -> None:
    Office.objects.filter(pk=office.pk).update(waiting_room_limit=100)
    office.refresh_from_db()
    waiting_tickets(office, already_waiting)
    QueueState.objects.create(office=office)
    staffing.set_presence(member(agent), PresenceState.AVAILABLE, now=at(-60))

    with django_assert_num_queries(JOIN_QUERIES):
        join(office, at(0))


@pytest.mark.parametrize("already_waiting", [3, 30])
def test_call_next_costs_a_fixed_number_of_queries(
    office: Office, agent: User, django_assert_num_queries: DjangoAssertNumQueries, already_waiting: int
) -> None:
    waiting_tickets(office, already_waiting)
    QueueState.objects.create(office=office)
    staffing.set_presence(member(agent), PresenceState.AVAILABLE, now=at(-60))

    with django_assert_num_queries(CALL_NEXT_QUERIES):
        called = calling.call_next(member(agent), now=at(0))
    assert called is not None


@pytest.mark.parametrize("already_waiting", [3, 30])
def test_snapshot_costs_a_fixed_number_of_queries(
    office: Office, django_assert_num_queries: DjangoAssertNumQueries, already_waiting: int
) -> None:
    waiting_tickets(office, already_waiting)
    last = Ticket.objects.order_by("-queue_key").first()
    assert last is not None
    QueueState.objects.create(office=office)

    with django_assert_num_queries(SNAPSHOT_QUERIES):
        snapshot = snapshots.snapshot(last)
    assert snapshot["position"] == already_waiting


# --- what the waiting room hears ------------------------------------------------------------
QUEUE_KEYS = {"type", "seq", "op", "key", "live"}
LIVE_KEYS = {"waiting", "seats", "staffed", "free", "estimate"}


def assert_anonymous(payload: dict[str, Any], *tickets: Ticket) -> None:
    """Nothing in a broadcast identifies a citizen: no names, tokens or ticket ids."""
    text = encode(payload)
    for ticket in tickets:
        assert ticket.token not in text
        if ticket.display_name:
            assert ticket.display_name not in text
    assert not {"id", "ticket", "token", "name", "display_name"} & set(payload)


def test_join_sends_one_anonymous_queue_message_to_the_waiting_room(
    office: Office, published: list[Published]
) -> None:
    ticket = join(office, name="Anna Geheim")

    queue = to_group(published, groups.waiting_group(office.pk))
    assert len(queue) == 1
    message = queue[0]
    assert set(message) == QUEUE_KEYS
    assert set(message["live"]) == LIVE_KEYS
    assert message == {
        "type": "queue",
        "seq": 1,
        "op": "join",
        "key": ticket.order_key,
        "live": {"waiting": 1, "seats": 1, "staffed": 0, "free": 0, "estimate": None},
    }
    assert_anonymous(message, ticket)
    assert to_group(published, groups.staff_group(office.pk)) == [{"type": "changed", "seq": 1}]
    directory = to_group(published, groups.directory_group(office.organization_id))
    assert directory == [{"type": "office_live", "office": office.slug, **message["live"]}]
    assert {m.group for m in published} == {
        groups.waiting_group(office.pk),
        groups.staff_group(office.pk),
        groups.directory_group(office.organization_id),
    }


def test_every_queue_change_is_one_message_with_the_next_seq(
    office: Office, agent: User, published: list[Published]
) -> None:
    anna = join(office, at(0), name="Anna Geheim")
    bernd = join(office, at(1), name="Bernd Vertraulich")
    carla = join(office, at(2), name="Carla Privat")
    calling.leave(bernd, now=at(3))
    calling.call_next(member(agent), now=at(4))  # Anna leaves the queue for the call
    calling.announce(member(agent), office, "Gleich geht's weiter", now=at(5))

    waiting = to_group(published, groups.waiting_group(office.pk))
    assert [(m["type"], m.get("op")) for m in waiting] == [
        ("queue", "join"),
        ("queue", "join"),
        ("queue", "join"),
        ("queue", "leave"),
        ("queue", "leave"),
        ("announcement", None),
    ]
    assert [m["seq"] for m in waiting] == [1, 2, 3, 4, 5, 6]
    assert [m["key"] for m in waiting[:5]] == [
        anna.order_key,
        bernd.order_key,
        carla.order_key,
        bernd.order_key,
        anna.order_key,
    ]
    assert [m["live"]["waiting"] for m in waiting[:5]] == [1, 2, 3, 2, 1]
    for message in waiting[:5]:
        assert set(message) == QUEUE_KEYS
        assert_anonymous(message, anna, bernd, carla)
    assert [m["seq"] for m in to_group(published, groups.staff_group(office.pk))] == [1, 2, 3, 4, 5, 6]


def test_the_called_citizen_alone_hears_the_call(
    office: Office, agent: User, published: list[Published]
) -> None:
    called = join(office, at(0))
    other = join(office, at(1))
    published.clear()

    calling.call_next(member(agent), now=at(10))

    deadline = at(10 + office.call_confirm_seconds)
    assert to_group(published, groups.ticket_group(called.pk)) == [
        {"type": "called", "deadline": deadline.isoformat(), "agent": member(agent).public_name}
    ]
    assert to_group(published, groups.ticket_group(other.pk)) == []
    queue = to_group(published, groups.waiting_group(office.pk))
    assert len(queue) == 1
    assert queue[0]["op"] == "leave"
    assert queue[0]["live"]["staffed"] == 1  # the agent's seat is now taken
    assert queue[0]["live"]["free"] == 0


def test_each_queue_change_is_encoded_once_for_all_listeners(
    office: Office,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    sent: list[tuple[str, str]] = []

    def record(group: str, kind: str, text: str) -> None:
        sent.append((group, text))

    monkeypatch.setattr(realtime_publish, "_send", record)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = join(office, name="Anna Geheim")

    waiting = [text for group, text in sent if group == groups.waiting_group(office.pk)]
    assert len(waiting) == 1
    assert ticket.token not in waiting[0]
    assert "Anna" not in waiting[0]
    assert waiting[0].startswith('{"type":"queue","seq":1,"op":"join","key":[')


def test_nothing_is_sent_for_a_refused_change(
    office: Office,
    agent: User,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    join(office, at(0))
    second = join(office, at(1))
    sent: list[tuple[str, str]] = []

    def record(group: str, kind: str, text: str) -> None:
        sent.append((group, text))

    monkeypatch.setattr(realtime_publish, "_send", record)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(QueueError):
        calling.call_ticket(member(agent), second.pk, now=at(10))  # a queue office: refused

    assert sent == []


def test_transfer_tells_both_offices_and_the_citizen(
    office: Office, second_office: Office, agent: User, published: list[Published]
) -> None:
    ticket = join(office, at(0), name="Anna Geheim")
    published.clear()

    calling.transfer(member(agent), ticket.pk, second_office, now=at(10))

    source = to_group(published, groups.waiting_group(office.pk))
    target = to_group(published, groups.waiting_group(second_office.pk))
    assert [(m["op"], m["key"]) for m in source] == [("leave", ticket.order_key)]
    assert [(m["op"], m["key"]) for m in target] == [("join", ticket.order_key)]
    assert_anonymous(source[0], ticket)
    assert_anonymous(target[0], ticket)
    assert to_group(published, groups.ticket_group(ticket.pk)) == [
        {
            "type": "transferred",
            "office": second_office.pk,
            "office_name": second_office.name,
            "show_position": second_office.show_position,
        }
    ]


def test_requeue_after_an_unanswered_call_is_announced(
    office: Office, agent: User, published: list[Published]
) -> None:
    ticket = join(office, at(0))
    calling.call_next(member(agent), now=at(10))
    published.clear()

    periodic.expire_unanswered_calls(now=at(100))

    queue = to_group(published, groups.waiting_group(office.pk))
    assert [m["op"] for m in queue] == ["join"]
    assert queue[0]["key"] == reload(ticket).order_key
    assert to_group(published, groups.ticket_group(ticket.pk)) == [{"type": "requeued"}]


def test_free_seat_admission_tells_the_agent_and_the_citizen(
    office: Office, agent: User, published: list[Published]
) -> None:
    staffing.set_presence(member(agent), PresenceState.AVAILABLE, now=at(-60))
    published.clear()

    ticket = join(office, at(0))

    consultation = Consultation.objects.get(ticket=ticket)
    assert to_group(published, groups.ticket_group(ticket.pk)) == [
        {"type": "admitted", "consultation": consultation.pk}
    ]
    assert to_group(published, f"member:{member(agent).pk}") == [
        {"type": "admitted", "consultation": consultation.pk}
    ]
    # Nobody joined the queue; the waiting room only hears the new seat figures.
    assert [event["type"] for event in to_group(published, groups.waiting_group(office.pk))] == ["live"]


def test_free_seat_admission_tells_the_directory_the_seat_is_taken(
    office: Office, agent: User, published: list[Published]
) -> None:
    staffing.set_presence(member(agent), PresenceState.AVAILABLE, now=at(-60))
    published.clear()

    join(office, at(0))

    directory = to_group(published, groups.directory_group(office.organization_id))
    assert directory
    assert directory[-1]["free"] == 0

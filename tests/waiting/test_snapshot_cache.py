"""The per-process caches of the hot paths (#12): a waiting-room snapshot reuses its office's
view while the sequence number stands, the opening status is kept under the office's hours
version. Neither may ever show a stale state: a queue change, an hours edit (in this process
or announced by another through the shared cache) and a closure are seen at once."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.utils import timezone, translation
from pytest_django import DjangoAssertNumQueries, DjangoCaptureOnCommitCallbacks

from buergerbuero.offices import services as offices
from buergerbuero.offices.models import Closure, Office, SpecialOpening
from buergerbuero.orgs.models import Organization
from buergerbuero.realtime.publish import encode
from buergerbuero.staff.models import Role
from buergerbuero.waiting import estimate
from buergerbuero.waiting.models import PresenceState, QueueState, Ticket
from buergerbuero.waiting.services import calling, joining, live_figures, sequence, snapshots, staffing
from buergerbuero.waiting.services.errors import QueueError
from tests import factories
from tests.waiting.conftest import always_open_office

WARM_SNAPSHOT_QUERIES = 1  # the ticket with its office's sequence number, in one statement
# the test's savepoint and its release, the office's row locked and its sequence number bumped
# (one statement), the live figures (queue, presence, history; nobody staffed: no running
# consultations to read), the new ticket (nobody idle: no seat or agent to look for)
WARM_JOIN_QUERIES = 7


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture
def open_office(org: Organization) -> Office:
    office = always_open_office(org, "rund-um-die-uhr")
    QueueState.objects.create(office=office)
    return office


def enter(office: Office, name: str = "") -> Ticket:
    return joining.join(office, service=None, display_name=name, language="de", mode="video")


def test_a_second_snapshot_is_one_query_and_the_same_as_under_the_lock(
    open_office: Office, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    first, _second, third = (enter(open_office, name) for name in ("A", "B", "C"))
    snapshots.snapshot(first)  # builds the office's view

    with django_assert_num_queries(WARM_SNAPSHOT_QUERIES):
        cached = snapshots.snapshot(third)

    assert cached == snapshots._locked_snapshot(third)
    assert cached["position"] == 3


def test_a_queue_change_invalidates_the_cached_snapshot(open_office: Office) -> None:
    first, second = enter(open_office, "A"), enter(open_office, "B")
    before = snapshots.snapshot(second)
    assert before["position"] == 2

    calling.leave(first)
    after = snapshots.snapshot(second)

    assert after["position"] == 1
    assert after["seq"] == before["seq"] + 1
    assert after["live"]["waiting"] == 1


def test_a_presence_change_reaches_the_cached_figures(open_office: Office, org: Organization) -> None:
    ticket = enter(open_office)
    assert snapshots.snapshot(ticket)["live"]["staffed"] == 0
    agent = factories.make_staff(org, "agent-x", Role.AGENT, [open_office])

    staffing.set_presence(agent.staff_member, PresenceState.AVAILABLE)

    assert snapshots.snapshot(ticket)["live"]["staffed"] == 1


def test_an_announcement_reaches_the_cached_snapshot(open_office: Office) -> None:
    ticket = enter(open_office)
    snapshots.snapshot(ticket)
    lead = factories.make_staff(open_office.organization, "lead-x", Role.OFFICE_LEAD, [open_office])

    calling.announce(lead.staff_member, open_office, "Kurze Pause bis 10 Uhr")

    assert snapshots.snapshot(ticket)["announcement"] == "Kurze Pause bis 10 Uhr"


def test_a_warm_join_costs_a_fixed_number_of_queries(
    open_office: Office, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    enter(open_office, "A")  # loads the opening calendar
    cache.delete(joining._shared_key(open_office.pk))  # A's rows, where the scaled mode shares them

    with django_assert_num_queries(WARM_JOIN_QUERIES):
        enter(open_office, "B")


# After a committed join in this process, with the office still at the sequence number it
# wrote: the savepoint and its release, the row locked and the number bumped, the new ticket;
# no queue, presence or history read.
JOIN_AFTER_JOIN_QUERIES = 4


def committed_enter(office: Office, capture: DjangoCaptureOnCommitCallbacks, name: str) -> Ticket:
    """A join as the view makes it: its on-commit work runs (the test's transaction never commits)."""
    with capture(execute=True):
        return enter(office, name)


def test_a_join_right_after_a_join_here_reads_no_queue_and_publishes_fresh_figures(
    open_office: Office,
    django_assert_num_queries: DjangoAssertNumQueries,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in "AB":
        committed_enter(open_office, django_capture_on_commit_callbacks, name)
    sent: list[dict[str, object]] = []
    original = sequence.queue_event

    def spy(
        office: Office, op: str, ticket: Ticket, live: live_figures.OfficeLive | None = None, **kw: Any
    ) -> None:
        sent.append((live or live_figures.office_live(office)).as_json())
        original(office, op, ticket, live, **kw)

    monkeypatch.setattr(sequence, "queue_event", spy)
    with django_assert_num_queries(JOIN_AFTER_JOIN_QUERIES):
        committed_enter(open_office, django_capture_on_commit_callbacks, "C")

    assert sent == [live_figures.office_live(open_office).as_json()]
    assert sent[0]["waiting"] == 3


def test_the_limit_holds_when_a_change_came_between_two_joins(
    open_office: Office, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    open_office.waiting_room_limit = 2
    open_office.save()
    first = committed_enter(open_office, django_capture_on_commit_callbacks, "A")
    committed_enter(open_office, django_capture_on_commit_callbacks, "B")
    with pytest.raises(QueueError) as full:
        committed_enter(open_office, django_capture_on_commit_callbacks, "C")
    assert full.value.code == "full"

    calling.leave(first)  # bumps the sequence number: the remembered rows no longer apply
    committed_enter(open_office, django_capture_on_commit_callbacks, "C")
    with pytest.raises(QueueError) as again:
        committed_enter(open_office, django_capture_on_commit_callbacks, "D")
    assert again.value.code == "full"
    assert live_figures.office_live(open_office).waiting == 2


def test_a_join_rolled_back_by_its_caller_is_not_remembered(
    open_office: Office,
    django_assert_num_queries: DjangoAssertNumQueries,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    first = committed_enter(open_office, django_capture_on_commit_callbacks, "A")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012
        enter(open_office, "B")
        raise RuntimeError
    calling.leave(first)  # the office moves to the number B's join had written

    # B's rows (A and B waiting) must not be taken for that number: read afresh (scaled, where
    # B's rows reached the shared cache, after one query more that finds B never committed).
    with django_assert_num_queries(WARM_JOIN_QUERIES + (1 if settings.REDIS_URL else 0)):
        committed_enter(open_office, django_capture_on_commit_callbacks, "C")
    assert live_figures.office_live(open_office).waiting == 1


@pytest.fixture
def shared_join_rows(open_office: Office, settings: Any) -> None:
    """The joins' shared level on: Redis in the scaled pass; in the embedded one the same code
    on the process's local-memory cache (the setting only has to say "scaled")."""
    settings.REDIS_URL = settings.REDIS_URL or "redis://unused.invalid/0"
    cache.delete(joining._shared_key(open_office.pk))


def as_another_process() -> None:
    """What a second web process knows of the joins: only what the shared cache holds."""
    joining.forget_join_rows()


@pytest.mark.usefixtures("shared_join_rows")
def test_a_join_after_a_join_in_another_process_reads_no_queue(
    open_office: Office,
    django_assert_num_queries: DjangoAssertNumQueries,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    for name in "AB":
        committed_enter(open_office, django_capture_on_commit_callbacks, name)
    as_another_process()

    # The same as after a join here, and the check that the join which wrote them committed.
    with django_assert_num_queries(JOIN_AFTER_JOIN_QUERIES + 1):
        committed_enter(open_office, django_capture_on_commit_callbacks, "C")
    assert live_figures.office_live(open_office).waiting == 3


@pytest.mark.usefixtures("shared_join_rows")
def test_a_join_rolled_back_is_not_taken_from_the_shared_cache(
    open_office: Office,
    django_assert_num_queries: DjangoAssertNumQueries,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    first = committed_enter(open_office, django_capture_on_commit_callbacks, "A")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012
        enter(open_office, "B")  # its rows reach the shared cache before it would commit
        raise RuntimeError
    calling.leave(first)  # the office moves to the number B's join had written
    as_another_process()

    # B's rows name a ticket that does not exist: read afresh (the check is one query more).
    with django_assert_num_queries(WARM_JOIN_QUERIES + 1):
        committed_enter(open_office, django_capture_on_commit_callbacks, "C")
    assert live_figures.office_live(open_office).waiting == 1


@pytest.mark.usefixtures("shared_join_rows")
def test_joins_go_on_when_the_shared_cache_is_away(
    open_office: Office, settings: Any, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    committed_enter(open_office, django_capture_on_commit_callbacks, "A")
    as_another_process()
    settings.CACHES = {  # nothing listens on port 1
        "default": {
            "BACKEND": "buergerbuero.lib.cache.SharedPoolRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }

    committed_enter(open_office, django_capture_on_commit_callbacks, "B")
    committed_enter(open_office, django_capture_on_commit_callbacks, "C")

    assert live_figures.office_live(open_office).waiting == 3


def test_the_joins_figures_are_those_of_a_fresh_read(
    open_office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The join reuses the figures it read under the lock, with the newcomer in its place."""
    for name in "ABC":
        enter(open_office, name)
    sent: list[dict[str, object]] = []
    original = sequence.queue_event

    def spy(
        office: Office, op: str, ticket: Ticket, live: live_figures.OfficeLive | None = None, **kw: Any
    ) -> None:
        sent.append({"live": (live or live_figures.office_live(office)).as_json()})
        original(office, op, ticket, live, **kw)

    monkeypatch.setattr(sequence, "queue_event", spy)
    enter(open_office, "D")

    assert sent[0]["live"] == live_figures.office_live(open_office).as_json()


def test_an_hours_edit_invalidates_the_cached_closing_time(
    open_office: Office, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    zone = open_office.organization.zone
    ticket = enter(open_office)
    assert snapshots.snapshot(ticket)["closes_at"] is not None  # open for weeks: cached now
    tomorrow = timezone.localdate(timezone.now(), zone) + dt.timedelta(days=1)

    with django_capture_on_commit_callbacks(execute=True):
        SpecialOpening.objects.create(
            office=open_office, date=tomorrow, opens=dt.time(9, 0), closes=dt.time(10, 0)
        )

    closes_at = snapshots.snapshot(ticket)["closes_at"]
    assert closes_at is not None
    assert dt.datetime.fromisoformat(closes_at).astimezone(zone).date() == tomorrow  # open until 00:00


def test_no_stale_status_after_a_closure_is_added(
    client: Client,
    open_office: Office,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    org = open_office.organization
    assert joining.join_refusal(open_office, timezone.now()) is None
    assert "closed" not in client.get(f"/{org.slug}/{open_office.slug}/").content.decode()
    client.get(f"/{org.slug}/")  # the directory's cache too
    today = timezone.localdate(timezone.now(), org.zone)

    with django_capture_on_commit_callbacks(execute=True):
        Closure.objects.create(office=open_office, starts_on=today, ends_on=today, reason="Betriebsausflug")

    refusal = joining.join_refusal(open_office, timezone.now())
    assert refusal is not None
    assert refusal.code == "closed"
    with pytest.raises(QueueError):
        enter(open_office)
    assert "Betriebsausflug" in client.get(f"/{org.slug}/{open_office.slug}/").content.decode()
    assert "Betriebsausflug" in client.get(f"/{org.slug}/").content.decode()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_an_hours_change_announced_by_another_process_is_seen_within_the_recheck(
    open_office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process changed the rows and replaced the version in the shared cache (its
    signals ran there, not here): this process reloads the calendar once it reads the version
    again, within ``HOURS_VERSION_RECHECK_S``."""
    clock = _Clock()
    monkeypatch.setattr(offices, "time", clock)
    now = timezone.now()
    assert offices.cached_status(open_office.pk, now).is_open
    today = timezone.localdate(now, open_office.organization.zone)
    # Written without signals, as if by the other process ...
    Closure.objects.bulk_create([Closure(office=open_office, starts_on=today, ends_on=today, reason="Umzug")])
    assert offices.cached_status(open_office.pk, now).is_open  # ... so this process still has the old one
    # A new version (unique: Redis outlives test runs, and ids repeat in a new test database).
    cache.set(offices._hours_key(open_office.pk), f"from-another-process-{uuid.uuid4()}", timeout=None)
    clock.now += offices.HOURS_VERSION_RECHECK_S / 2
    assert offices.cached_status(open_office.pk, now).is_open  # the version read a moment ago

    clock.now += offices.HOURS_VERSION_RECHECK_S / 2
    assert not offices.cached_status(open_office.pk, now).is_open


def test_the_hours_version_is_read_once_per_recheck_interval(
    open_office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _Clock()
    monkeypatch.setattr(offices, "time", clock)
    reads: list[list[str]] = []
    get_many = cache.get_many

    def counted_get_many(keys: list[str]) -> dict[str, Any]:
        reads.append(list(keys))
        return get_many(keys)

    monkeypatch.setattr(cache, "get_many", counted_get_many)

    for _connect in range(5):
        offices.cached_status(open_office.pk)
    clock.now += offices.HOURS_VERSION_RECHECK_S
    offices.cached_status(open_office.pk)

    assert reads == [[offices._hours_key(open_office.pk)]] * 2


def test_the_cached_status_turns_closed_at_closing_time(org: Organization) -> None:
    office = factories.make_office(org, "frueh", hours=[(day, "08:00", "12:00") for day in range(7)])
    zone = org.zone
    morning = dt.datetime.combine(timezone.localdate(timezone.now(), zone), dt.time(9, 0), tzinfo=zone)

    assert offices.cached_status(office.pk, morning).is_open
    assert offices.cached_status(office.pk, morning.replace(hour=11, minute=50)).closing_soon
    assert not offices.cached_status(office.pk, morning.replace(hour=12, minute=0)).is_open
    assert offices.cached_status(office.pk, morning + dt.timedelta(days=1)).is_open


def test_the_sockets_snapshot_text_is_the_snapshot_serialised(open_office: Office, org: Organization) -> None:
    agent = factories.make_staff(org, "agent-y", Role.AGENT, [open_office])
    staffing.set_presence(agent.staff_member, PresenceState.AVAILABLE)
    staffing.set_presence(agent.staff_member, PresenceState.PAUSE)  # known estimate, nobody admitted
    tickets = [enter(open_office, name) for name in "ABC"]
    snapshots.snapshot(tickets[0])  # the view is cached: its figures come serialised

    status, text = snapshots.snapshot_text(tickets[2])

    assert status == "waiting"
    assert json.loads(text) == snapshots.snapshot(tickets[2])
    assert text == encode(snapshots.snapshot(tickets[2]))


def test_a_long_queues_message_stays_small_and_exact_where_it_speaks(
    open_office: Office, org: Organization
) -> None:
    """Every waiting citizen gets the figures with every change: their size must not grow with
    the queue (a range per position was 220 KB at 10,000 waiting)."""
    agent = factories.make_staff(org, "agent-z", Role.AGENT, [open_office])
    staffing.set_presence(agent.staff_member, PresenceState.AVAILABLE)
    staffing.set_presence(agent.staff_member, PresenceState.PAUSE)
    now = timezone.now()
    Ticket.objects.bulk_create(
        Ticket(office=open_office, token=f"long-{i}", arrived_at=now, queue_key=i, last_seen_at=now)
        for i in range(3 * estimate.WAITS_SENT)
    )
    inputs = live_figures.office_live(open_office).estimate

    sent = inputs.as_json()

    assert sent is not None
    assert len(sent["waits"]) == estimate.WAITS_SENT + 1  # type: ignore[arg-type]
    assert sent["waits"] == [wait.as_json() for wait in inputs.waits()[: estimate.WAITS_SENT + 1]]
    assert len(encode(sent)) < 4000

"""The console's second thoughts: undoing a removal, clearing the message to everyone waiting,
and what the console's state carries for them (the office's message and opening status).

Times are passed as ``now=`` (an open Thursday in the fixture office's hours, Europe/Berlin);
the endpoint tests stand the clock there.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import translation

from buergerbuero.audit.models import Action, AuditEntry
from buergerbuero.offices.models import Office
from buergerbuero.realtime import publish as realtime_publish
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting import console
from buergerbuero.waiting.models import QueueState, Ticket, TicketStatus
from buergerbuero.waiting.services import calling, groups, joining
from buergerbuero.waiting.services.calling import UNDO_SECONDS
from buergerbuero.waiting.services.errors import QueueError

pytestmark = pytest.mark.django_db
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
OPEN = dt.datetime(2026, 11, 26, 10, 0, tzinfo=BERLIN)  # a Thursday, 08:00–16:00


def at(seconds: float) -> dt.datetime:
    return OPEN + dt.timedelta(seconds=seconds)


def join(office: Office, seconds: float, name: str = "") -> Ticket:
    return joining.join(office, service=None, display_name=name, language="de", mode="video", now=at(seconds))


def member(user: User) -> StaffMember:
    return user.staff_member


def reload(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def position(ticket: Ticket) -> int | None:
    """The place in the queue order (read from the database: no snapshot cache in between)."""
    order = list(
        Ticket.objects.filter(office=ticket.office_id, status=TicketStatus.WAITING)
        .order_by("-priority", "queue_key", "pk")
        .values_list("pk", flat=True)
    )
    return order.index(ticket.pk) + 1 if ticket.pk in order else None


@dataclass(frozen=True)
class Published:
    group: str
    payload: dict[str, Any]


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[Published]:
    sent: list[Published] = []
    monkeypatch.setattr(
        realtime_publish, "publish", lambda group, payload: sent.append(Published(group, payload))
    )
    return sent


# --- undo of a removal ----------------------------------------------------------------------
@pytest.mark.parametrize("no_show", [False, True])
def test_undo_within_the_window_gives_the_citizen_their_place_back(
    office: Office, agent: User, no_show: bool
) -> None:
    first, removed, last = join(office, 0), join(office, 1), join(office, 2)
    calling.remove(member(agent), removed.pk, no_show=no_show, now=at(10))
    assert position(last) == 2

    calling.undo_remove(member(agent), removed.pk, now=at(10 + UNDO_SECONDS))

    after = reload(removed)
    assert (after.status, after.ended_at) == (TicketStatus.WAITING, None)
    assert after.queue_key == removed.queue_key  # the same place, not the end of the queue
    assert [position(first), position(after), position(last)] == [1, 2, 3]
    assert after.last_seen_at == at(10 + UNDO_SECONDS)  # the page gets time to come back


def test_undo_after_the_window_is_refused_and_the_removal_stands(office: Office, agent: User) -> None:
    ticket = join(office, 0)
    calling.remove(member(agent), ticket.pk, now=at(10))

    with pytest.raises(QueueError) as refused:
        calling.undo_remove(member(agent), ticket.pk, now=at(10 + UNDO_SECONDS + 1))

    assert refused.value.code == "too_late"
    assert reload(ticket).status == TicketStatus.REMOVED


@pytest.mark.parametrize("status", [TicketStatus.WAITING, TicketStatus.LEFT, TicketStatus.EXPIRED])
def test_only_a_removal_or_no_show_can_be_undone(office: Office, agent: User, status: str) -> None:
    ticket = join(office, 0)
    Ticket.objects.filter(pk=ticket.pk).update(status=status, ended_at=at(5) if status != "waiting" else None)

    with pytest.raises(QueueError) as refused:
        calling.undo_remove(member(agent), ticket.pk, now=at(6))

    assert refused.value.code == "too_late"
    assert reload(ticket).status == status


def test_undo_only_by_staff_of_the_office(office: Office, agent: User, foreign_agent: User) -> None:
    ticket = join(office, 0)
    calling.remove(member(agent), ticket.pk, now=at(10))

    with pytest.raises(PermissionDenied):
        calling.undo_remove(member(foreign_agent), ticket.pk, now=at(11))

    assert reload(ticket).status == TicketStatus.REMOVED


def test_undo_tells_the_waiting_rooms_and_the_citizens_page(
    office: Office, agent: User, published: list[Published]
) -> None:
    ticket = join(office, 0)
    calling.remove(member(agent), ticket.pk, now=at(10))
    published.clear()

    calling.undo_remove(member(agent), ticket.pk, now=at(12))

    queue = [m.payload for m in published if m.group == groups.waiting_group(office.pk)]
    assert [(m["type"], m["op"], m["key"]) for m in queue] == [("queue", "join", ticket.order_key)]
    assert [m.payload for m in published if m.group == groups.ticket_group(ticket.pk)] == [
        {"type": "requeued"}
    ]
    assert any(m.group == groups.staff_group(office.pk) for m in published)


# --- clearing the message to everyone waiting -----------------------------------------------
def test_clearing_the_message_removes_it_for_everyone_waiting(
    office: Office, agent: User, published: list[Published]
) -> None:
    ticket = join(office, 0)
    calling.announce(member(agent), office, "Heute nur bis 12 Uhr", now=at(5))
    published.clear()

    calling.clear_announcement(member(agent), office, now=at(10))

    assert QueueState.objects.get(office=office).announcement == ""
    assert reload(ticket).status == TicketStatus.WAITING
    sent = [m.payload for m in published if m.group == groups.waiting_group(office.pk)]
    assert [(m["type"], m["text"]) for m in sent] == [("announcement", "")]
    assert QueueState.objects.get(office=office).announced_at == at(10)


def test_clearing_is_only_for_staff_of_the_office(office: Office, agent: User, foreign_agent: User) -> None:
    calling.announce(member(agent), office, "Pause bis 11 Uhr", now=at(5))

    with pytest.raises(PermissionDenied):
        calling.clear_announcement(member(foreign_agent), office, now=at(10))

    assert QueueState.objects.get(office=office).announcement == "Pause bis 11 Uhr"


# --- the console's state --------------------------------------------------------------------
def test_console_state_carries_the_message_and_the_opening_status(office: Office, agent: User) -> None:
    calling.announce(member(agent), office, "Kurze Pause", now=at(5))
    join(office, 6)

    with time_machine.travel(at(60), tick=False), translation.override("de"):
        card = console.state(member(agent))["offices"][0]

    assert card["announcement"] == "Kurze Pause"
    assert card["open"] is True
    assert "16:00" in card["status"]
    assert card["next_change_at"] is not None


def test_console_state_counts_a_booked_citizen_among_the_waiting(office: Office, agent: User) -> None:
    joining.join_booked(
        office, agent=member(agent), service=None, display_name="Frau Termin", language="de", now=at(0)
    )

    with time_machine.travel(at(5), tick=False):
        waiting = console.state(member(agent))["waiting"]

    assert [(t["name"], t["booked_for_me"]) for t in waiting] == [("Frau Termin", True)]


# --- the endpoints and their audit entries ---------------------------------------------------
@pytest.fixture
def staff_client(agent: User) -> Iterator[Client]:
    client = Client(headers={"accept-language": "en"})
    client.force_login(agent)
    with time_machine.travel(OPEN, tick=True):
        yield client


def test_undo_endpoint_restores_and_is_audited(office: Office, staff_client: Client) -> None:
    ticket = joining.join(office, service=None, display_name="", language="de", mode="video")
    assert staff_client.post(reverse("waiting:remove", kwargs={"ticket_id": ticket.pk})).status_code == 200

    response = staff_client.post(reverse("waiting:undo_remove", kwargs={"ticket_id": ticket.pk}))

    assert (response.status_code, response.json()) == (200, {"ticket": ticket.pk})
    assert reload(ticket).status == TicketStatus.WAITING
    entries = list(AuditEntry.objects.order_by("pk").values_list("action", "target"))
    assert entries[-2:] == [
        (Action.QUEUE_REMOVE, f"ticket:{ticket.pk}"),
        (Action.QUEUE_REMOVE_UNDONE, f"ticket:{ticket.pk}"),
    ]


def test_undo_endpoint_after_the_window_says_so(office: Office, staff_client: Client) -> None:
    ticket = joining.join(office, service=None, display_name="", language="de", mode="video")
    staff_client.post(reverse("waiting:remove", kwargs={"ticket_id": ticket.pk}))
    Ticket.objects.filter(pk=ticket.pk).update(ended_at=OPEN - dt.timedelta(minutes=1))

    response = staff_client.post(reverse("waiting:undo_remove", kwargs={"ticket_id": ticket.pk}))

    assert (response.status_code, response.json()["code"]) == (409, "too_late")
    assert reload(ticket).status == TicketStatus.REMOVED
    assert not AuditEntry.objects.filter(action=Action.QUEUE_REMOVE_UNDONE).exists()


def test_clear_endpoint_clears_only_offices_served_and_is_audited(
    office: Office, second_office: Office, staff_client: Client
) -> None:
    staff_client.post(reverse("waiting:announce", kwargs={"office_id": office.pk}), {"text": "Pause"})

    foreign = staff_client.post(reverse("waiting:clear_announcement", kwargs={"office_id": second_office.pk}))
    response = staff_client.post(reverse("waiting:clear_announcement", kwargs={"office_id": office.pk}))

    assert foreign.status_code == 404
    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert QueueState.objects.get(office=office).announcement == ""
    assert (
        AuditEntry.objects.filter(action=Action.QUEUE_ANNOUNCE_CLEARED, target=f"office:{office.pk}").count()
        == 1
    )


@pytest.mark.parametrize("name", ["undo_remove", "clear_announcement"])
def test_new_endpoints_need_post_and_a_login(office: Office, staff_client: Client, name: str) -> None:
    kwargs = {"ticket_id": 1} if name == "undo_remove" else {"office_id": office.pk}
    url = reverse(f"waiting:{name}", kwargs=kwargs)

    assert staff_client.get(url).status_code == 405
    assert Client().post(url).status_code == 302  # to the login

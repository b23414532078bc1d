"""The events' rules: registration and accreditation, who may take part, moderated questions,
hands, the stage, host rights and their audit log, consultation hours on the waiting room's
queue, and the retention of personal data."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from buergerbuero.audit.models import AuditEntry
from buergerbuero.events import messages, services
from buergerbuero.events.models import (
    Accreditation,
    Attendee,
    ChatMessage,
    Event,
    EventKind,
    EventStatus,
    Question,
    QuestionStatus,
    Registration,
    StageSeat,
)
from buergerbuero.notify.models import Notification
from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting.models import Ticket, TicketStatus
from tests import factories
from tests.events.support import journalist, live, make_event, viewer

pytestmark = pytest.mark.django_db
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
OPEN = dt.datetime(2026, 11, 26, 10, 0, tzinfo=BERLIN)  # a Thursday: the office is open 08:00–16:00


def member_of(user: User) -> StaffMember:
    return StaffMember.objects.select_related("user", "organization").get(user=user)


# --- registration ----------------------------------------------------------------------------
def test_registration_writes_the_confirmation_with_a_calendar_file(event: Event) -> None:
    registration = services.register(event, name="Anna Muster", email="anna@example.org", language="en")

    notification = Notification.objects.get(topic=messages.topic(registration.pk))
    assert notification.recipient == "anna@example.org"
    assert "BEGIN:VEVENT" in notification.attachment
    assert registration.token in notification.body_text
    assert notification.subject.startswith("Your registration")  # in the person's language
    assert registration.accreditation == Accreditation.NONE


def test_the_same_address_registers_once(event: Event) -> None:
    services.register(event, name="Anna", email="anna@example.org", language="de")
    with pytest.raises(services.EventError) as refused:
        services.register(event, name="Anna", email="anna@example.org", language="de")
    assert refused.value.code == "duplicate"
    assert Registration.objects.count() == 1


def test_bad_input_changes_nothing(event: Event) -> None:
    with pytest.raises(services.EventError) as refused:
        services.register(event, name="Anna", email="not an address", language="de")
    assert refused.value.code == "bad_email"
    with pytest.raises(services.EventError):
        services.register(event, name="  \x00 ", email="anna@example.org", language="de")
    assert Registration.objects.count() == 0
    assert Notification.objects.count() == 0


def test_registrations_per_address_are_limited(event: Event) -> None:
    for number in range(services.REGISTRATIONS_PER_ADDRESS_HOUR):
        services.register(event, name="A", email=f"a{number}@example.org", language="de", address="192.0.2.1")
    with pytest.raises(services.EventError) as refused:
        services.register(event, name="A", email="last@example.org", language="de", address="192.0.2.1")
    assert refused.value.code == "limited"
    services.register(event, name="B", email="b@example.org", language="de", address="192.0.2.2")


def test_a_full_event_takes_no_more_registrations(org: Organization, host: StaffMember) -> None:
    small = make_event(org, hosts=[host], capacity=1, registration_required=True)
    services.register(small, name="A", email="a@example.org", language="de")
    with pytest.raises(services.EventError) as refused:
        services.register(small, name="B", email="b@example.org", language="de")
    assert refused.value.code == "full"


def test_a_journalist_waits_for_accreditation_and_is_told_the_decision(
    press: Event, host: StaffMember
) -> None:
    registration = services.register(
        press, name="Paula", email="paula@example.org", language="de", journalist=True, outlet="Tagblatt"
    )
    assert registration.accreditation == Accreditation.PENDING

    services.decide_accreditation(host, registration, approve=True)

    registration.refresh_from_db()
    assert registration.accreditation == Accreditation.APPROVED
    assert Notification.objects.filter(topic=messages.topic(registration.pk)).count() == 2
    assert AuditEntry.objects.filter(action="event.accreditation", target=f"event:{press.pk}").exists()


def test_reminders_are_written_once(event: Event) -> None:
    registration = services.register(
        event, name="A", email="a@example.org", language="de", now=event.starts_at - dt.timedelta(days=2)
    )
    now = event.starts_at - dt.timedelta(minutes=10)
    assert messages.enqueue_reminders(now) == 2  # the 24-hour and the 15-minute one
    assert messages.enqueue_reminders(now) == 0
    assert Notification.objects.filter(topic=messages.topic(registration.pk)).count() == 3


# --- joining ---------------------------------------------------------------------------------
def test_an_event_with_registration_admits_only_registered_viewers(press: Event) -> None:
    with pytest.raises(services.EventError) as refused:
        services.join(press, display_name="Someone")
    assert refused.value.code == "not_registered"
    registration = services.register(press, name="Public", email="p@example.org", language="de")
    assert services.join(press, registration=registration).display_name == "Public"


def test_the_lobby_opens_two_hours_before_the_start(org: Organization, host: StaffMember) -> None:
    later = make_event(org, hosts=[host], starts_in=dt.timedelta(hours=3))
    with pytest.raises(services.EventError) as refused:
        services.join(later)
    assert refused.value.code == "too_early"


def test_a_full_event_admits_nobody_more(org: Organization, host: StaffMember) -> None:
    small = make_event(org, hosts=[host], capacity=2)
    viewer(small)
    viewer(small)
    with pytest.raises(services.EventError) as refused:
        viewer(small)
    assert refused.value.code == "full"


def test_a_person_keeps_one_place_however_often_they_join(org: Organization, host: StaffMember) -> None:
    """A full event lets its own viewers back in: the browser that joined before (its viewer
    token) and a registration get their place again, not a second one."""
    small = make_event(org, hosts=[host], capacity=2, registration_required=True)
    anna = services.register(small, name="Anna", email="anna@example.org", language="de")
    ben = services.register(small, name="Ben", email="ben@example.org", language="de")
    annas = services.join(small, registration=anna)
    bens = services.join(small, registration=ben, display_name="Ben B.")

    assert services.join(small, registration=anna) == annas
    assert services.join(small, registration=ben, returning=bens.token, display_name="Benno") == bens
    assert small.attendees.count() == 2
    bens.refresh_from_db()
    assert bens.display_name == "Benno"  # the name given now


def test_a_browser_returns_to_its_place_but_not_to_another_events(
    org: Organization, host: StaffMember
) -> None:
    small = make_event(org, hosts=[host], capacity=1)
    other = make_event(org, hosts=[host])
    place = viewer(small, "Carla")
    elsewhere = viewer(other)

    assert services.join(small, returning=place.token) == place
    for foreign in (elsewhere.token, "not-a-token", ""):
        with pytest.raises(services.EventError) as refused:
            services.join(small, returning=foreign)
        assert refused.value.code == "full"


def test_a_removed_viewer_does_not_get_the_place_back(org: Organization, host: StaffMember) -> None:
    small = make_event(org, hosts=[host], capacity=2)
    live(small, host)
    removed = viewer(small, "Troll")
    services.remove_viewer(host, small, removed.pk)

    again = services.join(small, returning=removed.token)

    assert again.pk != removed.pk
    assert again.token != removed.token
    assert small.attendees.count() == 1


def test_joins_per_address_are_limited(event: Event) -> None:
    for _ in range(services.JOINS_PER_ADDRESS_HOUR):
        services.join(event, address="198.51.100.7")
    with pytest.raises(services.EventError) as refused:
        services.join(event, address="198.51.100.7")
    assert refused.value.code == "limited"


# --- press conferences -------------------------------------------------------------------------
def test_in_a_press_conference_the_public_cannot_raise_a_hand_or_ask(press: Event, host: StaffMember) -> None:
    live(press, host)
    registration = services.register(press, name="Public", email="p@example.org", language="de")
    public = services.join(press, registration=registration)
    pending = journalist(press, "pending@example.org", approved=None)
    refused = journalist(press, "refused@example.org", approved=False)
    accredited = journalist(press, "ok@example.org", approved=True)

    for attendee in (public, pending, refused):
        with pytest.raises(services.EventError) as no_hand:
            services.raise_hand(attendee)
        assert no_hand.value.code == "not_accredited"
        with pytest.raises(services.EventError):
            services.ask(attendee, "Warum?")
        with pytest.raises(services.EventError):
            services.bring_on_stage(host, press, attendee.pk)
    assert services.raise_hand(accredited).lowered_at is None
    assert services.ask(accredited, "Wann beginnt der Bau?").status == QuestionStatus.PENDING


# --- questions -------------------------------------------------------------------------------
def test_questions_are_seen_by_viewers_only_once_approved(live_event: Event, host: StaffMember) -> None:
    anna = viewer(live_event, "Anna")
    question = services.ask(anna, "Wann wird die Straße fertig?")

    assert services.questions_json(live_event, host=False) == []
    assert [q["id"] for q in services.questions_json(live_event, host=True)] == [question.pk]

    services.moderate(host, live_event, question.pk, "approve")
    assert [q["status"] for q in services.questions_json(live_event, host=False)] == ["approved"]

    services.moderate(host, live_event, question.pk, "answer")
    services.moderate(host, live_event, question.pk, "hide")
    assert services.questions_json(live_event, host=False) == []
    actions = set(AuditEntry.objects.filter(target=f"event:{live_event.pk}").values_list("action", flat=True))
    assert {"event.question_approve", "event.question_answer", "event.question_hide"} <= actions


def test_a_pending_question_is_published_to_the_hosts_only(
    live_event: Event, host: StaffMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(services, "publish", lambda group, payload: sent.append((group, payload)))
    anna = viewer(live_event, "Anna")

    question = services.ask(anna, "Eine Frage")
    assert sent == [
        (
            services.hosts_group(live_event.pk),
            {
                "type": "question",
                "id": question.pk,
                "text": "Eine Frage",
                "author": "Anna",
                "status": "pending",
                "upvotes": 0,
            },
        )
    ]
    sent.clear()
    services.moderate(host, live_event, question.pk, "approve")
    assert [group for group, _payload in sent] == [
        services.hosts_group(live_event.pk),
        services.event_group(live_event.pk),
    ]


def test_an_anonymous_question_carries_no_name(live_event: Event) -> None:
    question = services.ask(viewer(live_event, "Anna"), "Frage", anonymous=True)
    assert question.author_name == ""


def test_a_viewer_supports_a_question_once(live_event: Event, host: StaffMember) -> None:
    question = services.ask(viewer(live_event, "Anna"), "Frage")
    bernd = viewer(live_event, "Bernd")
    with pytest.raises(services.EventError):
        services.upvote(bernd, question.pk)  # not approved yet: nobody sees it
    services.moderate(host, live_event, question.pk, "approve")

    assert services.upvote(bernd, question.pk).upvotes == 1
    with pytest.raises(services.EventError) as again:
        services.upvote(bernd, question.pk)
    assert again.value.code == "voted"
    assert services.upvote(viewer(live_event), question.pk).upvotes == 2


def test_questions_per_viewer_are_limited_and_cleaned(live_event: Event) -> None:
    anna = viewer(live_event, "Anna")
    with pytest.raises(services.EventError) as empty:
        services.ask(anna, " \u202e ")
    assert empty.value.code == "empty"
    with pytest.raises(services.EventError) as long:
        services.ask(anna, "x" * 501)
    assert long.value.code == "too_long"
    for number in range(services.QUESTIONS_PER_VIEWER):
        services.ask(anna, f"Frage {number}")
    with pytest.raises(services.EventError) as limited:
        services.ask(anna, "noch eine")
    assert limited.value.code == "limited"
    assert Question.objects.count() == services.QUESTIONS_PER_VIEWER


# --- hands and the stage -----------------------------------------------------------------------
def test_a_hand_is_raised_once_and_limited(live_event: Event) -> None:
    anna = viewer(live_event, "Anna")
    first = services.raise_hand(anna)
    assert services.raise_hand(anna).pk == first.pk
    for _ in range(services.HANDS_PER_VIEWER - 1):
        services.lower_hand(anna)
        services.raise_hand(anna)
    services.lower_hand(anna)
    with pytest.raises(services.EventError) as limited:
        services.raise_hand(anna)
    assert limited.value.code == "limited"


def test_hands_are_raised_only_while_live(event: Event) -> None:
    with pytest.raises(services.EventError) as refused:
        services.raise_hand(viewer(event))
    assert refused.value.code == "not_live"


def test_only_the_stage_may_publish(live_event: Event, host: StaffMember) -> None:
    anna = viewer(live_event, "Anna")
    services.raise_hand(anna)
    assert services.may_publish(live_event, member=host)
    assert not services.may_publish(live_event, attendee=anna)

    seat = services.bring_on_stage(host, live_event, anna.pk)

    assert services.may_publish(live_event, attendee=anna)
    assert services.raised_hands(live_event) == []  # the hand went down
    assert [s["name"] for s in services.stage_json(live_event)] == [host.public_name, "Anna"]
    services.take_off_stage(host, live_event, seat.pk)
    assert not services.may_publish(live_event, attendee=anna)


def test_the_interpreter_is_pinned_first(live_event: Event, host: StaffMember, org: Organization) -> None:
    interpreter = member_of(factories.make_staff(org, "dolmetscherin", Role.AGENT))
    services.add_speaker(host, live_event, interpreter, "interpreter")
    assert [s["role"] for s in services.stage_json(live_event)] == ["interpreter", "host"]
    assert services.stage_json(live_event)[0]["pinned"]


def test_mute_remove_and_end_are_audit_logged(live_event: Event, host: StaffMember) -> None:
    anna = viewer(live_event, "Anna")
    seat = services.bring_on_stage(host, live_event, anna.pk)
    services.mute(host, live_event, seat.pk)
    services.remove_viewer(host, live_event, anna.pk)
    services.end(host, live_event)

    assert not Attendee.objects.filter(pk=anna.pk).exists()
    assert StageSeat.objects.filter(event=live_event).count() == 0
    live_event.refresh_from_db()
    assert live_event.status == EventStatus.ENDED
    actions = list(
        AuditEntry.objects.filter(target=f"event:{live_event.pk}").values_list("action", flat=True)
    )
    for action in ("event.live", "event.on_stage", "event.mute", "event.remove", "event.end"):
        assert action in actions
    assert not any("Anna" in str(entry.details) for entry in AuditEntry.objects.all())  # no citizen's name


def test_the_chat_can_be_switched_off(live_event: Event, host: StaffMember) -> None:
    anna = viewer(live_event, "Anna")
    services.post_chat(live_event, "Hallo", attendee=anna)
    services.set_chat(host, live_event, False)
    with pytest.raises(services.EventError) as off:
        services.post_chat(live_event, "Hallo?", attendee=anna)
    assert off.value.code == "chat_off"
    assert ChatMessage.objects.count() == 1


# --- who may host ----------------------------------------------------------------------------
def test_only_hosts_and_the_org_admin_host(
    event: Event, other_agent: User, org_admin: User, outsider: User, other_org: Organization
) -> None:
    foreign_admin = factories.make_staff(other_org, "fremd", Role.ORG_ADMIN)
    assert services.can_host(member_of(org_admin), event)
    assert not services.can_host(member_of(other_agent), event)
    assert not services.can_host(member_of(foreign_admin), event)
    assert not services.can_host(None, event)
    for user in (other_agent, foreign_admin):
        with pytest.raises(services.EventError) as refused:
            services.go_live(member_of(user), event)
        assert refused.value.code == "not_host"
    event.refresh_from_db()
    assert event.status == EventStatus.SCHEDULED


# --- consultation hours ------------------------------------------------------------------------
def test_consultation_hours_take_turns_through_the_waiting_room(
    org: Organization, office: Office, host: StaffMember
) -> None:
    hours = make_event(
        org,
        hosts=[host],
        kind=EventKind.CONSULTATION_HOURS,
        office=office,
        starts_at=OPEN,
        ends_at=OPEN + dt.timedelta(hours=2),
    )
    services.go_live(host, hours, now=OPEN)
    anna = services.join(hours, display_name="Anna", now=OPEN)
    bernd = services.join(hours, display_name="Bernd", now=OPEN)

    first = services.ask_live(anna, "de", now=OPEN)
    services.ask_live(bernd, "de", now=OPEN + dt.timedelta(seconds=1))
    assert first.status == TicketStatus.WAITING
    assert first.office_id == office.pk
    turn = services.turn(bernd, "en")
    assert turn is not None
    assert turn["status"] == "waiting"
    assert turn["position"] == 2

    called = services.call_next(host, hours, now=OPEN + dt.timedelta(seconds=5))
    assert called is not None
    assert called.pk == first.pk
    with pytest.raises(services.EventError):
        services.here(bernd)  # not called

    seat = services.here(anna, now=OPEN + dt.timedelta(seconds=10))

    assert seat.attendee_id == anna.pk
    assert Ticket.objects.get(pk=first.pk).status == TicketStatus.DONE
    assert services.turn(bernd, "de")["position"] == 1  # type: ignore[index]
    assert AuditEntry.objects.filter(action="event.call", target=f"event:{hours.pk}").exists()


# --- retention and cost ----------------------------------------------------------------------
def test_personal_data_is_deleted_after_the_retention(live_event: Event, host: StaffMember) -> None:
    registration = services.register(live_event, name="Anna", email="anna@example.org", language="de")
    anna = viewer(live_event, "Anna", registration)
    services.ask(anna, "Frage")
    services.post_chat(live_event, "Hallo", attendee=anna)
    services.raise_hand(anna)
    services.end(host, live_event)

    assert services.prune_events(timezone.now() + dt.timedelta(days=services.EVENT_RETENTION_DAYS - 1)) == 0
    services.prune_events(timezone.now() + dt.timedelta(days=services.EVENT_RETENTION_DAYS + 1))

    for model in (Registration, Attendee, Question, ChatMessage, Notification):
        assert model.objects.count() == 0, model
    assert Event.objects.filter(pk=live_event.pk).exists()


def test_a_snapshot_costs_the_same_whatever_the_audience(live_event: Event, host: StaffMember) -> None:
    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            services.stage_json(live_event)
            services.questions_json(live_event, host=True)
            services.chat_json(live_event)
            services.raised_hands(live_event)
        return len(queries)

    baseline = cost()
    for number in range(5):
        person = viewer(live_event, f"P{number}")
        question = services.ask(person, "Frage")
        services.moderate(host, live_event, question.pk, "approve")
        services.post_chat(live_event, "Hallo", attendee=person)
        services.raise_hand(person)
    services.bring_on_stage(host, live_event, person.pk)
    assert cost() == baseline == 4


def test_the_job_loop_prunes_events_and_writes_their_reminders() -> None:
    from buergerbuero.jobs.registry import JOBS

    names = {job.name: job.run for job in JOBS}
    assert names["prune_events"] is services.prune_events
    assert names["enqueue_event_reminders"] is messages.enqueue_reminders


def test_joining_costs_the_same_however_many_have_joined(org: Organization, host: StaffMember) -> None:
    full_house = make_event(org, hosts=[host], capacity=500)

    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            viewer(full_house, "Neu")
        return len(queries)

    first = cost()
    for number in range(20):
        viewer(full_house, f"P{number}")
    assert cost() == first


def test_every_host_action_has_a_label_in_the_audit_log(live_event: Event, host: StaffMember) -> None:
    from buergerbuero.audit.models import Action

    anna = viewer(live_event, "Anna")
    question = services.ask(anna, "Frage")
    for action in ("approve", "answer", "hide"):
        services.moderate(host, live_event, question.pk, action)
    seat = services.bring_on_stage(host, live_event, anna.pk)
    services.mute(host, live_event, seat.pk)
    services.pin(host, live_event, seat.pk)
    services.take_off_stage(host, live_event, seat.pk)
    services.set_chat(host, live_event, False)
    services.remove_viewer(host, live_event, anna.pk)
    services.end(host, live_event)
    recorded = set(AuditEntry.objects.values_list("action", flat=True))
    assert recorded <= set(Action.values), recorded - set(Action.values)

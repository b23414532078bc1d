"""Events: consultation hours, press conferences and public events on one stage.

Who may do what:

- Hosts are the event's ``hosts`` and the organisation's admins (:func:`can_host`); anyone
  else on staff, and every other organisation, gets a 404 for the host page and no host rights
  on the socket. Every host action (go live, end, chat on/off, accreditation, moderation,
  stage changes, mute, remove, calling the next citizen) is audit-logged under ``event:<id>``.
- Viewers have no account: a browser joins an event as an :class:`Attendee` holding a token
  (``lib.tokens``); the name is optional. An event that needs registration admits only
  browsers that show a registration's token. A full event (``capacity`` viewers have joined)
  admits nobody more; its row is locked while a place is counted and taken (``_hold_places``),
  so that viewers or registrations arriving together never exceed the capacity. A place is
  a person's, not a visit's: joining again with the same registration, or from the browser
  that joined before (it shows its viewer token), returns that place, so a dropped phone
  never finds its event full of its own earlier visits.
- Only the stage publishes media: a host and the co-speakers and interpreter a host puts on
  stage, and a viewer a host brings up (``may_publish``). The media relay asks before every
  ``publish``; the Janus peer only relays.
- Press conferences: only journalists whose accreditation a host approved may raise a hand
  or ask a question; the public only watches.
- Questions are moderated: a viewer's question is ``pending`` (seen by hosts only) until a host
  approves it; then every viewer sees it and may upvote it once (a unique row per viewer and
  question; the count is an ``F()`` increment). Answered questions stay visible; hidden ones go.
- Consultation hours use the waiting room of the event's office as the citizens' queue: a
  citizen who wants to ask live joins it (``waiting.services.joining.join``: position and
  estimate as in any waiting room), the host calls the next one with waiting's exactly-once
  ``call_next`` (the host must serve the office), the citizen answers “I'm here” within the
  office's call time, and instead of a one-to-one consultation the ticket ends as done and the
  citizen is brought on stage. An unanswered call goes back to the queue by waiting's own job.

Abuse limits (``limits``, counted in the database): joins per client address per hour,
registrations per client address per hour, questions, hand raises and chat messages per viewer
per 10 minutes. A refusal is an :class:`EventError` with code ``limited`` and changes nothing.

Events are never recorded. Personal data (registrations, viewers, questions, hands, chat) is
deleted ``EVENT_RETENTION_DAYS`` after the event's end (:func:`prune_events`).
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone, translation
from django.utils.timesince import timeuntil
from django.utils.translation import gettext as _

from buergerbuero.audit import services as audit
from buergerbuero.events import messages
from buergerbuero.events.models import (
    Accreditation,
    Attendee,
    ChatMessage,
    Event,
    EventKind,
    EventStatus,
    HandRaise,
    Question,
    QuestionStatus,
    Registration,
    StageRole,
    StageSeat,
    Upvote,
    Visibility,
)
from buergerbuero.lib.errors import ServiceError
from buergerbuero.lib.locking import locked
from buergerbuero.lib.text import clean_text
from buergerbuero.lib.tokens import looks_like_token
from buergerbuero.limits import services as limits
from buergerbuero.realtime import events as realtime_events
from buergerbuero.realtime.publish import publish
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting import estimate
from buergerbuero.waiting.models import Mode, Ticket, TicketStatus
from buergerbuero.waiting.services import calling, joining, live_figures, snapshots
from buergerbuero.waiting.services.errors import QueueError

TOKEN_BYTES = 24
EVENT_RETENTION_DAYS = 14
JOINS_PER_ADDRESS_HOUR = 30
REGISTRATIONS_PER_ADDRESS_HOUR = 10
QUESTIONS_PER_VIEWER = 5  # per TEN_MINUTES
HANDS_PER_VIEWER = 5
CHAT_PER_VIEWER = 30
TEN_MINUTES = 600
MAX_TEXT = 500
MAX_NAME = 60
LISTED_QUESTIONS = 200
LISTED_CHAT = 50
# How long before the start the lobby opens (viewers wait there with the countdown).
LOBBY_OPENS = dt.timedelta(hours=2)


class EventError(ServiceError):
    """A refusal: nothing was changed."""


# --- groups ------------------------------------------------------------------------------------
def event_group(event_id: int) -> str:
    return f"event:{event_id}"


def hosts_group(event_id: int) -> str:
    return f"event:{event_id}:hosts"


def attendee_group(attendee_id: int) -> str:
    return f"event-attendee:{attendee_id}"


def _target(event: Event) -> str:
    return f"event:{event.pk}"


# --- looking up --------------------------------------------------------------------------------
def listed_events(organization_id: int, now: dt.datetime | None = None) -> QuerySet[Event]:
    """The organisation's public events that have not ended, soonest first."""
    now = now or timezone.now()
    return (
        Event.objects.filter(organization_id=organization_id, visibility=Visibility.PUBLIC, ends_at__gt=now)
        .exclude(status=EventStatus.ENDED)
        .select_related("organization", "office")
        .order_by("starts_at", "pk")
    )


def public_event_in(org_slug: str, event_id: int) -> Event | None:
    return (
        Event.objects.filter(organization__slug=org_slug, pk=event_id, visibility=Visibility.PUBLIC)
        .select_related("organization", "office")
        .first()
    )


def event_by_link(token: str) -> Event | None:
    if not looks_like_token(token):
        return None
    return Event.objects.filter(link_token=token).select_related("organization", "office").first()


def attendee_by_token(token: str) -> Attendee | None:
    if not looks_like_token(token):
        return None
    return (
        Attendee.objects.filter(token=token)
        .select_related("event__organization", "registration", "ticket")
        .first()
    )


def registration_by_token(token: str) -> Registration | None:
    if not looks_like_token(token):
        return None
    return Registration.objects.filter(token=token).select_related("event__organization").first()


def can_host(member: StaffMember | None, event: Event) -> bool:
    """The event's hosts and its organisation's admins."""
    if member is None or member.organization_id != event.organization_id:
        return False
    return member.is_org_admin or event.hosts.filter(pk=member.pk).exists()


def hosted_events(member: StaffMember) -> QuerySet[Event]:
    events = Event.objects.filter(organization_id=member.organization_id)
    if not member.is_org_admin:
        events = events.filter(hosts=member)
    return events.exclude(status=EventStatus.ENDED).order_by("starts_at", "pk")


def _require_host(member: StaffMember, event: Event) -> None:
    if not can_host(member, event):
        raise EventError(_("Only the event's hosts may do this."), "not_host")


# --- creating ----------------------------------------------------------------------------------
def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def check_event(event: Event) -> dict[str, str]:
    """What is wrong with an event's settings, by field (empty: nothing)."""
    errors: dict[str, str] = {}
    if event.starts_at and event.ends_at and event.ends_at <= event.starts_at:
        errors["ends_at"] = _("The end must be after the start.")
    if event.kind == EventKind.CONSULTATION_HOURS and event.office_id is None:
        errors["office"] = _(
            "Consultation hours take their citizens from an office's waiting room: choose one."
        )
    if (
        event.office_id is not None
        and event.office is not None
        and event.office.organization_id != event.organization_id
    ):
        errors["office"] = _("Please choose one of this organisation's offices.")
    if event.kind == EventKind.PRESS_CONFERENCE and not event.registration_required:
        errors["registration_required"] = _(
            "Journalists register for a press conference: please require registration."
        )
    return errors


# --- registration ------------------------------------------------------------------------------
def _limited(message: str, verdict: limits.Verdict, now: dt.datetime) -> EventError:
    return EventError(message % {"wait": timeuntil(verdict.resets_at, now, depth=1)}, "limited")


def register(
    event: Event,
    *,
    name: str,
    email: str,
    language: str,
    journalist: bool = False,
    outlet: str = "",
    address: str | None = None,
    now: dt.datetime | None = None,
) -> Registration:
    """Register for ``event``: the confirmation (with a calendar file) goes to the outbox in the
    same transaction. Journalists of a press conference wait for a host's accreditation."""
    now = now or timezone.now()
    name = clean_text(name, multiline=False)[:100]
    email = email.strip()
    outlet = clean_text(outlet, multiline=False)[:120]
    if event.status == EventStatus.ENDED or event.ends_at <= now:
        raise EventError(_("This event is over."), "ended")
    if not name:
        raise EventError(_("Please enter your name."), "bad_name")
    try:
        validate_email(email)
    except ValidationError as error:
        raise EventError(_("Please enter a valid e-mail address."), "bad_email") from error
    if address is not None:
        verdict = limits.hit("event-register", address, REGISTRATIONS_PER_ADDRESS_HOUR, limits.HOUR, now)
        if not verdict.allowed:
            raise _limited(
                _("Too many registrations were made from your connection. Please try again in %(wait)s."),
                verdict,
                now,
            )
    press = event.kind == EventKind.PRESS_CONFERENCE and journalist
    try:
        with transaction.atomic():
            if event.capacity is not None and _hold_places(event).registrations.count() >= event.capacity:
                raise EventError(_("This event is fully booked."), "full")
            registration = Registration.objects.create(
                event=event,
                name=name,
                email=email,
                language=language if language in event.organization.language_codes else "de",
                token=new_token(),
                outlet=outlet if press else "",
                accreditation=Accreditation.PENDING if press else Accreditation.NONE,
                created_at=now,
            )
            messages.registration_changed(registration, "registered", now)
    except IntegrityError as error:
        raise EventError(
            _("This e-mail address is already registered for this event."), "duplicate"
        ) from error
    return registration


def confirm_registration(registration: Registration, now: dt.datetime | None = None) -> Registration:
    """The person opened the link of their confirmation e-mail: the address is theirs."""
    if registration.confirmed_at is None:
        registration.confirmed_at = now or timezone.now()
        Registration.objects.filter(pk=registration.pk, confirmed_at__isnull=True).update(
            confirmed_at=registration.confirmed_at
        )
    return registration


def decide_accreditation(
    member: StaffMember, registration: Registration, approve: bool, now: dt.datetime | None = None
) -> Registration:
    """A host approves or refuses a journalist's accreditation; they are told by e-mail."""
    now = now or timezone.now()
    event = registration.event
    _require_host(member, event)
    if registration.accreditation == Accreditation.NONE:
        raise EventError(_("This person did not register as a journalist."), "not_journalist")
    registration.accreditation = Accreditation.APPROVED if approve else Accreditation.REFUSED
    with transaction.atomic():
        registration.save(update_fields=["accreditation"])
        messages.registration_changed(registration, "accreditation", now)
    audit.record(
        "event.accreditation",
        actor=member.user,
        organization=event.organization_id,
        target=_target(event),
        details={"registration": registration.pk, "approved": approve},
    )
    return registration


# --- viewers -----------------------------------------------------------------------------------
def lobby_open(event: Event, now: dt.datetime) -> bool:
    return event.status == EventStatus.LIVE or (
        event.status == EventStatus.SCHEDULED and event.starts_at - LOBBY_OPENS <= now < event.ends_at
    )


def join(
    event: Event,
    *,
    display_name: str = "",
    registration: Registration | None = None,
    returning: str = "",
    address: str | None = None,
    now: dt.datetime | None = None,
) -> Attendee:
    """A browser joins the event as a viewer (lobby before the start, the stage once live).
    ``returning``: the viewer token this browser was given when it joined before, if any."""
    now = now or timezone.now()
    if event.status == EventStatus.ENDED or event.ends_at <= now:
        raise EventError(_("This event is over."), "ended")
    if not lobby_open(event, now):
        raise EventError(_("The lobby opens two hours before the start."), "too_early")
    if event.registration_required and (registration is None or registration.event_id != event.pk):
        raise EventError(_("This event needs a registration. Please register first."), "not_registered")
    name = clean_text(display_name, multiline=False)[:MAX_NAME]
    own = _own_place(event, registration, returning)
    if own is not None:
        if name and name != own.display_name:
            own.display_name = name
            own.save(update_fields=["display_name"])
        return own
    if address is not None:
        verdict = limits.hit("event-join", address, JOINS_PER_ADDRESS_HOUR, limits.HOUR, now)
        if not verdict.allowed:
            raise _limited(
                _("Too many viewers joined from your connection. Please try again in %(wait)s."), verdict, now
            )
    if not name and registration is not None:
        name = registration.name[:MAX_NAME]
    with transaction.atomic():
        if event.capacity is not None and _hold_places(event).attendees.count() >= event.capacity:
            raise EventError(_("This event is full."), "full")
        return Attendee.objects.create(
            event=event, token=new_token(), display_name=name, registration=registration, created_at=now
        )


def _own_place(event: Event, registration: Registration | None, returning: str) -> Attendee | None:
    """The place this person took before: their registration's, or the one this browser holds."""
    places = Attendee.objects.filter(event=event).order_by("pk")
    if registration is not None and (found := places.filter(registration=registration).first()):
        return found
    return places.filter(token=returning).first() if looks_like_token(returning) else None


def _hold_places(event: Event) -> Event:
    """Lock the event's row until commit: whoever takes one of its limited places (a viewer's,
    a registration's) counts and adds in turn, so that the last place is taken once."""
    locked(Event.objects.filter(pk=event.pk)).values_list("pk").get()
    return event


def may_raise_hand(attendee: Attendee) -> bool:
    """In a press conference only accredited journalists take part; elsewhere every viewer."""
    if attendee.event.kind != EventKind.PRESS_CONFERENCE:
        return True
    registration = attendee.registration
    return registration is not None and registration.accreditation == Accreditation.APPROVED


def _count(scope: str, attendee: Attendee, limit: int, message: str, now: dt.datetime) -> None:
    verdict = limits.hit(scope, str(attendee.pk), limit, TEN_MINUTES, now)
    if not verdict.allowed:
        raise _limited(message, verdict, now)


def _require_live(event: Event) -> None:
    if event.status != EventStatus.LIVE:
        raise EventError(_("The event is not live."), "not_live")


def attendee_name(attendee: Attendee | None) -> str:
    if attendee is None:
        return ""
    return attendee.display_name or _("Viewer %(number)s") % {"number": attendee.pk}


# --- lifecycle ---------------------------------------------------------------------------------
def _publish_status(event: Event) -> None:
    publish(event_group(event.pk), realtime_events.event_status(event.status, event.chat_enabled))


def go_live(member: StaffMember, event: Event, now: dt.datetime | None = None) -> Event:
    """The host opens the stage: the lobby turns into the live page, the host is on stage."""
    now = now or timezone.now()
    _require_host(member, event)
    if event.status != EventStatus.SCHEDULED:
        raise EventError(_("This event is already live or over."), "not_scheduled")
    with transaction.atomic():
        updated = Event.objects.filter(pk=event.pk, status=EventStatus.SCHEDULED).update(
            status=EventStatus.LIVE, went_live_at=now
        )
        if updated != 1:
            raise EventError(_("This event is already live or over."), "not_scheduled")
        event.status, event.went_live_at = EventStatus.LIVE, now
        StageSeat.objects.get_or_create(
            event=event, member=member, defaults={"role": StageRole.HOST, "since": now}
        )
        _publish_status(event)
        _publish_stage(event)
    audit.record("event.live", actor=member.user, organization=event.organization_id, target=_target(event))
    return event


def end(member: StaffMember, event: Event, now: dt.datetime | None = None) -> Event:
    """The host ends the event for everyone: the stage empties, hands go down."""
    now = now or timezone.now()
    _require_host(member, event)
    if event.status == EventStatus.ENDED:
        return event
    with transaction.atomic():
        Event.objects.filter(pk=event.pk).update(status=EventStatus.ENDED, ended_at=now)
        event.status, event.ended_at = EventStatus.ENDED, now
        StageSeat.objects.filter(event=event).delete()
        HandRaise.objects.filter(event=event, lowered_at__isnull=True).update(lowered_at=now)
        _publish_status(event)
        _publish_stage(event)
    audit.record("event.end", actor=member.user, organization=event.organization_id, target=_target(event))
    return event


def set_chat(member: StaffMember, event: Event, enabled: bool) -> Event:
    _require_host(member, event)
    with transaction.atomic():
        Event.objects.filter(pk=event.pk).update(chat_enabled=enabled)
        event.chat_enabled = enabled
        _publish_status(event)
    audit.record(
        "event.chat",
        actor=member.user,
        organization=event.organization_id,
        target=_target(event),
        details={"enabled": enabled},
    )
    return event


# --- stage -------------------------------------------------------------------------------------
def stage_json(event: Event) -> list[realtime_events.StageSeatJSON]:
    """Who is on stage, pinned first (an interpreter shown beside the speaker), in one query."""
    seats = (
        StageSeat.objects.filter(event=event)
        .select_related("member", "attendee")
        .order_by("-pinned", "since", "pk")
    )
    return [
        {
            "id": seat.pk,
            "role": seat.role,
            "name": seat.member.public_name if seat.member is not None else attendee_name(seat.attendee),
            "pinned": seat.pinned,
            "muted": seat.muted,
            "feed": seat.feed,
            "attendee": seat.attendee_id,
            "member": seat.member_id,
        }
        for seat in seats
    ]


def _publish_stage(event: Event) -> None:
    publish(event_group(event.pk), realtime_events.stage(stage_json(event)))


def seat_of(
    event: Event, *, member: StaffMember | None = None, attendee: Attendee | None = None
) -> StageSeat | None:
    """The stage seat of this staff member or viewer (None: not on stage, may not publish)."""
    if member is not None:
        return StageSeat.objects.filter(event=event, member=member).first()
    if attendee is not None:
        return StageSeat.objects.filter(event=event, attendee=attendee).first()
    return None


def may_publish(event: Event, *, member: StaffMember | None = None, attendee: Attendee | None = None) -> bool:
    return event.status == EventStatus.LIVE and seat_of(event, member=member, attendee=attendee) is not None


def published(seat: StageSeat, feed: int | None) -> None:
    """The seat's media reached Janus as ``feed`` (None: it stopped publishing)."""
    with transaction.atomic():
        StageSeat.objects.filter(pk=seat.pk).update(feed=feed)
        _publish_stage(seat.event)


def _audit(member: StaffMember, event: Event, action: str, **details: object) -> None:
    audit.record(
        f"event.{action}",
        actor=member.user,
        organization=event.organization_id,
        target=_target(event),
        details=details or None,
    )


def bring_on_stage(
    member: StaffMember, event: Event, attendee_id: int, now: dt.datetime | None = None
) -> StageSeat:
    """A host brings a viewer on stage (their hand goes down); in a press conference only an
    accredited journalist."""
    now = now or timezone.now()
    _require_host(member, event)
    _require_live(event)
    attendee = (
        Attendee.objects.filter(event=event, pk=attendee_id).select_related("event", "registration").first()
    )
    if attendee is None:
        raise EventError(_("This viewer has left."), "gone")
    if not may_raise_hand(attendee):
        raise EventError(
            _("In a press conference only accredited journalists come on stage."), "not_accredited"
        )
    seat = _seat_attendee(event, attendee, now)
    _audit(member, event, "on_stage", attendee=attendee.pk)
    return seat


def _seat_attendee(event: Event, attendee: Attendee, now: dt.datetime) -> StageSeat:
    with transaction.atomic():
        seat, _created = StageSeat.objects.get_or_create(
            event=event, attendee=attendee, defaults={"role": StageRole.GUEST, "since": now}
        )
        if HandRaise.objects.filter(attendee=attendee, lowered_at__isnull=True).update(lowered_at=now):
            publish(hosts_group(event.pk), realtime_events.hand(attendee.pk, attendee_name(attendee), False))
        _publish_stage(event)
        publish(attendee_group(attendee.pk), realtime_events.on_stage(True))
    return seat


def add_speaker(
    member: StaffMember, event: Event, speaker: StaffMember, role: str, now: dt.datetime | None = None
) -> StageSeat:
    """A host puts a co-speaker or the sign-language interpreter (staff of the organisation) on
    stage; the interpreter is pinned, so that signer and speaker are seen together."""
    now = now or timezone.now()
    _require_host(member, event)
    if speaker.organization_id != event.organization_id:
        raise EventError(_("Please choose a staff member of this organisation."), "bad_member")
    if role not in (StageRole.SPEAKER, StageRole.INTERPRETER, StageRole.HOST):
        raise EventError(_("Please choose a role on stage."), "bad_role")
    with transaction.atomic():
        seat, _created = StageSeat.objects.update_or_create(
            event=event,
            member=speaker,
            defaults={"role": role, "pinned": role == StageRole.INTERPRETER, "since": now},
        )
        _publish_stage(event)
    _audit(member, event, "speaker", speaker=speaker.pk, role=role)
    return seat


def _seat(event: Event, seat_id: int) -> StageSeat:
    seat = StageSeat.objects.filter(event=event, pk=seat_id).select_related("event").first()
    if seat is None:
        raise EventError(_("This person is no longer on stage."), "gone")
    return seat


def take_off_stage(member: StaffMember, event: Event, seat_id: int) -> StageSeat:
    """A host takes someone off the stage (back to the audience, or removed as a speaker)."""
    _require_host(member, event)
    seat = _seat(event, seat_id)
    with transaction.atomic():
        seat.delete()
        _publish_stage(event)
        if seat.attendee_id is not None:
            publish(attendee_group(seat.attendee_id), realtime_events.on_stage(False))
    _audit(member, event, "off_stage", seat=seat_id)
    return seat


def leave_stage(event: Event, attendee: Attendee) -> None:
    """A viewer on stage steps down by themselves."""
    with transaction.atomic():
        if StageSeat.objects.filter(event=event, attendee=attendee).delete()[0]:
            _publish_stage(event)
            publish(attendee_group(attendee.pk), realtime_events.on_stage(False))


def mute(member: StaffMember, event: Event, seat_id: int, muted: bool = True) -> StageSeat:
    """A host mutes (or unmutes) someone on stage: their page turns the microphone off."""
    return _change_seat(member, event, seat_id, "mute", muted=muted)


def pin(member: StaffMember, event: Event, seat_id: int, pinned: bool = True) -> StageSeat:
    return _change_seat(member, event, seat_id, "pin", pinned=pinned)


def _change_seat(member: StaffMember, event: Event, seat_id: int, action: str, **change: bool) -> StageSeat:
    """A host's change of one stage seat's flags: stored, announced to the stage, audit-logged."""
    _require_host(member, event)
    seat = _seat(event, seat_id)
    with transaction.atomic():
        StageSeat.objects.filter(pk=seat.pk).update(**change)
        for name, value in change.items():
            setattr(seat, name, value)
        _publish_stage(event)
    _audit(member, event, action, seat=seat_id, **change)
    return seat


def remove_viewer(member: StaffMember, event: Event, attendee_id: int) -> None:
    """A host removes a disruptive viewer: their token stops working (they may not rejoin
    with it); their questions and chat messages stay as moderated."""
    _require_host(member, event)
    with transaction.atomic():
        deleted, _details = Attendee.objects.filter(event=event, pk=attendee_id).delete()
        if not deleted:
            raise EventError(_("This viewer has left."), "gone")
        _publish_stage(event)
        publish(attendee_group(attendee_id), realtime_events.ended("removed"))
    _audit(member, event, "remove", attendee=attendee_id)


# --- hands -------------------------------------------------------------------------------------
def raise_hand(attendee: Attendee, now: dt.datetime | None = None) -> HandRaise:
    now = now or timezone.now()
    event = attendee.event
    _require_live(event)
    if not may_raise_hand(attendee):
        raise EventError(
            _("In a press conference only accredited journalists can raise their hand."), "not_accredited"
        )
    existing = HandRaise.objects.filter(attendee=attendee, lowered_at__isnull=True).first()
    if existing is not None:
        return existing
    _count(
        "event-hand",
        attendee,
        HANDS_PER_VIEWER,
        _("You raised your hand often. Please try again in %(wait)s."),
        now,
    )
    try:
        with transaction.atomic():
            hand = HandRaise.objects.create(event=event, attendee=attendee, raised_at=now)
            publish(hosts_group(event.pk), realtime_events.hand(attendee.pk, attendee_name(attendee), True))
    except IntegrityError:  # raised twice at the same instant
        return HandRaise.objects.get(attendee=attendee, lowered_at__isnull=True)
    return hand


def lower_hand(attendee: Attendee, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    with transaction.atomic():
        if HandRaise.objects.filter(attendee=attendee, lowered_at__isnull=True).update(lowered_at=now):
            publish(
                hosts_group(attendee.event_id),
                realtime_events.hand(attendee.pk, attendee_name(attendee), False),
            )


def raised_hands(event: Event) -> list[dict[str, object]]:
    hands = HandRaise.objects.filter(event=event, lowered_at__isnull=True).select_related("attendee")
    return [{"attendee": hand.attendee_id, "name": attendee_name(hand.attendee)} for hand in hands]


# --- questions ---------------------------------------------------------------------------------
def _question_event(question: Question) -> realtime_events.QuestionEvent:
    return realtime_events.question(
        question.pk, question.text, question.author_name, question.status, question.upvotes
    )


def _publish_question(question: Question, *, public: bool) -> None:
    payload = _question_event(question)
    publish(hosts_group(question.event_id), payload)
    if public:
        publish(event_group(question.event_id), payload)


def ask(
    attendee: Attendee, text: str, *, anonymous: bool = False, now: dt.datetime | None = None
) -> Question:
    """A viewer's question waits for a host's approval (hosts see it at once)."""
    now = now or timezone.now()
    event = attendee.event
    if event.status == EventStatus.ENDED:
        raise EventError(_("This event is over."), "ended")
    if not may_raise_hand(attendee):
        raise EventError(
            _("In a press conference only accredited journalists can ask questions."), "not_accredited"
        )
    text = clean_text(text)
    if not text:
        raise EventError(_("Please write your question."), "empty")
    if len(text) > MAX_TEXT:
        raise EventError(_("Please write at most 500 characters."), "too_long")
    _count(
        "event-question",
        attendee,
        QUESTIONS_PER_VIEWER,
        _("You asked many questions. Please try again in %(wait)s."),
        now,
    )
    with transaction.atomic():
        question = Question.objects.create(
            event=event,
            attendee=attendee,
            author_name="" if anonymous else attendee.display_name,
            text=text,
            created_at=now,
        )
        _publish_question(question, public=False)
    return question


MODERATION = {
    "approve": QuestionStatus.APPROVED,
    "answer": QuestionStatus.ANSWERED,
    "hide": QuestionStatus.HIDDEN,
}


def moderate(member: StaffMember, event: Event, question_id: int, action: str) -> Question:
    """A host approves, answers or hides a question."""
    _require_host(member, event)
    status = MODERATION.get(action)
    if status is None:
        raise EventError(_("Please choose approve, answer or hide."), "bad_action")
    question = Question.objects.filter(event=event, pk=question_id).first()
    if question is None:
        raise EventError(_("This question no longer exists."), "gone")
    was_public = question.status in (QuestionStatus.APPROVED, QuestionStatus.ANSWERED)
    with transaction.atomic():
        Question.objects.filter(pk=question.pk).update(status=status)
        question.status = status
        # Hiding a question viewers saw tells them to drop it; hiding a pending one tells nobody.
        _publish_question(question, public=status != QuestionStatus.HIDDEN or was_public)
    _audit(member, event, f"question_{action}", question=question.pk)
    return question


def upvote(attendee: Attendee, question_id: int) -> Question:
    """Once per viewer and question; only questions viewers can see."""
    question = Question.objects.filter(
        event_id=attendee.event_id,
        pk=question_id,
        status__in=[QuestionStatus.APPROVED, QuestionStatus.ANSWERED],
    ).first()
    if question is None:
        raise EventError(_("This question no longer exists."), "gone")
    try:
        with transaction.atomic():
            Upvote.objects.create(question=question, attendee=attendee)
            Question.objects.filter(pk=question.pk).update(upvotes=F("upvotes") + 1)
            question.refresh_from_db(fields=["upvotes"])
            _publish_question(question, public=True)
    except IntegrityError as error:
        raise EventError(_("You already supported this question."), "voted") from error
    return question


def questions_json(event: Event, *, host: bool) -> list[realtime_events.QuestionEvent]:
    """Hosts see every question but the hidden; viewers the approved and answered ones."""
    statuses = [QuestionStatus.APPROVED, QuestionStatus.ANSWERED]
    if host:
        statuses.append(QuestionStatus.PENDING)
    questions = Question.objects.filter(event=event, status__in=statuses).order_by(
        "-upvotes", "created_at", "pk"
    )
    return [_question_event(question) for question in questions[:LISTED_QUESTIONS]]


# --- chat --------------------------------------------------------------------------------------
def _chat_json(message: ChatMessage) -> dict[str, object]:
    return {
        "id": message.pk,
        "author": message.author_name,
        "text": message.text,
        "sent_at": message.created_at.isoformat(),
    }


def post_chat(
    event: Event,
    text: str,
    *,
    attendee: Attendee | None = None,
    member: StaffMember | None = None,
    now: dt.datetime | None = None,
) -> ChatMessage:
    now = now or timezone.now()
    if not event.chat_enabled:
        raise EventError(_("The chat is switched off."), "chat_off")
    _require_live(event)
    text = clean_text(text)
    if not text:
        raise EventError(_("Please write a message."), "empty")
    if len(text) > MAX_TEXT:
        raise EventError(_("Please write at most 500 characters."), "too_long")
    if attendee is not None:
        _count(
            "event-chat",
            attendee,
            CHAT_PER_VIEWER,
            _("You sent many messages. Please try again in %(wait)s."),
            now,
        )
        name = attendee_name(attendee)
    else:
        name = member.public_name if member is not None else ""
    with transaction.atomic():
        message = ChatMessage.objects.create(
            event=event, attendee=attendee, member=member, author_name=name, text=text, created_at=now
        )
        publish(event_group(event.pk), realtime_events.content("chat", _chat_json(message)))
    return message


def chat_json(event: Event) -> list[dict[str, object]]:
    recent = ChatMessage.objects.filter(event=event).order_by("-created_at", "-pk")[:LISTED_CHAT]
    return [_chat_json(message) for message in reversed(recent)]


# --- consultation hours: the office's waiting room is the queue ------------------------------
def ask_live(attendee: Attendee, language: str, now: dt.datetime | None = None) -> Ticket:
    """The citizen takes a turn in the office's waiting room (position and estimate as there)."""
    now = now or timezone.now()
    event = attendee.event
    if event.kind != EventKind.CONSULTATION_HOURS or event.office is None:
        raise EventError(_("This event has no queue for live questions."), "no_queue")
    _require_live(event)
    if attendee.ticket is not None and attendee.ticket.status in (TicketStatus.WAITING, TicketStatus.CALLED):
        return attendee.ticket
    try:
        ticket = joining.join(
            event.office,
            service=None,
            display_name=attendee.display_name,
            language=language,
            mode=Mode.VIDEO,
            now=now,
        )
    except QueueError as refused:
        raise EventError(refused.message, refused.code) from refused
    Attendee.objects.filter(pk=attendee.pk).update(ticket=ticket)
    attendee.ticket = ticket
    return ticket


def call_next(member: StaffMember, event: Event, now: dt.datetime | None = None) -> Ticket | None:
    """Waiting's exactly-once call of the next citizen of the office (None: nobody waits)."""
    now = now or timezone.now()
    _require_host(member, event)
    _require_live(event)
    if event.office is None:
        raise EventError(_("This event has no queue for live questions."), "no_queue")
    try:
        ticket = calling.call_next(member, now)
    except QueueError as refused:
        raise EventError(refused.message, refused.code) from refused
    except PermissionDenied as error:  # the host does not serve the office
        raise EventError(
            _("Only staff of the office can call its waiting citizens."), "not_office"
        ) from error
    if ticket is not None:
        _audit(member, event, "call", ticket=ticket.pk)
    return ticket


def here(attendee: Attendee, now: dt.datetime | None = None) -> StageSeat:
    """The called citizen answers “I'm here”: their turn ends as done and they are on stage."""
    now = now or timezone.now()
    ticket = attendee.ticket
    if ticket is None:
        raise EventError(_("You have not been called (any more)."), "not_called")
    ticket.refresh_from_db(fields=["status"])
    if ticket.status != TicketStatus.CALLED or not calling.end_ticket(ticket, TicketStatus.DONE, now):
        raise EventError(_("You have not been called (any more)."), "not_called")
    return _seat_attendee(attendee.event, attendee, now)


def turn(attendee: Attendee, language: str) -> dict[str, object] | None:
    """The citizen's turn in the office's waiting room as the waiting room shows it: status,
    position and the estimated wait (waiting's own snapshot and estimate)."""
    ticket = attendee.ticket
    if ticket is None:
        return None
    snap = snapshots.snapshot(ticket)
    position = snap["position"]
    wait = ""
    if position is not None and attendee.event.office is not None:
        live = live_figures.office_live(attendee.event.office)
        with translation.override(language):
            wait = estimate.wait_text(estimate.wait_at(position, live.estimate))
    return {
        "type": "turn",
        "status": snap["status"],
        "position": position,
        "wait": wait,
        "deadline": snap["deadline"],
    }


def leave_queue(attendee: Attendee, now: dt.datetime | None = None) -> None:
    if attendee.ticket is not None:
        calling.leave(attendee.ticket, now)


# --- retention ---------------------------------------------------------------------------------
def prune_events(now: dt.datetime | None = None) -> int:
    """Registrations, viewers, questions, hands and chat of events that ended longer than
    ``EVENT_RETENTION_DAYS`` ago are deleted (the event itself, with no personal data, stays)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=EVENT_RETENTION_DAYS)
    old = Event.objects.filter(Q(ended_at__lt=cutoff) | Q(ended_at__isnull=True, ends_at__lt=cutoff))
    deleted = 0
    registrations = list(Registration.objects.filter(event__in=old).values_list("pk", flat=True))
    deleted += messages.forget(registrations)
    for model in (ChatMessage, Question, HandRaise, StageSeat, Attendee, Registration):
        count, _details = model.objects.filter(event__in=old).delete()
        deleted += count
    return deleted

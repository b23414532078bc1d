"""Events with one stage and many viewers: digital consultation hours, press conferences and
public events (the rules are in ``events.services``)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import Ticket


class EventKind(models.TextChoices):
    CONSULTATION_HOURS = "consultation", _("Consultation hours")
    PRESS_CONFERENCE = "press", _("Press conference")
    PUBLIC_EVENT = "public", _("Public event")


class EventStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    LIVE = "live", _("live")
    ENDED = "ended", _("ended")


class Visibility(models.TextChoices):
    PUBLIC = "public", _("Public (listed)")
    LINK = "link", _("Only with the link")


class Event(models.Model):
    """One event on one stage. Link-only events are reached by ``link_token`` alone; public
    ones also by their id under the organisation's events page. Events are never recorded."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="events")
    # Consultation hours take their citizens' turns from this office's waiting room.
    office = models.ForeignKey(
        Office,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("office"),
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(
        _("kind"), max_length=12, choices=EventKind.choices, default=EventKind.PUBLIC_EVENT
    )
    starts_at = models.DateTimeField(_("start"))
    ends_at = models.DateTimeField(_("end"))
    languages = models.CharField(
        _("languages"),
        max_length=60,
        default="de",
        help_text=_("Comma-separated language codes, e.g. “de,en”."),
    )
    registration_required = models.BooleanField(_("registration required"), default=False)
    visibility = models.CharField(
        _("visibility"), max_length=8, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    link_token = models.CharField(max_length=64, unique=True)
    capacity = models.PositiveIntegerField(
        _("capacity"), null=True, blank=True, help_text=_("Most viewers at once; empty: no limit.")
    )
    hosts = models.ManyToManyField(StaffMember, related_name="hosted_events", verbose_name=_("hosts"))
    status = models.CharField(max_length=10, choices=EventStatus.choices, default=EventStatus.SCHEDULED)
    went_live_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    chat_enabled = models.BooleanField(_("chat enabled"), default=True)
    # The Janus server and VideoRoom of the stage, assigned when the event goes live.
    janus_server = models.CharField(max_length=200, blank=True)
    room_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="event_forward"),
        ]
        indexes = [models.Index(fields=["organization", "visibility", "starts_at"], name="event_listing")]

    def __str__(self) -> str:
        return self.title

    @property
    def language_codes(self) -> list[str]:
        return [code.strip() for code in self.languages.split(",") if code.strip()]

    @property
    def is_press_conference(self) -> bool:
        return self.kind == EventKind.PRESS_CONFERENCE


class Accreditation(models.TextChoices):
    NONE = "none", _("not a journalist")
    PENDING = "pending", _("pending")
    APPROVED = "approved", _("approved")
    REFUSED = "refused", _("refused")


class Registration(models.Model):
    """A person registered for an event (name and e-mail: personal data, pruned after it)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="registrations")
    name = models.CharField(_("name"), max_length=100)
    email = models.EmailField(_("e-mail"))
    language = models.CharField(_("language"), max_length=8, default="de")
    token = models.CharField(max_length=64, unique=True)
    outlet = models.CharField(_("media outlet"), max_length=120, blank=True)
    accreditation = models.CharField(
        _("accreditation"), max_length=10, choices=Accreditation.choices, default=Accreditation.NONE
    )
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["event", "email"], name="registration_once_per_email"),
        ]

    def __str__(self) -> str:
        return f"{self.event}: #{self.pk}"


class Attendee(models.Model):
    """One viewer's place in an event (a browser holding ``token``; no account). The name is
    optional; a registration links it to the person who registered."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="attendees")
    token = models.CharField(max_length=64, unique=True)
    display_name = models.CharField(_("name"), max_length=60, blank=True)
    registration = models.ForeignKey(
        Registration, on_delete=models.SET_NULL, null=True, blank=True, related_name="attendees"
    )
    # Consultation hours: the citizen's turn in the office's waiting room.
    ticket = models.OneToOneField(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="event_attendee"
    )
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("viewer")
        verbose_name_plural = _("viewers")

    def __str__(self) -> str:
        return f"{self.event}: viewer #{self.pk}"


class HandRaise(models.Model):
    """A viewer's raised hand; at most one open per viewer."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="hands")
    attendee = models.ForeignKey(Attendee, on_delete=models.CASCADE, related_name="hands")
    raised_at = models.DateTimeField()
    lowered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["raised_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["attendee"], condition=Q(lowered_at__isnull=True), name="hand_one_open_per_attendee"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event}: hand #{self.pk}"


class StageRole(models.TextChoices):
    HOST = "host", _("host")
    SPEAKER = "speaker", _("co-speaker")
    INTERPRETER = "interpreter", _("sign-language interpreter")
    GUEST = "guest", _("viewer on stage")


class StageSeat(models.Model):
    """Who is on stage now (and may publish): a staff member or a viewer brought up."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="stage")
    member = models.ForeignKey(StaffMember, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    attendee = models.ForeignKey(Attendee, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    role = models.CharField(max_length=12, choices=StageRole.choices)
    pinned = models.BooleanField(default=False)
    muted = models.BooleanField(default=False)
    # The Janus feed this seat publishes (set when it publishes).
    feed = models.BigIntegerField(null=True, blank=True)
    since = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(member__isnull=True) ^ Q(attendee__isnull=True), name="stage_seat_one_person"
            ),
            models.UniqueConstraint(fields=["event", "member"], name="stage_seat_member_once"),
            models.UniqueConstraint(fields=["event", "attendee"], name="stage_seat_attendee_once"),
        ]

    def __str__(self) -> str:
        return f"{self.event}: {self.role} #{self.pk}"


class QuestionStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    APPROVED = "approved", _("approved")
    ANSWERED = "answered", _("answered")
    HIDDEN = "hidden", _("hidden")


class Question(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="questions")
    attendee = models.ForeignKey(Attendee, on_delete=models.SET_NULL, null=True, related_name="questions")
    author_name = models.CharField(max_length=60, blank=True)
    text = models.CharField(max_length=500)
    status = models.CharField(max_length=10, choices=QuestionStatus.choices, default=QuestionStatus.PENDING)
    upvotes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.event}: question #{self.pk}"


class Upvote(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="votes")
    attendee = models.ForeignKey(Attendee, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["question", "attendee"], name="upvote_once")]

    def __str__(self) -> str:
        return f"upvote #{self.pk}"


class ChatMessage(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="chat")
    attendee = models.ForeignKey(Attendee, on_delete=models.SET_NULL, null=True, related_name="+")
    member = models.ForeignKey(StaffMember, on_delete=models.SET_NULL, null=True, related_name="+")
    author_name = models.CharField(max_length=60, blank=True)
    text = models.CharField(max_length=500)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.event}: message #{self.pk}"

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from buergerbuero.offices.models import Office, Service
from buergerbuero.staff.models import StaffMember


class Mode(models.TextChoices):
    VIDEO = "video", _("Video and audio")
    CHAT = "chat", _("Chat only")


class TicketStatus(models.TextChoices):
    WAITING = "waiting", _("waiting")
    CALLED = "called", _("called")
    ADMITTED = "admitted", _("in consultation")
    DONE = "done", _("done")
    LEFT = "left", _("left")
    NO_SHOW = "no_show", _("no-show")
    REMOVED = "removed", _("removed by staff")
    EXPIRED = "expired", _("connection lost")


ACTIVE_STATUSES = (TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.ADMITTED)


class Ticket(models.Model):
    """A citizen's place in an office's waiting room (Wartemarke).

    The citizen holds ``token`` (their only credential, kept in the browser). The queue order
    is (-priority, queue_key, id); ``queue_key`` is the arrival time in microseconds with a
    random tail, which broadcasts carry instead of anything that identifies the ticket.
    """

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="tickets")
    service = models.ForeignKey(Service, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    token = models.CharField(max_length=64, unique=True)
    display_name = models.CharField(_("name or pseudonym"), max_length=60, blank=True)
    language = models.CharField(_("language"), max_length=8, default="de")
    mode = models.CharField(_("mode"), max_length=8, choices=Mode.choices, default=Mode.VIDEO)
    status = models.CharField(max_length=10, choices=TicketStatus.choices, default=TicketStatus.WAITING)
    priority = models.SmallIntegerField(default=0)
    arrived_at = models.DateTimeField()
    queue_key = models.BigIntegerField()
    called_at = models.DateTimeField(null=True, blank=True)
    call_deadline = models.DateTimeField(null=True, blank=True)
    called_by = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="called_tickets"
    )
    missed_calls = models.PositiveSmallIntegerField(default=0)
    # A citizen with an appointment waits for the staff member they booked, and only for them.
    reserved_for = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="reserved_tickets"
    )
    last_seen_at = models.DateTimeField()
    # When a staff member admitted the citizen (their consultation began); with ``ended_at``
    # the handling time that the wait estimate learns from.
    admitted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            models.Index(fields=["office", "status", "priority", "queue_key"], name="ticket_queue_order"),
            models.Index(fields=["status", "last_seen_at"], name="ticket_liveness"),
            # The office's most recent consultations (the estimate's history).
            models.Index(
                fields=["office", "-ended_at"],
                condition=models.Q(admitted_at__isnull=False),
                name="ticket_consulted_recent",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.office} {self.status}"

    @property
    def order_key(self) -> list[int]:
        """What clients compare to derive positions: lower comes first."""
        return [-self.priority, self.queue_key]


class QueueState(models.Model):
    """Per office: the sequence number of its queue events and the staff announcement.

    Every queue change increments ``seq`` in the transaction that makes the change, which
    also serialises the changes of one office across processes.
    """

    office = models.OneToOneField(Office, on_delete=models.CASCADE, related_name="queue_state")
    seq = models.BigIntegerField(default=0)
    announcement = models.CharField(max_length=500, blank=True)
    announced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.office}: #{self.seq}"


class PresenceState(models.TextChoices):
    AVAILABLE = "available", _("available")
    BUSY = "busy", _("in consultation")
    PAUSE = "pause", _("pause")
    OFFLINE = "offline", _("offline")


class AgentPresence(models.Model):
    """Whether a staff member's seat is taken, shown to citizens as free or staffed seats."""

    member = models.OneToOneField(StaffMember, on_delete=models.CASCADE, related_name="presence")
    state = models.CharField(max_length=10, choices=PresenceState.choices, default=PresenceState.OFFLINE)
    changed_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.member}: {self.state}"


class PresencePeriod(models.Model):
    """One stretch of a staff member's presence (history, unlike ``AgentPresence``): the
    statistics' staffed minutes and pauses are computed from it. Staff data, deleted after the
    retention period once the day is aggregated (``waiting.presence_history.prune``)."""

    member = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="presence_periods")
    state = models.CharField(max_length=10, choices=PresenceState.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["member", "ended_at"], name="presence_period_open"),
            models.Index(fields=["started_at"], name="presence_period_start"),
        ]

    def __str__(self) -> str:
        return f"{self.member}: {self.state} from {self.started_at:%Y-%m-%d %H:%M}"

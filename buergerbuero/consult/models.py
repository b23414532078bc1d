from __future__ import annotations

import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from buergerbuero.offices.models import Office
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import Mode, Ticket


class Consultation(models.Model):
    """A live meeting of one citizen (by ticket) and one staff member (Beratung)."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="consultation")
    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="consultations")
    agent = models.ForeignKey(StaffMember, on_delete=models.SET_NULL, null=True, related_name="consultations")
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.VIDEO)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    feedback_given = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("consultation")
        verbose_name_plural = _("consultations")
        indexes = [models.Index(fields=["office", "ended_at"], name="consultation_recent")]

    def __str__(self) -> str:
        return f"{self.office} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class ParticipantRole(models.TextChoices):
    """Who takes part in a consultation."""

    CITIZEN = "citizen", _("Citizen")
    AGENT = "agent", _("Staff member")
    INTERPRETER = "interpreter", _("Interpreter")


class ChatMessage(models.Model):
    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="messages")
    author = models.CharField(max_length=12, choices=ParticipantRole.choices)
    text = models.TextField(max_length=2000)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["sent_at", "pk"]

    def __str__(self) -> str:
        return f"{self.author} {self.sent_at:%H:%M}"


def _document_path(document: Document, filename: str) -> str:
    # The stored name is random; the original name is kept in the row for the download.
    return f"consultations/{document.consultation_id}/{secrets.token_hex(16)}"


class Document(models.Model):
    """A file shared inside a consultation; deleted with it."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="documents")
    shared_by = models.CharField(max_length=12, choices=ParticipantRole.choices)
    file = models.FileField(upload_to=_document_path)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=120)
    size = models.PositiveIntegerField()
    shared_at = models.DateTimeField()

    class Meta:
        ordering = ["shared_at", "pk"]

    def __str__(self) -> str:
        return self.name


class InterpreterInvite(models.Model):
    """A single-use, expiring link that lets an interpreter join one consultation.

    Only a hash of the link's secret is stored. Opening the link claims it for one browser,
    which then holds ``session_hash``'s secret in a cookie for reloads.
    """

    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="interpreter_invites"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    session_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"interpreter for {self.consultation_id}"


class Feedback(models.Model):
    """An anonymous rating after a consultation: no link to the citizen or the consultation."""

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="feedback")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(max_length=1000, blank=True)
    given_on = models.DateField()

    def __str__(self) -> str:
        return f"{self.office}: {self.rating}"

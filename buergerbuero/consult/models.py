from __future__ import annotations

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

    class Meta:
        verbose_name = _("consultation")
        verbose_name_plural = _("consultations")
        indexes = [models.Index(fields=["office", "ended_at"], name="consultation_recent")]

    def __str__(self) -> str:
        return f"{self.office} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class Author(models.TextChoices):
    CITIZEN = "citizen", _("Citizen")
    AGENT = "agent", _("Staff member")


class ChatMessage(models.Model):
    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="messages")
    author = models.CharField(max_length=10, choices=Author.choices)
    text = models.TextField(max_length=2000)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["sent_at", "pk"]

    def __str__(self) -> str:
        return f"{self.author} {self.sent_at:%H:%M}"

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization


class Channel(models.TextChoices):
    EMAIL = "email", _("e-mail")
    SMS = "sms", _("SMS")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")
    # Not sent on purpose (a country not allowed, the daily SMS budget spent); see last_error.
    SKIPPED = "skipped", _("skipped")


class Notification(models.Model):
    """One message in the outbox, rendered when it was written (in the same transaction as
    the change it reports) and sent by the job worker with retries.

    The outbox knows nothing of what a message is about: the app that writes it names the
    ``topic`` (e.g. ``appointment:12``, to drop unsent messages a later change replaces and to
    delete them with their subject), the organisation (whose SMS rules apply and whose staff see
    it in the admin) and, if any, the office (whose leads see it)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    office = models.ForeignKey(
        Office, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    topic = models.CharField(_("about"), max_length=80, blank=True, db_index=True)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    # What happened (booked, rescheduled, cancelled, reminder-1440 …), named by the writing app.
    kind = models.CharField(_("kind"), max_length=40)
    # Unique: the writing app makes it from what makes the message unique, so that, e.g., a
    # reminder is never written twice however often its job runs.
    dedupe_key = models.CharField(max_length=120, unique=True)
    recipient = models.CharField(_("recipient"), max_length=254)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body_text = models.TextField(_("text"))
    body_html = models.TextField(blank=True)
    attachment = models.TextField(blank=True)  # the .ics calendar file of an e-mail
    status = models.CharField(
        _("status"), max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"))
    # A worker that claimed the message; another one may take it over after this instant.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("written"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications (outbox)")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_due")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.kind} → {self.recipient}"

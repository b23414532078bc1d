from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from buergerbuero.orgs.models import Organization


class AuditEntry(models.Model):
    """One staff action or account event. Holds no citizen's personal data: a citizen appears
    only as the id of a ticket, consultation or appointment (``target``)."""

    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="audit_entries",
        verbose_name=_("organisation"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff member"),
    )
    # The login name as typed, kept when the account is deleted and for failed logins.
    actor_name = models.CharField(_("login"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=40, db_index=True)
    target = models.CharField(_("concerning"), max_length=100, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    # Pseudonymised (keyed hash) client address: enough to tell attempts apart, not to identify.
    client = models.CharField(_("client"), max_length=16, blank=True)

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.target}"

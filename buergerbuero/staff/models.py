from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from buergerbuero.offices.models import Office, Service
from buergerbuero.orgs.models import Organization
from buergerbuero.orgs.roles import Role

__all__ = ["Role", "StaffMember"]  # Role is the organisation's; named here too for the staff pages


class StaffMember(models.Model):
    """Links a login to the organisation it works for, its role and the offices it serves."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff_member",
        verbose_name=_("login"),
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="staff", verbose_name=_("organisation")
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.AGENT)
    offices = models.ManyToManyField(
        Office, blank=True, related_name="staff", verbose_name=_("offices served")
    )
    services = models.ManyToManyField(
        Service,
        blank=True,
        related_name="staff",
        verbose_name=_("services handled"),
        help_text=_("Leave empty to handle every service of the offices served."),
    )
    display_name = models.CharField(
        _("name shown to citizens"), max_length=100, blank=True, help_text=_("e.g. “Frau Weber”")
    )

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff members")
        ordering = ["organization", "user__username"]

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()

    @property
    def public_name(self) -> str:
        """How citizens see this person: their chosen name, never the login."""
        return self.display_name or str(_("your staff member"))

    @property
    def is_org_admin(self) -> bool:
        return self.role == Role.ORG_ADMIN

    @property
    def uses_admin(self) -> bool:
        """Office leads and org admins configure offices in the admin; agents do not."""
        return self.role in {Role.OFFICE_LEAD, Role.ORG_ADMIN}

"""The roles a staff member can have in an organisation.

They live with the organisation (not in the staff app) because the tenant scoping of the
admin (:mod:`buergerbuero.orgs.admin_scope`), used by apps below staff, decides by them.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    AGENT = "agent", _("Agent")
    OFFICE_LEAD = "office_lead", _("Office lead")
    ORG_ADMIN = "org_admin", _("Organisation admin")

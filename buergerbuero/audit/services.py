"""The audit log of staff actions and account events.

Rules:
- :func:`record` is the only writer. It is called by the services and views where an action
  happens (call, admit, transfer, remove, invite, document download, login, lockout, second
  factor, admin change); it never raises into the action it records.
- An entry names the staff member and, for citizens, only an id (ticket, consultation,
  appointment) — never a name, e-mail address, phone number or message text.
- A citizen's ticket, consultation or appointment is named in ``target`` as ``ticket:<id>``,
  ``consultation:<id>``, ``appointment:<id>``; admin changes as ``<app>.<model>:<id>``.
- Org admins read their own organisation's entries (admin: ``audit.admin``); entries are
  pruned after ``AUDIT_RETENTION_DAYS`` (by default the longer of the consultations' and the
  appointments' retention), by the ``prune_audit`` job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from buergerbuero.audit.models import AuditEntry
from buergerbuero.orgs.models import Organization

logger = logging.getLogger(__name__)


def pseudonymous_client(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    address = request.META.get("REMOTE_ADDR", "")
    digest = hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()
    return digest[:16]


def record(
    action: str,
    *,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    organization: Organization | int | None = None,
    target: str = "",
    details: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
    actor_name: str = "",
) -> AuditEntry | None:
    """Write one entry. ``organization`` defaults to the actor's organisation."""
    user = actor if actor is not None and actor.is_authenticated else None
    organization_id = organization.pk if isinstance(organization, Organization) else organization
    if organization_id is None and user is not None:
        member = getattr(user, "staff_member", None)
        organization_id = member.organization_id if member is not None else None
    try:
        with transaction.atomic():  # a savepoint: a failure here leaves the caller's transaction usable
            return AuditEntry.objects.create(
                organization_id=organization_id,
                actor_id=user.pk if user is not None else None,
                actor_name=(actor_name or (user.get_username() if user is not None else ""))[:150],
                action=action,
                target=target[:100],
                details=details or {},
                client=pseudonymous_client(request),
            )
    except Exception:
        logger.exception("audit entry %s could not be written", action)
        return None


def prune_audit(now: dt.datetime | None = None) -> int:
    """Entries older than ``AUDIT_RETENTION_DAYS`` go."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.AUDIT_RETENTION_DAYS)
    deleted, _detail = AuditEntry.objects.filter(at__lt=cutoff).delete()
    return deleted

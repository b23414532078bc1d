"""Account events and admin changes, recorded from the signals Django and django-axes send.

Logins are recorded here rather than in a login view so that every way in (the staff login,
the admin's login, a second-factor step) is covered. Admin changes come from Django's own
``LogEntry``: its ``object_repr`` and the values in its change message may hold personal data
(an appointment's name, a changed e-mail address), so only the model, the object's id and the
names of the changed fields are kept.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.db.models.signals import post_save
from django.http import HttpRequest

from buergerbuero.audit.models import Action
from buergerbuero.audit.services import record
from buergerbuero.orgs.models import Organization

logger = logging.getLogger(__name__)
Receiver = TypeVar("Receiver", bound=Callable[..., None])


def never_raises(receiver: Receiver) -> Receiver:
    """A receiver runs inside the login or the admin's save: its failure must not fail them."""

    @wraps(receiver)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            receiver(*args, **kwargs)
        except Exception:
            logger.exception("audit receiver %s failed", receiver.__name__)

    return guarded  # type: ignore[return-value]


ADMIN_ACTIONS = {ADDITION: Action.ADMIN_ADDED, CHANGE: Action.ADMIN_CHANGED, DELETION: Action.ADMIN_DELETED}
# Relations followed from an edited object to its organisation (office → organisation, …).
OWNER_PATHS = ("organization", "office", "member", "agent", "appointment", "staff_member", "consultation")


def _organization_of_login(username: str) -> int | None:
    """The organisation whose account this name is, so that its admins see attempts on it."""
    user_model = get_user_model()
    user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
    member = getattr(user, "staff_member", None) if user is not None else None
    return member.organization_id if member is not None else None


def _typed_name(credentials: dict[str, Any]) -> str:
    name = credentials.get(get_user_model().USERNAME_FIELD, credentials.get("username", ""))
    return str(name)[:150]


@never_raises
def logged_in(sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any) -> None:
    record(Action.LOGIN, actor=user, request=request)


@never_raises
def login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # ``credentials`` arrive with the password already masked; only the name is kept anyway.
    name = _typed_name(credentials)
    record(Action.LOGIN_FAILED, actor_name=name, organization=_organization_of_login(name), request=request)


@never_raises
def logged_out(
    sender: Any, request: HttpRequest | None, user: AbstractBaseUser | None, **kwargs: Any
) -> None:
    if user is not None:
        record(Action.LOGOUT, actor=user, request=request)


@never_raises
def locked_out(sender: Any, request: HttpRequest | None, username: str | None = None, **kwargs: Any) -> None:
    """django-axes refused further attempts for this name or address."""
    name = (username or "")[:150]
    record(Action.LOCKED_OUT, actor_name=name, organization=_organization_of_login(name), request=request)


# --- admin changes ------------------------------------------------------------------------------
def changed_fields(change_message: str) -> dict[str, list[str]]:
    """The field names of a LogEntry's change message (``[{"changed": {"fields": […]}}, {"added":
    {"name": …, "object": …}}]``) without any ``object`` (an inline object's text)."""
    try:
        parts = json.loads(change_message or "[]")
    except ValueError:
        return {}
    summary: dict[str, list[str]] = {}
    for part in parts if isinstance(parts, list) else []:
        for kind, detail in part.items() if isinstance(part, dict) else []:
            if not isinstance(detail, dict):
                continue
            names = [str(name) for name in detail.get("fields", [])]
            if "name" in detail:  # an inline: its kind, not its text
                names.insert(0, str(detail["name"]))
            summary.setdefault(str(kind), []).extend(names)
    return summary


def organization_of(obj: Model | None, depth: int = 3) -> int | None:
    """The organisation an edited object belongs to, following a few known relations."""
    if obj is None:
        return None
    if isinstance(obj, Organization):
        return obj.pk
    for name in OWNER_PATHS:
        if name == "organization" and getattr(obj, "organization_id", None) is not None:
            return obj.organization_id  # type: ignore[attr-defined,no-any-return]
        if depth > 0 and name != "organization":
            try:
                related = getattr(obj, name, None)
            except Exception:  # a reverse one-to-one without a row
                related = None
            if isinstance(related, Model):
                found = organization_of(related, depth - 1)
                if found is not None:
                    return found
    return None


def admin_target(entry: LogEntry) -> str:
    """``<app>.<model>:<id>`` of the object a LogEntry is about."""
    type_id = entry.content_type_id
    model = ContentType.objects.get_for_id(type_id).model_class() if type_id else None
    return f"{model._meta.label_lower if model else ''}:{entry.object_id}"


def record_admin_change(entry: LogEntry, organization: int | None) -> None:
    label, _sep, object_id = admin_target(entry).rpartition(":")
    details: dict[str, Any] = {"model": label, "object": object_id}
    details.update(changed_fields(entry.change_message))
    record(
        ADMIN_ACTIONS.get(entry.action_flag, Action.ADMIN_CHANGED),
        actor=cast(AbstractBaseUser, entry.user),
        organization=organization,
        target=admin_target(entry),
        details=details,
    )


@never_raises
def admin_changed(sender: type[LogEntry], instance: LogEntry, created: bool, **kwargs: Any) -> None:
    if not created:
        return
    try:
        obj = instance.get_edited_object()
    except Exception:  # already gone
        obj = None
    record_admin_change(instance, organization_of(obj))


def connect() -> None:
    """Called once from the app's ready()."""
    user_logged_in.connect(logged_in, dispatch_uid="audit.logged_in")
    user_login_failed.connect(login_failed, dispatch_uid="audit.login_failed")
    user_logged_out.connect(logged_out, dispatch_uid="audit.logged_out")
    post_save.connect(admin_changed, sender=LogEntry, dispatch_uid="audit.admin_changed")
    try:  # works whether or not django-axes is among the installed apps (it is pinned)
        axes_signals = importlib.import_module("axes.signals")
    except ImportError:  # pragma: no cover
        return
    axes_signals.user_locked_out.connect(locked_out, dispatch_uid="audit.locked_out")

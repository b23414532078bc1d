from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from buergerbuero.staff import sessions
from buergerbuero.staff.models import StaffMember
from buergerbuero.staff.services import sync_admin_access


@receiver(post_save, sender=StaffMember)
def _keep_admin_access_in_step(sender: type[StaffMember], instance: StaffMember, **kwargs: Any) -> None:
    sync_admin_access(instance)


@receiver(post_delete, sender=StaffMember)
def _withdraw_admin_access(sender: type[StaffMember], instance: StaffMember, **kwargs: Any) -> None:
    user = instance.user
    if user.is_staff and not user.is_superuser:
        user.is_staff = False
        user.save(update_fields=["is_staff"])


@receiver(user_logged_in)
def _start_login_clocks(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        sessions.start(request.session)


@receiver(user_logged_out)
def _close_login_sockets(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Logging out (or timing out) ends the streams of citizens' names to this login."""
    if request is not None and hasattr(request, "session"):
        sessions.close_sockets(request.session)

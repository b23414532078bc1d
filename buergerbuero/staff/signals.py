from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

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

"""Who a staff member is and what they may see."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from buergerbuero.offices.models import Office
from buergerbuero.staff.models import StaffMember


def staff_member_of(user: AbstractBaseUser | AnonymousUser) -> StaffMember | None:
    if not user.is_authenticated:
        return None
    try:
        return StaffMember.objects.select_related("organization").get(user_id=user.pk)
    except StaffMember.DoesNotExist:
        return None


def offices_served(member: StaffMember) -> QuerySet[Office]:
    """Org admins see every office of their organisation; others the offices they serve."""
    if member.is_org_admin:
        return Office.objects.filter(organization=member.organization)
    return member.offices.filter(organization=member.organization)


def sync_admin_access(member: StaffMember) -> None:
    """The admin site is for office leads and org admins only (superusers keep theirs)."""
    user = member.user
    wanted = member.uses_admin or user.is_superuser
    if user.is_staff != wanted:
        user.is_staff = wanted
        user.save(update_fields=["is_staff"])

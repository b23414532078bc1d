"""Which staff member is this request? The one answer for views and the admin.

The lookup is made once per request (cached on it) with the organisation joined, because
pages and the admin's permission checks ask several times.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from buergerbuero.staff.models import StaffMember
from buergerbuero.staff.services import staff_member_of

_CACHE = "_staff_member"


def current_member(request: HttpRequest) -> StaffMember | None:
    """The staff member logged in on this request, or None (anonymous, or a login without
    membership, e.g. a superuser of the operator)."""
    if not hasattr(request, _CACHE):
        setattr(request, _CACHE, staff_member_of(request.user))
    member: StaffMember | None = getattr(request, _CACHE)
    return member


def member_or_403(request: HttpRequest) -> StaffMember:
    """For staff pages: a login that is no staff member is refused."""
    member = current_member(request)
    if member is None:
        raise PermissionDenied
    return member

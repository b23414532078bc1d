"""Tenant scoping for the Django admin.

Every ModelAdmin of a tenant-owned model uses :class:`TenantScopedAdmin`: its querysets, the
choices of its relation fields and its permissions all follow the logged-in staff member's
organisation and role. Objects of another organisation are simply not found, also when an id
is guessed in the URL. Superusers see everything.

The tenant is the organisation, so the scoping lives here, below offices and staff whose admins
use it. It needs to know who the request's staff member is, which the staff app answers
(:func:`buergerbuero.staff.current.current_member`): staff installs that answer with
:func:`set_member_lookup` when it is ready, and relation choices name the models above orgs by
their labels (as Django's lazy relations do) instead of importing them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from buergerbuero.orgs.models import Organization
from buergerbuero.orgs.roles import Role


class Member(Protocol):
    """What the scoping reads of a staff member."""

    pk: Any
    organization: Organization
    organization_id: int
    role: str


MemberLookup = Callable[[HttpRequest], Member | None]
_lookup: MemberLookup | None = None


def set_member_lookup(lookup: MemberLookup) -> None:
    global _lookup
    _lookup = lookup


def request_member(request: HttpRequest) -> Member | None:
    if _lookup is None:
        raise ImproperlyConfigured("the staff app installs the member lookup when it is ready")
    return _lookup(request)


M = TypeVar("M", bound=Model)


def scope_offices(request: HttpRequest, offices: QuerySet[M]) -> QuerySet[M]:
    """Offices (or rows with an office's ``organization`` and ``staff``) the request may see:
    org admins their organisation's, others those they serve."""
    member = request_member(request)
    if request.user.is_superuser:
        return offices
    if member is None:
        return offices.none()
    offices = offices.filter(organization=member.organization_id)
    if member.role == Role.ORG_ADMIN:
        return offices
    return offices.filter(staff=member.pk)


class TenantScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """``organization_path`` leads from the model to its Organization; ``office_staff_path`` from
    the model to the staff members of its office (office leads only see the offices they serve)."""

    organization_path: str = "organization"
    office_staff_path: str | None = None
    # Roles that may change (and, for org admins, add and delete) objects of this model.
    editing_roles: frozenset[str] = frozenset({Role.ORG_ADMIN})

    def _member(self, request: HttpRequest) -> Member | None:
        return request_member(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        member = self._member(request)
        if member is None:
            return queryset.none()
        queryset = queryset.filter(**{self.organization_path: member.organization_id})
        if member.role == Role.OFFICE_LEAD and self.office_staff_path is not None:
            queryset = queryset.filter(**{self.office_staff_path: member.pk})
        return queryset.distinct()

    # --- permissions by role ---------------------------------------------------------------
    def _role(self, request: HttpRequest) -> str | None:
        member = self._member(request)
        return member.role if member else None

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or self._role(request) in self.editing_roles

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request.user.is_superuser or self._role(request) == Role.ORG_ADMIN

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser or self._role(request) == Role.ORG_ADMIN

    # --- relation choices limited to the tenant -------------------------------------------
    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs["queryset"] = self._scoped_choices(db_field, request, kwargs.get("queryset"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs["queryset"] = self._scoped_choices(db_field, request, kwargs.get("queryset"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _scoped_choices(self, db_field: Any, request: HttpRequest, queryset: QuerySet[Any] | None) -> Any:
        model = db_field.remote_field.model
        queryset = queryset if queryset is not None else model._default_manager.all()
        if request.user.is_superuser:
            return queryset
        member = self._member(request)
        if member is None:
            return queryset.none()
        if model is Organization:
            return queryset.filter(pk=member.organization_id)
        if model._meta.label_lower == "offices.office":
            return scope_offices(request, queryset)
        if model._meta.label_lower == "staff.staffmember":
            queryset = queryset.filter(organization=member.organization_id)
            if member.role == Role.OFFICE_LEAD:  # the staff of the offices they lead
                queryset = queryset.filter(offices__staff=member.pk).distinct()
            return queryset
        return queryset


class TenantScopedInline(admin.TabularInline):  # type: ignore[type-arg]
    """Inlines of an office: editable by whoever may change the office."""

    extra = 0

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return True

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return True

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return True

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return True

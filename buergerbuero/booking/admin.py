from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from buergerbuero.booking.models import Absence, Appointment, WorkingTime
from buergerbuero.orgs.admin_scope import TenantScopedAdmin
from buergerbuero.orgs.roles import Role

LEADS = frozenset({Role.OFFICE_LEAD, Role.ORG_ADMIN})
APPOINTMENT_FACTS = (
    "office",
    "service",
    "agent",
    "starts_at",
    "ends_at",
    "name",
    "email",
    "phone",
    "language",
)


@admin.register(WorkingTime)
class WorkingTimeAdmin(TenantScopedAdmin):
    """Office leads arrange their offices' staff's appointment hours; org admins everyone's."""

    organization_path = "member__organization"
    office_staff_path = "member__offices__staff"
    editing_roles = LEADS
    list_display = ["member", "weekday", "opens", "closes"]
    list_filter = ["weekday"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)


@admin.register(Absence)
class AbsenceAdmin(WorkingTimeAdmin):
    list_display = ["member", "kind", "starts_at", "ends_at", "note"]
    list_filter = ["kind"]


@admin.register(Appointment)
class AppointmentAdmin(TenantScopedAdmin):
    """For looking up and correcting; citizens book, move and cancel through their link."""

    organization_path = "office__organization"
    office_staff_path = "office__staff"
    editing_roles = LEADS
    list_display = ["starts_at", "office", "service", "agent", "name", "status"]
    list_filter = ["status", "office"]
    search_fields = ["name", "email", "phone"]
    date_hierarchy = "starts_at"
    readonly_fields = APPOINTMENT_FACTS
    fields = [*APPOINTMENT_FACTS, "status"]  # only the status can be corrected here

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

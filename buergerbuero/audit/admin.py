"""The audit log in the admin: read-only, org admins see their own organisation's entries,
the platform operator all; office leads and agents do not see it."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from buergerbuero.audit.models import Action, AuditEntry
from buergerbuero.staff.admin_scope import TenantScopedAdmin
from buergerbuero.staff.models import Role


class ActionFilter(admin.SimpleListFilter):
    """The actions by their labels (the field has no choices, so that a new one needs no
    migration)."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(value), str(label)) for value, label in Action.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(TenantScopedAdmin):
    editing_roles = frozenset({Role.ORG_ADMIN})  # who may *read* it; nobody writes
    list_display = ["at", "actor_name", "action_label", "target", "details", "client"]
    list_filter = [ActionFilter, "at", ("actor", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["target"]
    date_hierarchy = "at"
    list_select_related = ["actor"]
    readonly_fields = [field.name for field in AuditEntry._meta.fields]

    @admin.display(description=_("action"), ordering="action")
    def action_label(self, entry: AuditEntry) -> str:
        try:
            return str(Action(entry.action).label)
        except ValueError:  # recorded under a name this catalogue does not know
            return entry.action

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

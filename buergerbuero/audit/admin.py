"""The audit log in the admin: read-only, org admins see their own organisation's entries,
the platform operator all; office leads and agents do not see it."""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.models import DELETION, LogEntry
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from buergerbuero.audit import signals
from buergerbuero.audit.models import Action, AuditEntry
from buergerbuero.orgs.admin_scope import TenantScopedAdmin
from buergerbuero.orgs.roles import Role


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


@wraps(delete_selected)  # keeps its permission ("delete") and its label
def audited_delete_selected(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]
) -> TemplateResponse | None:
    """Django's “delete selected” writes the LogEntry rows of several objects with
    ``bulk_create``, which sends no ``post_save``: their audit entries are written here (each
    deletion once, whichever way its LogEntry came)."""
    owners = {str(obj.pk): signals.organization_of(obj) for obj in queryset}  # before they go
    started, last = timezone.now(), LogEntry.objects.order_by("-pk").values_list("pk", flat=True).first()
    response = delete_selected(modeladmin, request, queryset)
    written = LogEntry.objects.filter(pk__gt=last or 0, action_flag=DELETION, user_id=request.user.pk or 0)
    for entry in written:
        target = signals.admin_target(entry)
        done = AuditEntry.objects.filter(action=Action.ADMIN_DELETED, target=target, at__gte=started)
        if not done.exists():
            signals.record_admin_change(entry, owners.get(entry.object_id))
    return response


admin.site.add_action(audited_delete_selected, "delete_selected")

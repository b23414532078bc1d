from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from buergerbuero.audit.models import Action as Audit
from buergerbuero.audit.services import record
from buergerbuero.notify import services
from buergerbuero.notify.models import Notification
from buergerbuero.orgs.admin_scope import TenantScopedAdmin
from buergerbuero.orgs.roles import Role


@admin.register(Notification)
class NotificationAdmin(TenantScopedAdmin):
    """What is pending or failed in the outbox; staff can send it again at once."""

    organization_path = "organization"
    office_staff_path = "office__staff"
    editing_roles = frozenset({Role.OFFICE_LEAD, Role.ORG_ADMIN})
    list_display = [
        "created_at",
        "channel",
        "kind",
        "recipient",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
    ]
    list_filter = ["status", "channel", "kind"]
    search_fields = ["recipient"]
    actions = ["send_again"]
    readonly_fields = [field.name for field in Notification._meta.fields]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Send again now"))
    def send_again(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        chosen: list[tuple[int, int | None]] = list(queryset.values_list("pk", "organization_id"))
        count = services.retry_now([pk for pk, _org in chosen])
        by_organization: dict[int | None, list[int]] = {}
        for pk, organization_id in chosen:
            by_organization.setdefault(organization_id, []).append(pk)
        for organization_id, ids in by_organization.items():  # ids only: recipients are personal data
            record(
                Audit.NOTIFICATION_RETRY,
                actor=request.user,
                organization=organization_id,
                details={"notifications": ids},
                request=request,
            )
        self.message_user(
            request,
            ngettext("%d message will be sent again.", "%d messages will be sent again.", count) % count,
            messages.SUCCESS,
        )

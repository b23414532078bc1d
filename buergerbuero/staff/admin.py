from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from buergerbuero.offices.models import Service
from buergerbuero.orgs.admin_scope import TenantScopedAdmin
from buergerbuero.staff import account_views
from buergerbuero.staff.current import current_member
from buergerbuero.staff.models import StaffMember


class StaffMemberInline(admin.StackedInline):  # type: ignore[type-arg]
    model = StaffMember
    can_delete = False
    min_num = 1
    max_num = 1
    verbose_name_plural = _("role and offices")

    def get_min_num(self, request: Any, obj: Any = None, **kwargs: Any) -> int:
        # A tenant's logins always belong to it; a platform operator may belong to none.
        return 0 if request.user.is_superuser else 1

    def get_fields(self, request: Any, obj: Any = None) -> Any:
        fields = ["organization", "role", "display_name", "offices", "services"]
        if not request.user.is_superuser:
            fields.remove("organization")  # always the admin's own organisation
        return fields

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return True

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return True

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return True

    def formfield_for_manytomany(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        member = current_member(request)
        if member is not None and not request.user.is_superuser:
            if db_field.name == "offices":
                kwargs["queryset"] = member.organization.offices.all()
            elif db_field.name == "services":
                kwargs["queryset"] = Service.objects.filter(office__organization=member.organization)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(TenantScopedAdmin, UserAdmin):  # type: ignore[type-arg]
    """Logins of the admin's own organisation; org admins cannot grant superuser rights."""

    organization_path = "staff_member__organization"
    inlines = [StaffMemberInline]
    list_display = ["username", "first_name", "last_name", "email", "is_active"]
    list_filter = ["is_active"]

    def get_queryset(self, request: Any) -> Any:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(is_superuser=False)  # platform operators are out of a tenant's reach

    def get_fieldsets(self, request: Any, obj: Any = None) -> Any:
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        if obj is None:
            return self.add_fieldsets
        return (
            (None, {"fields": ("username", "password")}),
            (_("Personal info"), {"fields": ("first_name", "last_name", "email")}),
            (_("Status"), {"fields": ("is_active",)}),
        )

    def save_formset(self, request: Any, form: Any, formset: Any, change: bool) -> None:
        member = current_member(request)
        if formset.model is StaffMember and member is not None and not request.user.is_superuser:
            for inline_form in formset.forms:
                inline_form.instance.organization = member.organization
        super().save_formset(request, form, formset, change)


# The admin logs in through the staff login: the same throttling and the second factor.
admin.site.login = account_views.admin_login  # type: ignore[method-assign]
admin.site.password_change = account_views.admin_password_change  # type: ignore[method-assign,assignment]

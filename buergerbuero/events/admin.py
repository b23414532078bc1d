"""Events are created and edited by org admins here; hosts run them on their host page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms import ModelForm
from django.http import HttpRequest

from buergerbuero.events import services
from buergerbuero.events.models import Event, Registration
from buergerbuero.orgs.admin_scope import TenantScopedAdmin


class EventForm(ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Event
        fields = [
            "organization",
            "office",
            "title",
            "description",
            "kind",
            "starts_at",
            "ends_at",
            "languages",
            "registration_required",
            "visibility",
            "capacity",
            "hosts",
            "chat_enabled",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        probe = Event(**{name: cleaned.get(name) for name in self.Meta.fields if name != "hosts"})
        errors = services.check_event(probe)
        if errors:
            raise ValidationError(errors)
        return cleaned


class RegistrationInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Registration
    extra = 0
    fields = ["name", "email", "outlet", "accreditation", "confirmed_at"]
    readonly_fields = ["name", "email", "outlet", "confirmed_at"]
    can_delete = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(TenantScopedAdmin):
    form = EventForm
    list_display = ["title", "kind", "starts_at", "visibility", "status"]
    list_filter = ["kind", "status", "visibility"]
    search_fields = ["title"]
    date_hierarchy = "starts_at"
    inlines = [RegistrationInline]

    def save_model(self, request: HttpRequest, obj: Event, form: Any, change: bool) -> None:
        if not obj.link_token:
            obj.link_token = services.new_token()
        super().save_model(request, obj, form, change)

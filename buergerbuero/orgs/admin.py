from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from buergerbuero.orgs.admin_scope import TenantScopedAdmin
from buergerbuero.orgs.models import Organization


class OrganizationForm(forms.ModelForm):  # type: ignore[type-arg]
    languages = forms.MultipleChoiceField(
        choices=settings.LANGUAGES,
        widget=forms.CheckboxSelectMultiple,
        label=Organization._meta.get_field("languages").verbose_name,
    )

    class Meta:
        model = Organization
        fields = [
            "name",
            "slug",
            "time_zone",
            "state",
            "languages",
            "logo",
            "primary_colour",
            "embed_origins",
            "sms_countries",
            "sms_daily_limit",
            "staff_second_factor",
            "publishes_statistics",
        ]
        widgets = {"primary_colour": forms.TextInput(attrs={"type": "color"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["languages"] = self.instance.language_codes

    def clean_languages(self) -> str:
        return ",".join(self.cleaned_data["languages"])


@admin.register(Organization)
class OrganizationAdmin(TenantScopedAdmin):
    form = OrganizationForm
    organization_path = "pk"
    list_display = ["name", "slug", "state", "time_zone"]
    prepopulated_fields = {"slug": ["name"]}

    # Tenants are created and removed by the platform operator, not by themselves.
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from buergerbuero.offices.models import Closure, Office, OpeningInterval, Service, SpecialOpening
from buergerbuero.offices.services import TimeSpan, find_overlap, format_spans
from buergerbuero.orgs.admin_scope import TenantScopedAdmin, TenantScopedInline
from buergerbuero.orgs.models import Organization
from buergerbuero.orgs.roles import Role


class NoOverlapFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    """Refuses overlapping intervals on the same day (``day_field`` names the day)."""

    day_field = "weekday"

    def clean(self) -> None:
        super().clean()
        by_day: dict[Any, list[TimeSpan]] = defaultdict(list)
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("opens") or not data.get("closes"):
                continue
            by_day[data.get(self.day_field)].append(TimeSpan(data["opens"], data["closes"]))
        for spans in by_day.values():
            overlap = find_overlap(spans)
            if overlap:
                raise ValidationError(
                    _("The intervals %(first)s and %(second)s overlap or touch. Merge them into one."),
                    code="overlap",
                    params={"first": format_spans([overlap[0]]), "second": format_spans([overlap[1]])},
                )


class SpecialOpeningFormSet(NoOverlapFormSet):
    day_field = "date"


class ServiceInline(TenantScopedInline):
    """Stacked, with the booking rules on one line: eight columns side by side made the
    office's page wider than a 1280 px screen, with the booking rules out of sight."""

    model = Service
    template = "admin/edit_inline/stacked.html"
    fieldsets = [
        (None, {"fields": ["name", "description", ("position", "bookable")]}),
        (
            gettext_lazy("Booking rules"),
            {"fields": [("slot_minutes", "buffer_minutes"), ("lead_minutes", "horizon_days")]},
        ),
    ]


class OpeningIntervalInline(TenantScopedInline):
    model = OpeningInterval
    formset = NoOverlapFormSet
    fields = ["weekday", "opens", "closes"]


class SpecialOpeningInline(TenantScopedInline):
    model = SpecialOpening
    formset = SpecialOpeningFormSet
    fields = ["date", "opens", "closes", "note"]


class ClosureInline(TenantScopedInline):
    model = Closure
    fields = ["starts_on", "ends_on", "reason"]


class OfficeForm(forms.ModelForm):  # type: ignore[type-arg]
    # Set for staff whose organisation is implied (the field is then not on the form).
    tenant: Organization | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        organization = self.tenant or data.get("organization")
        slug = data.get("slug")
        if organization is not None and slug:
            clash = Office.objects.filter(organization=organization, slug=slug).exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error("slug", _("This organisation already has an office with this web address."))
        return data


@dataclass(frozen=True)
class ErrorLink:
    """One entry of the error summary at the top of the office's page: where, what."""

    anchor: str
    label: str
    message: str


def error_summary(form: forms.BaseForm, formsets: Iterable[forms.BaseInlineFormSet]) -> list[ErrorLink]:  # type: ignore[type-arg]
    """Every error of the office form and its inlines, each linking to its field (or to the
    row or inline group it belongs to): inline errors otherwise sit far below the banner."""
    links = [ErrorLink("content-main", "", str(message)) for message in form.non_field_errors()]
    links += _field_links(form, "", "content-main")
    for formset in formsets:
        title = str(capfirst(formset.model._meta.verbose_name_plural))
        group = f"{formset.prefix}-group"
        links += [ErrorLink(group, title, str(message)) for message in formset.non_form_errors()]
        for index, row in enumerate(formset.forms):
            links += _field_links(row, f"{title} {index + 1}", f"{formset.prefix}-{index}")
    return links


def _field_links(form: forms.BaseForm, prefix: str, fallback: str) -> list[ErrorLink]:
    links = []
    for name, errors in form.errors.items():
        field = form[name] if name in form.fields else None
        label = ": ".join(part for part in (prefix, str(field.label) if field else "") if part)
        anchor = (field.id_for_label if field is not None else "") or fallback
        links += [ErrorLink(anchor, label, str(message)) for message in errors]
    return links


@admin.register(Office)
class OfficeAdmin(TenantScopedAdmin):
    form = OfficeForm
    office_staff_path = "staff"
    editing_roles = frozenset({Role.ORG_ADMIN, Role.OFFICE_LEAD})
    list_display = ["name", "organization", "seats", "waiting_room_limit"]
    list_filter = ["organization"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ServiceInline, OpeningIntervalInline, SpecialOpeningInline, ClosureInline]
    change_form_template = "admin/offices/office/change_form.html"

    class Media:
        js = ["offices/waiting-preview.js", "offices/admin-errors.js"]

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        adminform = context.get("adminform")
        if adminform is not None:
            formsets = [inline.formset for inline in context.get("inline_admin_formsets", [])]
            context["error_summary"] = error_summary(adminform.form, formsets)
        return super().render_change_form(request, context, *args, **kwargs)

    def get_fields(self, request: Any, obj: Office | None = None) -> Any:
        fields = [
            "organization",
            "name",
            "slug",
            "description",
            "seats",
            "waiting_room_limit",
            "observes_public_holidays",
            "position",
            "admission_mode",
            "call_confirm_seconds",
            "hold_place_seconds",
            "waiting_area_text",
            "checklist",
            "waiting_image",
            "waiting_image_alt",
            "waiting_video",
            "show_position",
            "full_message",
            "statistics_suppress_below",
        ]
        if not request.user.is_superuser:
            fields.remove("organization")  # set from the admin's own organisation
        return fields

    def get_list_display(self, request: Any) -> Any:
        if request.user.is_superuser:
            return self.list_display
        return [field for field in self.list_display if field != "organization"]

    def get_list_filter(self, request: Any) -> Any:
        return self.list_filter if request.user.is_superuser else []

    def save_model(self, request: Any, obj: Office, form: Any, change: bool) -> None:
        member = self._member(request)
        if not request.user.is_superuser and not change and member is not None:
            obj.organization = member.organization  # new offices belong to the admin's organisation
        super().save_model(request, obj, form, change)

    def get_form(self, request: Any, obj: Office | None = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        member = self._member(request)
        if member is None or request.user.is_superuser:
            return form
        return type(form.__name__, (form,), {"tenant": member.organization})

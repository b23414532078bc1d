"""The forms in the admin: office leads and org admins upload fillable PDFs or define short
forms for their offices, relabel cryptic PDF field names and attach forms to services.

Scoped like every tenant admin (:mod:`buergerbuero.orgs.admin_scope`): an office lead sees and
edits only the forms of the offices they serve, an org admin those of the organisation; another
office's form is not found. The rules are the services' (:mod:`buergerbuero.forms.services`).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from buergerbuero.forms import services
from buergerbuero.forms.fields import FormField, FormValueError, template_fields
from buergerbuero.forms.intake import CheckedPdf, PdfRefused, check_upload
from buergerbuero.forms.models import FormTemplate, Source
from buergerbuero.offices.models import Office, Service
from buergerbuero.orgs.admin_scope import TenantScopedAdmin, scope_offices
from buergerbuero.orgs.roles import Role

DEFINITION_HELP = gettext_lazy(
    "For a form defined here: one field per line, written “Label | kind | options | help”. "
    "Kinds: text, textarea, checkbox, radio, choice, date. A label ending in * is required; "
    "radio and choice list their options separated by ; — for example "
    "“Delivery* | choice | Pick up; By post | How you get the certificate”."
)


class FormTemplateForm(forms.ModelForm):  # type: ignore[type-arg]
    upload = forms.FileField(
        label=gettext_lazy("Fillable PDF"),
        required=False,
        help_text=gettext_lazy(
            "For an uploaded form: a PDF with form fields (AcroForm), without scripts or actions. "
            "Uploading again replaces the form and keeps the labels edited below."
        ),
        widget=forms.FileInput(attrs={"accept": ".pdf,application/pdf"}),
    )
    definition = forms.CharField(
        label=gettext_lazy("Fields"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=DEFINITION_HELP,
    )

    class Meta:
        model = FormTemplate
        fields = ["office", "title", "description", "source", "services", "active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checked: CheckedPdf | None = None
        self.new_fields: list[FormField] | None = None
        self.pdf_fields = template_fields(self.instance) if self.instance.source == Source.PDF else []
        if self.instance.pk and self.instance.source == Source.DEFINED:
            self.fields["definition"].initial = services.definition_text(template_fields(self.instance))
        # one row per field of the uploaded PDF: its label, help text and required mark
        for index, field in enumerate(self.pdf_fields):
            self.fields[f"label_{index}"] = forms.CharField(
                label=_("Label of “%(name)s” (%(kind)s)") % {"name": field.name, "kind": field.kind},
                initial=field.label,
                required=False,
                max_length=services.LABEL_MAX,
            )
            self.fields[f"help_{index}"] = forms.CharField(
                label=_("Help text of “%(name)s”") % {"name": field.name},
                initial=field.help,
                required=False,
                max_length=services.HELP_MAX,
            )
            self.fields[f"required_{index}"] = forms.BooleanField(
                label=_("“%(name)s” is required") % {"name": field.name},
                initial=field.required,
                required=False,
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        office: Office | None = data.get("office") or (
            self.instance.office if self.instance.office_id else None
        )
        chosen: QuerySet[Service] | list[Service] = data.get("services") or []
        if office is not None:
            try:
                services.check_services(office, chosen)
            except FormValueError as error:
                self.add_error("services", error.message)
        if data.get("source") == Source.PDF:
            self._clean_pdf(data)
        elif data.get("source") == Source.DEFINED:
            try:
                self.new_fields = services.parse_definition(data.get("definition") or "")
            except FormValueError as error:
                self.add_error("definition", error.message)
        return data

    def _clean_pdf(self, data: dict[str, Any]) -> None:
        upload = data.get("upload")
        if upload:
            try:
                self.checked = check_upload(upload)
            except PdfRefused as error:
                self.add_error("upload", error.message)
            return
        if not self.instance.pdf or self.instance.source != Source.PDF:
            self.add_error("upload", _("Please upload the fillable PDF."))
            return
        names = [field.name for field in self.pdf_fields]
        try:
            self.new_fields = services.relabel(
                self.instance,
                {name: data.get(f"label_{index}") or "" for index, name in enumerate(names)},
                {name: data.get(f"help_{index}") or "" for index, name in enumerate(names)},
                {name: bool(data.get(f"required_{index}")) for index, name in enumerate(names)},
            )
        except FormValueError as error:
            self.add_error(None, error.message)


@admin.register(FormTemplate)
class FormTemplateAdmin(TenantScopedAdmin):
    form = FormTemplateForm
    organization_path = "office__organization"
    office_staff_path = "office__staff"
    editing_roles = frozenset({Role.ORG_ADMIN, Role.OFFICE_LEAD})
    list_display = ["title", "office", "source", "active"]
    list_filter = ["source", "active"]
    search_fields = ["title"]
    filter_horizontal = ["services"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_module_permission(request)

    def get_fieldsets(self, request: HttpRequest, obj: FormTemplate | None = None) -> Any:
        form = self.get_form(request, obj)
        rows = [name for name in form.base_fields if name.startswith(("label_", "help_", "required_"))]
        fieldsets: list[tuple[Any, dict[str, Any]]] = [
            (None, {"fields": ["office", "title", "description", "services", "active"]}),
            (gettext_lazy("Form"), {"fields": ["source", "upload", "definition"]}),
        ]
        if rows:
            fieldsets.append((gettext_lazy("Fields of the PDF"), {"fields": rows}))
        return fieldsets

    def get_form(
        self, request: Any, obj: FormTemplate | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        # The per-field rows exist only on the instance's form, so they are named here too.
        kwargs["fields"] = None
        form = super().get_form(request, obj, change, **kwargs)
        if obj is None:
            return form
        extra = {
            name: field
            for name, field in FormTemplateForm(instance=obj).fields.items()
            if name not in form.base_fields
        }
        return type(form.__name__, (form,), extra) if extra else form

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "services":
            offices = scope_offices(request, Office.objects.all())
            kwargs["queryset"] = Service.objects.filter(office__in=offices).select_related("office")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: FormTemplate, form: Any, change: bool) -> None:
        services.save_form(obj, checked=form.checked, fields=form.new_fields)

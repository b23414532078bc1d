from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from buergerbuero.offices.models import Office, Service


class Source(models.TextChoices):
    """Where a form's fields come from."""

    PDF = "pdf", _("Fillable PDF (uploaded)")
    DEFINED = "defined", _("Defined here")


def _pdf_path(template: FormTemplate, filename: str) -> str:
    # A random name in a folder that is never served: the form reaches people only as a
    # filled copy, never as the stored file.
    return f"forms/{template.office_id}/{secrets.token_hex(16)}.pdf"


class FormTemplate(models.Model):
    """One form of one office: an uploaded fillable PDF or a short form defined in the admin.

    ``fields`` holds the fields to fill as a list of :meth:`buergerbuero.forms.fields.FormField.as_dict`;
    ``signature_places`` where an uploaded PDF wants its signature (from its ``/Sig`` fields).
    """

    office = models.ForeignKey(
        Office, on_delete=models.CASCADE, related_name="form_templates", verbose_name=_("office")
    )
    services = models.ManyToManyField(
        Service,
        blank=True,
        related_name="form_templates",
        verbose_name=_("services"),
        help_text=_("The services this form belongs to."),
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    source = models.CharField(_("kind of form"), max_length=8, choices=Source.choices, default=Source.DEFINED)
    pdf = models.FileField(_("fillable PDF"), upload_to=_pdf_path, blank=True)
    fields = models.JSONField(_("fields"), default=list, blank=True)
    signature_places = models.JSONField(_("signature places"), default=list, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        verbose_name = _("form")
        verbose_name_plural = _("forms")
        ordering = ["office", "title", "pk"]

    def __str__(self) -> str:
        return self.title

"""The office's own forms: which exist, how they are made and changed.

Rules:
- A form belongs to one office and may be attached to any of that office's services (never
  another office's). :func:`forms_for` lists an office's active forms, or those of one service.
- An uploaded PDF is accepted only as :mod:`buergerbuero.forms.intake` describes (size first,
  content, no encryption, nothing active, at least one field); a refused upload changes
  nothing — neither the stored file nor the fields. What is stored is the sanitised copy under
  a random name in a folder that is never served; the replaced file is deleted after the new
  one is committed.
- Replacing a form's PDF keeps the labels, help texts and "required" marks edited before for
  every field that has the same name and kind in the new PDF; the PDF decides which fields
  exist.
- The fields of a defined form are written one per line (:func:`parse_definition`); the fields
  of an uploaded PDF can only be relabelled (:func:`relabel`), not added or removed.
- Forms are office configuration: nothing personal is kept here (the values a citizen fills
  in belong to the consultation), so there is nothing to prune. Changes in the admin are
  audit-logged by the admin's log like every other configuration change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils.text import slugify
from django.utils.translation import gettext as _

from buergerbuero.forms.fields import KINDS, FieldKind, FormField, FormValueError
from buergerbuero.forms.intake import CheckedPdf
from buergerbuero.forms.models import FormTemplate, Source
from buergerbuero.offices.models import Office, Service

LABEL_MAX = 200
# field names from labels keep German words readable ("Größe" -> "groesse", not "groe")
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})
HELP_MAX = 500
MAX_FIELDS = 100


def forms_for(office: Office, service: Service | None = None) -> QuerySet[FormTemplate]:
    """The office's active forms (with ``service``: those attached to it), by title."""
    forms = FormTemplate.objects.filter(office=office, active=True)
    if service is not None:
        forms = forms.filter(services=service)
    return forms.order_by("title", "pk")


def check_services(office: Office, services: Iterable[Service]) -> None:
    """Refuses services of another office."""
    if any(service.office_id != office.pk for service in services):
        raise FormValueError(_("A form can only belong to services of its own office."), "service")


def save_form(
    template: FormTemplate,
    *,
    checked: CheckedPdf | None = None,
    fields: list[FormField] | None = None,
) -> None:
    """Save ``template`` (its title, office, … already set) with a new PDF (``checked``), or new
    fields: the relabelled fields of its PDF, or a defined form's fields (which drops a PDF it
    had). Attach services afterwards (:func:`check_services` first)."""
    if checked is not None:
        store_pdf(template, checked)
        return
    if fields is not None:
        template.fields = [field.as_dict() for field in fields]
    old = ""
    if template.source == Source.DEFINED:
        template.signature_places = []
        old, template.pdf = (template.pdf.name if template.pdf else ""), None
    template.save()
    if old:
        storage = template.pdf.storage
        transaction.on_commit(lambda: storage.delete(old))


def store_pdf(template: FormTemplate, checked: CheckedPdf) -> None:
    """Keep a checked PDF as ``template``'s form, carrying over edited labels (see the rules)."""
    before = {(field.name, field.kind): field for field in _fields(template)}
    fields = []
    for field in checked.fields:
        edited = before.get((field.name, field.kind))
        if edited is not None:
            field = replace(field, label=edited.label, help=edited.help, required=edited.required)
        fields.append(field)
    old = template.pdf.name if template.pdf else ""
    template.source = Source.PDF
    template.fields = [field.as_dict() for field in fields]
    template.signature_places = [place.as_dict() for place in checked.signature_places]
    template.pdf.save("form.pdf", ContentFile(checked.content), save=False)
    template.save()
    if old:
        storage = template.pdf.storage
        transaction.on_commit(lambda: storage.delete(old))


def relabel(
    template: FormTemplate,
    labels: Mapping[str, str],
    helps: Mapping[str, str] | None = None,
    required: Mapping[str, bool] | None = None,
) -> list[FormField]:
    """The template's fields with new labels (blank: keep the PDF's), help texts and required
    marks by field name; names that are not fields are refused. Not saved."""
    fields = _fields(template)
    known = {field.name for field in fields}
    for name in (*labels, *(helps or {}), *(required or {})):
        if name not in known:
            raise FormValueError(_("This form has no such field."), "field")
    changed = []
    for field in fields:
        label = " ".join(labels.get(field.name, field.label).split()) or field.label
        help_text = (helps or {}).get(field.name, field.help).strip()
        if len(label) > LABEL_MAX or len(help_text) > HELP_MAX:
            raise FormValueError(_("A label or help text is too long."), "length")
        changed.append(
            replace(
                field, label=label, help=help_text, required=(required or {}).get(field.name, field.required)
            )
        )
    return changed


# --- defined forms -------------------------------------------------------------------------
_KIND_WORDS: dict[str, FieldKind] = {kind: kind for kind in KINDS}


def parse_definition(text: str) -> list[FormField]:
    """The fields of a defined form, one per line::

        Label | kind | options separated by ; | help text

    ``kind`` is one of text, textarea, checkbox, radio, choice, date (text when left out); a
    label ending in ``*`` marks the field required; radio and choice need two options or
    more. Raises FormValueError naming the first wrong line.
    """
    fields: list[FormField] = []
    names: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        label = parts[0]
        required = label.endswith("*")
        label = label.rstrip("*").strip()
        kind_word = parts[1].lower() if len(parts) > 1 and parts[1] else "text"
        options = (
            tuple(option.strip() for option in parts[2].split(";") if option.strip())
            if len(parts) > 2
            else ()
        )
        help_text = " | ".join(parts[3:]).strip()
        problem = None
        if not label or len(label) > LABEL_MAX or len(help_text) > HELP_MAX:
            problem = _("a label of 1 to %(max)d characters is needed") % {"max": LABEL_MAX}
        elif kind_word not in _KIND_WORDS:
            problem = _("“%(kind)s” is not a kind of field") % {"kind": kind_word}
        elif _KIND_WORDS[kind_word] in ("radio", "choice") and len(set(options)) < 2:
            problem = _("choose from at least two options, separated by ;")
        elif _KIND_WORDS[kind_word] not in ("radio", "choice") and options:
            problem = _("only radio and choice fields have options")
        if problem:
            raise FormValueError(
                _("Line %(line)d of the fields: %(problem)s.") % {"line": number, "problem": problem},
                "definition",
            )
        name = _unique_name(label, names)
        names.add(name)
        fields.append(FormField(name, label, _KIND_WORDS[kind_word], required, options, help_text))
    if not fields:
        raise FormValueError(_("A form needs at least one field."), "definition")
    if len(fields) > MAX_FIELDS:
        raise FormValueError(_("A form can have at most %(max)d fields.") % {"max": MAX_FIELDS}, "definition")
    return fields


def definition_text(fields: Iterable[FormField]) -> str:
    """The lines :func:`parse_definition` reads back into the same fields."""
    lines = []
    for field in fields:
        parts = [field.label + ("*" if field.required else ""), field.kind, "; ".join(field.options)]
        if field.help:
            parts.append(field.help)
        lines.append(" | ".join(parts).rstrip(" |"))
    return "\n".join(lines)


def _unique_name(label: str, taken: set[str]) -> str:
    base = slugify(label.translate(_GERMAN))[:60].strip("-") or "field"
    name, suffix = base, 2
    while name in taken:
        name = f"{base}-{suffix}"
        suffix += 1
    return name


def _fields(template: FormTemplate) -> list[FormField]:
    return [FormField.from_dict(item) for item in template.fields]

"""The fields of a form and what a value of each may be.

A form (an uploaded fillable PDF or one defined in the admin) is a list of :class:`FormField`,
stored in ``FormTemplate.fields`` as their :meth:`FormField.as_dict`. The rules of a value:

- ``text`` / ``textarea``: a string without control characters (``textarea`` keeps line
  breaks and tabs), at most ``max_length`` characters (the PDF's ``/MaxLen``; otherwise
  :data:`TEXT_MAX` or :data:`TEXTAREA_MAX`). Line breaks are normalised to ``\\n``.
- ``checkbox``: a boolean.
- ``radio`` / ``choice``: one of ``options``, or ``""`` for nothing chosen.
- ``date``: ``""`` or a real calendar date written ``YYYY-MM-DD`` (what ``<input type=date>``
  sends) or ``DD.MM.YYYY``; kept as ``YYYY-MM-DD``. The PDF shows it as ``DD.MM.YYYY``.

:func:`clean_value` does not refuse an empty required field: a form is filled in steps, so
"required" is checked once, when it is complete (:func:`missing_required`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from buergerbuero.lib.dates import within_range
from buergerbuero.lib.errors import ServiceError

if TYPE_CHECKING:
    from buergerbuero.forms.models import FormTemplate

FieldKind = Literal["text", "textarea", "checkbox", "radio", "choice", "date"]
KINDS: tuple[FieldKind, ...] = get_args(FieldKind)
TEXT_MAX = 500
TEXTAREA_MAX = 5000
# Control characters other than tab and line breaks: invisible, and some break PDF text.
# Control characters, and the bidi embeddings, overrides and isolates that make a text read
# differently from what it holds (U+202E …; lib/text.py removes the same from other input).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_GERMAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")


class FormValueError(ServiceError):
    """A value a field does not take; ``message`` is translated."""


@dataclass(frozen=True)
class FormField:
    name: str  # the PDF field's fully qualified name, or a slug for defined forms
    label: str  # what people read; editable
    kind: FieldKind
    required: bool = False
    options: tuple[str, ...] = ()  # radio / choice values
    help: str = ""
    max_length: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "kind": self.kind,
            "required": self.required,
            "options": list(self.options),
            "help": self.help,
            "max_length": self.max_length,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FormField:
        kind = data.get("kind")
        if kind not in KINDS:
            raise ValueError(f"unknown field kind {kind!r}")
        max_length = data.get("max_length")
        return cls(
            name=str(data["name"]),
            label=str(data.get("label") or data["name"]),
            kind=cast("FieldKind", kind),
            required=bool(data.get("required", False)),
            options=tuple(str(option) for option in data.get("options") or ()),
            help=str(data.get("help") or ""),
            max_length=int(max_length) if max_length else None,
        )

    @property
    def limit(self) -> int | None:
        """The most characters a text value may have; None for kinds without text."""
        if self.kind == "text":
            return min(self.max_length or TEXT_MAX, TEXT_MAX)
        if self.kind == "textarea":
            return min(self.max_length or TEXTAREA_MAX, TEXTAREA_MAX)
        return None

    def empty(self) -> str | bool:
        """The value of a field nobody has filled."""
        return False if self.kind == "checkbox" else ""


def template_fields(template: FormTemplate) -> list[FormField]:
    return [FormField.from_dict(item) for item in template.fields]


def clean_value(field: FormField, raw: object) -> str | bool:
    """The value ``raw`` as it is stored for ``field``; raises :class:`FormValueError`."""
    if field.kind == "checkbox":
        if not isinstance(raw, bool):
            raise FormValueError(_("“%(label)s” can only be ticked or not.") % {"label": field.label}, "type")
        return raw
    if not isinstance(raw, str):
        raise FormValueError(_("“%(label)s” needs text.") % {"label": field.label}, "type")
    if field.kind in ("radio", "choice"):
        if raw and raw not in field.options:
            message = _("Please choose one of the offered answers for “%(label)s”.")
            raise FormValueError(message % {"label": field.label}, "option")
        return raw
    if field.kind == "date":
        return _clean_date(field, raw.strip())
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(text) or (field.kind == "text" and ("\n" in text or "\t" in text)):
        message = _("“%(label)s” contains characters that cannot be written into the form.")
        raise FormValueError(message % {"label": field.label}, "characters")
    limit = field.limit
    if limit is not None and len(text) > limit:
        message = ngettext(
            "“%(label)s” takes at most %(limit)d character.",
            "“%(label)s” takes at most %(limit)d characters.",
            limit,
        )
        raise FormValueError(message % {"label": field.label, "limit": limit}, "length")
    return text


def _clean_date(field: FormField, text: str) -> str:
    if not text:
        return ""
    try:
        german = _GERMAN_DATE.fullmatch(text)
        if german:
            day, month, year = (int(part) for part in german.groups())
            value = dt.date(year, month, day)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            value = dt.date.fromisoformat(text)
        else:
            raise ValueError(text)
        if within_range(value):
            return value.isoformat()
    except ValueError:
        pass
    raise FormValueError(
        _("“%(label)s” needs a date such as 24.12.2026.") % {"label": field.label},
        "date",
    )


def clean_values(fields: list[FormField], raw: Mapping[str, object]) -> dict[str, str | bool]:
    """Every field's cleaned value (missing ones empty); names that are not fields are refused."""
    known = {field.name for field in fields}
    for name in raw:
        if name not in known:
            raise FormValueError(_("This form has no such field."), "field")
    return {
        field.name: clean_value(field, raw[field.name]) if field.name in raw else field.empty()
        for field in fields
    }


def missing_required(fields: list[FormField], values: Mapping[str, str | bool]) -> list[FormField]:
    """The required fields without a value (an unticked required checkbox counts as missing)."""
    return [field for field in fields if field.required and not values.get(field.name)]


def display_value(field: FormField, value: str | bool) -> str:
    """A value as people read it in a summary or a rendered form: dates as DD.MM.YYYY, ticks as Yes/No."""
    if field.kind == "checkbox":
        return _("Yes") if value else _("No")
    if field.kind == "date" and isinstance(value, str) and value:
        return dt.date.fromisoformat(value).strftime("%d.%m.%Y")
    return str(value)

"""What an uploaded fillable PDF must be, which fields it has, and the sanitised copy we keep.

An upload is refused (:class:`PdfRefused`, a translated message, nothing stored) when it

- is larger than ``FORM_PDF_MAX_BYTES`` — judged by its size alone, before a byte is read;
- is not a PDF by content: it must start with ``%PDF-`` (and ``filetype`` must agree), and
  pypdf must parse it;
- is encrypted (even with an empty password: we could neither check nor rewrite it honestly);
- carries anything active anywhere in the document: JavaScript (``/JS``, a ``/JavaScript``
  name tree), an ``/OpenAction`` or additional actions (``/AA``) on the document or a page,
  the actions Launch, SubmitForm, ImportData, ResetForm, GoToR, GoToE, Rendition, Movie,
  Sound, RichMediaExecute, embedded or attached files, rich media, or an XFA form. One
  exception: the formatting scripts Acrobat itself writes on a field (``AFDate_FormatEx("…")``,
  ``AFNumber_Keystroke(…)`` and their kin, nothing else in the script) are the way a form says
  "this is a date"; they are read for that and then dropped like every other action. An
  ``/OpenAction`` that only opens a page of the document (a destination, or a ``/GoTo`` to
  one, as word processors write it) is harmless and dropped;
- has no field to fill.

What is stored is rewritten by pypdf from the parts a form needs: the pages (content,
resources, size), their form widgets (other annotations such as links go), and the AcroForm
(fields, default appearance and resources). Actions, scripts, metadata, outlines, names,
embedded files and XFA are dropped, and objects nothing points to any more are removed. The
copy is checked again as if it were a new upload before it is kept.

Fields: text (multi-line → ``textarea``), checkbox, radio group, choice (combo or list box),
and ``date`` for a text field with a date format action or a name or tooltip that says so
("Datum", "Geburtsdatum", "date"). Push buttons, file-select and read-only fields are not for
filling and are left out. Signature fields (``/Sig``) are remembered as the place for the
signature (:class:`SignaturePlace`), not as fields.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import filetype  # type: ignore[import-untyped]
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, PdfObject

from buergerbuero.forms.fields import FormField
from buergerbuero.lib.errors import ServiceError

SNIFF_BYTES = 1024
# A document with more objects than this is not an office's form (and walking it costs).
MAX_OBJECTS = 200_000
FORBIDDEN_ACTIONS = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/SubmitForm",
        "/ImportData",
        "/ResetForm",
        "/GoToR",
        "/GoToE",
        "/Rendition",
        "/Movie",
        "/Sound",
        "/RichMediaExecute",
    }
)
FORBIDDEN_KEYS = frozenset(
    {"/JS", "/JavaScript", "/EmbeddedFile", "/EmbeddedFiles", "/EF", "/XFA", "/RichMediaContent"}
)
FORBIDDEN_SUBTYPES = frozenset({"/FileAttachment", "/RichMedia", "/Movie", "/Sound", "/Screen", "/3D"})
# The whole script of an Acrobat formatting action: one call of a built-in AF function with
# literal arguments.
_AF_SCRIPT = re.compile(
    r"\s*AF(Date|Time|Number|Percent|Special|Range)_\w+\(\s*"
    r"(\"[^\"\\]*\"|'[^'\\]*'|-?\d+(\.\d+)?|true|false)?(\s*,\s*(\"[^\"\\]*\"|'[^'\\]*'|-?\d+(\.\d+)?|true|false))*"
    r"\s*\)\s*;?\s*"
)
_DATE_WORD = re.compile(r"datum|(^|[^a-z])(date|dob)([^a-z]|$)|birthdate", re.IGNORECASE)
# field flags (PDF 32000-1, 12.7.3.1 and 12.7.4)
READ_ONLY = 1 << 0
REQUIRED = 1 << 1
MULTILINE = 1 << 12
PASSWORD = 1 << 13
RADIO = 1 << 15
PUSHBUTTON = 1 << 16
FILE_SELECT = 1 << 20
# what a sanitised document keeps
KEEP_CATALOG = frozenset({"/Type", "/Pages", "/AcroForm", "/Lang"})
KEEP_ACROFORM = frozenset({"/Fields", "/DA", "/DR", "/Q", "/NeedAppearances"})
KEEP_PAGE = frozenset(
    {
        "/Type",
        "/Parent",
        "/Resources",
        "/MediaBox",
        "/CropBox",
        "/Contents",
        "/Rotate",
        "/Annots",
        "/UserUnit",
    }
)


class PdfRefused(ServiceError):
    """An upload that is not a fillable PDF we keep; ``message`` is translated."""


@dataclass(frozen=True)
class SignaturePlace:
    """Where a form wants its signature: a ``/Sig`` field's widget."""

    name: str
    page: int  # index from 0
    rect: tuple[float, float, float, float]  # left, bottom, right, top in PDF points

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "page": self.page, "rect": list(self.rect)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignaturePlace:
        left, bottom, right, top = (float(value) for value in data["rect"])
        return cls(name=str(data["name"]), page=int(data["page"]), rect=(left, bottom, right, top))


@dataclass(frozen=True)
class CheckedPdf:
    """An accepted upload: the sanitised bytes and what the form holds."""

    content: bytes
    fields: list[FormField]
    signature_places: list[SignaturePlace]


def check_upload(upload: UploadedFile) -> CheckedPdf:
    """The sanitised form of ``upload``; raises :class:`PdfRefused` for anything else."""
    limit = int(settings.FORM_PDF_MAX_BYTES)
    if upload.size is None or upload.size > limit:
        raise PdfRefused(
            _("This PDF is larger than %(limit)s. Please upload a smaller form.")
            % {"limit": filesizeformat(limit)},
            "too_large",
        )
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    kind = filetype.guess(head)
    if not head.startswith(b"%PDF-") or kind is None or kind.extension != "pdf":
        raise PdfRefused(_("This file is not a PDF."), "not_pdf")
    upload.seek(0)
    return check_pdf(upload.read())


def check_pdf(content: bytes) -> CheckedPdf:
    """The sanitised form of a PDF's bytes (size already checked); raises :class:`PdfRefused`."""
    reader = _read(content)
    _refuse_active_content(reader)
    fields, places = read_fields(reader)
    if not fields:
        raise PdfRefused(
            _("This PDF has no fields to fill in. Please upload a fillable PDF form (AcroForm)."), "no_fields"
        )
    sanitised = sanitise(reader)
    # The copy must pass as a new upload and hold the same fields (their kinds are the
    # original's: a date known only by its format action is plain text once actions are gone).
    again = _read(sanitised)
    _refuse_active_content(again)
    fields_again, places_again = read_fields(again)
    if [field.name for field in fields_again] != [field.name for field in fields] or places_again != places:
        raise PdfRefused(_("This PDF could not be read as a form."), "unreadable")
    return CheckedPdf(content=sanitised, fields=fields, signature_places=places)


def _resolved(item: Any) -> DictionaryObject:
    """The dictionary an entry is or points to (pypdf types entries loosely)."""
    resolved = item.get_object() if item is not None else None
    if not isinstance(resolved, DictionaryObject):
        raise PdfRefused(_("This PDF could not be read as a form."), "unreadable")
    return resolved


def _read(content: bytes) -> PdfReader:
    if not content.startswith(b"%PDF-"):
        raise PdfRefused(_("This file is not a PDF."), "not_pdf")
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            raise PdfRefused(
                _("This PDF is encrypted or password-protected. Please upload the form without protection."),
                "encrypted",
            )
        _resolved(_resolved(reader.trailer["/Root"])["/Pages"])
        len(reader.pages)
    except PdfRefused:
        raise
    except Exception as error:  # pypdf raises many kinds for a damaged file; all mean the same here
        raise PdfRefused(_("This PDF could not be read as a form."), "unreadable") from error
    return reader


# --- active content ------------------------------------------------------------------------
def _refuse_active_content(reader: PdfReader) -> None:
    try:
        found = _first_active(reader)
    except PdfRefused:
        raise
    except Exception as error:  # a damaged object deep inside
        raise PdfRefused(_("This PDF could not be read as a form."), "unreadable") from error
    if found:
        message = _(
            "This PDF contains scripts, actions or embedded files. For safety only plain fillable "
            "forms are accepted: please save the form without them and upload it again."
        )
        raise PdfRefused(message, "active_content")


def _first_active(reader: PdfReader) -> str | None:
    """The first active thing in the document (a key or action name), or None."""
    root = _resolved(reader.trailer["/Root"])
    open_action = root.get("/OpenAction")
    action = open_action.get_object() if open_action is not None else None
    if isinstance(action, DictionaryObject) and (action.get("/S") != "/GoTo" or "/Next" in action):
        return "/OpenAction"  # a bare destination, or going to one, is harmless (and dropped)
    for node, parent_key in _walk(reader):
        if not isinstance(node, DictionaryObject):
            continue
        for key in node:
            if key in FORBIDDEN_KEYS and not (key == "/JS" and parent_key == "allowed-format"):
                return str(key)
        if node.get("/S") in FORBIDDEN_ACTIONS and parent_key != "allowed-format":
            return str(node["/S"])
        if node.get("/Subtype") in FORBIDDEN_SUBTYPES:
            return str(node["/Subtype"])
        if node.get("/Type") in ("/EmbeddedFile", "/Filespec"):
            return str(node["/Type"])
        if "/AA" in node and not _is_format_only(node):
            return "/AA"
    return None


def _is_field(node: DictionaryObject) -> bool:
    return "/FT" in node or "/T" in node or node.get("/Subtype") == "/Widget"


def _is_format_only(node: DictionaryObject) -> bool:
    """Whether ``node`` is a field whose additional actions are only Acrobat's formatting calls."""
    if not _is_field(node):
        return False
    actions = node["/AA"].get_object()
    if not isinstance(actions, DictionaryObject):
        return False
    return all(_is_format_script(action.get_object()) for action in actions.values())


def _is_format_script(action: PdfObject) -> bool:
    if not isinstance(action, DictionaryObject) or action.get("/S") != "/JavaScript" or "/Next" in action:
        return False
    script = action.get("/JS")
    script = script.get_object() if script is not None else None
    return isinstance(script, str) and _AF_SCRIPT.fullmatch(script) is not None


def _walk(reader: PdfReader) -> Iterator[tuple[PdfObject, str]]:
    """Every object reachable from the trailer, each once, with a mark for the format actions
    that :func:`_is_format_only` allowed (their dictionaries are yielded, not refused)."""
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[PdfObject, str]] = [(reader.trailer, "")]
    count = 0
    while stack:
        item, mark = stack.pop()
        if isinstance(item, IndirectObject):
            key = (item.idnum, item.generation)
            if key in seen:
                continue
            seen.add(key)
            count += 1
            if count > MAX_OBJECTS:
                raise PdfRefused(_("This PDF is too complex to be checked."), "too_complex")
            resolved = item.get_object()
            if resolved is None:
                continue
            item = resolved
        yield item, mark
        if isinstance(item, DictionaryObject):  # streams are dictionaries too
            allowed = "/AA" in item and _is_format_only(item)
            for key, value in item.items():
                if allowed and key == "/AA":
                    for action in value.get_object().values():
                        stack.append((action, "allowed-format"))
                    continue
                stack.append((value, ""))
        elif isinstance(item, ArrayObject):
            stack.extend((value, "") for value in item)


# --- fields --------------------------------------------------------------------------------
def read_fields(reader: PdfReader) -> tuple[list[FormField], list[SignaturePlace]]:
    """The fields to fill (in reading order: page, top to bottom, left to right) and the
    signature places of a parsed PDF."""
    reference = _resolved(reader.trailer["/Root"]).get("/AcroForm")
    if reference is None:
        return [], []
    acroform = _resolved(reference)
    page_of = {
        page.indirect_reference.idnum: index
        for index, page in enumerate(reader.pages)
        if page.indirect_reference
    }
    found: list[tuple[tuple[int, float, float], FormField]] = []
    places: list[SignaturePlace] = []
    for name, field, widgets in terminal_fields(acroform.get("/Fields", ArrayObject())):
        position = _position(widgets, page_of)
        kind = _inherited(field, "/FT")
        flags = int(_inherited(field, "/Ff") or 0)
        if kind == "/Sig":
            page, _top, _left = position
            rect = _rect(widgets[0]) if widgets else (0.0, 0.0, 0.0, 0.0)
            places.append(SignaturePlace(name=name, page=page, rect=rect))
            continue
        form_field = _form_field(name, field, widgets, kind, flags)
        if form_field is not None:
            found.append((position, form_field))
    found.sort(key=lambda item: item[0])
    return [form_field for _position_, form_field in found], places


def terminal_fields(
    fields: ArrayObject, prefix: str = "", depth: int = 0
) -> Iterator[tuple[str, DictionaryObject, list[DictionaryObject]]]:
    """(fully qualified name, field dictionary, its widgets) of every terminal field."""
    if depth > 20:
        return
    for reference in fields:
        field = reference.get_object()
        if not isinstance(field, DictionaryObject):
            continue
        partial = field.get("/T")
        name = f"{prefix}.{partial}" if prefix and partial is not None else str(partial or prefix)
        kids = [kid.get_object() for kid in field.get("/Kids", ArrayObject())]
        child_fields = [kid for kid in kids if isinstance(kid, DictionaryObject) and "/T" in kid]
        if child_fields:
            yield from terminal_fields(ArrayObject(child_fields), name, depth + 1)
            continue
        widgets = [kid for kid in kids if isinstance(kid, DictionaryObject)] or [field]
        if name:
            yield name, field, widgets


def _inherited(field: DictionaryObject, key: str) -> Any:
    node: Any = field
    for _step in range(21):
        if key in node:
            return node[key]
        parent = node.get("/Parent")
        if parent is None:
            return None
        node = parent.get_object()
    return None


def _rect(widget: DictionaryObject) -> tuple[float, float, float, float]:
    values = [float(value) for value in widget.get("/Rect", [0, 0, 0, 0])][:4]
    left, bottom, right, top = values if len(values) == 4 else (0.0, 0.0, 0.0, 0.0)
    return (min(left, right), min(bottom, top), max(left, right), max(bottom, top))


def _position(widgets: list[DictionaryObject], page_of: dict[int, int]) -> tuple[int, float, float]:
    widget = widgets[0]
    page_reference = widget.get("/P")
    page = page_of.get(page_reference.idnum, 0) if isinstance(page_reference, IndirectObject) else 0
    left, _bottom, _right, top = _rect(widget)
    return (page, -round(top), left)


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def _form_field(
    name: str, field: DictionaryObject, widgets: list[DictionaryObject], kind: Any, flags: int
) -> FormField | None:
    if flags & READ_ONLY:
        return None
    label = _text(field.get("/TU")) or _text(field.get("/T")) or name
    required = bool(flags & REQUIRED)
    if kind == "/Tx":
        if flags & (FILE_SELECT | PASSWORD):
            return None
        max_length = _inherited(field, "/MaxLen")
        if flags & MULTILINE:
            return FormField(
                name, label, "textarea", required, max_length=int(max_length) if max_length else None
            )
        is_date = _has_date_format(field, widgets) or bool(
            _DATE_WORD.search(name) or _DATE_WORD.search(label)
        )
        if is_date:
            return FormField(name, label, "date", required)
        return FormField(name, label, "text", required, max_length=int(max_length) if max_length else None)
    if kind == "/Btn":
        if flags & PUSHBUTTON:
            return None
        states = _on_states(widgets)
        if flags & RADIO:
            return FormField(name, label, "radio", required, options=tuple(states)) if states else None
        return FormField(name, label, "checkbox", required)
    if kind == "/Ch":
        options = tuple(_choice_options(field))
        return FormField(name, label, "choice", required, options=options) if options else None
    return None


def _has_date_format(field: DictionaryObject, widgets: list[DictionaryObject]) -> bool:
    for node in (field, *widgets):
        actions = node.get("/AA")
        if actions is None:
            continue
        for action in actions.get_object().values():
            script = action.get_object().get("/JS")
            script = script.get_object() if script is not None else None
            if isinstance(script, str) and "AFDate_" in script:
                return True
    return False


def _on_states(widgets: list[DictionaryObject]) -> list[str]:
    """The names of a button's "on" appearances, in widget order, without the slash."""
    states: list[str] = []
    for widget in widgets:
        appearance = widget.get("/AP")
        normal = appearance.get_object().get("/N") if appearance is not None else None
        normal = normal.get_object() if normal is not None else None
        if not isinstance(normal, DictionaryObject):
            continue
        for state in normal:
            text = str(state).lstrip("/")
            if state != "/Off" and text not in states:
                states.append(text)
    return states


def _choice_options(field: DictionaryObject) -> Iterator[str]:
    """A choice's options as people read them (the display text of ``[export, display]`` pairs)."""
    for option in _inherited(field, "/Opt") or ArrayObject():
        option = option.get_object()
        if isinstance(option, ArrayObject) and len(option) == 2:
            yield _text(option[1].get_object())
        else:
            yield _text(option)


# --- the sanitised copy --------------------------------------------------------------------
def sanitise(reader: PdfReader) -> bytes:
    """The document rewritten from its pages, their widgets and its AcroForm only."""
    writer = PdfWriter(clone_from=reader)
    root = writer._root_object
    for key in list(root):
        if key not in KEEP_CATALOG:
            del root[key]
    acroform = root.get("/AcroForm")
    if acroform is not None:
        acroform = acroform.get_object()
        for key in list(acroform):
            if key not in KEEP_ACROFORM:
                del acroform[key]
        for field in _all_field_nodes(acroform.get("/Fields", ArrayObject())):
            for key in ("/AA", "/A"):
                if key in field:
                    del field[key]
    for page in writer.pages:
        for key in list(page):
            if key not in KEEP_PAGE:
                del page[key]
        if "/Annots" in page:
            widgets = ArrayObject(
                annotation
                for annotation in cast(ArrayObject, page["/Annots"].get_object())
                if annotation.get_object().get("/Subtype") == "/Widget"
            )
            for widget in widgets:
                widget = widget.get_object()
                for key in ("/AA", "/A"):
                    if key in widget:
                        del widget[key]
            page[NameObject("/Annots")] = widgets
    writer.metadata = None
    writer.compress_identical_objects(remove_duplicates=False, remove_unreferenced=True)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _all_field_nodes(fields: ArrayObject, depth: int = 0) -> Iterator[DictionaryObject]:
    if depth > 20:
        return
    for reference in fields:
        node = reference.get_object()
        if isinstance(node, DictionaryObject):
            yield node
            yield from _all_field_nodes(cast(ArrayObject, node.get("/Kids", ArrayObject())), depth + 1)

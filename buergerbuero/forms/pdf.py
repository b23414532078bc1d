"""The filled and signed copy of a form, as a PDF.

- **Uploaded PDF forms**: the values are written into the stored (sanitised) original with
  pypdf (text and choice fields get appearance streams, checkboxes and radio buttons their
  on/off state) and flattened: each field's appearance becomes part of the page and the
  widgets and the AcroForm are removed, so no field is left to edit and every viewer shows
  the values. Dates are written ``DD.MM.YYYY``.
- **Defined forms** are laid out with fpdf2: title, description, then each field's label,
  help and value.
- **The signature**: a drawn signature (PNG) or, for a typed-name signature, the name set
  large, is placed in the form's first signature field when it has one; otherwise it stands on
  the signature page. The signature page is always added last: it says which form, who
  signed, when (Europe/Berlin local time and UTC) and the content's SHA-256.

**What the SHA-256 covers** (:func:`content_hash`): the UTF-8 bytes of this JSON text, keys
sorted, no spaces (``json.dumps(..., sort_keys=True, ensure_ascii=False, separators=(",", ":"))``)::

    {"fields": [[name, label, value], ...],      # every field in the form's order; value as
                                                 # stored: text, "YYYY-MM-DD", true/false
     "form": title,
     "signature_png_sha256": hex or null,        # the drawn image's own SHA-256
     "signed_at": "YYYY-MM-DDTHH:MM:SSZ",        # UTC, whole seconds
     "signer": name}

It fixes what was filled and signed, independent of how the PDF bytes are laid out: whoever
holds the values (the office's record of the consultation) can compute it again and compare it
with the one printed on the page.

The signature page's text is in the office's language (the site's default language), like the
form itself. Characters outside the embedded font are printed as U+FFFD (see ``layout``).
An uploaded PDF's fields show their values in the field's own font (usually Helvetica, which
has Latin-1 only); a value it cannot show (a Cyrillic or Greek name) is drawn into the field's
place in the embedded font instead, at the field's font size.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from fpdf import FPDF
from PIL import Image
from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, StreamObject

from buergerbuero.forms.fields import FormField, FormValueError, clean_values, display_value, template_fields
from buergerbuero.forms.intake import SignaturePlace, terminal_fields
from buergerbuero.forms.layout import FONT, MARGIN, document, output, printable
from buergerbuero.forms.models import FormTemplate, Source

SIGNATURE_MAX_PIXELS = 4_000_000
BERLIN = ZoneInfo("Europe/Berlin")


@dataclass(frozen=True)
class Signature:
    signer: str  # name as typed / confirmed
    signed_at: dt.datetime  # aware
    image_png: bytes | None  # drawn signature, or None for a typed-name signature


def content_hash(template: FormTemplate, values: Mapping[str, str | bool], signature: Signature) -> str:
    """The SHA-256 (hex) printed on the signature page; what it covers is in the module's docstring."""
    fields = template_fields(template)
    cleaned = clean_values(fields, values)
    content = {
        "fields": [[field.name, field.label, cleaned[field.name]] for field in fields],
        "form": template.title,
        "signature_png_sha256": hashlib.sha256(signature.image_png).hexdigest()
        if signature.image_png
        else None,
        "signed_at": signature.signed_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "signer": signature.signer,
    }
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def filled_pdf(template: FormTemplate, values: Mapping[str, str | bool], signature: Signature) -> bytes:
    """The filled, flattened and signed copy; raises FormValueError for a value a field does not
    take or a signature image that is not a PNG."""
    if signature.signed_at.tzinfo is None:
        raise ValueError("signed_at must be aware")
    fields = template_fields(template)
    cleaned = clean_values(fields, values)
    image = _signature_image(signature.image_png) if signature.image_png is not None else None
    digest = content_hash(template, cleaned, signature)
    with translation.override(settings.LANGUAGE_CODE):
        if template.source == Source.PDF:
            places = [SignaturePlace.from_dict(place) for place in template.signature_places]
            writer = _filled_original(template, fields, cleaned)
            place = places[0] if places else None
            if place is not None and place.page < len(writer.pages):
                _overlay_signature(writer, place, signature, image)
            else:
                place = None
        else:
            writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_rendered(template, fields, cleaned))))
            place = None
        page = _signature_page(template, signature, image, digest, place)
        writer.append(PdfReader(io.BytesIO(page)))
    writer.metadata = None
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


# --- uploaded forms ------------------------------------------------------------------------
def _filled_original(
    template: FormTemplate, fields: list[FormField], values: dict[str, str | bool]
) -> PdfWriter:
    with template.pdf.open("rb") as stored:
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(stored.read())))
    acroform = cast(DictionaryObject, writer._root_object["/AcroForm"].get_object())
    nodes = {
        name: (field, widgets)
        for name, field, widgets in terminal_fields(acroform.get("/Fields", ArrayObject()))
    }
    written: dict[str, str] = {}
    drawn: list[tuple[DictionaryObject, DictionaryObject, str, bool]] = []  # field, widget, text, lines
    for field in fields:
        if field.name not in nodes:
            continue
        node, widgets = nodes[field.name]
        value = values[field.name]
        if field.kind == "checkbox":
            on = _on_state(widgets)
            written[field.name] = f"/{on}" if value and on else "/Off"
        elif field.kind == "radio":
            written[field.name] = f"/{value}" if value else "/Off"
        else:
            # text, date, choice: a choice shows the text people chose (of an [export, display]
            # pair the display; once flattened, the export value has no use)
            text = display_value(field, value) if field.kind == "date" else str(value)
            if _latin1(text):
                written[field.name] = text
            else:  # the field's own font cannot show it: the value is drawn in ours
                written[field.name] = ""
                drawn.extend((node, widget, text, field.kind == "textarea") for widget in widgets)
    writer.update_page_form_field_values(None, written, auto_regenerate=False)
    pages = _widget_pages(writer)
    _flatten(writer)
    _draw_texts(writer, acroform, pages, drawn)
    del writer._root_object["/AcroForm"]
    return writer


def _widget_pages(writer: PdfWriter) -> dict[int, int]:
    """The page index of every widget, by its object number."""
    pages: dict[int, int] = {}
    for index, page in enumerate(writer.pages):
        for reference in cast(ArrayObject, page.get("/Annots", ArrayObject())):
            if isinstance(reference, IndirectObject):
                pages[reference.idnum] = index
    return pages


def _draw_texts(
    writer: PdfWriter,
    acroform: DictionaryObject,
    pages: dict[int, int],
    drawn: list[tuple[DictionaryObject, DictionaryObject, str, bool]],
) -> None:
    """Values the fields' own fonts cannot show (Cyrillic, Greek, …), written into the fields'
    places on their pages in the embedded font."""
    by_page: dict[int, list[tuple[tuple[float, float, float, float], str, bool, float]]] = {}
    for field, widget, text, lines in drawn:
        reference = widget.indirect_reference
        if reference is None or reference.idnum not in pages:
            continue
        appearance = str(widget.get("/DA") or field.get("/DA") or acroform.get("/DA") or "")
        size = _font_size(appearance)
        rect = tuple(float(value) for value in cast(ArrayObject, widget["/Rect"]))
        left, bottom, right, top = (
            min(rect[0], rect[2]),
            min(rect[1], rect[3]),
            max(rect[0], rect[2]),
            max(rect[1], rect[3]),
        )
        by_page.setdefault(pages[reference.idnum], []).append(((left, bottom, right, top), text, lines, size))
    for index, texts in by_page.items():
        page = writer.pages[index]
        pdf = _overlay_document(page)
        for rect, text, lines, size in texts:
            x, y, width, height = _box(page, rect)
            size = size or min(12.0, height * 0.7 if not lines else 10.0)
            pdf.set_font(FONT, "", size)
            if lines:
                pdf.set_xy(x + 2, y + 2)
                pdf.multi_cell(width - 4, size * 1.15, printable(text))
            else:
                value = printable(text)
                while size > 5 and pdf.get_string_width(value) > width - 4:
                    size -= 0.5
                    pdf.set_font_size(size)
                pdf.set_xy(x + 2, y + (height - size) / 2)
                pdf.cell(width - 4, size, value)
        page.merge_page(PdfReader(io.BytesIO(output(pdf))).pages[0])


def _font_size(appearance: str) -> float:
    """The size of a default appearance string such as ``/Helv 10 Tf 0 g`` (0: automatic)."""
    found = re.search(r"(\d+(?:\.\d+)?)\s+Tf", appearance)
    return float(found.group(1)) if found else 0.0


def _overlay_document(page: PageObject) -> FPDF:
    """An empty fpdf2 page of ``page``'s size, to be merged onto it."""
    pdf = document("", size=(float(page.mediabox.width), float(page.mediabox.height)))
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    return pdf


def _box(page: PageObject, rect: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A PDF rectangle (left, bottom, right, top) as fpdf2's x, y from the top, width, height."""
    left, bottom, right, top = rect
    origin_x, origin_y = float(page.mediabox.left), float(page.mediabox.bottom)
    return (left - origin_x, float(page.mediabox.height) - (top - origin_y), right - left, top - bottom)


def _flatten(writer: PdfWriter) -> None:
    """Draw every widget's current appearance into its page and remove the widgets.

    pypdf's own ``flatten=True`` names the drawn appearance after the field, so of a radio
    group's several widgets only the first would be drawn; here each widget gets its own name.
    """
    for page in writer.pages:
        annotations = page.get("/Annots")
        if annotations is None:
            continue
        kept = ArrayObject()
        drawing: list[str] = []
        resources = cast(DictionaryObject, page["/Resources"].get_object())
        if "/XObject" not in resources:
            resources[NameObject("/XObject")] = DictionaryObject()
        xobjects = cast(DictionaryObject, resources["/XObject"].get_object())
        for index, reference in enumerate(annotations.get_object()):
            widget = reference.get_object()
            if widget.get("/Subtype") != "/Widget":
                kept.append(reference)
                continue
            appearance = _appearance(widget)
            if appearance is None or int(widget.get("/F", 0)) & 2:  # none, or hidden
                continue
            name = NameObject(f"/Flat{index}")
            xobjects[name] = writer._add_object(appearance)
            left, bottom, right, top = (float(value) for value in widget["/Rect"])
            bbox = [float(value) for value in appearance.get("/BBox", [0, 0, right - left, top - bottom])]
            box_width, box_height = (bbox[2] - bbox[0]) or 1.0, (bbox[3] - bbox[1]) or 1.0
            scale_x, scale_y = abs(right - left) / abs(box_width), abs(top - bottom) / abs(box_height)
            move_x, move_y = min(left, right) - bbox[0] * scale_x, min(bottom, top) - bbox[1] * scale_y
            drawing.append(f"q {scale_x:.4f} 0 0 {scale_y:.4f} {move_x:.4f} {move_y:.4f} cm {name} Do Q")
        if drawing:
            writer._merge_content_stream_to_page(page, "\n".join(drawing).encode())
        if kept:
            page[NameObject("/Annots")] = kept
        else:
            del page["/Annots"]


def _appearance(widget: DictionaryObject) -> StreamObject | None:
    """The widget's normal appearance in its current state."""
    appearances = widget.get("/AP")
    normal = appearances.get_object().get("/N") if appearances is not None else None
    normal = normal.get_object() if normal is not None else None
    if isinstance(normal, DictionaryObject) and not isinstance(normal, StreamObject):
        state = normal.get(widget.get("/AS", "/Off"))
        normal = state.get_object() if state is not None else None
    return normal if isinstance(normal, StreamObject) else None


def _on_state(widgets: list[DictionaryObject]) -> str | None:
    for widget in widgets:
        normal = widget.get("/AP", DictionaryObject()).get_object().get("/N")
        normal = normal.get_object() if normal is not None else None
        if isinstance(normal, DictionaryObject):
            for state in normal:
                if state != "/Off":
                    return str(state).lstrip("/")
    return None


def _latin1(text: str) -> bool:
    """Whether the fields' own fonts (Helvetica and kin, WinAnsi encoding) can show ``text``."""
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _overlay_signature(
    writer: PdfWriter, place: SignaturePlace, signature: Signature, image: bytes | None
) -> None:
    page = writer.pages[place.page]
    pdf = _overlay_document(page)
    box = _box(page, place.rect)
    if image is not None:
        pdf.image(io.BytesIO(image), x=box[0], y=box[1], w=box[2], h=box[3], keep_aspect_ratio=True)
    else:
        _typed_signature(pdf, signature.signer, box)
    overlay = PdfReader(io.BytesIO(output(pdf))).pages[0]
    page.merge_page(overlay)


def _typed_signature(pdf: FPDF, name: str, box: tuple[float, float, float, float]) -> None:
    x, y, width, height = box
    size = min(24.0, height * 0.6)
    pdf.set_font(FONT, "", size)
    text = printable(name)
    while size > 6 and pdf.get_string_width(text) > width - 4:
        size -= 1
        pdf.set_font_size(size)
    pdf.set_xy(x + 2, y + (height - size) / 2)
    pdf.cell(width - 4, size, text)


# --- defined forms -------------------------------------------------------------------------
def _rendered(template: FormTemplate, fields: list[FormField], values: dict[str, str | bool]) -> bytes:
    pdf = document(template.title)
    pdf.add_page()
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 20, printable(template.title), new_x="LMARGIN", new_y="NEXT")
    if template.description:
        pdf.set_font(FONT, "", 10)
        pdf.multi_cell(0, 14, printable(template.description), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    for field in fields:
        pdf.set_font(FONT, "B", 11)
        pdf.multi_cell(
            0, 15, printable(field.label + (" *" if field.required else "")), new_x="LMARGIN", new_y="NEXT"
        )
        if field.help:
            pdf.set_font(FONT, "", 9)
            pdf.multi_cell(0, 12, printable(field.help), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", 11)
        value = values[field.name]
        text = ("\N{BALLOT BOX WITH X} " if value else "\N{BALLOT BOX} ") + display_value(field, value)
        if field.kind != "checkbox":
            text = display_value(field, value) or "\N{EM DASH}"
        pdf.multi_cell(0, 15, printable(text), border="B", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(8)
    return output(pdf)


# --- the signature page --------------------------------------------------------------------
def _signature_image(png: bytes) -> bytes:
    """The drawn signature re-encoded by Pillow (so only pixels reach the PDF); refuses anything
    that is not a PNG of a sensible size."""
    refused = FormValueError(_("The signature could not be read. Please sign again."), "signature")
    try:
        with Image.open(io.BytesIO(png)) as picture:
            if picture.format != "PNG" or picture.width * picture.height > SIGNATURE_MAX_PIXELS:
                raise refused
            picture.load()
            clean = picture.convert("RGBA")
    except FormValueError:
        raise
    except Exception as error:  # Pillow raises many kinds for a broken image
        raise refused from error
    buffer = io.BytesIO()
    clean.save(buffer, format="PNG")
    return buffer.getvalue()


def _signature_page(
    template: FormTemplate,
    signature: Signature,
    image: bytes | None,
    digest: str,
    place: SignaturePlace | None,
) -> bytes:
    signed_utc = signature.signed_at.astimezone(dt.UTC)
    local = signature.signed_at.astimezone(BERLIN)
    pdf = document(template.title)
    pdf.add_page()
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 20, _("Signature"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    rows = [
        (_("Form"), template.title),
        (_("Signed by"), signature.signer),
        (
            _("Signed on"),
            _("%(local)s (Berlin time), %(utc)s UTC")
            % {
                "local": local.strftime("%d.%m.%Y %H:%M:%S %Z"),
                "utc": signed_utc.strftime("%Y-%m-%d %H:%M:%S"),
            },
        ),
        (_("Kind of signature"), _("drawn by hand") if image is not None else _("name typed")),
    ]
    for label, value in rows:
        pdf.set_font(FONT, "B", 10)
        pdf.cell(120, 14, label)
        pdf.set_font(FONT, "", 10)
        pdf.multi_cell(0, 14, printable(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    if place is not None:
        pdf.multi_cell(
            0,
            14,
            _("The signature stands in the form's signature field on page %(page)d.")
            % {"page": place.page + 1},
            new_x="LMARGIN",
            new_y="NEXT",
        )
    else:
        top = pdf.get_y()
        box = (MARGIN, top, 300.0, 90.0)
        pdf.rect(*box)
        if image is not None:
            pdf.image(
                io.BytesIO(image),
                x=box[0] + 4,
                y=box[1] + 4,
                w=box[2] - 8,
                h=box[3] - 8,
                keep_aspect_ratio=True,
            )
        else:
            _typed_signature(pdf, signature.signer, box)
        pdf.set_y(top + box[3] + 6)
    pdf.ln(12)
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(0, 14, _("SHA-256 of the content"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(0, 13, digest, new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(
        0,
        12,
        _(
            "Computed over the form's title, every field's name, label and value, the signer's name, "
            "the time of signing (UTC) and the SHA-256 of the drawn signature, as sorted JSON in UTF-8."
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return output(pdf)

"""Fillable PDF forms made by the project, for the demo office (and the tests' sample forms).

The page (title, introduction, the labels) is laid out with fpdf2; the form fields are added
with pypdf as AcroForm widgets in the places the layout left for them: text, multi-line text,
checkbox, radio group, drop-down choice, date (a text field with the Acrobat date format
``AFDate_FormatEx``, as German authorities' forms have it) and a signature field.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from buergerbuero.forms.layout import A4_HEIGHT, FONT, MARGIN, document, output

WidgetKind = Literal["text", "textarea", "checkbox", "radio", "choice", "date", "signature"]
# field flags (PDF 32000-1, 12.7.3.1 and 12.7.4)
REQUIRED = 1 << 1
MULTILINE = 1 << 12
RADIO = 1 << 15
NO_TOGGLE_TO_OFF = 1 << 14
COMBO = 1 << 17
FIELD_X = 230.0
FIELD_WIDTH = 315.0
ROW = 34.0


@dataclass(frozen=True)
class Widget:
    kind: WidgetKind
    name: str  # the field's /T
    label: str  # printed beside the field
    tooltip: str = ""  # /TU, what screen readers and our field list read
    options: tuple[str, ...] = ()
    required: bool = False
    max_length: int | None = None


def fillable_pdf(title: str, intro: str, widgets: Sequence[Widget]) -> bytes:
    """A one- or more-page A4 form with ``widgets`` one per row, below ``title`` and ``intro``."""
    pdf = document(title)
    pdf.add_page()
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 20, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)
    pdf.multi_cell(0, 14, intro, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    places: list[tuple[int, float, float, float]] = []  # page index, top (from the top), width, height
    for widget in widgets:
        height = 60.0 if widget.kind in ("textarea", "signature") else 18.0
        if pdf.get_y() + height + 16 > A4_HEIGHT - MARGIN:
            pdf.add_page()
        top = pdf.get_y()
        pdf.set_xy(MARGIN, top + 3)
        pdf.multi_cell(FIELD_X - MARGIN - 10, 12, widget.label + (" *" if widget.required else ""))
        if widget.kind == "radio":
            for index, option in enumerate(widget.options):
                pdf.text(FIELD_X + index * 100 + 18, top + 13, option)
        pdf.rect(FIELD_X, top, _width(widget), height)
        places.append((pdf.page_no() - 1, top, _width(widget), height))
        pdf.set_y(top + height + 16)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(output(pdf))))
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    fields = ArrayObject()
    for widget, (page_index, top, width, height) in zip(widgets, places, strict=True):
        page = writer.pages[page_index]
        bottom = A4_HEIGHT - top - height
        field = _field(writer, widget, page_index, (FIELD_X, bottom, FIELD_X + width, bottom + height))
        fields.append(field)
        for kid in cast(DictionaryObject, field.get_object()).get("/Kids", [field]):
            if "/Annots" not in page:
                page[NameObject("/Annots")] = ArrayObject()
            page["/Annots"].append(kid)  # type: ignore[attr-defined]
            kid.get_object()[NameObject("/P")] = page.indirect_reference
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
        {
            NameObject("/Fields"): fields,
            NameObject("/DA"): TextStringObject("/Helv 10 Tf 0 g"),
            NameObject("/DR"): DictionaryObject(
                {NameObject("/Font"): DictionaryObject({NameObject("/Helv"): font})}
            ),
        }
    )
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _width(widget: Widget) -> float:
    if widget.kind == "checkbox":
        return 14.0
    if widget.kind == "radio":
        return 100.0 * len(widget.options)
    if widget.kind in ("date", "choice"):
        return 150.0
    return FIELD_WIDTH


def _rect(left: float, bottom: float, right: float, top: float) -> ArrayObject:
    return ArrayObject(FloatObject(value) for value in (left, bottom, right, top))


def _stream(writer: PdfWriter, content: str, width: float, height: float) -> IndirectObject:
    stream = DecodedStreamObject()
    stream.set_data(content.encode("latin-1"))
    stream.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): _rect(0, 0, width, height),
        }
    )
    return writer._add_object(stream)


def _box(writer: PdfWriter, on: str, size: float) -> DictionaryObject:
    """Normal appearances of a tick box: a cross when ``on``, nothing when off."""
    cross = f"q 0 G 1.5 w 3 3 m {size - 3} {size - 3} l 3 {size - 3} m {size - 3} 3 l S Q"
    return DictionaryObject(
        {
            NameObject(f"/{on}"): _stream(writer, cross, size, size),
            NameObject("/Off"): _stream(writer, "", size, size),
        }
    )


def _field(
    writer: PdfWriter, widget: Widget, page_index: int, rect: tuple[float, float, float, float]
) -> IndirectObject:
    left, bottom, right, top = rect
    flags = REQUIRED if widget.required else 0
    field = DictionaryObject(
        {
            NameObject("/T"): TextStringObject(widget.name),
            NameObject("/TU"): TextStringObject(widget.tooltip or widget.label),
        }
    )
    widget_keys = {
        NameObject("/Type"): NameObject("/Annot"),
        NameObject("/Subtype"): NameObject("/Widget"),
        NameObject("/F"): NumberObject(4),  # print
    }
    if widget.kind == "radio":
        field[NameObject("/FT")] = NameObject("/Btn")
        field[NameObject("/Ff")] = NumberObject(flags | RADIO | NO_TOGGLE_TO_OFF)
        field[NameObject("/V")] = NameObject("/Off")
        parent = writer._add_object(field)
        kids = ArrayObject()
        for index, option in enumerate(widget.options):
            x = left + index * 100
            kid = DictionaryObject(widget_keys)
            kid.update(
                {
                    NameObject("/Parent"): parent,
                    NameObject("/Rect"): _rect(x, bottom + 2, x + 14, bottom + 16),
                    NameObject("/AS"): NameObject("/Off"),
                    NameObject("/AP"): DictionaryObject({NameObject("/N"): _box(writer, option, 14)}),
                }
            )
            kids.append(writer._add_object(kid))
        field[NameObject("/Kids")] = kids
        return parent
    field.update(widget_keys)
    field[NameObject("/Rect")] = _rect(left, bottom, right, top)
    if widget.kind in ("text", "textarea", "date"):
        field[NameObject("/FT")] = NameObject("/Tx")
        field[NameObject("/DA")] = TextStringObject("/Helv 10 Tf 0 g")
        field[NameObject("/Ff")] = NumberObject(flags | (MULTILINE if widget.kind == "textarea" else 0))
        if widget.max_length:
            field[NameObject("/MaxLen")] = NumberObject(widget.max_length)
        if widget.kind == "date":
            field[NameObject("/AA")] = DictionaryObject(
                {
                    NameObject("/F"): _javascript('AFDate_FormatEx("dd.mm.yyyy");'),
                    NameObject("/K"): _javascript('AFDate_KeystrokeEx("dd.mm.yyyy");'),
                }
            )
    elif widget.kind == "checkbox":
        field[NameObject("/FT")] = NameObject("/Btn")
        field[NameObject("/Ff")] = NumberObject(flags)
        field[NameObject("/V")] = NameObject("/Off")
        field[NameObject("/AS")] = NameObject("/Off")
        field[NameObject("/AP")] = DictionaryObject({NameObject("/N"): _box(writer, "Ja", right - left)})
    elif widget.kind == "choice":
        field[NameObject("/FT")] = NameObject("/Ch")
        field[NameObject("/DA")] = TextStringObject("/Helv 10 Tf 0 g")
        field[NameObject("/Ff")] = NumberObject(flags | COMBO)
        field[NameObject("/Opt")] = ArrayObject(TextStringObject(option) for option in widget.options)
    else:  # signature
        field[NameObject("/FT")] = NameObject("/Sig")
    return writer._add_object(field)


def _javascript(code: str) -> DictionaryObject:
    return DictionaryObject(
        {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject(code)}
    )


MELDEBESCHEINIGUNG = (
    "Antrag auf Meldebescheinigung",
    "Bitte füllen Sie den Antrag gemeinsam mit unserer Mitarbeiterin oder unserem Mitarbeiter aus. "
    "Pflichtfelder sind mit * gekennzeichnet.",
    (
        Widget("text", "Name", "Familienname", required=True, max_length=80),
        Widget("text", "Vorname", "Vorname(n)", required=True, max_length=80),
        Widget("date", "Geburtsdatum", "Geburtsdatum", required=True),
        Widget("text", "Anschrift", "Anschrift (Straße, Hausnummer, PLZ, Ort)", required=True),
        Widget("radio", "Art", "Art der Bescheinigung", options=("einfach", "erweitert"), required=True),
        Widget("choice", "Zustellung", "Zustellung", options=("Abholung", "Post", "E-Mail")),
        Widget("textarea", "Zweck", "Verwendungszweck (freiwillig)"),
        Widget("checkbox", "Gebuehr", "Ich bin mit der Gebühr von 5 € einverstanden.", required=True),
        Widget("signature", "Unterschrift", "Unterschrift"),
    ),
)


def meldebescheinigung() -> bytes:
    """The demo office's application for a certificate of registration."""
    title, intro, widgets = MELDEBESCHEINIGUNG
    return fillable_pdf(title, intro, widgets)

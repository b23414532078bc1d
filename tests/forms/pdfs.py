"""Sample PDFs for the forms' tests, made in the tests: the demo office's fillable form (made
by the project with fpdf2 + pypdf) and hostile variants of it, each with one thing a form must
not carry."""

from __future__ import annotations

import io
from collections.abc import Callable

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    TextStringObject,
)

from buergerbuero.demo.fillable_pdf import Widget, fillable_pdf, meldebescheinigung

__all__ = ["HOSTILE", "Widget", "fillable_pdf", "meldebescheinigung", "plain_pdf"]


def plain_pdf() -> bytes:
    """A PDF without any form field."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Nur Text, keine Felder")
    return bytes(pdf.output())


def _edited(change: Callable[[PdfWriter], None]) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(meldebescheinigung())))
    change(writer)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _action(kind: str, **entries: str) -> DictionaryObject:
    action = DictionaryObject({NameObject("/S"): NameObject(kind)})
    for key, value in entries.items():
        action[NameObject(f"/{key}")] = TextStringObject(value)
    return action


def _first_field(writer: PdfWriter) -> DictionaryObject:
    return writer._root_object["/AcroForm"]["/Fields"][0].get_object()  # type: ignore[index,no-any-return]


def _link(writer: PdfWriter, action: DictionaryObject) -> None:
    link = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject(FloatObject(value) for value in (10, 10, 50, 50)),
            NameObject("/A"): action,
        }
    )
    writer.pages[0]["/Annots"].append(writer._add_object(link))  # type: ignore[attr-defined]


def _xfa(writer: PdfWriter) -> None:
    stream = DecodedStreamObject()
    stream.set_data(b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'/>")
    writer._root_object["/AcroForm"][NameObject("/XFA")] = writer._add_object(stream)  # type: ignore[index]


def _field_script(writer: PdfWriter) -> None:
    _first_field(writer)[NameObject("/AA")] = DictionaryObject(
        {NameObject("/K"): _action("/JavaScript", JS="app.launchURL('https://example.invalid/');")}
    )


def _disguised_format(writer: PdfWriter) -> None:
    # starts like Acrobat's formatting call but runs more
    script = 'AFDate_FormatEx("dd.mm.yyyy"); app.alert(1);'
    _first_field(writer)[NameObject("/AA")] = DictionaryObject(
        {NameObject("/F"): _action("/JavaScript", JS=script)}
    )


def _names_javascript(writer: PdfWriter) -> None:
    tree = DictionaryObject(
        {
            NameObject("/Names"): ArrayObject(
                [TextStringObject("start"), _action("/JavaScript", JS="app.alert(1)")]
            )
        }
    )
    writer._root_object[NameObject("/Names")] = DictionaryObject({NameObject("/JavaScript"): tree})


def _attachment(writer: PdfWriter) -> None:
    writer.add_attachment("liesmich.txt", b"Hallo")


def _encrypted(writer: PdfWriter) -> None:
    writer.encrypt(user_password="", owner_password="geheim", algorithm="AES-128")


# name -> the PDF's bytes; each must be refused as active content, except where noted
HOSTILE: dict[str, Callable[[], bytes]] = {
    "javascript open action": lambda: _edited(
        lambda w: w._root_object.__setitem__(
            NameObject("/OpenAction"), _action("/JavaScript", JS="app.alert(1)")
        )
    ),
    "document-level javascript": lambda: _edited(_names_javascript),
    "page additional action": lambda: _edited(
        lambda w: w.pages[0].__setitem__(
            NameObject("/AA"), DictionaryObject({NameObject("/O"): _action("/JavaScript", JS="app.alert(1)")})
        )
    ),
    "field keystroke script": lambda: _edited(_field_script),
    "script disguised as a date format": lambda: _edited(_disguised_format),
    "launch link": lambda: _edited(lambda w: _link(w, _action("/Launch", F="calc.exe"))),
    "submit-form link": lambda: _edited(
        lambda w: _link(w, _action("/SubmitForm", F="https://example.invalid/"))
    ),
    "import-data link": lambda: _edited(lambda w: _link(w, _action("/ImportData", F="daten.fdf"))),
    "embedded file": lambda: _edited(_attachment),
    "xfa form": lambda: _edited(_xfa),
}


def encrypted_pdf() -> bytes:
    return _edited(_encrypted)

"""Uploaded PDFs: the fields read from real fillable PDFs, hostile PDFs refused before anything
is kept, and the sanitised copy."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject

from buergerbuero.forms.fields import FormField
from buergerbuero.forms.intake import PdfRefused, SignaturePlace, check_pdf, check_upload
from tests.forms.pdfs import HOSTILE, Widget, encrypted_pdf, fillable_pdf, meldebescheinigung, plain_pdf

pytestmark = pytest.mark.mode_independent


def upload(content: bytes, name: str = "antrag.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def test_the_fields_of_a_fillable_pdf_are_read_with_kind_label_required_and_options() -> None:
    checked = check_upload(upload(meldebescheinigung()))

    assert checked.fields == [
        FormField("Name", "Familienname", "text", required=True, max_length=80),
        FormField("Vorname", "Vorname(n)", "text", required=True, max_length=80),
        FormField("Geburtsdatum", "Geburtsdatum", "date", required=True),
        FormField("Anschrift", "Anschrift (Straße, Hausnummer, PLZ, Ort)", "text", required=True),
        FormField("Art", "Art der Bescheinigung", "radio", required=True, options=("einfach", "erweitert")),
        FormField("Zustellung", "Zustellung", "choice", options=("Abholung", "Post", "E-Mail")),
        FormField("Zweck", "Verwendungszweck (freiwillig)", "textarea"),
        FormField("Gebuehr", "Ich bin mit der Gebühr von 5 € einverstanden.", "checkbox", required=True),
    ]
    # the signature field is the place for the signature, not a field to fill
    assert checked.signature_places == [SignaturePlace("Unterschrift", 0, (230.0, 359.89, 545.0, 419.89))]


def test_a_date_is_recognised_by_its_name_or_tooltip_without_a_format_action() -> None:
    content = fillable_pdf(
        "Test",
        "",
        [
            Widget("text", "Text1", "Datum der Eheschließung"),
            Widget("text", "birth_date", "Born on"),
            Widget("text", "Update", "Letzte Änderung"),
        ],
    )

    kinds = {field.name: field.kind for field in check_pdf(content).fields}

    assert kinds == {"Text1": "date", "birth_date": "date", "Update": "text"}


def test_a_date_known_only_by_its_format_action_stays_a_date() -> None:
    checked = check_pdf(fillable_pdf("Test", "", [Widget("date", "Text2", "Text2")]))

    assert [(field.name, field.kind) for field in checked.fields] == [("Text2", "date")]


def test_fields_are_listed_in_reading_order_over_several_pages() -> None:
    widgets = [Widget("text", f"Feld{number}", f"Feld {number}") for number in range(30)]

    checked = check_pdf(fillable_pdf("Lang", "", widgets))

    assert [field.name for field in checked.fields] == [f"Feld{number}" for number in range(30)]
    assert len(PdfReader(io.BytesIO(checked.content)).pages) > 1


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_pdf_with_scripts_actions_or_embedded_files_is_refused(name: str) -> None:
    with pytest.raises(PdfRefused) as refused:
        check_upload(upload(HOSTILE[name]()))

    assert refused.value.code == "active_content"
    assert "scripts, actions or embedded files" in refused.value.message


def test_an_open_action_that_only_opens_a_page_is_accepted_and_dropped() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(meldebescheinigung())))
    page = writer.pages[0].indirect_reference
    writer._root_object[NameObject("/OpenAction")] = DictionaryObject(
        {NameObject("/S"): NameObject("/GoTo"), NameObject("/D"): ArrayObject([page, NameObject("/Fit")])}
    )
    buffer = io.BytesIO()
    writer.write(buffer)

    copy = PdfReader(io.BytesIO(check_pdf(buffer.getvalue()).content))

    assert "/OpenAction" not in copy.root_object


def test_a_pdf_without_fields_is_refused() -> None:
    with pytest.raises(PdfRefused) as refused:
        check_upload(upload(plain_pdf()))

    assert refused.value.code == "no_fields"


def test_an_encrypted_pdf_is_refused() -> None:
    with pytest.raises(PdfRefused) as refused:
        check_upload(upload(encrypted_pdf()))

    assert refused.value.code == "encrypted"


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,  # an image named .pdf
        b"<html><script>alert(1)</script></html>",
        b"%PDF-1.7\n" + b"kaputt " * 50,  # the magic bytes, then nothing a PDF reader can read
    ],
    ids=["png", "html", "broken"],
)
def test_a_file_that_is_not_a_readable_pdf_is_refused(content: bytes) -> None:
    with pytest.raises(PdfRefused) as refused:
        check_upload(upload(content))

    assert refused.value.code in {"not_pdf", "unreadable"}


class NotToBeRead(TemporaryUploadedFile):
    def read(self, *args: Any) -> bytes:
        raise AssertionError("a file over the limit must not be read")


def test_a_50_mb_pdf_is_refused_by_its_size_without_reading_it() -> None:
    big = NotToBeRead("gross.pdf", "application/pdf", 50 * 1024 * 1024, None)
    big.file.truncate(50 * 1024 * 1024)  # type: ignore[union-attr] # sparse: the size is real, the disk stays free
    big.size = 50 * 1024 * 1024

    with pytest.raises(PdfRefused) as refused:
        check_upload(big)

    assert refused.value.code == "too_large"
    assert re.search(r"10[.,]0\xa0MB", refused.value.message)
    big.close()


def test_the_size_limit_is_a_setting(settings: Any) -> None:
    settings.FORM_PDF_MAX_BYTES = 10_000

    with pytest.raises(PdfRefused) as refused:
        check_upload(upload(meldebescheinigung()))

    assert refused.value.code == "too_large"


def test_the_stored_copy_keeps_pages_and_fields_and_drops_actions_metadata_and_links() -> None:
    original = PdfReader(io.BytesIO(meldebescheinigung()))
    assert original.metadata  # fpdf2 writes a title and a creator

    copy = PdfReader(io.BytesIO(check_pdf(meldebescheinigung()).content))

    assert len(copy.pages) == len(original.pages)
    assert set(copy.get_fields() or {}) == set(original.get_fields() or {})
    assert not copy.metadata
    raw = b"".join(_raw_objects(copy))
    for forbidden in (b"/AA", b"/JavaScript", b"/JS", b"AFDate", b"/OpenAction", b"/Metadata"):
        assert forbidden not in raw
    assert copy.pages[0].extract_text().startswith("Antrag auf Meldebescheinigung")


def _raw_objects(reader: PdfReader) -> list[bytes]:
    """Every object of the file, by number, as text."""
    out = []
    for number in range(1, int(reader.trailer["/Size"])):  # type: ignore[call-overload]
        try:
            out.append(repr(reader.get_object(number)).encode())
        except Exception:  # noqa: S112 - a free slot of the cross-reference table
            continue
    return out

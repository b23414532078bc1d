"""The filled and signed copy: every value and the signature read back with pypdf."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, NameObject, TextStringObject

from buergerbuero.forms.fields import FormField, FormValueError
from buergerbuero.forms.intake import check_pdf
from buergerbuero.forms.models import FormTemplate, Source
from buergerbuero.forms.pdf import Signature, content_hash, filled_pdf
from buergerbuero.offices.models import Office
from tests.forms.pdfs import Widget, fillable_pdf, meldebescheinigung

SIGNED_AT = dt.datetime(2026, 12, 7, 9, 5, 30, tzinfo=dt.UTC)
VALUES: dict[str, str | bool] = {
    "Name": "Müller-Lüdenscheidt",
    "Vorname": "Jürgen",
    "Geburtsdatum": "1980-02-29",
    "Anschrift": "Große Straße 1, 12345 Musterstadt",
    "Art": "erweitert",
    "Zustellung": "Post",
    "Zweck": "Für den Arbeitgeber\nzweite Zeile",
    "Gebuehr": True,
}


@pytest.fixture(autouse=True)
def _media(tmp_path: Path, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


def pdf_template(office: Office, content: bytes) -> FormTemplate:
    checked = check_pdf(content)
    template = FormTemplate(
        office=office,
        title="Antrag auf Meldebescheinigung",
        source=Source.PDF,
        fields=[field.as_dict() for field in checked.fields],
        signature_places=[place.as_dict() for place in checked.signature_places],
    )
    template.pdf.save("form.pdf", ContentFile(checked.content))
    return template


def drawn_signature() -> bytes:
    image = Image.new("RGBA", (300, 100), (255, 255, 255, 0))
    ImageDraw.Draw(image).line((10, 80, 150, 20, 290, 70), fill=(0, 0, 80, 255), width=5)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def drawn_boxes(page: Any) -> dict[tuple[int, int], bool]:
    """(left, bottom) of every flattened widget -> whether its appearance draws anything."""
    xobjects = page["/Resources"]["/XObject"]
    found = {}
    for line in page.get_contents().get_data().decode("latin-1").splitlines():
        parts = line.split()
        if len(parts) == 11 and parts[0] == "q" and parts[9] == "Do" and parts[8].startswith("/Flat"):
            found[(round(float(parts[5])), round(float(parts[6])))] = bool(
                xobjects[parts[8]].get_data().strip()
            )
    return found


def test_the_filled_pdf_holds_every_value_flattened_and_the_drawn_signature_in_its_field(
    office: Office,
) -> None:
    template = pdf_template(office, meldebescheinigung())
    signature = Signature("Jürgen Müller-Lüdenscheidt", SIGNED_AT, drawn_signature())

    reader = PdfReader(io.BytesIO(filled_pdf(template, VALUES, signature)))

    assert len(reader.pages) == 2  # the form, then the signature page
    assert not reader.get_fields()  # flattened: nothing left to edit
    assert "/AcroForm" not in reader.root_object
    assert all("/Annots" not in page for page in reader.pages)
    form_text = reader.pages[0].extract_text()
    for expected in (
        "Müller-Lüdenscheidt",
        "Jürgen",
        "29.02.1980",
        "Große Straße 1, 12345 Musterstadt",
        "Post",
        "Für den Arbeitgeber",
        "zweite Zeile",
    ):
        assert expected in form_text
    # ticked box and chosen radio button: drawn (their states in detail: the next test)
    assert sum(drawn_boxes(reader.pages[0]).values()) >= 2 + 6  # 6 filled text and choice fields
    # the signature image stands on the form's page, inside the signature field
    images = reader.pages[0].images
    assert len(images) == 1
    assert images[0].image is not None
    assert images[0].image.size == (300, 100)
    last = reader.pages[1].extract_text()
    assert "Jürgen Müller-Lüdenscheidt" in last
    assert "signature field on page 1" in last or "Unterschriftsfeld" in last
    assert content_hash(template, VALUES, signature) in last.replace("\n", "")


def test_values_the_forms_font_cannot_show_are_drawn_in_the_embedded_font(office: Office) -> None:
    template = pdf_template(office, meldebescheinigung())
    values = {**VALUES, "Name": "Шевченко", "Vorname": "Олена", "Zweck": "Για την εργασία\nдругий рядок"}

    page = PdfReader(
        io.BytesIO(filled_pdf(template, values, Signature("Олена Шевченко", SIGNED_AT, None)))
    ).pages[0]

    text = page.extract_text()
    for expected in ("Шевченко", "Олена", "Για την εργασία", "другий рядок", "Große Straße 1", "29.02.1980"):
        assert expected in text
    assert "?" not in text


def test_a_choice_of_export_and_display_pairs_offers_and_shows_the_display_text(office: Office) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(meldebescheinigung())))
    for reference in writer._root_object["/AcroForm"]["/Fields"]:  # type: ignore[index]
        field = reference.get_object()
        if field["/T"] == "Zustellung":
            field[NameObject("/Opt")] = ArrayObject(
                ArrayObject([TextStringObject(export), TextStringObject(shown)])
                for export, shown in (("A", "Abholung"), ("P", "Per Post"))
            )
    buffer = io.BytesIO()
    writer.write(buffer)
    template = pdf_template(office, buffer.getvalue())
    (choice,) = (field for field in template.fields if field["name"] == "Zustellung")
    assert choice["options"] == ["Abholung", "Per Post"]

    reader = PdfReader(
        io.BytesIO(filled_pdf(template, {"Zustellung": "Per Post"}, Signature("A", SIGNED_AT, None)))
    )

    assert "Per Post" in reader.pages[0].extract_text()


def test_checkbox_and_radio_states_are_drawn_as_chosen(office: Office) -> None:
    template = pdf_template(
        office,
        fillable_pdf(
            "Test",
            "",
            [
                Widget("checkbox", "Ja", "Ja"),
                Widget("checkbox", "Nein", "Nein"),
                Widget("radio", "Wahl", "Wahl", options=("a", "b", "c")),
            ],
        ),
    )
    values: dict[str, str | bool] = {"Ja": True, "Nein": False, "Wahl": "b"}

    page = PdfReader(io.BytesIO(filled_pdf(template, values, Signature("A", SIGNED_AT, None)))).pages[0]

    drawn = [
        state
        for _position, state in sorted(drawn_boxes(page).items(), key=lambda item: (-item[0][1], item[0][0]))
    ]
    # reading order: box "Ja" (ticked), box "Nein" (empty), then the radio buttons a, b, c
    assert drawn == [True, False, False, True, False]


def test_a_typed_name_is_the_signature_and_a_form_without_signature_field_gets_it_on_the_added_page(
    office: Office,
) -> None:
    template = pdf_template(office, fillable_pdf("Kurz", "", [Widget("text", "Name", "Name")]))
    signature = Signature("Zoë Ødegård", SIGNED_AT, None)

    reader = PdfReader(io.BytesIO(filled_pdf(template, {"Name": "Zoë"}, signature)))

    assert len(reader.pages) == 2
    assert len(reader.pages[1].images) == 0
    text = reader.pages[1].extract_text()
    assert text.count("Zoë Ødegård") == 2  # signed by …, and the name set as the signature
    # who, when (Berlin and UTC), and the hash
    assert "07.12.2026 10:05:30 CET" in text
    assert "2026-12-07 09:05:30 UTC" in text
    assert content_hash(template, {"Name": "Zoë"}, signature) in text.replace("\n", "")


def test_a_drawn_signature_without_signature_field_stands_on_the_added_page(office: Office) -> None:
    template = pdf_template(office, fillable_pdf("Kurz", "", [Widget("text", "Name", "Name")]))

    reader = PdfReader(io.BytesIO(filled_pdf(template, {}, Signature("A B", SIGNED_AT, drawn_signature()))))

    assert len(reader.pages[0].images) == 0
    assert len(reader.pages[1].images) == 1


def test_a_defined_form_is_rendered_with_umlauts_and_every_value(office: Office) -> None:
    fields = [
        FormField("name", "Name und Vorname", "text", required=True),
        FormField("strasse", "Straße", "text", help="mit Hausnummer"),
        FormField("grund", "Begründung", "textarea"),
        FormField("geboren", "Geburtsdatum", "date"),
        FormField("weg", "Zustellung", "choice", options=("Abholung im Bürgerbüro", "Post")),
        FormField("einverstanden", "Ich bin einverstanden", "checkbox"),
    ]
    template = FormTemplate.objects.create(
        office=office,
        title="Übergabe von Fundsachen",
        description="Für Fundsachen im Wert über 10 €.",
        source=Source.DEFINED,
        fields=[field.as_dict() for field in fields],
    )
    values: dict[str, str | bool] = {
        "name": "Jörg Äßler",
        "strasse": "Fließstraße 3",
        "grund": "Schlüssel gefunden, Größe ä ö ü ß",
        "geboren": "2001-12-24",
        "weg": "Abholung im Bürgerbüro",
        "einverstanden": True,
    }

    reader = PdfReader(io.BytesIO(filled_pdf(template, values, Signature("Jörg Äßler", SIGNED_AT, None))))

    text = reader.pages[0].extract_text()
    for expected in (
        "Übergabe von Fundsachen",
        "Für Fundsachen im Wert über 10 €.",
        "Straße",
        "mit Hausnummer",
        "Jörg Äßler",
        "Fließstraße 3",
        "Schlüssel gefunden, Größe ä ö ü ß",
        "24.12.2001",
        "Abholung im Bürgerbüro",
        "Begründung",
    ):
        assert expected in text
    assert "Jörg Äßler" in reader.pages[-1].extract_text()


def test_a_value_a_field_does_not_take_is_refused(office: Office) -> None:
    template = pdf_template(office, meldebescheinigung())

    with pytest.raises(FormValueError) as refused:
        filled_pdf(template, {**VALUES, "Art": "ungültig"}, Signature("A", SIGNED_AT, None))

    assert refused.value.code == "option"


@pytest.mark.parametrize("image", [b"not an image", b"GIF89a" + b"\x00" * 20])
def test_a_signature_that_is_not_a_png_is_refused(office: Office, image: bytes) -> None:
    template = pdf_template(office, meldebescheinigung())

    with pytest.raises(FormValueError) as refused:
        filled_pdf(template, VALUES, Signature("A", SIGNED_AT, image))

    assert refused.value.code == "signature"


def test_the_hash_covers_values_signer_time_and_signature_image(office: Office) -> None:
    template = pdf_template(office, meldebescheinigung())
    signature = Signature("A", SIGNED_AT, drawn_signature())
    base = content_hash(template, VALUES, signature)

    assert base == content_hash(template, dict(VALUES), signature)
    assert base != content_hash(template, {**VALUES, "Vorname": "Jürgen "}, signature)
    assert base != content_hash(template, VALUES, Signature("B", SIGNED_AT, signature.image_png))
    assert base != content_hash(template, VALUES, Signature("A", SIGNED_AT + dt.timedelta(seconds=1), None))
    assert base != content_hash(template, VALUES, Signature("A", SIGNED_AT, None))

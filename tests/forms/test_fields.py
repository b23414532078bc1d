"""What a value of each kind of field may be, and the defined forms' one-line-per-field text."""

from __future__ import annotations

import pytest

from buergerbuero.forms.fields import FormField, FormValueError, clean_value, clean_values, missing_required
from buergerbuero.forms.services import definition_text, parse_definition

pytestmark = pytest.mark.mode_independent

NAME = FormField("name", "Name", "text", required=True, max_length=10)
NOTE = FormField("note", "Anmerkung", "textarea")
AGREE = FormField("agree", "Einverstanden", "checkbox", required=True)
WAY = FormField("way", "Zustellung", "choice", options=("Post", "Abholung"))
BORN = FormField("born", "Geburtsdatum", "date")


@pytest.mark.parametrize(
    ("field", "raw", "cleaned"),
    [
        (NAME, "Jörg", "Jörg"),
        (NAME, "", ""),  # empty is fine while filling; required is checked at the end
        (NOTE, "erste\r\nzweite\rdritte\tTab", "erste\nzweite\ndritte\tTab"),
        (AGREE, True, True),
        (WAY, "Abholung", "Abholung"),
        (WAY, "", ""),
        (BORN, "1980-02-29", "1980-02-29"),
        (BORN, "29.2.1980", "1980-02-29"),
        (BORN, " 01.12.2026 ", "2026-12-01"),
        (BORN, "", ""),
    ],
)
def test_values_are_cleaned(field: FormField, raw: object, cleaned: object) -> None:
    assert clean_value(field, raw) == cleaned


@pytest.mark.parametrize(
    ("field", "raw", "code"),
    [
        (NAME, 42, "type"),
        (NAME, "x" * 11, "length"),
        (NAME, "zwei\nZeilen", "characters"),
        (NOTE, "nul\x00", "characters"),
        (NAME, "Anna \u202eettimS", "characters"),  # a right-to-left override
        (NOTE, "\u2066isolated\u2069", "characters"),
        (NOTE, "x" * 5001, "length"),
        (AGREE, "true", "type"),
        (WAY, "E-Mail", "option"),
        (BORN, "2026-02-30", "date"),
        (BORN, "0001-01-01", "date"),
        (BORN, "morgen", "date"),
        (BORN, "12/24/2026", "date"),
    ],
)
def test_wrong_values_are_refused_with_a_message_naming_the_field(
    field: FormField, raw: object, code: str
) -> None:
    with pytest.raises(FormValueError) as refused:
        clean_value(field, raw)

    assert refused.value.code == code
    assert field.label in refused.value.message


def test_unknown_field_names_are_refused_and_missing_values_are_empty() -> None:
    fields = [NAME, AGREE, WAY]

    assert clean_values(fields, {"name": "A"}) == {"name": "A", "agree": False, "way": ""}
    with pytest.raises(FormValueError):
        clean_values(fields, {"name": "A", "admin": "x"})


def test_required_fields_without_a_value_are_missing() -> None:
    values = clean_values([NAME, AGREE, WAY], {"name": "A"})

    assert missing_required([NAME, AGREE, WAY], values) == [AGREE]


def test_a_field_survives_its_stored_form() -> None:
    for field in (NAME, NOTE, AGREE, WAY, BORN):
        assert FormField.from_dict(field.as_dict()) == field


def test_a_definition_reads_back_into_the_same_fields() -> None:
    text = "Name* | text\nGröße | text | | in cm\nWeg | radio | Post; Abholung\nNotiz | textarea"

    fields = parse_definition(text)

    assert [(f.name, f.label, f.kind, f.required, f.options, f.help) for f in fields] == [
        ("name", "Name", "text", True, (), ""),
        ("groesse", "Größe", "text", False, (), "in cm"),
        ("weg", "Weg", "radio", False, ("Post", "Abholung"), ""),
        ("notiz", "Notiz", "textarea", False, (), ""),
    ]
    assert parse_definition(definition_text(fields)) == fields


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("Name\nFarbe | colour", 2),
        ("| text", 1),
        ("Name | text | a; b", 1),
        ("A\n\nB | choice | nur eine", 3),
    ],
)
def test_a_wrong_definition_names_its_line(text: str, line: int) -> None:
    with pytest.raises(FormValueError) as refused:
        parse_definition(text)

    assert f"Line {line} " in refused.value.message

"""The demo's Bürgerbüro has a fillable PDF form and a defined form, each attached to a service,
and both can be filled and signed."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

from django.core.management import call_command
from pypdf import PdfReader

from buergerbuero.forms.fields import template_fields
from buergerbuero.forms.models import FormTemplate, Source
from buergerbuero.forms.pdf import Signature, filled_pdf
from buergerbuero.forms.services import forms_for
from buergerbuero.offices.models import Office


def test_the_demo_office_has_a_fillable_pdf_and_a_defined_form_attached_to_services(
    db: None, tmp_path: Path, settings: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    call_command("load_demo")
    call_command("load_demo")  # again: no second form, no second file

    office = Office.objects.get(organization__slug="musterstadt", slug="buergerbuero")
    registration = office.services.get(name="Wohnsitz an- oder ummelden")
    conduct = office.services.get(name="Führungszeugnis beantragen")
    (pdf_form,) = forms_for(office, registration)
    (defined,) = forms_for(office, conduct)
    assert FormTemplate.objects.count() == 2
    assert pdf_form.source == Source.PDF
    assert defined.source == Source.DEFINED
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == [Path(pdf_form.pdf.path)]

    signed_at = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
    for template in (pdf_form, defined):
        values: dict[str, str | bool] = {
            field.name: (
                True if field.kind == "checkbox" else field.options[0] if field.options else "Öztürk"
            )
            for field in template_fields(template)
            if field.kind != "date"
        }
        reader = PdfReader(
            io.BytesIO(filled_pdf(template, values, Signature("Ayşe Öztürk", signed_at, None)))
        )
        assert "Öztürk" in reader.pages[0].extract_text()
        assert "Ayşe Öztürk" in reader.pages[-1].extract_text()

"""The demo office's forms: the fillable PDF "Antrag auf Meldebescheinigung" (made by the
project, :mod:`buergerbuero.demo.fillable_pdf`) for the registration service, and a form defined
in the admin for the certificate of good conduct. Loading again changes nothing: an existing
form keeps its file."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from buergerbuero.demo.fillable_pdf import MELDEBESCHEINIGUNG, meldebescheinigung
from buergerbuero.forms import services as forms
from buergerbuero.forms.intake import check_upload
from buergerbuero.forms.models import FormTemplate, Source
from buergerbuero.offices.models import Office

PDF_SERVICE = "Wohnsitz an- oder ummelden"
DEFINED_SERVICE = "Führungszeugnis beantragen"
DEFINED_TITLE = "Angaben zum Führungszeugnis"
DEFINED_FIELDS = "\n".join(
    [
        "Familienname* | text",
        "Geburtsname | text | | Nur wenn er vom Familiennamen abweicht.",
        "Vornamen* | text",
        "Geburtsdatum* | date",
        "Geburtsort* | text",
        "Art des Führungszeugnisses* | radio | Privatführungszeugnis; Erweitertes Führungszeugnis",
        "Vorlage bei einer Behörde | checkbox | | Dann schicken wir es direkt an die Behörde.",
        "Name und Anschrift der Behörde | textarea",
        "Zahlungsweise | choice | Bar bei Abholung; Überweisung; EC-Karte",
    ]
)


def add_forms(office: Office) -> None:
    """The two demo forms of ``office`` (the Bürgerbüro), attached to their services."""
    title = MELDEBESCHEINIGUNG[0]
    pdf_form = FormTemplate.objects.filter(office=office, title=title).first()
    if pdf_form is None:
        pdf_form = FormTemplate(
            office=office,
            title=title,
            description="Bescheinigung über Ihre aktuelle Anmeldung, z. B. für den Arbeitgeber.",
        )
        checked = check_upload(SimpleUploadedFile("meldebescheinigung.pdf", meldebescheinigung()))
        forms.save_form(pdf_form, checked=checked)
    pdf_form.services.set(office.services.filter(name=PDF_SERVICE))

    defined, _created = FormTemplate.objects.get_or_create(
        office=office,
        title=DEFINED_TITLE,
        defaults={
            "description": "Bitte halten Sie Ihren Ausweis bereit.",
            "source": Source.DEFINED,
            "fields": [field.as_dict() for field in forms.parse_definition(DEFINED_FIELDS)],
        },
    )
    defined.services.set(office.services.filter(name=DEFINED_SERVICE))

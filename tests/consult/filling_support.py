"""Helpers of the tests of forms filled in together: a defined form of the office."""

from __future__ import annotations

from buergerbuero.consult.models import Consultation, ParticipantRole
from buergerbuero.consult.services import Participant, participant
from buergerbuero.forms.fields import FormField
from buergerbuero.forms.models import FormTemplate, Source
from buergerbuero.offices.models import Office

FIELDS = [
    FormField("surname", "Familienname", "text", required=True, help="Wie im Ausweis"),
    FormField("street", "Straße und Hausnummer", "text"),
    FormField("moved_on", "Einzugsdatum", "date", required=True),
    FormField("reason", "Anlass", "radio", options=("Zuzug", "Umzug")),
    FormField("notes", "Bemerkungen", "textarea"),
    FormField("consent", "Ich versichere die Richtigkeit", "checkbox", required=True),
]


def registration_form(office: Office, title: str = "Anmeldung einer Wohnung") -> FormTemplate:
    return FormTemplate.objects.create(
        office=office,
        title=title,
        description="Bitte innerhalb von zwei Wochen nach dem Einzug.",
        source=Source.DEFINED,
        fields=[field.as_dict() for field in FIELDS],
    )


def citizen_of(consultation: Consultation) -> Participant:
    who = participant(consultation.pk, token=consultation.ticket.token)
    assert who is not None
    assert who.role == ParticipantRole.CITIZEN
    return who


def agent_of(consultation: Consultation) -> Participant:
    who = participant(consultation.pk, member=consultation.agent)
    assert who is not None
    assert who.role == ParticipantRole.AGENT
    return who


def interpreter_of(consultation: Consultation) -> Participant:
    return Participant(consultation, ParticipantRole.INTERPRETER)


COMPLETE = {
    "surname": "Beispiel",
    "street": "Hauptstraße 1",
    "moved_on": "01.11.2026",
    "reason": "Zuzug",
    "notes": "Zweite Zeile\nmit Umbruch",
    "consent": True,
}

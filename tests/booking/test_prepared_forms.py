"""A booked appointment carries the service's forms to prepare beforehand (#16): the page from
the appointment's link, drafts checked field by field, who may open it, the limit of saves,
the staff calendar's marker, the values handed to the consultation, and their deletion with
the appointment."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from buergerbuero.booking import services
from buergerbuero.booking.models import Appointment, AppointmentStatus, PreparedForm
from buergerbuero.forms.fields import FormField
from buergerbuero.forms.models import FormTemplate, Source
from buergerbuero.offices.models import Office, Service
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import Ticket
from tests import factories
from tests.booking.conftest import NOW, at, make_appointment
from tests.booking.test_views import body, booked, german
from tests.security.test_form_inputs import junk_values

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock", "agent_member")]

FIELDS = [
    FormField("surname", "Familienname", "text", required=True, help="Wie im Ausweis"),
    FormField("moved_on", "Einzugsdatum", "date"),
    FormField("reason", "Anlass", "radio", options=("Zuzug", "Umzug")),
    FormField("floor", "Stockwerk", "choice", options=("EG", "1. OG")),
    FormField("notes", "Bemerkungen", "textarea"),
    FormField("consent", "Ich versichere die Richtigkeit", "checkbox", required=True),
]


def attached_form(service: Service, title: str = "Anmeldung einer Wohnung") -> FormTemplate:
    template = FormTemplate.objects.create(
        office=service.office,
        title=title,
        source=Source.DEFINED,
        fields=[field.as_dict() for field in FIELDS],
    )
    template.services.add(service)
    return template


@pytest.fixture
def template(service: Service) -> FormTemplate:
    return attached_form(service)


@pytest.fixture
def appointment(service: Service) -> Appointment:
    return booked(service)


def url(appointment: Appointment, template: FormTemplate) -> str:
    return f"/a/{appointment.token}/forms/{template.pk}/"


def filled(**changes: str) -> dict[str, str]:
    """A partial draft as the page posts it: inputs by position, the checkbox left unticked."""
    data = {"f0": "Beispiel", "f1": "01.11.2026", "f2": "Umzug", "f3": "", "f4": "Zweite\r\nZeile"}
    data.update(changes)
    return data


# --- the appointment page offers the form ----------------------------------------------------------
def test_the_appointment_page_offers_the_booked_services_forms_only(
    client: Client, office: Office, service: Service, template: FormTemplate, appointment: Appointment
) -> None:
    other_service = factories.make_service(office, "Gewerbe", bookable=True)
    attached_form(other_service, title="Gewerbeanmeldung")
    FormTemplate.objects.create(office=office, title="Unattached", source=Source.DEFINED, fields=[])

    page = body(client.get(f"/a/{appointment.token}/"))

    assert f'href="{url(appointment, template)}"' in page
    assert "Gewerbeanmeldung" not in page
    assert "Unattached" not in page


def test_without_forms_the_appointment_page_offers_none(client: Client, appointment: Appointment) -> None:
    page = body(client.get(f"/a/{appointment.token}/"))

    assert "data-forms-to-prepare" not in page


def test_a_cancelled_appointment_no_longer_offers_the_form(
    client: Client, template: FormTemplate, appointment: Appointment
) -> None:
    services.cancel(appointment, now=NOW)

    page = body(client.get(f"/a/{appointment.token}/"))

    assert "data-forms-to-prepare" not in page


# --- the form page ---------------------------------------------------------------------------------
def test_the_form_page_labels_every_field_and_describes_its_help(
    client: Client, template: FormTemplate, appointment: Appointment
) -> None:
    response = client.get(url(appointment, template))

    page = body(response)
    assert response.status_code == 200
    assert '<label for="pf-0">Familienname (' + german("required") + ")</label>" in page
    assert 'aria-describedby="pf-0-help pf-0-error"' in page
    assert '<span class="hint" id="pf-0-help">Wie im Ausweis</span>' in page
    assert '<input type="date" name="f1" id="pf-1"' in page
    assert "<legend>Anlass</legend>" in page
    assert '<option value="1. OG">1. OG</option>' in page
    assert '<textarea name="f4" id="pf-4"' in page
    assert '<input type="checkbox" name="f5" id="pf-5"' in page


def test_a_draft_is_saved_and_shown_again(
    client: Client, template: FormTemplate, appointment: Appointment
) -> None:
    response = client.post(url(appointment, template), filled())

    assert response.status_code == 302
    assert response["Location"] == url(appointment, template)
    prepared = PreparedForm.objects.get()
    assert prepared.values == {
        "surname": "Beispiel",
        "moved_on": "2026-11-01",
        "reason": "Umzug",
        "floor": "",
        "notes": "Zweite\nZeile",
        "consent": False,
    }
    page = body(client.get(url(appointment, template)))
    assert 'value="Beispiel"' in page
    assert 'value="2026-11-01"' in page
    assert 'value="Umzug" checked' in page
    assert ">Zweite\nZeile</textarea>" in page
    assert german("Your form is saved. You can change it until the appointment starts.") in page


def test_saving_again_changes_the_same_draft(
    client: Client, template: FormTemplate, appointment: Appointment
) -> None:
    client.post(url(appointment, template), filled())

    client.post(url(appointment, template), filled(f0="Anders", f5="on"))

    prepared = PreparedForm.objects.get()
    assert prepared.values["surname"] == "Anders"
    assert prepared.values["consent"] is True


def test_wrong_values_are_named_next_to_their_fields_and_nothing_is_saved(
    client: Client, template: FormTemplate, appointment: Appointment
) -> None:
    client.post(url(appointment, template), filled())

    response = client.post(url(appointment, template), filled(f0="Neu", f1="31.02.2026", f2="Abriss"))

    page = body(response)
    assert response.status_code == 400
    assert german("Please correct the marked fields. Nothing has been saved.") in page
    date_error = german("“%(label)s” needs a date such as 24.12.2026.") % {"label": "Einzugsdatum"}
    option_error = german("Please choose one of the offered answers for “%(label)s”.") % {"label": "Anlass"}
    assert f'<span class="form-error" id="pf-1-error">{date_error}</span>' in page
    assert f'<span class="form-error" id="pf-2-error">{option_error}</span>' in page
    assert f'<a href="#pf-1">{date_error}</a>' in page  # the summary at the top leads to the field
    assert 'value="Neu"' in page  # what the citizen typed is kept on the page
    assert PreparedForm.objects.get().values["surname"] == "Beispiel"


def test_a_text_longer_than_the_field_takes_is_refused(
    client: Client, template: FormTemplate, appointment: Appointment
) -> None:
    response = client.post(url(appointment, template), filled(f0="x" * 501))

    assert response.status_code == 400
    assert not PreparedForm.objects.exists()


def test_the_form_page_in_english(client: Client, template: FormTemplate, appointment: Appointment) -> None:
    response = client.get(url(appointment, template), headers={"accept-language": "en"})

    assert "Save the form" in body(response)


# --- who may open it --------------------------------------------------------------------------------
def test_a_wrong_token_gets_the_invalid_link_page(
    client: Client, template: FormTemplate, appointment: Appointment
) -> None:
    tampered = appointment.token[:-2] + ("xy" if not appointment.token.endswith("xy") else "ab")

    for response in (
        client.get(f"/a/{tampered}/forms/{template.pk}/"),
        client.post(f"/a/{tampered}/forms/{template.pk}/", filled()),
    ):
        assert response.status_code == 404
        assert german("This appointment link is not valid") in body(response)
    assert not PreparedForm.objects.exists()


def test_a_form_of_another_service_or_office_is_not_found(
    client: Client, org: Organization, office: Office, appointment: Appointment
) -> None:
    other_service = attached_form(factories.make_service(office, "Gewerbe", bookable=True))
    other_office = factories.make_office(org, "bauamt")
    elsewhere = attached_form(factories.make_service(other_office, "Bauantrag", bookable=True))
    inactive = attached_form(appointment.service, title="Alt")
    inactive.active = False
    inactive.save()

    for template in (other_service, elsewhere, inactive):
        assert client.get(url(appointment, template)).status_code == 404
        assert client.post(url(appointment, template), filled()).status_code == 404
    assert client.get(f"/a/{appointment.token}/forms/999999/").status_code == 404
    assert not PreparedForm.objects.exists()


def test_another_citizens_link_does_not_open_this_draft(
    client: Client, service: Service, template: FormTemplate, appointment: Appointment
) -> None:
    client.post(url(appointment, template), filled())
    someone_else = booked(service, at(2026, 12, 2, 10, 30))

    page = body(client.get(url(someone_else, template)))

    assert "Beispiel" not in page


def test_after_the_start_or_a_cancellation_the_form_is_closed(
    client: Client, template: FormTemplate, appointment: Appointment, clock: Any
) -> None:
    client.post(url(appointment, template), filled())
    clock.move_to(appointment.starts_at)

    response = client.post(url(appointment, template), filled(f0="Zu spät"))

    assert response.status_code == 404
    assert client.get(url(appointment, template)).status_code == 404
    assert PreparedForm.objects.get().values["surname"] == "Beispiel"


def test_a_cancelled_appointments_form_cannot_be_saved(
    client: Client, template: FormTemplate, appointment: Appointment
) -> None:
    services.cancel(appointment, now=NOW)

    response = client.post(url(appointment, template), filled())

    assert response.status_code == 404
    assert not PreparedForm.objects.exists()


def test_saves_are_limited_per_appointment(
    client: Client, template: FormTemplate, appointment: Appointment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "PREPARED_FORM_SAVES_PER_HOUR", 2)
    client.post(url(appointment, template), filled(f0="Eins"))
    client.post(url(appointment, template), filled(f0="Zwei"))

    response = client.post(url(appointment, template), filled(f0="Drei"))

    assert response.status_code == 429
    assert german("This form has been saved very often. Please try again in %(wait)s.").split("%")[0] in body(
        response
    )
    assert PreparedForm.objects.get().values["surname"] == "Zwei"


def test_the_form_page_costs_the_same_queries_however_many_fields(
    client: Client, service: Service, template: FormTemplate, appointment: Appointment
) -> None:
    client.post(url(appointment, template), filled())
    with CaptureQueriesContext(connection) as small:
        assert client.get(url(appointment, template)).status_code == 200
    template.fields = [
        *template.fields,
        *(FormField(f"extra{n}", f"Extra {n}", "text").as_dict() for n in range(30)),
    ]
    template.save()
    with CaptureQueriesContext(connection) as large:
        assert client.get(url(appointment, template)).status_code == 200

    assert len(large) == len(small)
    # appointment, form, draft, session and messages: nothing per field
    assert len(small) <= 6, [query["sql"] for query in small.captured_queries]


# --- staff and the consultation ---------------------------------------------------------------------
def test_the_staff_calendar_marks_a_prepared_form_without_its_values(
    agent: User, outsider: User, template: FormTemplate, appointment: Appointment, service: Service
) -> None:
    Client().post(url(appointment, template), filled())
    unprepared = booked(service, at(2026, 12, 2, 10, 30))
    staff = Client(headers={"accept-language": "de"})
    staff.force_login(agent)

    response = staff.get("/staff/appointments/?date=2026-12-02")

    page = body(response)
    rows = {
        item.pk: item.has_prepared_form for day in response.context["days"] for item in day["appointments"]
    }
    assert rows == {appointment.pk: True, unprepared.pk: False}
    assert page.count("data-prepared-form") == 1
    assert german("Form prepared") in page
    assert "Beispiel" not in page  # the values stay with the citizen until the consultation
    stranger = Client()
    stranger.force_login(outsider)
    assert f'data-appointment="{appointment.pk}"' not in body(
        stranger.get("/staff/appointments/?date=2026-12-02")
    )


def test_the_checked_in_appointment_hands_its_values_to_the_consultation(
    client: Client, template: FormTemplate, appointment: Appointment, clock: Any
) -> None:
    client.post(url(appointment, template), filled())
    clock.move_to(at(2026, 12, 2, 9, 56))
    ticket = services.join(appointment)

    values = services.prepared_values(ticket)

    assert values == {template.pk: PreparedForm.objects.get().values}
    walk_in = Ticket.objects.exclude(pk=ticket.pk).first()
    assert walk_in is None or services.prepared_values(walk_in) == {}


def test_values_the_changed_form_no_longer_takes_are_not_handed_on(
    client: Client, template: FormTemplate, appointment: Appointment, clock: Any
) -> None:
    client.post(url(appointment, template), filled())
    clock.move_to(at(2026, 12, 2, 9, 56))
    ticket = services.join(appointment)
    changed = [field.as_dict() for field in FIELDS]
    changed[2]["options"] = ["Zuzug", "Wegzug"]  # "Umzug" was taken out by the office
    template.fields = changed
    template.save()

    values = services.prepared_values(ticket)[template.pk]

    assert "reason" not in values
    assert values["surname"] == "Beispiel"


# --- retention --------------------------------------------------------------------------------------
def test_drafts_are_deleted_with_the_appointments_personal_data(
    template: FormTemplate, service: Service, agent_member: StaffMember, settings: Any
) -> None:
    settings.APPOINTMENT_RETENTION_DAYS = 30
    old = make_appointment(service, agent_member, at(2026, 10, 30, 10, 0), status=AppointmentStatus.ATTENDED)
    recent = make_appointment(
        service, agent_member, at(2026, 11, 2, 10, 0), status=AppointmentStatus.ATTENDED
    )
    for item in (old, recent):
        PreparedForm.objects.create(
            appointment=item, template=template, values={"surname": "X"}, updated_at=NOW
        )

    services.prune_appointments(now=NOW)

    assert list(PreparedForm.objects.values_list("appointment_id", flat=True)) == [recent.pk]


def test_a_form_number_beyond_any_id_is_not_found(client: Client, appointment: Appointment) -> None:
    assert client.get(f"/a/{appointment.token}/forms/{'9' * 30}/").status_code == 404


def test_the_form_survives_extreme_inputs_and_stores_only_clean_values(
    template: FormTemplate, appointment: Appointment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "PREPARED_FORM_SAVES_PER_HOUR", 100_000)
    client = Client(headers={"accept-language": "en"}, raise_request_exception=False)
    target = url(appointment, template)

    for name, value in junk_values():
        for field_index in range(len(FIELDS)):
            response = client.post(target, {**filled(), f"f{field_index}": value})
            assert response.status_code in (302, 400), (name, field_index, response.status_code)
    assert (
        client.post(target, "f0=%FF%ED%A0%80", content_type="application/x-www-form-urlencoded").status_code
        < 500
    )
    assert client.post(target, '{"f0": [1]}', content_type="application/json").status_code < 500

    for prepared in PreparedForm.objects.all():
        for form_field in FIELDS:
            value = prepared.values[form_field.name]
            if isinstance(value, str):
                assert not any(bad in value for bad in ("\x00", "\x1b", "\x07")), repr(value[:40])
                assert len(value) <= (form_field.limit or 10), (form_field.name, len(value))


def test_a_cancellation_deletes_the_drafts_at_once(
    client: Client, template: FormTemplate, appointment: Appointment
) -> None:
    client.post(url(appointment, template), filled())

    services.cancel(appointment, now=NOW)

    assert not PreparedForm.objects.exists()


def test_a_no_show_deletes_the_drafts(
    client: Client, template: FormTemplate, appointment: Appointment, agent_member: StaffMember
) -> None:
    client.post(url(appointment, template), filled())
    other = booked(appointment.service, at(2026, 12, 2, 10, 30))
    client.post(url(other, template), filled())

    services.mark_no_show(agent_member, appointment, now=appointment.starts_at)

    assert list(PreparedForm.objects.values_list("appointment_id", flat=True)) == [other.pk]

"""A form the citizen prepared before the appointment (#16) starts the consultation's form with
those values, as the citizen's own (not suggestions by staff); a walk-in, another form, or a
form opened again start as they did."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User

from buergerbuero.booking.models import Appointment, AppointmentStatus, PreparedForm
from buergerbuero.consult import filling
from buergerbuero.consult.models import Consultation, ParticipantRole, SharedForm
from buergerbuero.forms.models import FormTemplate
from buergerbuero.offices.models import Office
from tests import factories
from tests.booking.conftest import make_appointment
from tests.consult.filling_support import agent_of, registration_form
from tests.consult.support import OPEN

pytestmark = pytest.mark.django_db

PREPARED: dict[str, str | bool] = {
    "surname": "Beispiel",
    "moved_on": "2026-11-01",
    "reason": "Umzug",
    "consent": True,
}


@pytest.fixture
def template(office: Office) -> FormTemplate:
    return registration_form(office)


@pytest.fixture
def appointment(office: Office, agent: User, consultation: Consultation) -> Appointment:
    """The appointment the consultation's citizen checked in with (its ticket is the consultation's)."""
    service = factories.make_service(office, "Anmeldung", bookable=True)
    booked = make_appointment(service, agent.staff_member, OPEN - dt.timedelta(minutes=5))
    booked.ticket = consultation.ticket
    booked.status = AppointmentStatus.ATTENDED
    booked.save(update_fields=["ticket", "status"])
    return booked


def prepare(appointment: Appointment, template: FormTemplate, values: dict[str, str | bool]) -> None:
    PreparedForm.objects.create(appointment=appointment, template=template, values=values, updated_at=OPEN)


def values_of(shared: SharedForm) -> dict[str, tuple[object, str, bool]]:
    return {row.field: (row.value, row.written_by, row.confirmed) for row in shared.values.all()}


def test_the_prepared_values_start_the_form_as_the_citizens_own(
    consultation: Consultation, template: FormTemplate, appointment: Appointment
) -> None:
    prepare(appointment, template, PREPARED)

    shared = filling.open_form(agent_of(consultation), template.pk)

    citizen = ParticipantRole.CITIZEN
    assert values_of(shared) == {
        "surname": ("Beispiel", citizen, True),
        "street": ("", "", True),
        "moved_on": ("2026-11-01", citizen, True),
        "reason": ("Umzug", citizen, True),
        "notes": ("", "", True),
        "consent": (True, citizen, True),
    }
    state = filling.state_json(shared)
    assert state["values"]["surname"] == {"value": "Beispiel", "version": 1, "by": citizen, "confirmed": True}
    assert state["values"]["street"]["version"] == 0


def test_a_walk_in_starts_with_an_empty_form(consultation: Consultation, template: FormTemplate) -> None:
    shared = filling.open_form(agent_of(consultation), template.pk)

    assert {value for value, _by, _confirmed in values_of(shared).values()} == {"", False}


def test_a_form_prepared_for_another_template_stays_out(
    office: Office, consultation: Consultation, template: FormTemplate, appointment: Appointment
) -> None:
    other = registration_form(office, title="Abmeldung")
    prepare(appointment, other, PREPARED)

    shared = filling.open_form(agent_of(consultation), template.pk)

    assert values_of(shared)["surname"] == ("", "", True)


def test_a_form_opened_again_keeps_what_was_written_in_the_consultation(
    consultation: Consultation, template: FormTemplate, appointment: Appointment
) -> None:
    prepare(appointment, template, PREPARED)
    agent = agent_of(consultation)
    shared = filling.open_form(agent, template.pk)
    filling.edit(agent, shared.pk, "surname", "Korrigiert")
    filling.close(agent, shared.pk)

    again = filling.open_form(agent, template.pk)

    assert values_of(again)["surname"] == ("Korrigiert", ParticipantRole.AGENT, False)

"""Forms filled in together (consult.filling): versions, suggestions, confirmation, signing,
who may do what, the inbox, downloads and retention."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import RestrictedError
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader
from pytest_django import Settings

from buergerbuero.audit.models import AuditEntry
from buergerbuero.consult import filling
from buergerbuero.consult import services as consult_services
from buergerbuero.consult.models import (
    Consultation,
    InboxStatus,
    SharedForm,
    SharedFormStatus,
    SharedFormValue,
)
from buergerbuero.consult.services import ConsultError
from buergerbuero.forms.models import FormTemplate
from buergerbuero.offices.models import Office
from buergerbuero.staff.models import StaffMember
from tests import factories
from tests.consult.filling_support import (
    COMPLETE,
    agent_of,
    citizen_of,
    interpreter_of,
    registration_form,
)
from tests.consult.support import logged_in
from tests.support.lock_race import assert_raced, assert_raced_control, at_once, hold, without_locks

pytestmark = pytest.mark.django_db

# A 1×1 PNG, as a canvas would send it (the real drawing is larger; the check is the same).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
DRAWN = "data:image/png;base64," + base64.b64encode(PNG).decode()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """What the form services publish, in order."""
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(filling, "publish", lambda group, payload: sent.append((group, dict(payload))))
    return sent


@pytest.fixture
def template(office: Office) -> FormTemplate:
    return registration_form(office)


@pytest.fixture
def shared(consultation: Consultation, template: FormTemplate) -> SharedForm:
    return filling.open_form(agent_of(consultation), template.pk)


def fill(consultation: Consultation, shared: SharedForm, values: dict[str, Any] = COMPLETE) -> None:
    citizen = citizen_of(consultation)
    for name, value in values.items():
        filling.edit(citizen, shared.pk, name, value)


def value_of(shared: SharedForm, name: str) -> SharedFormValue:
    return SharedFormValue.objects.get(form=shared, field=name)


# --- opening --------------------------------------------------------------------------------
def test_the_agent_opens_a_form_of_the_office_with_every_field_empty(
    consultation: Consultation, template: FormTemplate, published: list[tuple[str, dict[str, Any]]]
) -> None:
    shared = filling.open_form(agent_of(consultation), template.pk)

    assert shared.status == SharedFormStatus.FILLING
    assert [field["name"] for field in shared.fields] == [field["name"] for field in template.fields]
    assert {row.field: (row.value, row.version) for row in shared.values.all()} == {
        "surname": ("", 0), "street": ("", 0), "moved_on": ("", 0), "reason": ("", 0),
        "notes": ("", 0), "consent": (False, 0),
    }  # fmt: skip
    [(group, event)] = published
    assert group == consult_services.consultation_group(consultation.pk)
    assert event["type"] == "form.state"
    assert event["form"]["id"] == shared.pk
    assert event["form"]["title"] == "Anmeldung einer Wohnung"


def test_only_the_agent_opens_and_only_forms_of_this_office(
    consultation: Consultation, template: FormTemplate, other_consultation: Consultation
) -> None:
    with pytest.raises(ConsultError) as refused:
        filling.open_form(citizen_of(consultation), template.pk)
    assert refused.value.code == "not_agent"
    foreign = registration_form(other_consultation.office, "Fremdes Formular")
    with pytest.raises(ConsultError) as refused:
        filling.open_form(agent_of(consultation), foreign.pk)
    assert refused.value.code == "no_form"
    template.active = False
    template.save()
    with pytest.raises(ConsultError) as refused:
        filling.open_form(agent_of(consultation), template.pk)
    assert refused.value.code == "no_form"
    assert not SharedForm.objects.exists()


def test_one_open_form_at_a_time_and_a_closed_one_comes_back_as_it_was(
    consultation: Consultation, template: FormTemplate, shared: SharedForm, office: Office
) -> None:
    other = registration_form(office, "Abmeldung")
    with pytest.raises(ConsultError) as refused:
        filling.open_form(agent_of(consultation), other.pk)
    assert refused.value.code == "form_open"
    filling.edit(citizen_of(consultation), shared.pk, "surname", "Beispiel")
    filling.close(agent_of(consultation), shared.pk)
    assert filling.current_state(consultation) is None

    again = filling.open_form(agent_of(consultation), template.pk)
    assert again.pk == shared.pk
    assert value_of(again, "surname").value == "Beispiel"
    # Opening and closing are the staff member's actions, in the audit log by ids only.
    logged = AuditEntry.objects.order_by("pk").values_list("action", "target", "actor_id", "details")
    target = f"consultation:{consultation.pk}"
    agent_id = consultation.agent.user_id if consultation.agent else None
    details = {"form": shared.pk, "template": template.pk}
    assert list(logged) == [
        ("consult.form_opened", target, agent_id, details),
        ("consult.form_closed", target, agent_id, {**details, "status": "filling"}),
        ("consult.form_opened", target, agent_id, details),
    ]


# --- editing: versions and suggestions --------------------------------------------------------
def test_every_edit_bumps_the_fields_version_and_the_last_in_the_servers_order_wins(
    consultation: Consultation, shared: SharedForm, published: list[tuple[str, dict[str, Any]]]
) -> None:
    citizen, agent = citizen_of(consultation), agent_of(consultation)
    # Both based their edit on version 0: the server applies them in the order they come.
    filling.edit(citizen, shared.pk, "surname", "Beispiel", base=0, client="c", seq=1)
    filling.edit(agent, shared.pk, "surname", "Beispiel-Meier", base=0, client="a", seq=1)

    row = value_of(shared, "surname")
    assert (row.value, row.version, row.written_by, row.confirmed) == ("Beispiel-Meier", 2, "agent", False)
    assert [event for _group, event in published] == [
        {"type": "form.value", "form": shared.pk, "field": "surname", "value": "Beispiel", "version": 1,
         "by": "citizen", "confirmed": True, "status": "filling", "client": "c", "seq": 1},
        {"type": "form.value", "form": shared.pk, "field": "surname", "value": "Beispiel-Meier", "version": 2,
         "by": "agent", "confirmed": False, "status": "filling", "client": "a", "seq": 1},
    ]  # fmt: skip
    # Other fields keep their own versions.
    assert value_of(shared, "street").version == 0


def test_the_citizens_own_writing_replaces_a_suggestion(
    consultation: Consultation, shared: SharedForm
) -> None:
    filling.edit(agent_of(consultation), shared.pk, "street", "Hauptstr. 1")
    assert value_of(shared, "street").confirmed is False
    filling.edit(citizen_of(consultation), shared.pk, "street", "Hauptstraße 1")
    assert value_of(shared, "street").confirmed is True


def test_a_bad_value_is_refused_with_a_message_and_nothing_changes(
    consultation: Consultation, shared: SharedForm, published: list[tuple[str, dict[str, Any]]]
) -> None:
    citizen = citizen_of(consultation)
    cases = [
        ("moved_on", "31.02.2026", "date"),
        ("reason", "Ausland", "option"),
        ("consent", "ja", "type"),
        ("surname", "x" * 501, "length"),
        ("surname", "zwei\nZeilen", "characters"),
        ("nonexistent", "x", "no_field"),
    ]
    for name, value, code in cases:
        with pytest.raises(ConsultError) as refused:
            filling.edit(citizen, shared.pk, name, value)
        assert refused.value.code == code
        assert refused.value.message
    assert published == []
    assert set(SharedFormValue.objects.filter(form=shared).values_list("version", flat=True)) == {0}


def test_the_interpreter_reads_unless_the_agent_lets_them_write(
    consultation: Consultation, shared: SharedForm
) -> None:
    interpreter = interpreter_of(consultation)
    with pytest.raises(ConsultError) as refused:
        filling.edit(interpreter, shared.pk, "notes", "übersetzt")
    assert refused.value.code == "read_only"
    with pytest.raises(ConsultError):
        filling.let_interpreter_write(citizen_of(consultation), shared.pk, True)
    filling.let_interpreter_write(agent_of(consultation), shared.pk, True)
    filling.edit(interpreter, shared.pk, "notes", "übersetzt")
    assert value_of(shared, "notes").written_by == "interpreter"


def test_an_edit_costs_a_fixed_number_of_queries(consultation: Consultation, shared: SharedForm) -> None:
    citizen = citizen_of(consultation)
    filling.edit(citizen, shared.pk, "surname", "B")  # warm up
    with CaptureQueriesContext(connection) as queries:
        filling.edit(citizen, shared.pk, "surname", "Be")
    # The locked form (with the template), the field's value, its update: whatever the form's size.
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 3, statements


def test_the_socket_state_costs_a_fixed_number_of_queries(
    consultation: Consultation, shared: SharedForm
) -> None:
    fill(consultation, shared)
    with CaptureQueriesContext(connection) as queries:
        state = filling.current_state(consultation)
    assert len(queries.captured_queries) == 2
    assert state is not None
    assert state["values"]["surname"]["value"] == "Beispiel"
    assert state["values"]["moved_on"]["value"] == "2026-11-01"  # kept as YYYY-MM-DD
    # The page's maxlength is the server's rule, sent with each field.
    limits = {field["name"]: field["limit"] for field in state["fields"]}
    assert limits == {
        "surname": 500,
        "street": 500,
        "moved_on": None,
        "reason": None,
        "notes": 5000,
        "consent": None,
    }


# --- confirming and signing ----------------------------------------------------------------------
def test_confirming_needs_every_required_field_and_marks_every_suggestion_confirmed(
    consultation: Consultation, shared: SharedForm
) -> None:
    citizen = citizen_of(consultation)
    filling.edit(agent_of(consultation), shared.pk, "surname", "Beispiel")
    with pytest.raises(ConsultError) as refused:
        filling.confirm(citizen, shared.pk)
    assert refused.value.code == "missing"
    assert "Einzugsdatum" in refused.value.message
    with pytest.raises(ConsultError):
        filling.confirm(agent_of(consultation), shared.pk)

    filling.edit(citizen, shared.pk, "moved_on", "2026-11-01")
    filling.edit(citizen, shared.pk, "consent", True)
    filling.confirm(citizen, shared.pk)
    shared.refresh_from_db()
    assert shared.status == SharedFormStatus.CONFIRMED
    assert value_of(shared, "surname").confirmed is True


def test_a_confirmation_of_values_changed_meanwhile_is_refused(
    consultation: Consultation, shared: SharedForm
) -> None:
    fill(consultation, shared)
    citizen = citizen_of(consultation)
    reviewed = {row.field: row.version for row in shared.values.all()}
    filling.edit(agent_of(consultation), shared.pk, "street", "Nebenstraße 2")  # while the citizen reads
    with pytest.raises(ConsultError) as refused:
        filling.confirm(citizen, shared.pk, reviewed)
    assert refused.value.code == "changed"
    shared.refresh_from_db()
    assert shared.status == SharedFormStatus.FILLING
    assert value_of(shared, "street").confirmed is False
    reviewed["street"] += 1  # the summary shown again
    filling.confirm(citizen, shared.pk, reviewed)
    # Over the socket a confirmation always names what was reviewed: none named, none confirmed.
    reply = filling.receive(citizen, {"type": "form.confirm", "form": shared.pk})
    assert reply is not None
    assert reply["code"] == "changed"


def test_an_edit_after_the_confirmation_takes_it_back(consultation: Consultation, shared: SharedForm) -> None:
    fill(consultation, shared)
    filling.confirm(citizen_of(consultation), shared.pk)
    filling.edit(agent_of(consultation), shared.pk, "street", "Nebenstraße 2")
    shared.refresh_from_db()
    assert shared.status == SharedFormStatus.FILLING
    with pytest.raises(ConsultError) as refused:
        filling.sign(citizen_of(consultation), shared.pk, name="Anna Beispiel")
    assert refused.value.code == "not_confirmed"


def test_signing_writes_the_pdf_with_every_value_and_the_signature(
    consultation: Consultation, shared: SharedForm
) -> None:
    fill(consultation, shared)
    citizen = citizen_of(consultation)
    filling.confirm(citizen, shared.pk)
    signed = filling.sign(citizen, shared.pk, name="  Anna   Beispiel ", drawn=DRAWN)

    assert signed.status == SharedFormStatus.SIGNED
    assert signed.signer == "Anna Beispiel"
    assert signed.inbox == InboxStatus.NEW
    document = signed.pdf.read()
    assert hashlib.sha256(document).hexdigest() == signed.sha256
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)
    for expected in ("Beispiel", "Hauptstraße 1", "01.11.2026", "Zuzug", "Anna Beispiel"):
        assert expected in text
    # Signed is final.
    with pytest.raises(ConsultError) as refused:
        filling.edit(citizen, shared.pk, "street", "anders")
    assert refused.value.code == "signed"


def test_signing_only_by_the_citizen_with_a_name_and_a_real_png(
    consultation: Consultation, shared: SharedForm
) -> None:
    fill(consultation, shared)
    citizen = citizen_of(consultation)
    filling.confirm(citizen, shared.pk)
    with pytest.raises(ConsultError):
        filling.sign(agent_of(consultation), shared.pk, name="Frau Weber")
    with pytest.raises(ConsultError) as refused:
        filling.sign(citizen, shared.pk, name="   ")
    assert refused.value.code == "no_name"
    for bad in (
        "data:image/svg+xml;base64,PHN2Zz4=",
        "data:image/png;base64,!!!",
        "data:image/png;base64,R0lGODlh",
    ):
        with pytest.raises(ConsultError) as refused:
            filling.sign(citizen, shared.pk, name="Anna Beispiel", drawn=bad)
        assert refused.value.code == "bad_signature"
    shared.refresh_from_db()
    assert shared.status == SharedFormStatus.CONFIRMED


def test_signing_is_limited_per_consultation(
    consultation: Consultation, shared: SharedForm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filling, "SIGNINGS_PER_HOUR", 0)
    fill(consultation, shared)
    filling.confirm(citizen_of(consultation), shared.pk)
    with pytest.raises(ConsultError) as refused:
        filling.sign(citizen_of(consultation), shared.pk, name="Anna Beispiel")
    assert refused.value.code == "rate_limited"


def test_nothing_changes_once_the_consultation_has_ended(
    consultation: Consultation, shared: SharedForm, agent_member: StaffMember
) -> None:
    consult_services.end_consultation(consultation, agent_member)
    with pytest.raises(ConsultError) as refused:
        filling.edit(citizen_of(consultation), shared.pk, "surname", "Spät")
    assert refused.value.code == "form_closed"


def test_the_socket_dispatcher_answers_refusals_with_the_fields_value(
    consultation: Consultation, shared: SharedForm
) -> None:
    citizen = citizen_of(consultation)
    filling.edit(citizen, shared.pk, "moved_on", "2026-11-01")
    reply = filling.receive(
        citizen,
        {
            "type": "form.edit",
            "form": shared.pk,
            "field": "moved_on",
            "value": "morgen",
            "client": "p",
            "seq": 7,
        },
    )
    assert reply is not None
    assert (reply["type"], reply["code"], reply["seq"]) == ("form.refused", "date", 7)
    assert reply["value"] == {"value": "2026-11-01", "version": 1, "by": "citizen", "confirmed": True}
    flooded = filling.receive(
        citizen,
        {"type": "form.edit", "form": shared.pk, "field": "surname", "value": "x"},
        edit_allowed=False,
    )
    assert flooded is not None
    assert flooded["code"] == "rate_limited"
    assert value_of(shared, "surname").version == 0
    # Nonsense of every kind is a refusal, never an exception.
    for nonsense in ({"type": "form.edit", "form": "1"}, {"type": "form.sign", "form": shared.pk, "name": 5}):
        assert filling.receive(citizen, nonsense) is not None


def test_edit_allowance_lets_typing_through_and_stops_a_flood() -> None:
    allowance = filling.EditAllowance(per_second=10, burst=20)
    assert all(allowance.take() for _ in range(20))
    assert not allowance.take()


# --- downloads, the inbox and retention ------------------------------------------------------------
@pytest.fixture
def signed(consultation: Consultation, shared: SharedForm) -> SharedForm:
    fill(consultation, shared)
    citizen = citizen_of(consultation)
    filling.confirm(citizen, shared.pk)
    return filling.sign(citizen, shared.pk, name="Anna Beispiel")


def pdf_url(shared: SharedForm) -> str:
    return reverse("consult:form_pdf", args=[shared.consultation_id, shared.pk])


def test_the_citizen_downloads_the_signed_pdf_with_the_ticket_only_as_an_attachment(
    consultation: Consultation, signed: SharedForm
) -> None:
    response = Client().get(pdf_url(signed), {"ticket": consultation.ticket.token})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert hashlib.sha256(response.getvalue()).hexdigest() == signed.sha256
    entry = AuditEntry.objects.get(action="consult.form_downloaded")
    assert (entry.target, entry.details["by"], entry.actor_id) == (
        f"consultation:{consultation.pk}",
        "citizen",
        None,
    )


def test_staff_of_the_office_download_and_everyone_else_gets_404(
    consultation: Consultation,
    signed: SharedForm,
    colleague: User,
    outsider: User,
    foreign_agent: User,
    other_consultation: Consultation,
) -> None:
    assert logged_in(colleague).get(pdf_url(signed)).status_code == 200
    for stranger in (outsider, foreign_agent):
        assert logged_in(stranger).get(pdf_url(signed)).status_code == 404
    assert Client().get(pdf_url(signed)).status_code == 404
    assert Client().get(pdf_url(signed), {"ticket": other_consultation.ticket.token}).status_code == 404
    # Under another consultation's address, with that consultation's own ticket: still nothing.
    wrong = reverse("consult:form_pdf", args=[other_consultation.pk, signed.pk])
    assert Client().get(wrong, {"ticket": other_consultation.ticket.token}).status_code == 404


def test_an_unsigned_form_has_no_download(consultation: Consultation, shared: SharedForm) -> None:
    assert Client().get(pdf_url(shared), {"ticket": consultation.ticket.token}).status_code == 404


def test_the_inbox_lists_the_offices_signed_forms_and_keeps_their_status(
    consultation: Consultation, signed: SharedForm, colleague: User, foreign_agent: User
) -> None:
    client = logged_in(colleague)
    page = client.get(reverse("consult:form_inbox"))
    assert page.status_code == 200
    assert f'data-form-row="{signed.pk}"' in page.content.decode()
    detail = client.get(reverse("consult:form_inbox_form", args=[signed.pk]))
    assert "Hauptstraße 1" in detail.content.decode()

    response = client.post(reverse("consult:form_inbox_status", args=[signed.pk]), {"status": "in_progress"})
    assert response.status_code == 302
    signed.refresh_from_db()
    assert signed.inbox == InboxStatus.IN_PROGRESS
    assert AuditEntry.objects.filter(action="consult.form_status", details__status="in_progress").exists()
    filtered = client.get(reverse("consult:form_inbox"), {"status": "new"})
    assert f'data-form-row="{signed.pk}"' not in filtered.content.decode()
    second = factories.make_office(
        consultation.office.organization, "standesamt", hours=[], name="Standesamt"
    )
    StaffMember.objects.get(user=colleague).offices.add(second)
    # By office: the form's own, another office served (none there), an office not served (ignored).
    for office_filter, shown in ((consultation.office_id, True), (second.pk, False), (10**9, True)):
        listed = client.get(reverse("consult:form_inbox"), {"office": office_filter}).content.decode()
        assert (f'data-form-row="{signed.pk}"' in listed) is shown

    stranger = logged_in(foreign_agent)
    assert f'data-form-row="{signed.pk}"' not in stranger.get(reverse("consult:form_inbox")).content.decode()
    assert stranger.get(reverse("consult:form_inbox_form", args=[signed.pk])).status_code == 404
    assert (
        stranger.post(reverse("consult:form_inbox_status", args=[signed.pk]), {"status": "done"}).status_code
        == 404
    )
    signed.refresh_from_db()
    assert signed.inbox == InboxStatus.IN_PROGRESS


def test_forms_and_their_pdfs_are_deleted_with_the_consultation(
    consultation: Consultation, signed: SharedForm, agent_member: StaffMember, settings: Settings
) -> None:
    consult_services.end_consultation(consultation, agent_member)
    storage, name = signed.pdf.storage, signed.pdf.name
    assert storage.exists(name)
    later = timezone.now() + dt.timedelta(days=settings.CONSULTATION_RETENTION_DAYS + 1)
    consult_services.prune_consultations(now=later)
    assert not SharedForm.objects.exists()
    assert not SharedFormValue.objects.exists()
    assert not storage.exists(name)


def test_the_closing_page_offers_the_signed_forms_for_an_hour(
    consultation: Consultation, signed: SharedForm, agent_member: StaffMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    consult_services.end_consultation(consultation, agent_member)
    done = reverse("consult:done", args=[consultation.ticket.token])
    page = Client().get(done).content.decode()
    assert f"{pdf_url(signed)}?ticket={consultation.ticket.token}" in page
    token = consultation.ticket.token
    assert filling.signed_forms_for_citizen(consultation, token) == [signed]
    later = timezone.now() + consult_services.CITIZEN_DOCUMENTS_AFTER_END + dt.timedelta(minutes=1)
    assert filling.signed_forms_for_citizen(consultation, token, now=later) == []
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    assert Client().get(pdf_url(signed), {"ticket": token}).status_code == 404


# --- the lock: two edits of one field at the same moment ----------------------------------------
def _race_same_field(consultation: Consultation, shared: SharedForm, *, deferred: bool) -> list[Any]:
    citizen, agent = citizen_of(consultation), agent_of(consultation)
    calls = [
        lambda: filling.edit(citizen, shared.pk, "notes", "vom Bürger", base=0),
        lambda: filling.edit(agent, shared.pk, "notes", "von der Mitarbeiterin", base=0),
    ]
    # Each edit sleeps after it read the field's version and before it writes the next one.
    with hold(SharedFormValue, 0.3):
        return at_once(calls, deferred_sqlite=deferred)


@pytest.mark.django_db(transaction=True)
def test_concurrent_edits_of_one_field_each_get_their_own_version(
    consultation: Consultation, shared: SharedForm
) -> None:
    runs = _race_same_field(consultation, shared, deferred=False)
    assert_raced(runs)
    assert [run.error for run in runs] == [None, None]
    by_version = {run.value.version: run.value.value for run in runs}
    assert sorted(by_version) == [1, 2]
    row = value_of(shared, "notes")
    assert (row.version, row.value) == (2, by_version[2])  # the later in the server's order wins


@pytest.mark.django_db(transaction=True)
def test_control_without_the_lock_an_edit_is_lost_or_fails(
    consultation: Consultation, shared: SharedForm, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_locks(monkeypatch)
    runs = _race_same_field(consultation, shared, deferred=True)
    assert_raced_control(runs)
    failed = [run.error for run in runs if run.error is not None]
    versions = [run.value.version for run in runs if run.error is None]
    # Both read version 0: both write version 1 (one edit silently lost), or SQLite refuses one.
    assert failed or versions == [1, 1]


def test_a_used_form_cannot_be_deleted_alone_but_goes_with_its_office(
    consultation: Consultation, signed: SharedForm, template: FormTemplate, office: Office
) -> None:
    with pytest.raises(RestrictedError):
        template.delete()
    office.delete()
    assert not SharedForm.objects.exists()
    assert not FormTemplate.objects.exists()


def test_an_uploaded_fillable_pdf_filled_together_comes_back_flattened_with_every_value(
    consultation: Consultation, office: Office
) -> None:
    from buergerbuero.demo.fillable_pdf import meldebescheinigung
    from buergerbuero.forms.intake import check_pdf
    from buergerbuero.forms.services import store_pdf

    template = FormTemplate(office=office, title="Meldebescheinigung")
    store_pdf(template, check_pdf(meldebescheinigung()))
    shared = filling.open_form(agent_of(consultation), template.pk)
    citizen = citizen_of(consultation)
    expected: list[str] = []
    for index, item in enumerate(shared.fields):
        kind, name = item["kind"], item["name"]
        value: str | bool
        if kind == "checkbox":
            value = True
        elif kind in ("radio", "choice"):
            value = str(item["options"][0])
            expected.append(value)
        elif kind == "date":
            value = "2026-11-01"
            expected.append("01.11.2026")
        else:
            value = f"Wert{index}"
            expected.append(value)
        filling.edit(citizen, shared.pk, name, value)
    filling.confirm(citizen, shared.pk)
    signed = filling.sign(citizen, shared.pk, name="Anna Beispiel", drawn=DRAWN)

    document = PdfReader(io.BytesIO(signed.pdf.read()))
    assert not document.get_fields()  # flattened: nothing left to edit
    text = "\n".join(page.extract_text() for page in document.pages)
    missing = [value for value in expected if value not in text]
    assert missing == []
    assert "Anna Beispiel" in text
    assert document.pages[0].images, "the drawn signature sits in the form's signature field"

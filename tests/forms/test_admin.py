"""The forms in the admin: office leads upload and relabel their offices' forms; hostile PDFs
are refused with nothing stored; other offices' leads, agents and outsiders are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from buergerbuero.audit.models import AuditEntry
from buergerbuero.forms.models import FormTemplate, Source
from buergerbuero.forms.services import forms_for
from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role
from tests import factories
from tests.forms.pdfs import HOSTILE, Widget, fillable_pdf, meldebescheinigung, plain_pdf

ADD = reverse("admin:forms_formtemplate_add")


@pytest.fixture(autouse=True)
def media(tmp_path: Path, settings: Any) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def logged_in(user: User) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def pdf(content: bytes, name: str = "antrag.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def add_form(client: Client, office: Office, **data: Any) -> Any:
    post = {
        "office": office.pk,
        "title": "Antrag auf Meldebescheinigung",
        "source": Source.PDF,
        "active": "on",
    }
    post.update(data)
    return client.post(ADD, post)


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def test_an_office_lead_uploads_a_fillable_pdf_and_attaches_it_to_a_service(
    office_lead: User, office: Office, media: Path
) -> None:
    service = factories.make_service(office, "Meldebescheinigung")
    factories.make_service(office, "Anderes")

    response = add_form(
        logged_in(office_lead), office, upload=pdf(meldebescheinigung()), services=[service.pk]
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    template = FormTemplate.objects.get()
    assert template.source == Source.PDF
    assert [field["name"] for field in template.fields][:3] == ["Name", "Vorname", "Geburtsdatum"]
    assert template.signature_places[0]["name"] == "Unterschrift"
    # kept privately under a random name, not under the uploader's
    assert template.pdf.name.startswith(f"forms/{office.pk}/")
    assert "antrag" not in template.pdf.name
    assert stored_files(media) == [Path(template.pdf.path)]
    assert list(forms_for(office, service)) == [template]
    assert list(forms_for(office)) == [template]
    assert AuditEntry.objects.filter(
        action="admin.added", target=f"forms.formtemplate:{template.pk}"
    ).exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (HOSTILE["javascript open action"], "scripts, actions or embedded files"),
        (HOSTILE["launch link"], "scripts, actions or embedded files"),
        (plain_pdf, "no fields to fill in"),
        (lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not a PDF"),
    ],
    ids=["javascript", "launch", "no-fields", "png-named-pdf"],
)
def test_a_hostile_or_unfit_pdf_is_refused_with_a_message_and_nothing_is_stored(
    office_lead: User, office: Office, media: Path, content: Any, message: str
) -> None:
    response = add_form(logged_in(office_lead), office, upload=pdf(content()))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not FormTemplate.objects.exists()
    assert stored_files(media) == []


def test_a_pdf_over_the_size_limit_is_refused(
    office_lead: User, office: Office, settings: Any, media: Path
) -> None:
    settings.FORM_PDF_MAX_BYTES = 20_000

    response = add_form(logged_in(office_lead), office, upload=pdf(meldebescheinigung() + b"\n" * 20_000))

    assert "larger than" in response.content.decode()
    assert not FormTemplate.objects.exists()
    assert stored_files(media) == []


def test_a_refused_replacement_keeps_the_form_as_it_was(
    office_lead: User, office: Office, media: Path
) -> None:
    client = logged_in(office_lead)
    add_form(client, office, upload=pdf(meldebescheinigung()))
    template = FormTemplate.objects.get()
    before = (template.pdf.name, template.fields)

    response = client.post(
        reverse("admin:forms_formtemplate_change", args=[template.pk]),
        {
            "office": office.pk,
            "title": "Neu",
            "source": Source.PDF,
            "upload": pdf(HOSTILE["embedded file"]()),
        },
    )

    assert response.status_code == 200
    template.refresh_from_db()
    assert (template.pdf.name, template.fields) == before
    assert template.title == "Antrag auf Meldebescheinigung"
    assert stored_files(media) == [Path(template.pdf.path)]


def relabel_post(template: FormTemplate, **changes: Any) -> dict[str, Any]:
    post: dict[str, Any] = {
        "office": template.office_id,
        "title": template.title,
        "source": Source.PDF,
        "active": "on",
    }
    for index, field in enumerate(template.fields):
        post[f"label_{index}"] = field["label"]
        post[f"help_{index}"] = field["help"]
        if field["required"]:
            post[f"required_{index}"] = "on"
    post.update(changes)
    return post


def test_cryptic_field_names_get_labels_and_keep_them_when_the_pdf_is_replaced(
    office_lead: User, office: Office, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    cryptic = fillable_pdf("Antrag", "", [Widget("text", "Text1", "Text1"), Widget("checkbox", "Check2", "")])
    client = logged_in(office_lead)
    add_form(client, office, upload=pdf(cryptic))
    template = FormTemplate.objects.get()
    change = reverse("admin:forms_formtemplate_change", args=[template.pk])
    page = client.get(change).content.decode()
    assert "Label of “Text1” (text)" in page

    response = client.post(
        change, relabel_post(template, label_0="Familienname", help_0="wie im Ausweis", required_0="on")
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    template.refresh_from_db()
    assert template.fields[0]["label"] == "Familienname"
    assert template.fields[0]["help"] == "wie im Ausweis"
    assert template.fields[0]["required"] is True
    assert template.fields[1]["label"] == "Check2"
    old_file = Path(template.pdf.path)

    # a new version of the PDF: the edited label stays with the field of the same name
    newer = fillable_pdf(
        "Antrag",
        "",
        [
            Widget("text", "Text1", "Text1"),
            Widget("text", "Text3", "Text3"),
            Widget("checkbox", "Check2", ""),
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(change, relabel_post(template, upload=pdf(newer)))

    assert response.status_code == 302
    template.refresh_from_db()
    assert [(field["name"], field["label"]) for field in template.fields] == [
        ("Text1", "Familienname"),
        ("Text3", "Text3"),
        ("Check2", "Check2"),
    ]
    assert not old_file.exists()  # the replaced file is gone
    assert stored_files(media) == [Path(template.pdf.path)]


def test_a_form_can_be_defined_in_the_admin(office_lead: User, office: Office) -> None:
    definition = "\n".join(
        [
            "Name und Vorname* | text",
            "Geburtsdatum* | date",
            "Zustellung | choice | Abholung; Post | Wie Sie die Urkunde erhalten",
            "Einverstanden | checkbox",
        ]
    )

    response = add_form(logged_in(office_lead), office, source=Source.DEFINED, definition=definition)

    assert response.status_code == 302, response.content.decode()[:2000]
    template = FormTemplate.objects.get()
    assert [(f["name"], f["kind"], f["required"]) for f in template.fields] == [
        ("name-und-vorname", "text", True),
        ("geburtsdatum", "date", True),
        ("zustellung", "choice", False),
        ("einverstanden", "checkbox", False),
    ]
    assert template.fields[2]["options"] == ["Abholung", "Post"]
    assert template.fields[2]["help"] == "Wie Sie die Urkunde erhalten"
    assert not template.pdf


def test_a_wrong_definition_line_is_named(office_lead: User, office: Office) -> None:
    response = add_form(
        logged_in(office_lead), office, source=Source.DEFINED, definition="Name | text\nFarbe | radio | rot"
    )

    assert "Line 2 of the fields: choose from at least two options" in response.content.decode()
    assert not FormTemplate.objects.exists()


def test_a_service_of_another_office_cannot_be_attached(
    office_lead: User, office: Office, org: Organization
) -> None:
    other = factories.make_office(org, "standesamt", name="Standesamt")
    foreign = factories.make_service(other, "Eheschließung")
    lead_of_both = factories.make_staff(org, "lead2", Role.OFFICE_LEAD, [office, other])

    response = add_form(
        logged_in(lead_of_both), office, source=Source.DEFINED, definition="Name", services=[foreign.pk]
    )

    assert response.status_code == 200
    assert "only belong to services of its own office" in response.content.decode()
    assert not FormTemplate.objects.exists()


# --- who may -------------------------------------------------------------------------------
@pytest.fixture
def foreign_form(other_org: Organization) -> FormTemplate:
    office = factories.make_office(other_org, "amt", name="Anderes Amt")
    return FormTemplate.objects.create(office=office, title="Fremd", source=Source.DEFINED, fields=[])


@pytest.fixture
def sibling_form(org: Organization) -> FormTemplate:
    """A form of another office of the same organisation."""
    office = factories.make_office(org, "standesamt", name="Standesamt")
    return FormTemplate.objects.create(office=office, title="Standesamt", source=Source.DEFINED, fields=[])


def test_a_lead_of_another_office_neither_sees_nor_changes_a_form(
    office_lead: User, sibling_form: FormTemplate, foreign_form: FormTemplate
) -> None:
    client = logged_in(office_lead)

    listed = client.get(reverse("admin:forms_formtemplate_changelist"))
    assert listed.status_code == 200
    assert list(listed.context["cl"].result_list) == []
    for template in (sibling_form, foreign_form):
        change = reverse("admin:forms_formtemplate_change", args=[template.pk])
        # the admin answers a hidden object with a redirect to its index and a message
        assert client.get(change).status_code == 302
        client.post(change, {"title": "Übernommen", "office": template.office_id, "source": Source.DEFINED})
        template.refresh_from_db()
        assert template.title != "Übernommen"


def test_a_lead_cannot_add_a_form_to_an_office_they_do_not_serve(
    office_lead: User, sibling_form: FormTemplate
) -> None:
    response = add_form(logged_in(office_lead), sibling_form.office, source=Source.DEFINED, definition="Name")

    assert response.status_code == 200
    assert FormTemplate.objects.count() == 1


def test_an_org_admin_sees_the_forms_of_every_office_of_the_organisation_only(
    org_admin: User, sibling_form: FormTemplate, foreign_form: FormTemplate
) -> None:
    listed = logged_in(org_admin).get(reverse("admin:forms_formtemplate_changelist"))

    assert list(listed.context["cl"].result_list) == [sibling_form]


def test_agents_and_outsiders_are_refused(agent: User, outsider: User, sibling_form: FormTemplate) -> None:
    for user in (agent, outsider):
        client = logged_in(user)
        assert client.get(reverse("admin:forms_formtemplate_changelist")).status_code in (302, 403)
        response = add_form(client, sibling_form.office, source=Source.DEFINED, definition="Name")
        assert response.status_code in (302, 403)
    assert FormTemplate.objects.count() == 1


def test_deleting_a_form_deletes_its_pdf_and_turning_it_into_a_defined_form_too(
    office_lead: User, office: Office, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    client = logged_in(office_lead)
    for title in ("Erstes", "Zweites"):
        add_form(client, office, title=title, upload=pdf(meldebescheinigung()))
    first, second = FormTemplate.objects.order_by("pk")
    assert len(stored_files(media)) == 2

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:forms_formtemplate_delete", args=[first.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert stored_files(media) == [Path(second.pdf.path)]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:forms_formtemplate_change", args=[second.pk]),
            {"office": office.pk, "title": "Zweites", "source": Source.DEFINED, "definition": "Name*"},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    second.refresh_from_db()
    assert not second.pdf
    assert second.signature_places == []
    assert stored_files(media) == []


def test_listing_an_offices_forms_is_one_query(office: Office, django_assert_num_queries: Any) -> None:
    service = factories.make_service(office)
    for number in range(5):
        template = FormTemplate.objects.create(office=office, title=f"Formular {number}", fields=[])
        template.services.add(service)

    with django_assert_num_queries(1):
        assert len(list(forms_for(office, service))) == 5

"""An office lead uploads the office's fillable PDF form in the admin, in Chromium against the
real server: a PDF with a JavaScript action and one without fields are refused with a clear
message and nothing is kept; a 50 MB upload is refused before the server reads it; the real
form is kept and its cryptic field names can be labelled."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Page, expect

from buergerbuero.forms.models import FormTemplate
from buergerbuero.offices.models import Office
from buergerbuero.staff.models import Role
from tests import factories
from tests.forms.pdfs import HOSTILE, Widget, fillable_pdf, plain_pdf
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.mode_independent, pytest.mark.django_db(transaction=True)]
ADD = reverse("admin:forms_formtemplate_add")


@pytest.fixture
def office() -> Office:
    organization = factories.make_org("formstadt", state="BY", name="Stadt Formstadt")
    return factories.make_office(organization, "buergerbuero", name="Bürgerbüro")


@pytest.fixture
def lead(office: Office) -> User:
    return factories.make_staff(office.organization, "lead.forms", Role.OFFICE_LEAD, [office])


def log_in(page: Page, server: AsgiServer, user: User) -> None:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    page.context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": server.url}])


def stored_forms() -> set[Path]:
    folder = Path(settings.MEDIA_ROOT) / "forms"
    return {path for path in folder.rglob("*") if path.is_file()} if folder.exists() else set()


def upload(page: Page, server: AsgiServer, office: Office, name: str, content: bytes) -> None:
    page.goto(server.url + ADD)
    page.select_option("#id_office", str(office.pk))
    page.fill("#id_title", "Antrag auf Meldebescheinigung")
    page.select_option("#id_source", "pdf")
    page.set_input_files("#id_upload", {"name": name, "mimeType": "application/pdf", "buffer": content})
    page.locator("input[name='_save']").click()


def test_hostile_pdfs_are_refused_in_german_and_a_real_form_is_kept_and_labelled(
    page: Page, asgi_server: AsgiServer, office: Office, lead: User
) -> None:
    log_in(page, asgi_server, lead)
    before = stored_forms()

    upload(page, asgi_server, office, "antrag.pdf", HOSTILE["javascript open action"]())
    expect(page.locator(".errorlist")).to_contain_text("Skripte, Aktionen oder eingebettete Dateien")
    upload(page, asgi_server, office, "leer.pdf", plain_pdf())
    expect(page.locator(".errorlist")).to_contain_text("keine Felder zum Ausfüllen")
    assert not FormTemplate.objects.exists()
    assert stored_forms() == before

    cryptic = fillable_pdf("Antrag", "", [Widget("text", "Text1", "Text1"), Widget("date", "Text2", "Text2")])
    upload(page, asgi_server, office, "antrag.pdf", cryptic)
    expect(page.locator(".messagelist")).to_be_visible()
    template = FormTemplate.objects.get()
    assert len(stored_forms() - before) == 1

    page.goto(asgi_server.url + reverse("admin:forms_formtemplate_change", args=[template.pk]))
    page.get_by_label("Beschriftung von „Text1“ (text)").fill("Familienname")
    page.locator("input[name='_save']").click()
    expect(page.locator(".messagelist")).to_be_visible()
    template.refresh_from_db()
    assert [(field["label"], field["kind"]) for field in template.fields] == [
        ("Familienname", "text"),
        ("Text2", "date"),
    ]


def test_a_50_mb_upload_is_refused_before_the_server_reads_it(
    asgi_server: AsgiServer, office: Office
) -> None:
    before = stored_forms()
    body = b"%PDF-1.7\n" + b"\0" * (50 * 1024 * 1024)

    response = httpx.post(
        asgi_server.url + ADD,
        files={"upload": ("gross.pdf", body, "application/pdf")},
        headers={"accept": "text/html", "accept-language": "de"},
        timeout=30,
    )

    assert response.status_code == 413
    assert "Die Datei ist zu groß" in response.text
    assert stored_forms() == before
    assert not FormTemplate.objects.exists()

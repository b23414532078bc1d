"""Documents shared inside a consultation: checked by their content, stored under a random
name, served only to the consultation's members as attachments with the detected type.

Uploaded files land in a temporary MEDIA_ROOT (never in var/).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from django.test import Client
from django.urls import reverse
from django.utils import translation
from PIL import Image
from pytest_django import Settings

from buergerbuero.consult import documents
from buergerbuero.consult import services as consult_services
from buergerbuero.consult.models import Consultation, Document, ParticipantRole
from buergerbuero.consult.services import ConsultError, Participant
from buergerbuero.realtime import publish as realtime_publish
from buergerbuero.staff.models import StaffMember
from tests.consult.support import (
    connect,
    english,
    german,
    logged_in,
    receive_json,
    receive_until,
)
from tests.support.realtime import hub_listening

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# --- files ----------------------------------------------------------------------------------
def _image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "teal").save(out, format=fmt)
    return out.getvalue()


def pdf_bytes() -> bytes:
    """A real (one-page) PDF, written by Pillow."""
    return _image("PDF")


def png_bytes() -> bytes:
    return _image("PNG")


def jpeg_bytes() -> bytes:
    return _image("JPEG")


def docx_bytes() -> bytes:
    """The smallest Word document: the content types and the main part."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr(
            "word/document.xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            "<w:body><w:p><w:r><w:t>Antrag</w:t></w:r></w:p></w:body></w:document>",
        )
    return out.getvalue()


def plain_zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "nur ein Archiv")
    return out.getvalue()


HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def upload(name: str, content: bytes, content_type: str = "text/html") -> SimpleUploadedFile:
    """The browser's claimed content type is deliberately a lie: the server must not care."""
    return SimpleUploadedFile(name, content, content_type=content_type)


# --- fixtures and helpers -------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def interpreter_client(consultation: Consultation, member: StaffMember) -> Client:
    """A browser that opened a fresh invite link (and so holds the interpreter cookie)."""
    secret = consult_services.invite_interpreter(consultation, member)
    client = english()
    assert client.post(reverse("consult:interpreter_invite", args=[secret])).status_code == 302
    return client


def share_url(consultation: Consultation, token: str = "") -> str:
    """The upload address; citizens name their ticket in the query string."""
    url = reverse("consult:share_document", kwargs={"consultation_id": consultation.pk})
    return f"{url}?ticket={token}" if token else url


def document_url(consultation_id: int, document_id: int, token: str = "") -> str:
    url = reverse("consult:document", kwargs={"consultation_id": consultation_id, "document_id": document_id})
    return f"{url}?ticket={token}" if token else url


def post_as_citizen(consultation: Consultation, file: SimpleUploadedFile) -> Response:
    return english().post(share_url(consultation, consultation.ticket.token), {"file": file})


def stored_files(settings: Settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def content_of(response: Any) -> bytes:
    """Read a file response to its end (the test client then closes the file itself)."""
    return b"".join(response.streaming_content)


def citizen(consultation: Consultation) -> Participant:
    return Participant(consultation, ParticipantRole.CITIZEN)


# --- what is accepted -----------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "make", "content_type"),
    [
        ("Grundriss.pdf", pdf_bytes, "application/pdf"),
        ("Lageplan.png", png_bytes, "image/png"),
        ("Foto Fassade.JPG", jpeg_bytes, "image/jpeg"),
        ("foto.jpeg", jpeg_bytes, "image/jpeg"),
        ("Antrag.docx", docx_bytes, DOCX),
    ],
)
def test_real_documents_are_accepted_with_their_detected_type(
    consultation: Consultation, settings: Settings, name: str, make: Callable[[], bytes], content_type: str
) -> None:
    content = make()

    response = post_as_citizen(consultation, upload(name, content))

    assert response.status_code == 201, response.content
    document = Document.objects.get()
    assert response.json() == {
        "id": document.pk,
        "name": name,
        "size": len(content),
        "shared_by": "citizen",
        "shared_at": document.shared_at.isoformat(),
    }
    assert (document.consultation_id, document.content_type) == (consultation.pk, content_type)
    # Stored under a random name in the consultation's folder, never under the given name.
    [path] = stored_files(settings)
    assert path.parent == Path(settings.MEDIA_ROOT) / "consultations" / str(consultation.pk)
    assert len(path.name) == 32
    assert int(path.name, 16) >= 0
    assert path.read_bytes() == content


@pytest.mark.django_db
def test_every_member_can_share(consultation: Consultation, agent: User, agent_member: StaffMember) -> None:
    by_agent = logged_in(agent).post(share_url(consultation), {"file": upload("Bescheid.pdf", pdf_bytes())})
    by_interpreter = interpreter_client(consultation, agent_member).post(
        share_url(consultation), {"file": upload("Übersetzung.png", png_bytes())}
    )

    assert (by_agent.status_code, by_interpreter.status_code) == (201, 201)
    assert [(d.shared_by, d.name) for d in Document.objects.all()] == [
        ("agent", "Bescheid.pdf"),
        ("interpreter", "Übersetzung.png"),
    ]
    assert [d["name"] for d in consult_services.documents_of(consultation)] == [
        "Bescheid.pdf",
        "Übersetzung.png",
    ]


# --- what is refused ------------------------------------------------------------------------
ONLY_DOCUMENTS = "Only PDF files, images (PNG, JPEG, WebP) and office documents can be shared."
MISMATCH = "The file's name does not match its content. Please check the file."


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("rechnung.pdf", lambda: HTML, ONLY_DOCUMENTS),
        ("seite.html", lambda: HTML, ONLY_DOCUMENTS),
        ("setup.exe", lambda: EXE, ONLY_DOCUMENTS),
        ("bescheid.pdf", lambda: EXE, ONLY_DOCUMENTS),
        ("notizen.txt", lambda: b"Nur Text, kein Dokument.\n", ONLY_DOCUMENTS),
        ("archiv.docx", plain_zip_bytes, ONLY_DOCUMENTS),
        ("leer.pdf", lambda: b"", "The file is empty."),
        ("bild.pdf", png_bytes, MISMATCH),
        ("scan.png", pdf_bytes, MISMATCH),
        ("foto.png", jpeg_bytes, MISMATCH),
        ("antrag.pdf", docx_bytes, MISMATCH),
        ("Grundriss", pdf_bytes, MISMATCH),  # no extension at all
    ],
)
def test_bad_files_are_refused_with_a_clear_message_and_nothing_stored(
    consultation: Consultation, settings: Settings, name: str, make: Callable[[], bytes], message: str
) -> None:
    response = post_as_citizen(consultation, upload(name, make(), content_type="application/pdf"))

    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert not Document.objects.exists()
    assert stored_files(settings) == []


@pytest.mark.django_db
def test_too_large_file_is_refused(consultation: Consultation, settings: Settings) -> None:
    content = pdf_bytes()
    settings.DOCUMENT_MAX_BYTES = len(content) - 1
    with translation.override("en"):
        limit = filesizeformat(settings.DOCUMENT_MAX_BYTES)

    response = post_as_citizen(consultation, upload("gross.pdf", content))

    assert response.status_code == 400
    assert response.json() == {"error": f"The file is too large (at most {limit})."}
    assert not Document.objects.exists()
    assert stored_files(settings) == []

    settings.DOCUMENT_MAX_BYTES = len(content)  # exactly at the limit is fine
    assert post_as_citizen(consultation, upload("gross.pdf", content)).status_code == 201


@pytest.mark.django_db
def test_missing_file_and_wrong_method(consultation: Consultation) -> None:
    response = english().post(share_url(consultation, consultation.ticket.token), {})

    assert response.status_code == 400
    assert response.json() == {"error": "Please choose a file."}
    assert english().get(share_url(consultation)).status_code == 405


@pytest.mark.django_db
def test_refusals_are_german_for_german_browsers(consultation: Consultation) -> None:
    response = Client(headers={"accept-language": "de"}).post(
        share_url(consultation, consultation.ticket.token), {"file": upload("leer.pdf", b"")}
    )

    assert response.status_code == 400
    assert response.json() == {"error": german("The file is empty.")}
    for message in ("The file is empty.", ONLY_DOCUMENTS, MISMATCH):
        assert german(message) != message


# --- names ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\Windows\\system32\\evil.pdf", "evil.pdf"),
        ("/absolute/path/Bescheid.pdf", "Bescheid.pdf"),
        ("Be\x00scheid\r\n.pdf", "Be_scheid_.pdf"),
        ("Bescheid\x1b[31m.pdf", "Bescheid_[31m.pdf"),
        ('a"b<c>d|e*f?g:h.pdf', "a_b_c_d_e_f_g_h.pdf"),
        ("  Bescheid Müller.pdf. ", "Bescheid Müller.pdf"),
        ("Bescheid Mu\u0308ller.pdf", "Bescheid Müller.pdf"),  # decomposed umlaut → NFC
        ("", "dokument"),
        ("..", "dokument"),
        ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_safe_name(given: str, safe: str) -> None:
    assert documents.safe_name(given) == safe


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\etc\\passwd.pdf", "passwd.pdf"),
        ("Antrag\x00\x07\x1f.pdf", "Antrag_.pdf"),
        ("Ant\nrag\t2026.pdf", "Ant_rag_2026.pdf"),
    ],
)
def test_names_are_sanitised_when_shared(
    consultation: Consultation, settings: Settings, tmp_path: Path, given: str, stored: str
) -> None:
    document = consult_services.share_document(citizen(consultation), upload(given, pdf_bytes()))

    assert document.name == stored
    [path] = stored_files(settings)
    assert path.is_relative_to(Path(settings.MEDIA_ROOT) / "consultations" / str(consultation.pk))
    assert "passwd" not in document.file.name
    assert not (tmp_path / "etc").exists()


@pytest.mark.django_db
def test_path_traversal_over_http_is_harmless(consultation: Consultation, settings: Settings) -> None:
    response = post_as_citizen(consultation, upload("../../etc/passwd.pdf", pdf_bytes()))

    assert response.status_code == 201
    assert response.json()["name"] == "passwd.pdf"
    [path] = stored_files(settings)
    assert path.is_relative_to(Path(settings.MEDIA_ROOT) / "consultations")


# --- who may download ----------------------------------------------------------------------
@pytest.fixture
def shared(consultation: Consultation) -> Document:
    return consult_services.share_document(citizen(consultation), upload("Grundriss.pdf", pdf_bytes()))


def _assert_served(response: Any, document: Document, content: bytes) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == document.content_type
    assert response["Content-Disposition"] == f'attachment; filename="{document.name}"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert content_of(response) == content


@pytest.mark.django_db
def test_members_download_as_attachment_with_the_stored_type(
    consultation: Consultation, agent: User, agent_member: StaffMember
) -> None:
    content = jpeg_bytes()
    document = consult_services.share_document(citizen(consultation), upload("Fassade.jpg", content))
    url = document_url(consultation.pk, document.pk)

    _assert_served(
        english().get(document_url(consultation.pk, document.pk, consultation.ticket.token)),
        document,
        content,
    )
    _assert_served(logged_in(agent).get(url), document, content)
    _assert_served(interpreter_client(consultation, agent_member).get(url), document, content)


@pytest.mark.django_db
def test_non_ascii_name_is_encoded_in_the_disposition(consultation: Consultation, agent: User) -> None:
    document = consult_services.share_document(
        citizen(consultation), upload("Bescheid Müller.pdf", pdf_bytes())
    )

    response = logged_in(agent).get(document_url(consultation.pk, document.pk))
    content_of(response)

    assert response["Content-Disposition"] == "attachment; filename*=utf-8''Bescheid%20M%C3%BCller.pdf"


@pytest.mark.django_db
def test_nobody_else_downloads(
    consultation: Consultation,
    other_consultation: Consultation,
    shared: Document,
    agent_member: StaffMember,
    colleague: User,
    foreign_agent: User,
    outsider: User,
) -> None:
    pk, token = consultation.pk, consultation.ticket.token
    url = document_url(pk, shared.pk)
    removed = interpreter_client(consultation, agent_member)
    consult_services.remove_interpreter(consultation, agent_member)

    assert english().get(url).status_code == 404
    assert english().get(document_url(pk, shared.pk, "wrong-token")).status_code == 404
    assert english().get(document_url(pk, shared.pk, other_consultation.ticket.token)).status_code == 404
    assert logged_in(colleague).get(url).status_code == 404
    assert logged_in(foreign_agent).get(url).status_code == 404  # the other consultation's agent
    assert logged_in(outsider).get(url).status_code == 404
    assert removed.get(url).status_code == 404
    # The document under another consultation's id: neither its members nor ours get it.
    other_url = document_url(other_consultation.pk, shared.pk)
    assert english().get(f"{other_url}?ticket={other_consultation.ticket.token}").status_code == 404
    assert logged_in(foreign_agent).get(other_url).status_code == 404
    assert english().get(f"{other_url}?ticket={token}").status_code == 404
    assert english().get(document_url(pk + 1000, shared.pk, token)).status_code == 404
    assert english().get(document_url(pk, shared.pk + 1000, token)).status_code == 404


@pytest.mark.django_db
def test_outsiders_cannot_upload(
    consultation: Consultation, other_consultation: Consultation, colleague: User, settings: Settings
) -> None:
    url = share_url(consultation)

    assert english().post(url, {"file": upload("a.pdf", pdf_bytes())}).status_code == 404
    wrong = share_url(consultation, "wrong-token")
    assert english().post(wrong, {"file": upload("a.pdf", pdf_bytes())}).status_code == 404
    other = share_url(consultation, other_consultation.ticket.token)
    assert english().post(other, {"file": upload("a.pdf", pdf_bytes())}).status_code == 404
    assert logged_in(colleague).post(url, {"file": upload("a.pdf", pdf_bytes())}).status_code == 404
    assert not Document.objects.exists()
    assert stored_files(settings) == []


@pytest.mark.django_db
def test_agent_upload_needs_the_csrf_token(
    consultation: Consultation, agent: User, settings: Settings
) -> None:
    """A foreign page cannot push a file into the consultation with the agent's session."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)

    response = client.post(share_url(consultation), {"file": upload("a.pdf", pdf_bytes())})

    assert response.status_code == 403
    assert not Document.objects.exists()
    assert stored_files(settings) == []


@pytest.mark.django_db
def test_upload_after_the_end_is_refused(
    consultation: Consultation, agent_member: StaffMember, settings: Settings
) -> None:
    consult_services.end_consultation(consultation, agent_member)

    response = post_as_citizen(consultation, upload("spaet.pdf", pdf_bytes()))

    assert response.status_code == 400
    assert response.json() == {"error": "This consultation has ended."}
    with pytest.raises(ConsultError) as refused:
        consult_services.share_document(citizen(consultation), upload("spaet.pdf", pdf_bytes()))
    assert refused.value.code == "ended"
    assert not Document.objects.exists()
    assert stored_files(settings) == []


# --- the event ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_document_event_is_published_to_the_consultation_after_commit(
    consultation: Consultation, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        realtime_publish, "_send", lambda group, kind, text: sent.append((group, json.loads(text)))
    )

    with django_capture_on_commit_callbacks(execute=False) as refused_callbacks, pytest.raises(ConsultError):
        consult_services.share_document(citizen(consultation), upload("Plan.pdf", png_bytes()))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        document = consult_services.share_document(citizen(consultation), upload("Plan.png", png_bytes()))
        assert sent == []  # not before the commit
    for callback in callbacks:
        callback()

    assert refused_callbacks == []
    assert sent == [
        (
            f"consultation:{consultation.pk}",
            {"type": "document", **consult_services.document_json(document)},
        )
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_the_other_side_hears_of_a_shared_document(consultation: Consultation, agent: User) -> None:
    await hub_listening()
    staff = await connect(consultation.pk, user=agent)
    await receive_until(staff, type="history")

    response = await database_sync_to_async(post_as_citizen)(consultation, upload("Plan.png", png_bytes()))
    event = (await receive_until(staff, type="document"))[-1]
    await staff.disconnect()

    assert response.status_code == 201
    assert event == {"type": "document", **response.json()}
    # Whoever (re)connects finds it in the history.
    again = await connect(consultation.pk, token=consultation.ticket.token)
    history = await receive_json(again)
    await again.disconnect()
    assert history["documents"] == [response.json()]

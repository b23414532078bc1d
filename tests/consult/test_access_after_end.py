"""Who keeps access to a consultation's documents once it has ended (the rule is stated in
``buergerbuero.consult.services``): the interpreter loses it at the end (and at their removal),
the citizen keeps it for a short while, the staff member until the consultation is deleted.
A refused download is a clear page, never the file.

Uploaded files land in a temporary MEDIA_ROOT (never in var/).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from pytest_django import Settings

from buergerbuero.consult import services as consult_services
from buergerbuero.consult.models import Consultation, Document
from buergerbuero.staff.models import StaffMember
from tests.consult.support import communicator, english, logged_in
from tests.consult.test_documents import (
    citizen,
    content_of,
    document_url,
    interpreter_client,
    pdf_bytes,
    upload,
)

GONE = "This document is not available to you (any more)."


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def shared(consultation: Consultation) -> Document:
    return consult_services.share_document(citizen(consultation), upload("Grundriss.pdf", pdf_bytes()))


def download(client: Client, document: Document, token: str = "") -> tuple[int, str]:
    response = client.get(document_url(document.consultation_id, document.pk, token))
    if response.status_code == 200:
        content_of(response)
        return 200, ""
    return response.status_code, response.content.decode()


def refused(result: tuple[int, str]) -> bool:
    status, page = result
    return status in (403, 404, 410) and GONE in page


@pytest.mark.django_db
def test_the_interpreter_loses_the_documents_when_the_consultation_ends(
    consultation: Consultation, shared: Document, agent_member: StaffMember
) -> None:
    interpreter = interpreter_client(consultation, agent_member)
    assert download(interpreter, shared)[0] == 200

    consult_services.end_consultation(consultation, agent_member)

    assert refused(download(interpreter, shared))
    assert (
        consult_services.participant(
            consultation.pk,
            interpreter_session=interpreter.cookies[
                consult_services.interpreter_cookie(consultation.pk)
            ].value,
        )
        is None
    )


@pytest.mark.django_db
def test_a_removed_interpreter_loses_the_documents(
    consultation: Consultation, shared: Document, agent_member: StaffMember
) -> None:
    interpreter = interpreter_client(consultation, agent_member)

    consult_services.remove_interpreter(consultation, agent_member)
    consult_services.end_consultation(consultation, agent_member)

    assert refused(download(interpreter, shared))


@pytest.mark.django_db
def test_the_citizen_keeps_the_documents_for_a_short_while_after_the_end(
    consultation: Consultation, shared: Document, agent_member: StaffMember
) -> None:
    token = consultation.ticket.token
    consult_services.end_consultation(consultation, agent_member)
    grace = consult_services.CITIZEN_DOCUMENTS_AFTER_END

    with time_machine.travel(timezone.now() + grace - dt.timedelta(minutes=1), tick=False):
        assert download(english(), shared, token)[0] == 200
    with time_machine.travel(timezone.now() + grace + dt.timedelta(minutes=1), tick=False):
        assert refused(download(english(), shared, token))


@pytest.mark.django_db
def test_the_staff_member_keeps_the_documents_until_the_consultation_is_deleted(
    consultation: Consultation, shared: Document, agent: User, agent_member: StaffMember
) -> None:
    consult_services.end_consultation(consultation, agent_member)

    with time_machine.travel(timezone.now() + dt.timedelta(days=20), tick=False):
        assert download(logged_in(agent), shared)[0] == 200


@pytest.mark.django_db
def test_outsiders_get_the_same_clear_refusal(consultation: Consultation, shared: Document) -> None:
    assert refused(download(english(), shared))
    assert refused(download(english(), shared, "wrong-token"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_the_interpreters_socket_is_refused_after_the_end(
    consultation: Consultation, agent_member: StaffMember
) -> None:
    from channels.db import database_sync_to_async

    session = await database_sync_to_async(_claimed_then_ended)(consultation, agent_member)
    socket = communicator(
        consultation.pk, cookie=f"{consult_services.interpreter_cookie(consultation.pk)}={session}"
    )

    connected, code = await socket.connect()

    assert (connected, code) == (False, 4403)


def _claimed_then_ended(consultation: Consultation, member: StaffMember) -> str:
    secret = consult_services.invite_interpreter(consultation, member)
    _consultation, session = consult_services.claim_invite(secret)
    consult_services.end_consultation(consultation, member)
    return session

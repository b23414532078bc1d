"""Without a mail server or SMS gateway the messages go to the log — but not their text: one
line with the kind and the masked recipient. ``LOG_MESSAGE_PREVIEW=true`` (``make run``) adds the
links, so that a newcomer can still open the appointment from the log; the citizen's name and
contact data never appear either way.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.auth.models import User

from buergerbuero.notify import services as notify
from buergerbuero.offices.models import Office, Service
from tests.notify.conftest import CITIZEN_E164, CITIZEN_EMAIL, CITIZEN_NAME, NOW, book

pytestmark = pytest.mark.django_db


@pytest.fixture
def embedded(settings: Any) -> Any:
    """The embedded mode's transports: no SMTP server, no SMS gateway."""
    settings.EMAIL_BACKEND = "buergerbuero.notify.transports.log_email.LogEmailBackend"
    settings.SMS_GATEWAY_URL = ""
    settings.PUBLIC_URL = "http://localhost:8000"
    return settings


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("preview", [False, True])
def test_the_log_never_holds_the_citizens_name_or_contact_data(
    embedded: Any,
    office: Office,
    service: Service,
    agent: User,
    caplog: pytest.LogCaptureFixture,
    preview: bool,
) -> None:
    embedded.LOG_MESSAGE_PREVIEW = preview
    appointment = book(office, service, agent, phone="0151 23456789")

    with caplog.at_level(logging.INFO):
        assert notify.deliver_due(now=NOW) == 2

    text = logged(caplog)
    assert "e***@example.org" in text
    assert "+49 *** 89" in text
    for secret in (CITIZEN_NAME, "Mustermann", CITIZEN_EMAIL, CITIZEN_E164, "0151 23456789"):
        assert secret not in text
    assert (appointment.token in text) == preview


def test_the_preview_names_the_appointment_link(
    embedded: Any, office: Office, service: Service, agent: User, caplog: pytest.LogCaptureFixture
) -> None:
    embedded.LOG_MESSAGE_PREVIEW = True
    appointment = book(office, service, agent)

    with caplog.at_level(logging.INFO):
        notify.deliver_due(now=NOW)

    assert f"http://localhost:8000/a/{appointment.token}/" in logged(caplog)

"""After a whole day's work — a walk-in with chat, documents and an interpreter, bookings, a
no-show, messages sent again, an admin correction — the audit log holds none of the
citizens' names, e-mail addresses, phone numbers, chat texts or file names."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from buergerbuero.audit.models import Action, AuditEntry
from buergerbuero.booking import services as booking
from buergerbuero.booking.models import Appointment
from buergerbuero.consult import services as consult
from buergerbuero.consult.models import Consultation, ParticipantRole
from buergerbuero.notify.models import Notification
from buergerbuero.offices.models import Office
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import Ticket
from buergerbuero.waiting.services import calling
from tests import factories
from tests.audit.conftest import OPEN, change_form_data, everything_recorded, logged_in, verified
from tests.booking.conftest import make_appointment

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

NAME = "Zofia Quellenberg"
EMAIL = "zofia.quellenberg@example.org"
PHONE = "0151 98765432"
CHAT = "Meine Steuer-ID lautet 4711-Geheimnis"
ANNOUNCEMENT = "Frau Quellenberg bitte an Platz 3"
SECRETS = ["Quellenberg", "zofia", "98765432", "4711-Geheimnis", "Platz 3"]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def pdf(name: str) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "teal").save(out, format="PDF")
    return SimpleUploadedFile(name, out.getvalue(), content_type="application/pdf")


def test_a_full_day_leaves_no_personal_data_in_the_audit_log(
    office: Office, agent: User, org_admin: User
) -> None:
    member = StaffMember.objects.get(user=agent)
    staff = logged_in(agent)
    staff.post(reverse("waiting:presence"), {"state": "pause"})
    staff.post(reverse("waiting:announce", args=[office.pk]), {"text": ANNOUNCEMENT})

    # A walk-in through the form, called, confirmed, chatting, sharing documents.
    citizen = Client(REMOTE_ADDR="198.51.100.23")
    enter = reverse("enter", kwargs={"org_slug": office.organization.slug, "office_slug": office.slug})
    assert citizen.post(enter, {"display_name": NAME, "language": "de", "mode": "chat"}).status_code == 302
    ticket = Ticket.objects.get(display_name=NAME)
    staff.post(reverse("waiting:presence"), {"state": "available"})
    assert staff.post(reverse("waiting:call_next")).json() == {"ticket": ticket.pk}
    calling.confirm_call(ticket)
    consultation = Consultation.objects.get(ticket=ticket)
    who = consult.Participant(Consultation.objects.get(pk=consultation.pk), ParticipantRole.CITIZEN)
    consult.post_message(who, CHAT)
    share = reverse("consult:share_document", args=[consultation.pk])
    document = staff.post(share, {"file": pdf(f"Bescheid_{NAME}.pdf")}).json()
    citizen.post(f"{share}?ticket={ticket.token}", {"file": pdf(f"Ausweis {NAME}.pdf")})
    staff.get(reverse("consult:document", args=[consultation.pk, document["id"]]))
    link = staff.post(reverse("consult:invite", args=[consultation.pk])).json()["link"]
    Client().post(str(link).removeprefix("http://testserver"))
    staff.post(reverse("consult:end", args=[consultation.pk]))

    # Appointments: one booked (its messages sent again), one missed.
    service = factories.make_service(office, "Ausweis", bookable=True, slot_minutes=20, lead_minutes=0)
    contact = booking.Contact(name=NAME, email=EMAIL, phone=PHONE, language="de", consent=True)
    booked = booking.book(
        office,
        service,
        start=dt.datetime(2026, 11, 27, 8, 0, tzinfo=OPEN.tzinfo),
        contact=contact,
        agent=member,
    )
    missed = make_appointment(
        service, member, OPEN - dt.timedelta(hours=1), name=NAME, email=EMAIL, phone=PHONE
    )
    staff.post(reverse("booking:no_show", args=[missed.pk]))
    admin = verified(org_admin)
    ids = [str(pk) for pk in Notification.objects.values_list("pk", flat=True)]
    admin.post(
        reverse("admin:notify_notification_changelist"), {"action": "send_again", "_selected_action": ids}
    )
    url = reverse("admin:booking_appointment_change", args=[booked.pk])
    assert admin.post(url, change_form_data(admin, url, status="cancelled")).status_code == 302
    assert Appointment.objects.get(pk=booked.pk).status == "cancelled"

    recorded = everything_recorded()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        Action.QUEUE_ANNOUNCE,
        Action.QUEUE_CALL_NEXT,
        Action.DOCUMENT_SHARED,
        Action.DOCUMENT_DOWNLOADED,
        Action.INTERPRETER_INVITED,
        Action.INVITE_CLAIMED,
        Action.CONSULT_ENDED,
        Action.APPOINTMENT_NO_SHOW,
        Action.NOTIFICATION_RETRY,
        Action.ADMIN_CHANGED,
    } <= actions, actions
    for secret in SECRETS:
        assert secret.lower() not in recorded.lower(), secret
    assert "+4915198765432" not in recorded

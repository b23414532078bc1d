"""Each staff action leaves exactly one audit entry naming the staff member, the organisation
and the citizen's ticket, consultation or appointment by id only."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.urls import reverse
from PIL import Image

from buergerbuero.audit.models import Action, AuditEntry
from buergerbuero.audit.services import pseudonymous_client
from buergerbuero.booking import services as booking
from buergerbuero.booking.models import AppointmentStatus
from buergerbuero.consult.models import Consultation, Document
from buergerbuero.notify.models import Notification
from buergerbuero.offices.models import AdmissionMode, Office
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import PresenceState, Ticket
from buergerbuero.waiting.services import joining, staffing
from tests import factories
from tests.audit.conftest import OPEN, logged_in, the_entry, verified
from tests.booking.conftest import make_appointment
from tests.consult.support import start_consultation

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def member(user: User) -> StaffMember:
    return StaffMember.objects.get(user=user)


def waiting_ticket(office: Office, agent: User, name: str = "Zofia Quellenberg") -> Ticket:
    """A citizen in the queue (the agent on a break, so nobody takes them at once)."""
    staffing.set_presence(member(agent), PresenceState.PAUSE, now=OPEN)
    return joining.join(office, service=None, display_name=name, language="de", mode="chat", now=OPEN)


def assert_by(entry: AuditEntry, user: User | None, organization: Organization, target: str) -> None:
    assert (entry.actor, entry.organization, entry.target) == (user, organization, target)
    if user is not None:
        assert entry.actor_name == user.username


# --- the console ------------------------------------------------------------------------------
def test_setting_presence_is_recorded_with_the_state(agent: User, org: Organization) -> None:
    response = logged_in(agent).post(reverse("waiting:presence"), {"state": "available"})

    assert response.status_code == 200
    entry = the_entry(Action.QUEUE_PRESENCE)
    assert_by(entry, agent, org, "")
    assert entry.details == {"state": "available"}
    assert entry.client == pseudonymous_client(RequestFactory().get("/", REMOTE_ADDR="127.0.0.1"))


def test_calling_the_next_citizen_is_recorded_with_the_ticket(
    office: Office, agent: User, org: Organization
) -> None:
    ticket = waiting_ticket(office, agent)

    response = logged_in(agent).post(reverse("waiting:call_next"))

    assert response.json() == {"ticket": ticket.pk}
    assert_by(the_entry(Action.QUEUE_CALL_NEXT), agent, org, f"ticket:{ticket.pk}")


def test_calling_with_nobody_waiting_records_nothing(agent: User) -> None:
    response = logged_in(agent).post(reverse("waiting:call_next"))

    assert response.json() == {"ticket": None}
    assert not AuditEntry.objects.exclude(action=Action.LOGIN).exists()


def test_admitting_a_citizen_is_recorded(office: Office, agent: User, org: Organization) -> None:
    Office.objects.filter(pk=office.pk).update(admission_mode=AdmissionMode.KNOCK)
    office.refresh_from_db()
    ticket = waiting_ticket(office, agent)

    response = logged_in(agent).post(reverse("waiting:call_ticket", args=[ticket.pk]))

    assert response.status_code == 200
    assert_by(the_entry(Action.QUEUE_ADMIT), agent, org, f"ticket:{ticket.pk}")


@pytest.mark.parametrize(("no_show", "action"), [("", Action.QUEUE_REMOVE), ("1", Action.QUEUE_NO_SHOW)])
def test_removing_a_citizen_is_recorded_as_removal_or_no_show(
    office: Office, agent: User, org: Organization, no_show: str, action: str
) -> None:
    ticket = waiting_ticket(office, agent)

    response = logged_in(agent).post(reverse("waiting:remove", args=[ticket.pk]), {"no_show": no_show})

    assert response.status_code == 200
    assert_by(the_entry(action), agent, org, f"ticket:{ticket.pk}")
    assert AuditEntry.objects.filter(action__startswith="queue.").exclude(action=action).count() == 0


def test_transferring_a_citizen_is_recorded_with_the_target_office(
    office: Office, agent: User, org: Organization
) -> None:
    other = factories.make_office(org, "standesamt", name="Standesamt")
    ticket = waiting_ticket(office, agent)

    response = logged_in(agent).post(reverse("waiting:transfer", args=[ticket.pk]), {"office": str(other.pk)})

    assert response.status_code == 200
    entry = the_entry(Action.QUEUE_TRANSFER)
    assert_by(entry, agent, org, f"ticket:{ticket.pk}")
    assert entry.details == {"to_office": other.pk}


def test_a_message_to_everyone_waiting_is_recorded_without_its_text(
    office: Office, agent: User, org: Organization
) -> None:
    text = "Frau Quellenberg, bitte den Ausweis bereithalten"

    response = logged_in(agent).post(reverse("waiting:announce", args=[office.pk]), {"text": text})

    assert response.status_code == 200
    entry = the_entry(Action.QUEUE_ANNOUNCE)
    assert_by(entry, agent, org, f"office:{office.pk}")
    assert "Quellenberg" not in str(entry.details) + entry.target


def test_a_refused_action_records_nothing(office: Office, agent: User, foreign_ticket: Ticket) -> None:
    response = logged_in(agent).post(reverse("waiting:remove", args=[foreign_ticket.pk]))

    assert response.status_code == 404
    assert not AuditEntry.objects.filter(action__startswith="queue.").exists()


@pytest.fixture
def foreign_ticket(other_org: Organization) -> Ticket:
    office = factories.make_office(other_org, "kfz", hours=[(3, "08:00", "16:00")])
    return joining.join(office, service=None, display_name="Bernd", language="de", mode="chat", now=OPEN)


# --- the consultation -------------------------------------------------------------------------
@pytest.fixture
def consultation(office: Office, agent: User) -> Consultation:
    return start_consultation(office, agent, name="Zofia Quellenberg")


def pdf(name: str) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "teal").save(out, format="PDF")
    return SimpleUploadedFile(name, out.getvalue(), content_type="application/pdf")


def invite_link(client: Client, consultation: Consultation) -> str:
    response = client.post(reverse("consult:invite", args=[consultation.pk]))
    assert response.status_code == 200
    return str(response.json()["link"]).removeprefix("http://testserver")


def test_inviting_claiming_and_removing_an_interpreter_are_recorded(
    consultation: Consultation, agent: User, org: Organization
) -> None:
    staff = logged_in(agent)
    link = invite_link(staff, consultation)
    interpreter = Client(REMOTE_ADDR="192.0.2.7")

    assert interpreter.post(link).status_code == 302
    assert staff.post(reverse("consult:remove_interpreter", args=[consultation.pk])).status_code == 200

    target = f"consultation:{consultation.pk}"
    assert_by(the_entry(Action.INTERPRETER_INVITED), agent, org, target)
    claimed = the_entry(Action.INVITE_CLAIMED)
    assert_by(claimed, None, org, target)
    assert claimed.actor_name == ""
    assert claimed.client
    assert claimed.client != the_entry(Action.INTERPRETER_INVITED).client
    assert_by(the_entry(Action.INTERPRETER_REMOVED), agent, org, target)


def test_ending_a_consultation_is_recorded_once(
    consultation: Consultation, agent: User, org: Organization
) -> None:
    staff = logged_in(agent)

    staff.post(reverse("consult:end", args=[consultation.pk]))
    staff.post(reverse("consult:end", args=[consultation.pk]))  # already ended: nothing happens

    assert_by(the_entry(Action.CONSULT_ENDED), agent, org, f"consultation:{consultation.pk}")


def test_documents_shared_by_staff_and_downloads_by_staff_or_interpreter_are_recorded_by_id(
    consultation: Consultation, agent: User, org: Organization
) -> None:
    staff = logged_in(agent)
    share = reverse("consult:share_document", args=[consultation.pk])
    token = consultation.ticket.token
    by_staff = staff.post(share, {"file": pdf("Bescheid_Quellenberg.pdf")})
    by_citizen = Client().post(f"{share}?ticket={token}", {"file": pdf("Ausweis_Quellenberg.pdf")})
    assert (by_staff.status_code, by_citizen.status_code) == (201, 201)
    document = Document.objects.get(pk=by_citizen.json()["id"])
    download = reverse("consult:document", args=[consultation.pk, document.pk])
    interpreter = Client()
    assert interpreter.post(invite_link(staff, consultation)).status_code == 302

    assert staff.get(download).status_code == 200
    assert interpreter.get(download).status_code == 200
    assert Client().get(f"{download}?ticket={token}").status_code == 200  # the citizen's own: not recorded

    target = f"consultation:{consultation.pk}"
    shared = the_entry(Action.DOCUMENT_SHARED)
    assert_by(shared, agent, org, target)
    assert shared.details == {"document": by_staff.json()["id"]}
    downloads = AuditEntry.objects.filter(action=Action.DOCUMENT_DOWNLOADED).order_by("pk")
    assert [(d.actor, d.details) for d in downloads] == [
        (agent, {"document": document.pk, "by": "agent"}),
        (None, {"document": document.pk, "by": "interpreter"}),
    ]
    assert all(d.organization == org and d.target == target for d in downloads)


# --- appointments and the outbox ----------------------------------------------------------------
def test_marking_an_appointment_as_no_show_is_recorded(
    office: Office, agent: User, org: Organization
) -> None:
    service = factories.make_service(office, "Ausweis", bookable=True, slot_minutes=20)
    appointment = make_appointment(service, member(agent), OPEN - dt.timedelta(hours=1))

    logged_in(agent).post(reverse("booking:no_show", args=[appointment.pk]))

    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.NO_SHOW
    assert_by(the_entry(Action.APPOINTMENT_NO_SHOW), agent, org, f"appointment:{appointment.pk}")


def test_a_refused_no_show_records_nothing(office: Office, agent: User) -> None:
    service = factories.make_service(office, "Ausweis", bookable=True, slot_minutes=20)
    appointment = make_appointment(service, member(agent), OPEN + dt.timedelta(days=1))

    logged_in(agent).post(reverse("booking:no_show", args=[appointment.pk]))

    assert not AuditEntry.objects.filter(action=Action.APPOINTMENT_NO_SHOW).exists()


def test_renewing_the_calendar_address_is_recorded(agent: User, org: Organization) -> None:
    logged_in(agent).post(reverse("booking:renew_feed"))

    assert_by(the_entry(Action.FEED_RENEWED), agent, org, "")


def test_sending_messages_again_from_the_admin_is_recorded_with_their_ids(
    office: Office, agent: User, org_admin: User, org: Organization
) -> None:
    service = factories.make_service(office, "Ausweis", bookable=True, slot_minutes=20, lead_minutes=0)
    contact = booking.Contact(
        name="Zofia Quellenberg",
        email="zofia@example.org",
        phone="0151 23456789",
        language="de",
        consent=True,
    )
    friday = dt.datetime(2026, 11, 27, 8, 0, tzinfo=OPEN.tzinfo)
    booking.book(office, service, start=friday, contact=contact, agent=member(agent))
    ids = sorted(Notification.objects.values_list("pk", flat=True))
    assert ids

    response = verified(org_admin).post(
        reverse("admin:notify_notification_changelist"),
        {"action": "send_again", "_selected_action": [str(pk) for pk in ids]},
    )

    assert response.status_code == 302
    entry = the_entry(Action.NOTIFICATION_RETRY)
    assert_by(entry, org_admin, org, "")
    assert sorted(entry.details["notifications"]) == ids

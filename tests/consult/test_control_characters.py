"""Control characters in what people type are never stored: chat (it arrives over the socket,
past every form), the anonymous feedback's comment, staff announcements, the name given when
entering and when booking. NUL would make PostgreSQL refuse the statement (a server error);
escape sequences and bidi overrides would show staff something else than was written.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from buergerbuero.booking.services import Contact, check_contact
from buergerbuero.consult import services as consult_services
from buergerbuero.consult.models import ChatMessage, Consultation, Feedback, ParticipantRole
from buergerbuero.consult.services import ConsultError, Participant
from buergerbuero.offices.models import Office
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import QueueState
from buergerbuero.waiting.services import calling, joining
from tests.consult.support import OPEN

DIRTY = "Hallo\x00 Welt\x1b[2J \u202eabc\u202c\x7f!"
CLEAN = "Hallo Welt[2J abc!"

pytestmark = pytest.mark.django_db


def test_a_chat_message_is_stored_without_control_characters(consultation: Consultation) -> None:
    message = consult_services.post_message(
        Participant(consultation, ParticipantRole.CITIZEN), DIRTY + "\nZeile 2"
    )

    assert ChatMessage.objects.get(pk=message.pk).text == CLEAN + "\nZeile 2"


def test_a_chat_message_of_only_control_characters_is_refused(consultation: Consultation) -> None:
    with pytest.raises(ConsultError):
        consult_services.post_message(Participant(consultation, ParticipantRole.CITIZEN), "\x00\x01\u202e")

    assert not ChatMessage.objects.exists()


def test_the_feedback_comment_is_stored_without_control_characters(
    consultation: Consultation, agent_member: StaffMember
) -> None:
    consult_services.end_consultation(consultation, agent_member)

    consult_services.give_feedback(consultation.ticket, 5, DIRTY)

    assert Feedback.objects.get().comment == CLEAN


def test_an_announcement_is_stored_without_control_characters(office: Office, agent: User) -> None:
    calling.announce(agent.staff_member, office, DIRTY)

    assert QueueState.objects.get(office=office).announcement == CLEAN


def test_the_name_given_when_entering_is_stored_without_control_characters(office: Office) -> None:
    ticket = joining.join(office, service=None, display_name=DIRTY, language="de", mode="chat", now=OPEN)

    assert ticket.display_name == CLEAN


def test_the_name_given_when_booking_is_cleaned(office: Office) -> None:
    contact = check_contact(Contact(name=DIRTY, email="a@example.org", phone="", language="de", consent=True))

    assert contact.name == CLEAN

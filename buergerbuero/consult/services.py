"""Consultations: who may take part, chat, and the end.

A consultation starts in ``waiting.services`` when a called citizen confirms (or a free
seat takes them at once). Members are exactly two: the citizen holding the ticket's token
and the staff member who admitted them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from buergerbuero.consult.models import Author, ChatMessage, Consultation
from buergerbuero.realtime.publish import publish
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import Ticket, TicketStatus
from buergerbuero.waiting.services import QueueError, finish_consultation_seat

MAX_CHAT_LENGTH = 2000


def consultation_group(consultation_id: int) -> str:
    return f"consultation:{consultation_id}"


@dataclass(frozen=True)
class Participant:
    consultation: Consultation
    role: str  # Author value


def participant(
    consultation_id: int, *, token: str = "", member: StaffMember | None = None
) -> Participant | None:
    """Who this is in the consultation, or None for anyone else."""
    consultation = (
        Consultation.objects.select_related("ticket", "office__organization", "agent")
        .filter(pk=consultation_id)
        .first()
    )
    if consultation is None:
        return None
    if token and secrets.compare_digest(token, consultation.ticket.token):
        return Participant(consultation, Author.CITIZEN)
    if member is not None and consultation.agent_id == member.pk:
        return Participant(consultation, Author.AGENT)
    return None


def post_message(who: Participant, text: str, now: dt.datetime | None = None) -> ChatMessage:
    text = text.strip()
    if not text:
        raise QueueError(_("Please write a message."), "empty")
    if len(text) > MAX_CHAT_LENGTH:
        raise QueueError(_("Messages can be at most 2,000 characters long."), "too_long")
    if not who.consultation.is_open:
        raise QueueError(_("This consultation has ended."), "ended")
    with transaction.atomic():
        message = ChatMessage.objects.create(
            consultation=who.consultation, author=who.role, text=text, sent_at=now or timezone.now()
        )
        publish(consultation_group(who.consultation.pk), {"type": "chat", **message_json(message)})
    return message


def message_json(message: ChatMessage) -> dict[str, Any]:
    return {
        "id": message.pk,
        "author": message.author,
        "text": message.text,
        "sent_at": message.sent_at.isoformat(),
    }


def history(consultation: Consultation) -> list[dict[str, Any]]:
    return [message_json(message) for message in consultation.messages.all()]


def end_consultation(consultation: Consultation, member: StaffMember, now: dt.datetime | None = None) -> bool:
    """The staff member ends it; the citizen sees the closing page. Ending twice is harmless."""
    if consultation.agent_id != member.pk:
        raise QueueError(_("Only the staff member of this consultation can end it."), "not_agent")
    now = now or timezone.now()
    with transaction.atomic():
        ended = Consultation.objects.filter(pk=consultation.pk, ended_at__isnull=True).update(ended_at=now)
        if not ended:
            return False
        Ticket.objects.filter(pk=consultation.ticket_id).update(status=TicketStatus.DONE, ended_at=now)
        finish_consultation_seat(consultation.agent_id, consultation.office, now)
        publish(consultation_group(consultation.pk), {"type": "ended"})
    return True


def open_consultation_of(member: StaffMember) -> Consultation | None:
    return Consultation.objects.filter(agent=member, ended_at__isnull=True).select_related("ticket").first()

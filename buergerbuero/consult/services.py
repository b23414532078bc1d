"""Consultations: who may take part, chat, and the end.

A consultation starts when the waiting room admits a citizen (a called citizen confirms, or a
free seat takes them at once): ``waiting.services.seating.admit`` sends ``ticket_admitted``
inside its transaction and ``start_consultation`` answers it (connected in ``ConsultConfig``).
It ends here (``end_consultation``), which frees the staff member's seat. Members are the
citizen holding the ticket's token, the staff member who admitted them and, if invited, one
interpreter at a time.

Access after the end (``participant`` is the one place that decides it):
- the interpreter is a member only while the consultation is open and they have not been
  removed: at the end they lose the page, the socket and the documents at once;
- the citizen keeps the documents shared with them for ``CITIZEN_DOCUMENTS_AFTER_END`` (one
  hour) after the end, so that a download clicked in the last minutes still works; after that
  their ticket's token opens nothing of the consultation;
- the staff member keeps them until the consultation is deleted after
  ``CONSULTATION_RETENTION_DAYS`` (``prune_consultations``), for the case they worked on.
Chat, the socket and new documents need an open consultation for everyone (``_require_open``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from buergerbuero.consult import documents
from buergerbuero.consult.models import (
    ChatMessage,
    Consultation,
    Document,
    Feedback,
    InterpreterInvite,
    ParticipantRole,
    SharedForm,
)
from buergerbuero.lib.errors import ServiceError
from buergerbuero.lib.text import clean_text
from buergerbuero.realtime import events
from buergerbuero.realtime.publish import publish
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import Ticket, TicketStatus
from buergerbuero.waiting.services.groups import member_group
from buergerbuero.waiting.services.seating import finish_consultation_seat
from buergerbuero.waiting.services.sequence import ticket_event

MAX_CHAT_LENGTH = 2000
CITIZEN_DOCUMENTS_AFTER_END = dt.timedelta(hours=1)


class ConsultError(ServiceError):
    """A request about a consultation that is refused (chat, documents, invites, feedback)."""


def consultation_group(consultation_id: int) -> str:
    return f"consultation:{consultation_id}"


@dataclass(frozen=True)
class Participant:
    consultation: Consultation
    role: str  # a ParticipantRole value


def participant(
    consultation_id: int,
    *,
    token: str = "",
    member: StaffMember | None = None,
    interpreter_session: str = "",
    now: dt.datetime | None = None,
) -> Participant | None:
    """Who this is in the consultation, or None for anyone else — including a citizen or
    interpreter whose access ended with the consultation (see the module's rule)."""
    consultation = (
        Consultation.objects.select_related("ticket", "office__organization", "agent")
        .filter(pk=consultation_id)
        .first()
    )
    if consultation is None:
        return None
    ended = consultation.ended_at
    if token and secrets.compare_digest(token.encode(), consultation.ticket.token.encode()):
        if ended is not None and (now or timezone.now()) > ended + CITIZEN_DOCUMENTS_AFTER_END:
            return None
        return Participant(consultation, ParticipantRole.CITIZEN)
    if member is not None and consultation.agent_id == member.pk:
        return Participant(consultation, ParticipantRole.AGENT)
    if ended is None and interpreter_invite(consultation_id, interpreter_session) is not None:
        return Participant(consultation, ParticipantRole.INTERPRETER)
    return None


def post_message(who: Participant, text: str, now: dt.datetime | None = None) -> ChatMessage:
    text = clean_text(text)
    if not text:
        raise ConsultError(_("Please write a message."), "empty")
    if len(text) > MAX_CHAT_LENGTH:
        raise ConsultError(_("Messages can be at most 2,000 characters long."), "too_long")
    _require_open(who.consultation)
    with transaction.atomic():
        message = ChatMessage.objects.create(
            consultation=who.consultation, author=who.role, text=text, sent_at=now or timezone.now()
        )
        publish(consultation_group(who.consultation.pk), events.content(events.CHAT, message_json(message)))
    return message


def message_json(message: ChatMessage) -> dict[str, Any]:
    return {
        "id": message.pk,
        "author": message.author,
        "text": message.text,
        "sent_at": message.sent_at.isoformat(),
    }


def _require_open(consultation: Consultation) -> None:
    # Asked of the database: a socket holds the consultation as it was when it connected.
    if not Consultation.objects.filter(pk=consultation.pk, ended_at__isnull=True).exists():
        raise ConsultError(_("This consultation has ended."), "ended")


def _require_agent(consultation: Consultation, member: StaffMember) -> None:
    if consultation.agent_id != member.pk:
        raise ConsultError(_("Only the staff member of this consultation can do that."), "not_agent")


def history(consultation: Consultation) -> list[dict[str, Any]]:
    return [message_json(message) for message in consultation.messages.all()]


def start_consultation(ticket: Ticket, agent: StaffMember, now: dt.datetime) -> Consultation:
    """The admitted citizen's consultation with ``agent`` begins; the citizen's page and the
    staff member's consoles are sent to it."""
    consultation = Consultation.objects.create(
        ticket=ticket, office=ticket.office, agent=agent, mode=ticket.mode, started_at=now
    )
    ticket_event(ticket, events.admitted(consultation.pk))
    publish(member_group(agent.pk), events.admitted(consultation.pk))
    return consultation


def on_ticket_admitted(
    sender: object, *, ticket: Ticket, agent: StaffMember, now: dt.datetime, **_: Any
) -> None:
    start_consultation(ticket, agent, now)


def end_consultation(consultation: Consultation, member: StaffMember, now: dt.datetime | None = None) -> bool:
    """The staff member ends it; the citizen sees the closing page. Ending twice is harmless."""
    _require_agent(consultation, member)
    now = now or timezone.now()
    with transaction.atomic():
        ended = Consultation.objects.filter(pk=consultation.pk, ended_at__isnull=True).update(ended_at=now)
        if not ended:
            return False
        Ticket.objects.filter(pk=consultation.ticket_id).update(status=TicketStatus.DONE, ended_at=now)
        finish_consultation_seat(consultation.agent_id, consultation.office, now)
        publish(consultation_group(consultation.pk), events.ended())
    return True


def open_consultation_of(member: StaffMember) -> Consultation | None:
    return Consultation.objects.filter(agent=member, ended_at__isnull=True).select_related("ticket").first()


# --- interpreters ---------------------------------------------------------------------------
def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def invite_interpreter(
    consultation: Consultation, member: StaffMember, now: dt.datetime | None = None
) -> str:
    """A new single-use invite link's secret (shown once to the agent, stored only hashed)."""
    _require_agent(consultation, member)
    if not consultation.is_open:
        raise ConsultError(_("This consultation has ended."), "ended")
    now = now or timezone.now()
    secret = secrets.token_urlsafe(32)
    InterpreterInvite.objects.create(
        consultation=consultation,
        token_hash=_hash(secret),
        created_at=now,
        expires_at=now + dt.timedelta(hours=settings.INTERPRETER_INVITE_HOURS),
    )
    return secret


def _open_invites(secret: str, now: dt.datetime) -> QuerySet[InterpreterInvite]:
    """The invite behind this secret if it can still be used: unclaimed, not removed, not
    expired, for a consultation still running."""
    return InterpreterInvite.objects.filter(
        token_hash=_hash(secret),
        claimed_at__isnull=True,
        removed_at__isnull=True,
        expires_at__gt=now,
        consultation__ended_at__isnull=True,
    )


def claim_invite(secret: str, now: dt.datetime | None = None) -> tuple[Consultation, str]:
    """Open an invite link: bind it to this browser. Returns the consultation and the
    browser's session secret; a used, expired, removed or unknown link is refused."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = _open_invites(secret, now)
        invite = claimed.select_related("consultation").first()
        session = secrets.token_urlsafe(32)
        if invite is None or not claimed.filter(pk=invite.pk).update(
            claimed_at=now, session_hash=_hash(session)
        ):
            raise ConsultError(_("This invitation link is not valid (any more)."), "bad_invite")
    return invite.consultation, session


def invite_is_open(secret: str, now: dt.datetime | None = None) -> bool:
    return _open_invites(secret, now or timezone.now()).exists()


def interpreter_cookie(consultation_id: int) -> str:
    """The cookie in which an interpreter's browser keeps its claim on the invite."""
    return f"bb_interpreter_{consultation_id}"


def interpreter_invite(consultation_id: int, session: str) -> InterpreterInvite | None:
    if not session:
        return None
    return InterpreterInvite.objects.filter(
        consultation_id=consultation_id, session_hash=_hash(session), removed_at__isnull=True
    ).first()


def remove_interpreter(
    consultation: Consultation, member: StaffMember, now: dt.datetime | None = None
) -> int:
    _require_agent(consultation, member)
    with transaction.atomic():
        removed = InterpreterInvite.objects.filter(consultation=consultation, removed_at__isnull=True).update(
            removed_at=now or timezone.now()
        )
        publish(consultation_group(consultation.pk), events.interpreter_removed())
    return removed


# --- documents ------------------------------------------------------------------------------
def share_document(who: Participant, upload: UploadedFile, now: dt.datetime | None = None) -> Document:
    _require_open(who.consultation)
    try:
        checked = documents.check(upload)
    except documents.DocumentRefused as refused:
        raise ConsultError(refused.message, "bad_file") from None
    with transaction.atomic():
        document = Document(
            consultation=who.consultation,
            shared_by=who.role,
            name=checked.name,
            content_type=checked.content_type,
            size=checked.size,
            shared_at=now or timezone.now(),
        )
        document.file.save(checked.name, upload, save=False)
        document.save()
        publish(
            consultation_group(who.consultation.pk), events.content(events.DOCUMENT, document_json(document))
        )
    return document


def documents_of(consultation: Consultation) -> list[dict[str, Any]]:
    return [document_json(document) for document in consultation.documents.all()]


def document_json(document: Document) -> dict[str, Any]:
    return {
        "id": document.pk,
        "name": document.name,
        "size": document.size,
        "shared_by": document.shared_by,
        "shared_at": document.shared_at.isoformat(),
    }


# --- after the consultation -----------------------------------------------------------------
def give_feedback(ticket: Ticket, rating: int, comment: str, now: dt.datetime | None = None) -> None:
    """One anonymous rating per consultation; stored without any link to the person."""
    if not 1 <= rating <= 5:
        raise ConsultError(_("Please choose between 1 and 5 stars."), "bad_rating")
    if not Consultation.objects.filter(ticket=ticket, ended_at__isnull=False).exists():
        raise ConsultError(_("You can rate the consultation once it has ended."), "not_ended")
    with transaction.atomic():
        marked = Consultation.objects.filter(
            ticket=ticket, ended_at__isnull=False, feedback_given=False
        ).update(feedback_given=True)
        if not marked:
            raise ConsultError(_("Thank you — we already have your feedback."), "already_given")
        Feedback.objects.create(
            office_id=ticket.office_id,
            rating=rating,
            comment=clean_text(comment)[:1000],
            given_on=timezone.localdate(now or timezone.now()),
        )


def prune_consultations(now: dt.datetime | None = None) -> int:
    """Personal data has a shelf life: tickets ended longer than the retention period ago go,
    with their consultation, chat, documents (files too), forms filled in together (signed
    PDFs too) and interpreter invites."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.CONSULTATION_RETENTION_DAYS)
    old = Ticket.objects.filter(ended_at__lt=cutoff)
    for document in Document.objects.filter(consultation__ticket__in=old).iterator():
        document.file.delete(save=False)
    # Forms filled in together go with their consultation, signed PDFs included.
    for shared in SharedForm.objects.filter(consultation__ticket__in=old).exclude(pdf="").iterator():
        shared.pdf.delete(save=False)
    deleted, _details = old.delete()
    return deleted

"""Filling in one of the office's forms together, live in the consultation, then confirming
and signing it (issue #16).

Who may do what:
- the staff member of the consultation opens one of the office's active forms (one open form
  at a time), closes it, and lets the interpreter write or not; the interpreter only reads
  unless allowed. A form the citizen prepared before their appointment
  (``booking.services.prepared_values``) starts with those values as the citizen's own;
- the citizen and the staff member write every field; a value the staff member wrote is a
  *suggestion* (``confirmed=False``, shown as “suggested by staff”) until the citizen
  confirms the form or writes the field themselves;
- only the citizen confirms (every required field filled, every value valid) and signs (a
  drawn signature as PNG, or the typed name for keyboard users); the signed, flattened PDF is
  written by ``forms.pdf.filled_pdf``, stored privately with its SHA-256 and goes to the
  office's inbox as *new*.

Sync rule — versioned last-writer-wins per field, in the server's order:
- every field has a version; an edit names the version its page last saw (``base``), the
  page (``client``) and the edit's number on that page (``seq``);
- the server takes a row lock on the form, applies every valid edit in the order it gets
  them, bumps the field's version and broadcasts ``{field, value, version, by, client,
  seq}``: versions of a field are totally ordered, and the last edit in that order wins
  (a long text field too: it is replaced as a whole, not merged);
- events may reach a page out of order (each is published after its commit, from whichever
  thread or process committed it), so a page orders them by version: it shows the value of the
  highest version it has seen (a late event with a lower version is ignored, a whole state too
  keeps the newer values), except in a field where it has edits of its own not yet echoed: the
  person's typing is never overwritten there; once its last edit's echo arrives (however late)
  the page shows the highest version again — its own text, unless another edit came after it
  in the server's order. So every page ends on the server's value;
- an edit after the citizen confirmed takes the confirmation back (status ``filling``): what
  is signed is always what was confirmed. A signed form takes no more edits;
- on (re)connection the socket's first message carries the open form's whole state; a page
  sends again the edits it had not seen echoed whose text differs from the server's.

Edits are limited per socket (:class:`EditAllowance`, generous: fast typing passes, a script
flooding the form does not); signing (a PDF each time) per consultation in the database
(``limits``). Focus (“Frau Weber is typing here”) is relayed without touching the database.
The forms go with their consultation (``consult.services.prune_consultations``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from buergerbuero.audit.models import Action as Audit
from buergerbuero.audit.services import record
from buergerbuero.booking.services import prepared_values
from buergerbuero.consult.models import (
    Consultation,
    InboxStatus,
    ParticipantRole,
    SharedForm,
    SharedFormStatus,
    SharedFormValue,
)
from buergerbuero.consult.services import ConsultError, Participant, consultation_group, participant
from buergerbuero.forms import services as forms
from buergerbuero.forms.fields import (
    FormField,
    FormValueError,
    clean_value,
    missing_required,
    template_fields,
)
from buergerbuero.forms.pdf import Signature, filled_pdf
from buergerbuero.lib.locking import locked
from buergerbuero.limits import services as limits
from buergerbuero.realtime import events
from buergerbuero.realtime.publish import publish, publish_now
from buergerbuero.staff.models import StaffMember
from buergerbuero.staff.services import offices_served

MAX_SIGNATURE_PNG_BYTES = 64 * 1024
MAX_SIGNER_LENGTH = 120
MAX_CLIENT_ID = 32
SIGNINGS_PER_HOUR = 10  # per consultation: each is a PDF written
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --- state as pages see it ------------------------------------------------------------------
def fields_of(shared: SharedForm) -> list[FormField]:
    return [FormField.from_dict(item) for item in shared.fields]


def state_json(shared: SharedForm, values: list[SharedFormValue] | None = None) -> dict[str, Any]:
    """The whole form as pages render it (one query for the values unless given; the template
    comes with the form)."""
    rows = values if values is not None else list(shared.values.all())
    return {
        "id": shared.pk,
        "title": shared.template.title,
        "description": shared.template.description,
        # Each field with the most characters it takes (forms.fields' rule, not a copy in the page).
        "fields": [{**field.as_dict(), "limit": field.limit} for field in fields_of(shared)],
        "status": shared.status,
        "interpreter_may_edit": shared.interpreter_may_edit,
        "values": {
            row.field: {
                "value": row.value,
                "version": row.version,
                "by": row.written_by,
                "confirmed": row.confirmed,
            }
            for row in rows
        },
        "signer": shared.signer,
        "signed_at": shared.signed_at.isoformat() if shared.signed_at else None,
        "sha256": shared.sha256,
    }


def open_form_of(consultation: Consultation) -> SharedForm | None:
    return (
        SharedForm.objects.select_related("template")
        .filter(consultation=consultation, closed_at__isnull=True)
        .first()
    )


def current_state(consultation: Consultation) -> dict[str, Any] | None:
    """What a (re)connecting socket gets: the open form's state, or None (2 queries at most)."""
    shared = open_form_of(consultation)
    return state_json(shared) if shared is not None else None


def forms_to_open(consultation: Consultation) -> list[dict[str, Any]]:
    """The office's forms the staff member can open (those of the citizen's service first)."""
    service = consultation.ticket.service
    templates = forms.forms_for(consultation.office)
    preferred = (
        set(forms.forms_for(consultation.office, service).values_list("pk", flat=True)) if service else set()
    )
    listed = [{"id": template.pk, "title": template.title} for template in templates]
    return sorted(listed, key=lambda item: item["id"] not in preferred)


# --- what participants do -------------------------------------------------------------------
def _require_agent(who: Participant) -> None:
    if who.role != ParticipantRole.AGENT:
        raise ConsultError(_("Only the staff member of this consultation can do that."), "not_agent")


def _audit(who: Participant, action: str, shared: SharedForm, **details: object) -> None:
    """The staff member's action on a form, by the consultation's and the form's ids only."""
    agent = who.consultation.agent
    record(
        action,
        actor=agent.user if agent is not None else None,
        organization=who.consultation.office.organization_id,
        target=f"consultation:{who.consultation.pk}",
        details={"form": shared.pk, "template": shared.template_id, **details},
    )


def _locked(who: Participant, form_id: int) -> SharedForm:
    """The open form of this (open) consultation, row-locked until the transaction ends."""
    shared = (
        locked(SharedForm.objects.select_related("template"))
        .filter(
            pk=form_id,
            consultation=who.consultation,
            consultation__ended_at__isnull=True,
            closed_at__isnull=True,
        )
        .first()
    )
    if shared is None:
        raise ConsultError(_("This form is no longer open."), "form_closed")
    return shared


def open_form(who: Participant, template_id: int, now: dt.datetime | None = None) -> SharedForm:
    """The staff member puts one of the office's forms on everyone's screen. A form of this
    template closed earlier in the consultation and not yet signed comes back as it was."""
    _require_agent(who)
    template = forms.forms_for(who.consultation.office).filter(pk=template_id).first()
    if template is None:
        raise ConsultError(_("This form is not available in this office."), "no_form")
    now = now or timezone.now()
    with transaction.atomic():
        # The consultation's row serialises two openings at once (one open form at a time).
        if not locked(Consultation.objects.filter(pk=who.consultation.pk, ended_at__isnull=True)).exists():
            raise ConsultError(_("This consultation has ended."), "ended")
        if SharedForm.objects.filter(consultation=who.consultation, closed_at__isnull=True).exists():
            raise ConsultError(_("Please close the open form first."), "form_open")
        shared = (
            SharedForm.objects.filter(consultation=who.consultation, template=template)
            .exclude(status=SharedFormStatus.SIGNED)
            .order_by("-pk")
            .first()
        )
        if shared is not None:
            shared.closed_at = None
            shared.save(update_fields=["closed_at"])
        else:
            fields = template_fields(template)
            shared = SharedForm.objects.create(
                consultation=who.consultation,
                template=template,
                fields=[field.as_dict() for field in fields],
                opened_at=now,
            )
            # What the citizen prepared before the appointment starts the form as their own.
            prepared = prepared_values(who.consultation.ticket).get(template.pk, {})
            SharedFormValue.objects.bulk_create(
                SharedFormValue(
                    form=shared,
                    field=field.name,
                    value=prepared.get(field.name, field.empty()),
                    version=1 if field.name in prepared else 0,
                    written_by=ParticipantRole.CITIZEN if field.name in prepared else "",
                )
                for field in fields
            )
        shared.template = template
        publish(consultation_group(who.consultation.pk), events.form_state(state_json(shared)))
        _audit(who, Audit.FORM_OPENED, shared)
    return shared


def may_write(who: Participant, shared: SharedForm) -> bool:
    if who.role == ParticipantRole.INTERPRETER:
        return shared.interpreter_may_edit
    return True


def edit(
    who: Participant,
    form_id: int,
    field_name: str,
    raw: object,
    *,
    base: int = 0,
    client: str = "",
    seq: int = 0,
) -> SharedFormValue:
    """One field's new value (see the sync rule at the top). ``base`` is accepted and not
    used to refuse: the server's order decides; it is there for the page's own bookkeeping."""
    with transaction.atomic():
        shared = _locked(who, form_id)
        if not may_write(who, shared):
            raise ConsultError(_("You can read this form but not write in it."), "read_only")
        if shared.status == SharedFormStatus.SIGNED:
            raise ConsultError(_("This form has been signed and cannot be changed."), "signed")
        field = next((item for item in fields_of(shared) if item.name == field_name), None)
        if field is None:
            raise ConsultError(_("This form has no such field."), "no_field")
        try:
            value = clean_value(field, raw)
        except FormValueError as refused:
            raise ConsultError(refused.message, refused.code) from None
        row = SharedFormValue.objects.get(form=shared, field=field.name)
        row.value = value
        row.version += 1
        row.written_by = who.role
        # The citizen's own writing needs no confirmation; anyone else's is a suggestion.
        row.confirmed = who.role == ParticipantRole.CITIZEN
        row.save(update_fields=["value", "version", "written_by", "confirmed"])
        if shared.status == SharedFormStatus.CONFIRMED:
            shared.status = SharedFormStatus.FILLING
            shared.confirmed_at = None
            shared.save(update_fields=["status", "confirmed_at"])
        publish(
            consultation_group(who.consultation.pk),
            events.form_value(
                shared.pk,
                field.name,
                value,
                version=row.version,
                by=who.role,
                confirmed=row.confirmed,
                status=shared.status,
                client=client[:MAX_CLIENT_ID],
                seq=seq,
            ),
        )
    return row


def focus(who: Participant, form_id: int, field_name: str, connection: str) -> None:
    """Show the others which field this person is in ("" when they left the form)."""
    publish_now(
        consultation_group(who.consultation.pk),
        events.form_focus(form_id, who.role, field_name[:200], connection),
    )


def confirm(
    who: Participant,
    form_id: int,
    reviewed: Mapping[str, object] | None = None,
    now: dt.datetime | None = None,
) -> SharedForm:
    """The citizen has read the summary and confirms every value (suggestions included).
    ``reviewed``: each field's version as the summary showed it (the page sends it): a value
    changed meanwhile is refused, so that nobody confirms what they have not seen."""
    if who.role != ParticipantRole.CITIZEN:
        raise ConsultError(_("Only the citizen can confirm the form."), "not_citizen")
    with transaction.atomic():
        shared = _locked(who, form_id)
        if shared.status == SharedFormStatus.SIGNED:
            raise ConsultError(_("This form has been signed and cannot be changed."), "signed")
        rows = list(shared.values.all())
        if reviewed is not None and any(reviewed.get(row.field) != row.version for row in rows):
            message = _("The form was changed while you were checking it. Please check your details again.")
            raise ConsultError(message, "changed")
        fields = fields_of(shared)
        values = {row.field: row.value for row in rows}
        missing = missing_required(fields, values)
        if missing:
            labels = ", ".join(f"“{field.label}”" for field in missing)
            raise ConsultError(_("Please fill in: %(fields)s.") % {"fields": labels}, "missing")
        shared.values.filter(confirmed=False).update(confirmed=True)
        for row in rows:
            row.confirmed = True
        shared.status = SharedFormStatus.CONFIRMED
        shared.confirmed_at = now or timezone.now()
        shared.save(update_fields=["status", "confirmed_at"])
        publish(consultation_group(who.consultation.pk), events.form_state(state_json(shared, rows)))
    return shared


def signature_image(data_url: str) -> bytes | None:
    """The PNG of a drawn signature from the canvas's data URL ("" for none)."""
    if not data_url:
        return None
    prefix = "data:image/png;base64,"
    if not data_url.startswith(prefix) or len(data_url) > len(prefix) + MAX_SIGNATURE_PNG_BYTES * 4 // 3 + 4:
        raise ConsultError(_("The drawn signature could not be read. Please draw it again."), "bad_signature")
    try:
        image = base64.b64decode(data_url[len(prefix) :], validate=True)
    except (binascii.Error, ValueError):
        raise ConsultError(
            _("The drawn signature could not be read. Please draw it again."), "bad_signature"
        ) from None
    if not image.startswith(PNG_MAGIC):
        raise ConsultError(_("The drawn signature could not be read. Please draw it again."), "bad_signature")
    return image


def sign(
    who: Participant, form_id: int, *, name: str, drawn: str = "", now: dt.datetime | None = None
) -> SharedForm:
    """The citizen signs the confirmed form: drawn (PNG) or by typing their name. Writes the
    filled PDF once, stores it privately with its SHA-256 and puts it in the office's inbox."""
    if who.role != ParticipantRole.CITIZEN:
        raise ConsultError(_("Only the citizen can sign the form."), "not_citizen")
    signer = " ".join(name.split())[:MAX_SIGNER_LENGTH]
    image = signature_image(drawn)
    if not signer:
        raise ConsultError(_("Please type your full name to sign."), "no_name")
    verdict = limits.hit("form_sign", str(who.consultation.pk), SIGNINGS_PER_HOUR, limits.HOUR, now)
    if not verdict.allowed:
        raise ConsultError(_("Too many signatures in a short time. Please try again later."), "rate_limited")
    now = now or timezone.now()
    with transaction.atomic():
        shared = _locked(who, form_id)
        if shared.status != SharedFormStatus.CONFIRMED:
            raise ConsultError(_("Please review and confirm the form before signing."), "not_confirmed")
        rows = list(shared.values.all())
        try:
            document = filled_pdf(
                shared.template, {row.field: row.value for row in rows}, Signature(signer, now, image)
            )
        except FormValueError as refused:  # a drawing Pillow cannot read; a field gone from the form
            raise ConsultError(refused.message, refused.code) from None
        shared.pdf.save("form.pdf", ContentFile(document), save=False)
        shared.sha256 = hashlib.sha256(document).hexdigest()
        shared.status = SharedFormStatus.SIGNED
        shared.signer = signer
        shared.signed_at = now
        shared.inbox = InboxStatus.NEW
        shared.save(update_fields=["pdf", "sha256", "status", "signer", "signed_at", "inbox"])
        publish(consultation_group(who.consultation.pk), events.form_state(state_json(shared, rows)))
    return shared


def close(who: Participant, form_id: int, now: dt.datetime | None = None) -> None:
    """The staff member takes the form off the screen (a signed one stays in the inbox; an
    unsigned one comes back as it was when opened again)."""
    _require_agent(who)
    with transaction.atomic():
        shared = _locked(who, form_id)
        shared.closed_at = now or timezone.now()
        shared.save(update_fields=["closed_at"])
        publish(consultation_group(who.consultation.pk), events.form_closed(shared.pk))
        _audit(who, Audit.FORM_CLOSED, shared, status=shared.status)


def let_interpreter_write(who: Participant, form_id: int, allowed: bool) -> None:
    _require_agent(who)
    with transaction.atomic():
        shared = _locked(who, form_id)
        shared.interpreter_may_edit = allowed
        shared.save(update_fields=["interpreter_may_edit"])
        publish(consultation_group(who.consultation.pk), events.form_state(state_json(shared)))


# --- the socket's messages ------------------------------------------------------------------
def language_of(scope: Mapping[str, Any]) -> str:
    """The language of a socket's refusals: the language cookie, else the browser's."""
    candidates = [scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME, "")]
    for name, value in scope.get("headers", []):
        if name == b"accept-language":
            candidates += [part.split(";")[0].strip() for part in value.decode("latin-1").split(",")]
    for code in candidates:
        if not code:
            continue
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


FORM_MESSAGES = frozenset(
    {"form.open", "form.edit", "form.focus", "form.confirm", "form.sign", "form.close", "form.interpreter"}
)


class EditAllowance:
    """A socket's edits: a token bucket, ``per_second`` with bursts up to ``burst``."""

    def __init__(self, per_second: float = 30.0, burst: float = 150.0) -> None:
        self.per_second, self.burst = per_second, burst
        self.tokens, self.at = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def receive(
    who: Participant, message: Mapping[str, Any], *, edit_allowed: bool = True
) -> dict[str, Any] | None:
    """Carry out one form message of a socket (not ``form.focus``: see the consumer). Returns
    what only the sender gets: a refusal, with the field's current value for an edit.
    ``edit_allowed``: the socket's :class:`EditAllowance` had room for this edit."""
    kind = message.get("type")
    form_id = _int(message.get("form"))
    try:
        if kind == "form.edit" and not edit_allowed:
            raise ConsultError(_("Too many changes at once. Please type a little slower."), "rate_limited")
        if kind == "form.open":
            open_form(who, _int(message.get("template")))
        elif kind == "form.edit":
            edit(
                who,
                form_id,
                _str(message.get("field")),
                message.get("value"),
                base=_int(message.get("base")),
                client=_str(message.get("client")),
                seq=_int(message.get("seq")),
            )
        elif kind == "form.confirm":
            versions = message.get("versions")
            confirm(who, form_id, versions if isinstance(versions, dict) else {})
        elif kind == "form.sign":
            sign(who, form_id, name=_str(message.get("name")), drawn=_str(message.get("drawn")))
        elif kind == "form.close":
            close(who, form_id)
        elif kind == "form.interpreter":
            let_interpreter_write(who, form_id, message.get("allowed") is True)
    except ConsultError as refused:
        return refusal(who, form_id, message, refused.message, refused.code)
    return None


def refusal(
    who: Participant, form_id: int, message: Mapping[str, Any], text: str, code: str
) -> dict[str, Any]:
    """A refusal for the sender; a refused edit brings the field's value back, so that the
    page stops waiting for its echo and shows what holds."""
    reply: dict[str, Any] = {"type": "form.refused", "code": code, "message": text, "of": message.get("type")}
    if message.get("type") == "form.edit":
        reply["field"] = _str(message.get("field"))
        reply["client"] = _str(message.get("client"))[:MAX_CLIENT_ID]
        reply["seq"] = _int(message.get("seq"))
        row = SharedFormValue.objects.filter(
            form_id=form_id, form__consultation=who.consultation, field=reply["field"]
        ).first()
        if row is not None:
            reply["value"] = {
                "value": row.value,
                "version": row.version,
                "by": row.written_by,
                "confirmed": row.confirmed,
            }
    return reply


# --- after the consultation: the office's inbox ---------------------------------------------
def inbox(member: StaffMember) -> QuerySet[SharedForm]:
    """The signed forms of the offices this staff member serves, newest first."""
    return (
        SharedForm.objects.filter(
            status=SharedFormStatus.SIGNED, consultation__office__in=offices_served(member)
        )
        .select_related("template", "consultation__office", "consultation__agent")
        .order_by("-signed_at", "-pk")
    )


def signed_form_for_staff(member: StaffMember, form_id: int) -> SharedForm | None:
    return inbox(member).filter(pk=form_id).first()


def set_inbox_status(member: StaffMember, form_id: int, status: str) -> SharedForm:
    if status not in InboxStatus.values:
        raise ConsultError(_("Please choose a status."), "bad_status")
    shared = signed_form_for_staff(member, form_id)
    if shared is None:
        raise ConsultError(_("This form is not available to you."), "not_found")
    shared.inbox = status
    shared.save(update_fields=["inbox"])
    return shared


def signed_form_for(
    consultation_id: int, form_id: int, *, token: str = "", member: StaffMember | None = None
) -> tuple[SharedForm, str] | None:
    """The signed form and who asks (``citizen`` / ``staff``): the citizen by the ticket's
    token as long as they may see the consultation (``services.participant``), staff of the
    office by membership. Anyone else: None."""
    shared = (
        SharedForm.objects.select_related("consultation__office", "template")
        .filter(pk=form_id, consultation_id=consultation_id, status=SharedFormStatus.SIGNED)
        .first()
    )
    if shared is None:
        return None
    if token:
        who = participant(consultation_id, token=token)
        if who is not None and who.role == ParticipantRole.CITIZEN:
            return shared, "citizen"
    if member is not None and offices_served(member).filter(pk=shared.consultation.office_id).exists():
        return shared, "staff"
    return None


def signed_forms_for_citizen(
    consultation: Consultation, token: str, now: dt.datetime | None = None
) -> list[SharedForm]:
    """The consultation's signed forms, while the ticket's token still opens it (see
    ``services.participant``: an hour after the end), for the closing page's downloads."""
    if participant(consultation.pk, token=token, now=now) is None:
        return []
    signed = SharedForm.objects.filter(consultation=consultation, status=SharedFormStatus.SIGNED)
    return list(signed.select_related("template").order_by("signed_at", "pk"))


def values_for_display(shared: SharedForm) -> list[tuple[FormField, str | bool, bool]]:
    """(field, value, suggested by staff and not confirmed) in the form's order."""
    rows = {row.field: row for row in shared.values.all()}
    shown: list[tuple[FormField, str | bool, bool]] = []
    for field in fields_of(shared):
        row = rows.get(field.name)
        shown.append((field, row.value if row else field.empty(), bool(row and not row.confirmed)))
    return shown

from __future__ import annotations

import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from buergerbuero.offices.models import Office
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import Mode, Ticket


class Consultation(models.Model):
    """A live meeting of one citizen (by ticket) and one staff member (Beratung)."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="consultation")
    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="consultations")
    agent = models.ForeignKey(StaffMember, on_delete=models.SET_NULL, null=True, related_name="consultations")
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.VIDEO)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    feedback_given = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("consultation")
        verbose_name_plural = _("consultations")
        indexes = [models.Index(fields=["office", "ended_at"], name="consultation_recent")]

    def __str__(self) -> str:
        return f"{self.office} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class ParticipantRole(models.TextChoices):
    """Who takes part in a consultation."""

    CITIZEN = "citizen", _("Citizen")
    AGENT = "agent", _("Staff member")
    INTERPRETER = "interpreter", _("Interpreter")


class ChatMessage(models.Model):
    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="messages")
    author = models.CharField(max_length=12, choices=ParticipantRole.choices)
    text = models.TextField(max_length=2000)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["sent_at", "pk"]

    def __str__(self) -> str:
        return f"{self.author} {self.sent_at:%H:%M}"


def _document_path(document: Document, filename: str) -> str:
    # The stored name is random; the original name is kept in the row for the download.
    return f"consultations/{document.consultation_id}/{secrets.token_hex(16)}"


class Document(models.Model):
    """A file shared inside a consultation; deleted with it."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="documents")
    shared_by = models.CharField(max_length=12, choices=ParticipantRole.choices)
    file = models.FileField(upload_to=_document_path)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=120)
    size = models.PositiveIntegerField()
    shared_at = models.DateTimeField()

    class Meta:
        ordering = ["shared_at", "pk"]

    def __str__(self) -> str:
        return self.name


class InterpreterInvite(models.Model):
    """A single-use, expiring link that lets an interpreter join one consultation.

    Only a hash of the link's secret is stored. Opening the link claims it for one browser,
    which then holds ``session_hash``'s secret in a cookie for reloads.
    """

    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="interpreter_invites"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    session_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"interpreter for {self.consultation_id}"


class Feedback(models.Model):
    """An anonymous rating after a consultation: no link to the citizen or the consultation."""

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="feedback")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(max_length=1000, blank=True)
    given_on = models.DateField()

    def __str__(self) -> str:
        return f"{self.office}: {self.rating}"


# --- forms filled in together (consult.filling) ---------------------------------------------
class SharedFormStatus(models.TextChoices):
    """Where a form filled in during the consultation stands."""

    FILLING = "filling", _("being filled in")
    CONFIRMED = "confirmed", _("confirmed by the citizen")
    SIGNED = "signed", _("signed")


class InboxStatus(models.TextChoices):
    """How far the office has got with a signed form (its inbox of submitted forms)."""

    NEW = "new", _("new")
    IN_PROGRESS = "in_progress", _("in progress")
    DONE = "done", _("done")


def _signed_form_path(shared: SharedForm, filename: str) -> str:
    # Never under a served folder: the signed form reaches people only through its download view.
    return f"consultations/{shared.consultation_id}/forms/{secrets.token_hex(16)}.pdf"


class SharedForm(models.Model):
    """One of the office's forms, filled in together in a consultation, then confirmed and
    signed by the citizen (see ``consult.filling`` for the rules)."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="forms")
    # RESTRICT: a form filled in cannot lose its template, but both go when the office (and so
    # the consultation) goes; PROTECT would block deleting the office.
    template = models.ForeignKey(
        "forms.FormTemplate", on_delete=models.RESTRICT, related_name="shared_forms", verbose_name=_("form")
    )
    # The fields as they were when the form was opened: a later change of the template does
    # not change what was filled in and signed.
    fields = models.JSONField(default=list)
    status = models.CharField(
        max_length=10, choices=SharedFormStatus.choices, default=SharedFormStatus.FILLING
    )
    interpreter_may_edit = models.BooleanField(default=False)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    signer = models.CharField(max_length=200, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    pdf = models.FileField(upload_to=_signed_form_path, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    inbox = models.CharField(_("status"), max_length=12, choices=InboxStatus.choices, default=InboxStatus.NEW)

    class Meta:
        verbose_name = _("filled form")
        verbose_name_plural = _("filled forms")
        constraints = [
            # One form at a time on the consultation's screen.
            models.UniqueConstraint(
                fields=["consultation"],
                condition=models.Q(closed_at__isnull=True),
                name="one_open_form_per_consultation",
            )
        ]
        indexes = [models.Index(fields=["status", "inbox"], name="shared_form_inbox")]

    def __str__(self) -> str:
        return f"form {self.template_id} in consultation {self.consultation_id}"


class SharedFormValue(models.Model):
    """One field's value with its version (bumped by every accepted edit) and who wrote it."""

    form = models.ForeignKey(SharedForm, on_delete=models.CASCADE, related_name="values")
    field = models.CharField(max_length=200)
    value = models.JSONField(default=str)  # str, or bool for a checkbox
    version = models.PositiveIntegerField(default=0)
    written_by = models.CharField(max_length=12, choices=ParticipantRole.choices, blank=True)
    # False while the value is the staff member's suggestion the citizen has not confirmed.
    confirmed = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["form", "field"], name="one_value_per_field")]

    def __str__(self) -> str:
        return f"{self.field} v{self.version}"

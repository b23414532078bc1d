from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from buergerbuero.orgs.models import Organization


class Action(models.TextChoices):
    """The actions we record, with their labels. Deliberately not the field's choices: a new
    action needs no migration, and an unknown name is shown as written."""

    # the staff console (waiting.console_views.staff_action)
    QUEUE_PRESENCE = "queue.presence", _("presence changed")
    QUEUE_CALL_NEXT = "queue.call_next", _("next citizen called")
    QUEUE_ADMIT = "queue.admit", _("citizen admitted")
    QUEUE_TRANSFER = "queue.transfer", _("citizen transferred")
    QUEUE_REMOVE = "queue.remove", _("citizen removed from the queue")
    QUEUE_NO_SHOW = "queue.no_show", _("citizen marked as no-show")
    QUEUE_ANNOUNCE = "queue.announce", _("message sent to everyone waiting")
    QUEUE_REMOVE_UNDONE = "queue.remove_undone", _("removal from the queue undone")
    QUEUE_ANNOUNCE_CLEARED = "queue.announce_cleared", _("message to everyone waiting cleared")
    OFFICE_OPENED_NOW = "office.opened_now", _("office opened now")
    OFFICE_CLOSED_NOW = "office.closed_now", _("office closed now")
    # consultations
    CONSULT_ENDED = "consult.ended", _("consultation ended")
    INTERPRETER_INVITED = "consult.interpreter_invited", _("interpreter invited")
    INVITE_CLAIMED = "consult.invite_claimed", _("interpreter invitation used")
    INTERPRETER_REMOVED = "consult.interpreter_removed", _("interpreter removed")
    DOCUMENT_SHARED = "consult.document_shared", _("document shared by staff")
    DOCUMENT_DOWNLOADED = "consult.document_downloaded", _("document downloaded")
    FORM_OPENED = "consult.form_opened", _("form opened in a consultation")
    FORM_CLOSED = "consult.form_closed", _("form closed in a consultation")
    FORM_DOWNLOADED = "consult.form_downloaded", _("signed form downloaded")
    FORM_STATUS = "consult.form_status", _("status of a signed form changed")
    # events (events.services)
    EVENT_LIVE = "event.live", _("event went live")
    EVENT_END = "event.end", _("event ended")
    EVENT_CHAT = "event.chat", _("event chat switched on or off")
    EVENT_ACCREDITATION = "event.accreditation", _("journalist's accreditation decided")
    EVENT_ON_STAGE = "event.on_stage", _("viewer brought on stage")
    EVENT_OFF_STAGE = "event.off_stage", _("taken off the stage")
    EVENT_SPEAKER = "event.speaker", _("staff member put on stage")
    EVENT_MUTE = "event.mute", _("muted or unmuted on stage")
    EVENT_PIN = "event.pin", _("pinned or unpinned on stage")
    EVENT_REMOVE = "event.remove", _("viewer removed from the event")
    EVENT_CALL = "event.call", _("next citizen called to the stage")
    EVENT_QUESTION_APPROVE = "event.question_approve", _("question approved")
    EVENT_QUESTION_ANSWER = "event.question_answer", _("question marked answered")
    EVENT_QUESTION_HIDE = "event.question_hide", _("question hidden")
    # appointments and messages
    APPOINTMENT_NO_SHOW = "booking.no_show", _("appointment marked as no-show")
    FEED_RENEWED = "booking.feed_renewed", _("calendar address renewed")
    NOTIFICATION_RETRY = "notify.retry", _("messages sent again")
    # accounts
    LOGIN = "account.login", _("logged in")
    LOGIN_FAILED = "account.login_failed", _("login failed")
    LOGOUT = "account.logout", _("logged out")
    LOCKED_OUT = "account.locked_out", _("locked out after failed logins")
    # recorded by the account pages (staff.account_views)
    PASSWORD_CHANGED = "account.password_changed", _("password changed")
    SECOND_FACTOR_ENABLED = "account.2fa_enabled", _("second factor set up")
    SECOND_FACTOR_DISABLED = "account.2fa_disabled", _("second factor removed")
    RECOVERY_CODES_RENEWED = "account.2fa_codes_renewed", _("recovery codes renewed")
    SECOND_FACTOR_FAILED = "account.2fa_failed", _("wrong second-factor code")
    # the admin site
    ADMIN_ADDED = "admin.added", _("added in the admin")
    ADMIN_CHANGED = "admin.changed", _("changed in the admin")
    ADMIN_DELETED = "admin.deleted", _("deleted in the admin")


class AuditEntry(models.Model):
    """One staff action or account event. Holds no citizen's personal data: a citizen appears
    only as the id of a ticket, consultation or appointment (``target``)."""

    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="audit_entries",
        verbose_name=_("organisation"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff member"),
    )
    # The login name as typed, kept when the account is deleted and for failed logins.
    actor_name = models.CharField(_("login"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=40, db_index=True)
    target = models.CharField(_("concerning"), max_length=100, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    # Pseudonymised (keyed hash) client address: enough to tell attempts apart, not to identify.
    client = models.CharField(_("client"), max_length=16, blank=True)

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.target}"

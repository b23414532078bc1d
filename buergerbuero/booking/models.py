from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from buergerbuero.offices.models import FORWARD_RANGE, Office, Service, TimeRange, Weekday
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import Ticket


class WorkingTime(TimeRange):
    """When a staff member takes appointments on a weekday; only inside the office's hours
    count. A staff member without any working times takes appointments whenever the office
    is open."""

    member = models.ForeignKey(
        StaffMember, on_delete=models.CASCADE, related_name="working_times", verbose_name=_("staff member")
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)

    class Meta:
        verbose_name = _("working time")
        verbose_name_plural = _("working times")
        ordering = ["member", "weekday", "opens"]
        constraints = [
            models.CheckConstraint(condition=FORWARD_RANGE, name="working_time_forward"),
        ]

    def __str__(self) -> str:
        return f"{self.member}: {self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class AbsenceKind(models.TextChoices):
    ABSENCE = "absence", _("Absence (leave, illness, training)")
    BLOCKED = "blocked", _("Blocked time (meeting, back-office work)")


class Absence(models.Model):
    """A time in which a staff member takes no appointments."""

    member = models.ForeignKey(
        StaffMember, on_delete=models.CASCADE, related_name="absences", verbose_name=_("staff member")
    )
    kind = models.CharField(
        _("kind"), max_length=10, choices=AbsenceKind.choices, default=AbsenceKind.ABSENCE
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("absence or blocked time")
        verbose_name_plural = _("absences and blocked times")
        ordering = ["member", "starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="absence_forward"),
        ]

    def __str__(self) -> str:
        return f"{self.member}: {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        super().clean()
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("The end must be after the start.")}, code="inverted")


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", _("booked")
    CANCELLED = "cancelled", _("cancelled")
    NO_SHOW = "no_show", _("no-show")
    ATTENDED = "attended", _("attended")


class Appointment(models.Model):
    """A booked time with one staff member (Termin).

    The citizen holds ``token`` (in the link of the e-mail and SMS). At most one booked
    appointment per staff member and start is a database rule; overlaps of different
    lengths are excluded by ``booking.services`` under the staff member's lock.
    """

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="appointments")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="appointments")
    agent = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="appointments")
    starts_at = models.DateTimeField(_("start"))
    ends_at = models.DateTimeField(_("end"))
    token = models.CharField(max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("mobile number"), max_length=20, blank=True)
    language = models.CharField(_("language"), max_length=8, default="de")
    status = models.CharField(
        _("status"), max_length=10, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    # Incremented on every change, as the calendar file's SEQUENCE, so calendars update.
    sequence = models.PositiveIntegerField(default=0)
    # How often the citizen moved it (bounded by APPOINTMENT_MAX_MOVES: each move sends messages).
    moves = models.PositiveSmallIntegerField(default=0)
    consented_at = models.DateTimeField()
    created_at = models.DateTimeField()
    # When the current time was chosen (booking or the last move): reminders whose moment had
    # already passed then are not sent.
    scheduled_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    ticket = models.OneToOneField(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="appointment"
    )

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "starts_at"],
                condition=Q(status="booked"),
                name="appointment_one_per_agent_and_start",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="appointment_forward"
            ),
            models.CheckConstraint(condition=~Q(email="", phone=""), name="appointment_reachable"),
        ]
        indexes = [models.Index(fields=["agent", "status", "starts_at"], name="appointment_agent_day")]

    def __str__(self) -> str:
        return f"{self.office} {self.starts_at:%Y-%m-%d %H:%M} {self.agent}"


class CalendarFeed(models.Model):
    """A staff member's private iCalendar address (for Outlook or Thunderbird)."""

    member = models.OneToOneField(StaffMember, on_delete=models.CASCADE, related_name="calendar_feed")
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"calendar of {self.member}"


class PreparedForm(models.Model):
    """A form of the booked service the citizen fills in before the appointment (a draft:
    partial values are fine). ``values`` maps field names to cleaned values
    (:func:`buergerbuero.forms.fields.clean_value`); it goes with the appointment."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="prepared_forms")
    template = models.ForeignKey(
        "forms.FormTemplate", on_delete=models.CASCADE, related_name="prepared_forms", verbose_name=_("form")
    )
    values = models.JSONField(default=dict)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("prepared form")
        verbose_name_plural = _("prepared forms")
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "template"], name="one_prepared_form_per_template"
            ),
        ]

    def __str__(self) -> str:
        return f"form {self.template_id} of appointment {self.appointment_id}"

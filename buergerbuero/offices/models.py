from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from buergerbuero.lib.media import RandomName, validate_waiting_image, validate_waiting_video
from buergerbuero.orgs.models import Organization

MIDNIGHT = dt.time(0, 0)


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class AdmissionMode(models.TextChoices):
    QUEUE = "queue", _("First come, first served (staff call the next citizen)")
    KNOCK = "knock", _("Knock and be let in (staff choose whom to admit)")


class Office(models.Model):
    """A virtual office (e.g. building permits) that citizens enter."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="offices", verbose_name=_("organisation")
    )
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("web address"), max_length=60)
    description = models.TextField(_("short description"), blank=True)
    seats = models.PositiveSmallIntegerField(
        _("seats"), default=1, help_text=_("How many staff members can consult at the same time.")
    )
    waiting_room_limit = models.PositiveIntegerField(
        _("waiting-room limit"),
        default=30,
        help_text=_("Citizens beyond this number are offered an appointment instead."),
    )
    observes_public_holidays = models.BooleanField(_("closed on public holidays"), default=True)
    position = models.PositiveSmallIntegerField(_("position in the directory"), default=0)
    admission_mode = models.CharField(
        _("admission"), max_length=10, choices=AdmissionMode.choices, default=AdmissionMode.QUEUE
    )
    # --- the waiting area, arranged by the office lead -----------------------------------
    waiting_area_text = models.TextField(
        _("welcome text and information"),
        blank=True,
        help_text=_("Shown to everyone in the waiting room. Markdown: **bold**, lists, links."),
    )
    checklist = models.TextField(
        _("documents to prepare"),
        blank=True,
        help_text=_("One item per line, e.g. “Identity card”; shown as a checklist while waiting."),
    )
    waiting_image = models.FileField(
        _("image"),
        upload_to=RandomName("waiting"),
        blank=True,
        validators=[validate_waiting_image],
    )
    waiting_image_alt = models.CharField(
        _("image description"),
        max_length=200,
        blank=True,
        help_text=_("What the image shows, for screen readers."),
    )
    waiting_video = models.FileField(
        _("short video (MP4 or WebM)"),
        upload_to=RandomName("waiting"),
        blank=True,
        validators=[validate_waiting_video],
    )
    show_position = models.BooleanField(
        _("show the place in the queue"),
        default=True,
        help_text=_("Otherwise citizens see the estimated wait only."),
    )
    full_message = models.TextField(
        _("message when the waiting room is full"),
        blank=True,
        help_text=_("Replaces the standard message, e.g. with a telephone number."),
    )
    call_confirm_seconds = models.PositiveSmallIntegerField(
        _("time to answer a call (seconds)"),
        default=60,
        validators=[MinValueValidator(15), MaxValueValidator(600)],
        help_text=_("A citizen who does not confirm in time goes back to the queue once."),
    )
    hold_place_seconds = models.PositiveIntegerField(
        _("place held after losing the connection (seconds)"),
        default=300,
        validators=[MinValueValidator(30), MaxValueValidator(3600)],
    )

    statistics_suppress_below = models.PositiveSmallIntegerField(
        _("statistics: hide counts below"),
        default=0,
        help_text=_(
            "For sensitive offices (e.g. pregnancy or addiction counselling): counts of a day "
            "that are above zero but below this number are not shown or exported. 0 shows all."
        ),
    )

    class Meta:
        verbose_name = _("office")
        verbose_name_plural = _("offices")
        ordering = ["organization", "position", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "slug"],
                name="office_slug_unique_per_org",
                violation_error_message=_("This organisation already has an office with this web address."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """A topic (Anliegen) an office handles, e.g. “Reisepass beantragen”."""

    office = models.ForeignKey(
        Office, on_delete=models.CASCADE, related_name="services", verbose_name=_("office")
    )
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    # Appointments (the booking app reads these; they belong to the service).
    bookable = models.BooleanField(_("bookable online"), default=True)
    slot_minutes = models.PositiveSmallIntegerField(
        _("appointment length (minutes)"),
        default=20,
        validators=[MinValueValidator(5), MaxValueValidator(240)],
    )
    buffer_minutes = models.PositiveSmallIntegerField(
        _("buffer after an appointment (minutes)"), default=5, validators=[MaxValueValidator(120)]
    )
    lead_minutes = models.PositiveIntegerField(
        _("lead time (minutes)"),
        default=60,
        validators=[MaxValueValidator(60 * 24 * 14)],
        help_text=_("How long before its start an appointment can be booked at the latest."),
    )
    horizon_days = models.PositiveSmallIntegerField(
        _("booking horizon (days)"),
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text=_("How far ahead appointments can be booked."),
    )

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["office", "position", "name"]

    def __str__(self) -> str:
        return self.name


class TimeRange(models.Model):
    """Opening and closing time on one local day; a closing time of 00:00 means midnight."""

    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"), help_text=_("00:00 means midnight."))

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        if self.opens is not None and self.closes is not None and not _is_forward(self.opens, self.closes):
            raise ValidationError(
                {"closes": _("The closing time must be after the opening time.")}, code="inverted"
            )


def _is_forward(opens: dt.time, closes: dt.time) -> bool:
    return closes == MIDNIGHT or closes > opens


# A TimeRange's closing time after its opening time (00:00 closing = midnight, so 00:00–00:00
# is the whole day: an office open round the clock needs one interval per day, not two that touch).
FORWARD_RANGE = Q(closes__gt=models.F("opens")) | Q(closes=MIDNIGHT)


class OpeningInterval(TimeRange):
    """One interval of the regular weekly hours; a day may have several."""

    office = models.ForeignKey(
        Office, on_delete=models.CASCADE, related_name="opening_intervals", verbose_name=_("office")
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)

    class Meta:
        verbose_name = _("opening hours")
        verbose_name_plural = _("weekly opening hours")
        ordering = ["office", "weekday", "opens"]
        constraints = [
            models.CheckConstraint(condition=FORWARD_RANGE, name="opening_interval_forward"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class SpecialOpening(TimeRange):
    """Hours on one date that replace the regular hours (also on a holiday or in a closure)."""

    office = models.ForeignKey(
        Office, on_delete=models.CASCADE, related_name="special_openings", verbose_name=_("office")
    )
    date = models.DateField(_("date"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("extra opening")
        verbose_name_plural = _("extra openings")
        ordering = ["office", "date", "opens"]
        constraints = [
            models.CheckConstraint(condition=FORWARD_RANGE, name="special_opening_forward"),
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.opens:%H:%M}–{self.closes:%H:%M}"


class Closure(models.Model):
    """Whole days on which the office is closed (holidays of the team, moves, strikes …)."""

    office = models.ForeignKey(
        Office, on_delete=models.CASCADE, related_name="closures", verbose_name=_("office")
    )
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("closure")
        verbose_name_plural = _("closures")
        ordering = ["office", "starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="closure_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.starts_on:%Y-%m-%d}–{self.ends_on:%Y-%m-%d} {self.reason}".strip()

    def clean(self) -> None:
        super().clean()
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError(
                {"ends_on": _("The last day cannot be before the first day.")}, code="inverted"
            )

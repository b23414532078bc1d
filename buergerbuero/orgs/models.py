from __future__ import annotations

import zoneinfo

from django.db import models
from django.utils.translation import gettext_lazy as _

from buergerbuero.lib.media import RandomName, validate_logo
from buergerbuero.orgs.validators import (
    HEX_COLOUR,
    validate_brand_contrast,
    validate_calling_codes,
    validate_hex_colour,
    validate_language_codes,
    validate_org_slug,
    validate_origins,
    validate_time_zone,
)


class GermanState(models.TextChoices):
    """ISO 3166-2:DE subdivision codes, as the `holidays` package names them."""

    BW = "BW", "Baden-Württemberg"
    BY = "BY", "Bayern"
    BE = "BE", "Berlin"
    BB = "BB", "Brandenburg"
    HB = "HB", "Bremen"
    HH = "HH", "Hamburg"
    HE = "HE", "Hessen"
    MV = "MV", "Mecklenburg-Vorpommern"
    NI = "NI", "Niedersachsen"
    NW = "NW", "Nordrhein-Westfalen"
    RP = "RP", "Rheinland-Pfalz"
    SL = "SL", "Saarland"
    SN = "SN", "Sachsen"
    ST = "ST", "Sachsen-Anhalt"
    SH = "SH", "Schleswig-Holstein"
    TH = "TH", "Thüringen"


class Organization(models.Model):
    """A tenant: a town, district, health fund or counselling service."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(
        _("web address"),
        max_length=60,
        unique=True,
        validators=[validate_org_slug],
        help_text=_("Part of the citizen URL, e.g. “musterstadt” in /musterstadt/."),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Berlin", validators=[validate_time_zone]
    )
    state = models.CharField(
        _("federal state"),
        max_length=2,
        choices=GermanState.choices,
        help_text=_("Determines the public holidays on which offices are closed."),
    )
    languages = models.CharField(
        _("languages offered"),
        max_length=100,
        default="de,en",
        validators=[validate_language_codes],
        help_text=_("Comma-separated language codes, e.g. “de,en”."),
    )
    logo = models.FileField(
        _("logo"),
        upload_to=RandomName("branding"),
        blank=True,
        validators=[validate_logo],
    )
    primary_colour = models.CharField(
        _("primary colour"),
        max_length=7,
        default="#004B87",
        validators=[validate_hex_colour],
        help_text=_("Used for buttons (with white text), links and the page header."),
    )
    publishes_statistics = models.BooleanField(
        _("publish statistics as open data"),
        default=False,
        help_text=_("Daily figures per office (no personal data) in the public read API."),
    )
    embed_origins = models.TextField(
        _("websites that may embed the offices"),
        blank=True,
        validators=[validate_origins],
        help_text=_(
            "One address per line, e.g. https://www.musterstadt.de — only these pages can show the offices."
        ),
    )
    # --- what citizens may cost the organisation (abuse limits) -------------------------
    sms_countries = models.CharField(
        _("countries that receive SMS"),
        max_length=100,
        default="49",
        validators=[validate_calling_codes],
        help_text=_(
            "Comma-separated country calling codes, e.g. “49,43,41”. SMS to other countries are not sent "
            "(protection against SMS fraud); e-mail still works."
        ),
    )
    sms_daily_limit = models.PositiveIntegerField(
        _("SMS per day"),
        default=500,
        help_text=_("At most this many SMS are sent per day for the organisation; beyond it, e-mail only."),
    )
    # --- staff accounts ----------------------------------------------------------------------
    staff_second_factor = models.BooleanField(
        _("second factor for all staff"),
        default=False,
        help_text=_(
            "Agents and office leads must also confirm their login with an authenticator app. "
            "Organisation admins always must."
        ),
    )

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def clean(self) -> None:
        super().clean()
        if self.primary_colour and HEX_COLOUR.match(self.primary_colour):
            validate_brand_contrast(self.primary_colour)

    @property
    def embedding_origins(self) -> list[str]:
        return [line.strip().rstrip("/") for line in self.embed_origins.splitlines() if line.strip()]

    @property
    def sms_calling_codes(self) -> list[str]:
        return [code.strip().lstrip("+") for code in self.sms_countries.split(",") if code.strip()]

    @property
    def language_codes(self) -> list[str]:
        return [code.strip() for code in self.languages.split(",") if code.strip()]

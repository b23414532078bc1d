"""Validation rules for organisations, shared by models and forms."""

from __future__ import annotations

import re
import zoneinfo

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from buergerbuero.lib.contrast import AA_NORMAL_TEXT, contrast_ratio

# First path segments the project itself uses; an organisation slug may not shadow them.
RESERVED_SLUGS = frozenset(
    {
        "a",
        "admin",
        "api",
        "calendar",
        "consultations",
        "embed",
        "embed.js",
        "healthz",
        "i18n",
        "interpret",
        "media",
        "static",
        "staff",
        "w",
        "ws",
    }
)

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def validate_org_slug(value: str) -> None:
    if value.lower() in RESERVED_SLUGS:
        raise ValidationError(
            _("“%(slug)s” is reserved by the system. Please choose another address."),
            code="reserved",
            params={"slug": value},
        )


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("“%(zone)s” is not a known time zone (for example Europe/Berlin)."),
            code="unknown_zone",
            params={"zone": value},
        )


def validate_language_codes(value: str) -> None:
    known = {code for code, _name in settings.LANGUAGES}
    codes = [code.strip() for code in value.split(",") if code.strip()]
    if not codes:
        raise ValidationError(_("Offer at least one language."), code="no_language")
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise ValidationError(
            _("Unknown language code(s): %(codes)s."),
            code="unknown_language",
            params={"codes": ", ".join(unknown)},
        )


def validate_hex_colour(value: str) -> None:
    if not HEX_COLOUR.match(value):
        raise ValidationError(_("Enter the colour as #RRGGBB, for example #004B87."), code="bad_colour")


# Where the brand colour meets: white button text, the white page, the light cards.
BRAND_BACKGROUNDS = {"#ffffff": _("white text on buttons and the page"), "#f3f5f7": _("the light boxes")}


def validate_brand_contrast(value: str) -> None:
    """The brand colour must be readable (WCAG 2.1 AA: 4.5:1) everywhere it is used."""
    for background, where in BRAND_BACKGROUNDS.items():
        ratio = contrast_ratio(value, background)
        if ratio < AA_NORMAL_TEXT:
            raise ValidationError(
                _(
                    "This colour is too light: its contrast with %(where)s is %(ratio)s:1, but "
                    "at least 4.5:1 is needed so that everyone can read it (WCAG 2.1 AA). "
                    "Please choose a darker shade."
                ),
                code="low_contrast",
                params={"where": where, "ratio": formats.number_format(round(ratio, 1), 1, use_l10n=True)},
            )


def validate_origins(value: str) -> None:
    """One web origin per line: scheme, host and optional port, nothing else."""
    for line in value.splitlines():
        origin = line.strip().rstrip("/")
        if origin and not ORIGIN.match(origin):
            raise ValidationError(
                _("“%(origin)s” is not a web address like https://www.example.de (without a path)."),
                code="bad_origin",
                params={"origin": origin},
            )


def validate_calling_codes(value: str) -> None:
    """Country calling codes such as ``49,43``: digits only, each a code ``phonenumbers`` knows."""
    known = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
    for raw in value.split(","):
        code = raw.strip().lstrip("+")
        if not code:
            continue
        if not code.isdigit() or int(code) not in known:
            raise ValidationError(
                _("“%(code)s” is not a country calling code (e.g. 49 for Germany)."), params={"code": raw}
            )

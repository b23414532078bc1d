"""The staff second factor: an authenticator app (TOTP) and single-use recovery codes.

Rules:
- Org admins and the platform operator (superusers, and any admin login without an
  organisation) must confirm every login with a second factor; agents and office leads must
  when their organisation's ``staff_second_factor`` is on. Whoever has set up an app confirms
  with it too, required or not.
- A new app counts only after its first code was accepted (setup is confirmed by a code).
  While a confirmed app exists, no second one can be set up: replacing one means removing
  it first, which needs the password (so a stolen password alone cannot swap the factor).
- Setting up gives 10 recovery codes, shown once; each works once. New codes replace all
  old ones. Only a keyed hash of each code is stored (HMAC with SECRET_KEY, so a copy of the
  database does not yield usable codes, and the codes' 40 bits cannot be searched offline
  without the key); a new SECRET_KEY therefore invalidates the codes, not the app.
- Wrong codes are throttled by django-otp (growing delays per device).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import segno
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from buergerbuero.staff.services import staff_member_of

RECOVERY_CODE_COUNT = 10
APP_NAME = "app"
CODES_NAME = "recovery"

AnyUser = AbstractBaseUser | AnonymousUser


def required(user: AnyUser) -> bool:
    """Whether the organisation's rules demand a second factor of this login."""
    if not user.is_authenticated:
        return False
    if getattr(user, "is_superuser", False):
        return True
    member = staff_member_of(user)
    if member is None:
        return bool(getattr(user, "is_staff", False))
    return member.is_org_admin or member.organization.staff_second_factor


def app_of(user: AnyUser) -> TOTPDevice | None:
    """The confirmed authenticator app, if any."""
    if not user.is_authenticated:
        return None
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).first()


def must_verify(user: AnyUser) -> bool:
    """Whether this login must pass the second factor before anything else."""
    return required(user) or app_of(user) is not None


def pending_app(user: AbstractBaseUser) -> TOTPDevice:
    """The app being set up (unconfirmed), kept across reloads so the QR code stays put."""
    if app_of(user) is not None:
        raise PermissionError("a confirmed app exists; remove it first")
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=APP_NAME, confirmed=False)


@dataclass(frozen=True)
class Enrolment:
    device: TOTPDevice
    recovery_codes: list[str]


@transaction.atomic
def confirm_app(user: AbstractBaseUser, token: str) -> Enrolment | None:
    """Confirm the pending app with its first code; returns it with fresh recovery codes."""
    device = TOTPDevice.objects.select_for_update().filter(user_id=user.pk, confirmed=False).first()
    if device is None or app_of(user) is not None or not device.verify_token(_digits(token)):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return Enrolment(device, new_recovery_codes(user))


@transaction.atomic
def new_recovery_codes(user: AbstractBaseUser) -> list[str]:
    """Ten fresh single-use codes; every older code stops working."""
    device, _ = StaticDevice.objects.get_or_create(
        user_id=user.pk, name=CODES_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=stored_code(code)) for code in codes])
    return codes


def stored_code(code: str) -> str:
    """What is kept of a recovery code: 16 hex digits of its HMAC (django-otp's token column)."""
    digest = hmac.new(settings.SECRET_KEY.encode(), code.lower().encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def remaining_recovery_codes(user: AnyUser) -> int:
    count: int = StaticToken.objects.filter(device__user_id=user.pk, device__confirmed=True).count()
    return count


def verify(user: AbstractBaseUser, token: str) -> TOTPDevice | StaticDevice | None:
    """The device that accepts ``token``: the app's current code or an unused recovery code."""
    token = token.strip().replace(" ", "").replace("-", "").lower()
    if not token or len(token) > 16:
        return None
    with transaction.atomic():
        app = TOTPDevice.objects.select_for_update().filter(user_id=user.pk, confirmed=True).first()
        if app is not None and token.isdigit() and app.verify_token(token):
            return app
        codes = StaticDevice.objects.select_for_update().filter(user_id=user.pk, confirmed=True).first()
        if codes is not None and codes.verify_token(stored_code(token)):
            return codes
    return None


@transaction.atomic
def remove(user: AbstractBaseUser) -> bool:
    """Remove the app and the recovery codes; True when there was something to remove."""
    removed, _ = TOTPDevice.objects.filter(user_id=user.pk).delete()
    removed_codes, _ = StaticDevice.objects.filter(user_id=user.pk).delete()
    return bool(removed or removed_codes)


def secret_text(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it by hand: base32 in groups of four."""
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[index : index + 4] for index in range(0, len(secret), 4))


def qr_svg(device: TOTPDevice, title: str) -> str:
    """The ``otpauth://`` address as an inline SVG QR code (no image request, no script)."""
    qr = segno.make(device.config_url, error="m")
    svg: str = qr.svg_inline(scale=4, border=2, dark="#000", light="#fff", title=title)
    return svg


def _digits(token: str) -> str:
    return token.strip().replace(" ", "")

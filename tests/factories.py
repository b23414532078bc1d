"""Named personas and small builders shared by the tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from buergerbuero.offices.models import Office, OpeningInterval, Service
from buergerbuero.orgs.models import Organization
from buergerbuero.staff import second_factor
from buergerbuero.staff.models import Role, StaffMember

PASSWORD = "correct-horse-battery-staple"


def make_org(slug: str = "testhausen", state: str = "BY", name: str | None = None) -> Organization:
    return Organization.objects.create(slug=slug, name=name or slug.title(), state=state)


def make_office(
    organization: Organization,
    slug: str = "buergerbuero",
    hours: Iterable[tuple[int, str, str]] = (),
    name: str | None = None,
    **fields: Any,
) -> Office:
    office = Office.objects.create(organization=organization, slug=slug, name=name or slug.title(), **fields)
    for weekday, opens, closes in hours:
        OpeningInterval.objects.create(
            office=office,
            weekday=weekday,
            opens=dt.time.fromisoformat(opens),
            closes=dt.time.fromisoformat(closes),
        )
    return office


def make_staff(
    organization: Organization, username: str, role: str = Role.AGENT, offices: Iterable[Office] = ()
) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD)
    member = StaffMember.objects.create(user=user, organization=organization, role=role)
    member.offices.set(list(offices))
    user.refresh_from_db()
    return user


def make_outsider(username: str = "outsider") -> User:
    """A login that belongs to no organisation."""
    return User.objects.create_user(username=username, password=PASSWORD)


def make_service(office: Office, name: str = "Beratung", **booking_rules: Any) -> Service:
    """A bookable service; ``booking_rules`` override slot_minutes, buffer_minutes, lead_minutes …"""
    return Service.objects.create(office=office, name=name, **booking_rules)


# --- logging in -------------------------------------------------------------------------------
def pass_second_factor(client: Client, user: User) -> None:
    """Mark the client's session as having passed the second factor, where the login needs
    one: what a person's browser holds after password *and* code (the persona gets a confirmed
    authenticator app if it has none)."""
    if not second_factor.must_verify(user):
        return
    device = second_factor.app_of(user) or TOTPDevice.objects.create(
        user=user, name=second_factor.APP_NAME, confirmed=True
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def log_in_with_password(client: Client, user: User, password: str = PASSWORD) -> Any:
    """The first step only, through the real login form (throttled, second factor pending)."""
    return client.post(reverse("staff:login"), {"username": user.get_username(), "password": password})

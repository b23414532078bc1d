"""Named personas and small builders shared by the tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User

from buergerbuero.offices.models import Office, OpeningInterval, Service
from buergerbuero.orgs.models import Organization
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

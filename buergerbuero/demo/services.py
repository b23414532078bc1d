"""Loads the demo data; running it again changes nothing."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from buergerbuero.demo.data import DEMO_PASSWORD, DEMO_TOTP_SECRET, ORGANIZATIONS, PLATFORM_SUPERUSER
from buergerbuero.offices.models import Closure, Office, OpeningInterval, Service, SpecialOpening
from buergerbuero.orgs.models import Organization
from buergerbuero.staff import second_factor
from buergerbuero.staff.models import Role, StaffMember


def _time(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def _login(username: str, *, superuser: bool = False) -> User:
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_password(DEMO_PASSWORD)
        user.is_superuser = user.is_staff = superuser
        user.save()
    return user


def demo_app(user: User) -> TOTPDevice:
    """The demo login's authenticator app, with the published key (see ``DEMO_TOTP_SECRET``)."""
    key = base64.b32decode(DEMO_TOTP_SECRET).hex()
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name=second_factor.APP_NAME, defaults={"key": key, "confirmed": True}
    )
    return device


def _sync_office(organization: Organization, position: int, spec: dict[str, Any]) -> Office:
    office, _ = Office.objects.update_or_create(
        organization=organization,
        slug=spec["slug"],
        defaults={
            "name": spec["name"],
            "description": spec["description"],
            "seats": spec["seats"],
            "waiting_room_limit": spec["waiting_room_limit"],
            "position": position,
            "waiting_area_text": spec.get("waiting_area_text", ""),
            "checklist": spec.get("checklist", ""),
        },
    )
    for index, name in enumerate(spec["services"]):
        Service.objects.update_or_create(office=office, name=name, defaults={"position": index})
    office.services.exclude(name__in=spec["services"]).delete()

    wanted = set()
    for weekday, opens, closes in spec["hours"]:
        interval, _ = OpeningInterval.objects.get_or_create(
            office=office, weekday=weekday, opens=_time(opens), closes=_time(closes)
        )
        wanted.add(interval.pk)
    office.opening_intervals.exclude(pk__in=wanted).delete()

    for starts_on, ends_on, reason in spec.get("closures", []):
        Closure.objects.get_or_create(office=office, starts_on=starts_on, ends_on=ends_on, reason=reason)
    for date, opens, closes, note in spec.get("special_openings", []):
        SpecialOpening.objects.get_or_create(
            office=office, date=date, opens=_time(opens), closes=_time(closes), note=note
        )
    return office


@transaction.atomic
def load_demo() -> None:
    demo_app(_login(PLATFORM_SUPERUSER, superuser=True))
    for org_spec in ORGANIZATIONS:
        organization, _ = Organization.objects.update_or_create(
            slug=org_spec["slug"],
            defaults={
                "name": org_spec["name"],
                "state": org_spec["state"],
                "primary_colour": org_spec["primary_colour"],
                "languages": org_spec.get("languages", "de,en"),
                "embed_origins": org_spec.get("embed_origins", ""),
            },
        )
        offices = {
            spec["slug"]: _sync_office(organization, position, spec)
            for position, spec in enumerate(org_spec["offices"])
        }
        for username, display_name, role, office_slugs in org_spec["staff"]:
            member, _ = StaffMember.objects.update_or_create(
                user=_login(username),
                defaults={"organization": organization, "role": role, "display_name": display_name},
            )
            member.offices.set([offices[slug] for slug in office_slugs])
            if role == Role.ORG_ADMIN:
                demo_app(member.user)


def demo_logins() -> list[tuple[str, str, str]]:
    """(user name, role, organisation) for the README and the start banner."""
    rows = [(PLATFORM_SUPERUSER, "superuser", "—")]
    for org_spec in ORGANIZATIONS:
        rows += [(username, role, org_spec["name"]) for username, _name, role, _offices in org_spec["staff"]]
    return rows

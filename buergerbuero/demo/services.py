"""Loads the demo data; running it again changes nothing."""

from __future__ import annotations

import base64
import datetime as dt
import random
import secrets
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from buergerbuero.consult.models import Consultation
from buergerbuero.demo.data import (
    DEMO_PASSWORD,
    DEMO_TOTP_SECRET,
    HISTORY_CONSULTATIONS,
    HISTORY_DAYS,
    ORGANIZATIONS,
    PLATFORM_SUPERUSER,
)
from buergerbuero.demo.events import add_demo_events
from buergerbuero.demo.forms import add_forms
from buergerbuero.demo.statistics import DEMO_ORGANIZATION, add_statistics_history
from buergerbuero.offices.models import Closure, Office, OpeningInterval, Service, SpecialOpening
from buergerbuero.orgs.models import Organization
from buergerbuero.staff import second_factor
from buergerbuero.staff.models import Role, StaffMember
from buergerbuero.waiting.models import Mode, Ticket, TicketStatus


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
            "observes_public_holidays": spec.get("observes_public_holidays", True),
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
        for office in offices.values():
            add_history(office)
        if organization.slug == DEMO_ORGANIZATION:
            add_statistics_history(organization)
            add_demo_events(organization, offices)
            add_forms(offices["buergerbuero"])


def _history_times(
    office: Office, services: list[Service], now: dt.datetime, rng: random.Random
) -> list[tuple[dt.datetime, float, Service | None]]:
    """(start, minutes, service) of consultations one after another in the office's weekly hours of the
    last ``HISTORY_DAYS`` days, the most recent ``HISTORY_CONSULTATIONS`` of them."""
    zone = office.organization.zone
    found: list[tuple[dt.datetime, float, Service | None]] = []
    today = now.astimezone(zone).date()
    for back in range(1, HISTORY_DAYS + 1):
        day = today - dt.timedelta(days=back)
        for interval in office.opening_intervals.filter(weekday=day.weekday()).order_by("opens"):
            start = dt.datetime.combine(day, interval.opens, tzinfo=zone)
            end_day = day + dt.timedelta(days=1) if interval.closes == dt.time(0) else day
            end = dt.datetime.combine(end_day, interval.closes, tzinfo=zone)
            while True:
                # A consultation per service's length, with the usual spread (lognormal).
                service = services[rng.randrange(len(services))] if services else None
                typical = service.slot_minutes if service else 15
                minutes = max(3.0, rng.lognormvariate(0, 0.45) * typical * 0.8)
                start += dt.timedelta(minutes=rng.uniform(1, 12))
                if start + dt.timedelta(minutes=minutes) > end:
                    break
                found.append((start, minutes, service))
                start += dt.timedelta(minutes=minutes)
        if len(found) >= HISTORY_CONSULTATIONS:
            break
    found.sort(key=lambda row: row[0])
    return found[-HISTORY_CONSULTATIONS:]


def add_history(office: Office, now: dt.datetime | None = None) -> int:
    """Finished consultations of the recent past, so that a newcomer sees measured figures and
    wait estimates on the first visit. Added only when the office has no finished consultation
    yet (loading the demo again changes nothing; pruned history comes back on the next load).
    Returns how many were added."""
    now = now or timezone.now()
    if Consultation.objects.filter(office=office, ended_at__isnull=False).exists():
        return 0
    agents = list(StaffMember.objects.filter(offices=office, role=Role.AGENT).order_by("pk"))
    services = list(office.services.order_by("position"))
    rng = random.Random(f"demo-history-{office.organization.slug}-{office.slug}")  # noqa: S311 - demo data
    added = 0
    for start, minutes, service in _history_times(office, services, now, rng):
        ended = start + dt.timedelta(minutes=minutes)
        arrived = start - dt.timedelta(minutes=rng.uniform(0, 15))
        ticket = Ticket.objects.create(
            office=office,
            service=service,
            token=secrets.token_urlsafe(32),
            display_name="",
            language=rng.choice(["de", "de", "de", "en", "tr", "ar", "uk", "ru"]),
            mode=rng.choice([Mode.VIDEO, Mode.VIDEO, Mode.CHAT]),
            status=TicketStatus.DONE,
            arrived_at=arrived,
            queue_key=int(arrived.timestamp() * 1_000_000) * 1000,
            called_at=start,
            admitted_at=start,
            last_seen_at=ended,
            ended_at=ended,
        )
        Consultation.objects.create(
            ticket=ticket,
            office=office,
            agent=agents[added % len(agents)] if agents else None,
            mode=ticket.mode,
            started_at=start,
            ended_at=ended,
        )
        added += 1
    return added


def demo_logins() -> list[tuple[str, str, str]]:
    """(user name, role, organisation) for the README and the start banner."""
    rows = [(PLATFORM_SUPERUSER, "superuser", "—")]
    for org_spec in ORGANIZATIONS:
        rows += [(username, role, org_spec["name"]) for username, _name, role, _offices in org_spec["staff"]]
    return rows

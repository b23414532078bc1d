"""Logins, failed logins, logouts, lockouts and admin changes in the audit log."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from buergerbuero.audit.models import Action, AuditEntry
from buergerbuero.audit.services import pseudonymous_client
from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from tests import factories
from tests.audit.conftest import change_form_data, everything_recorded, the_entry, verified

pytestmark = pytest.mark.django_db
LOGIN = reverse("staff:login")
ADDRESS = "203.0.113.9"


def client_hash(address: str = ADDRESS) -> str:
    from django.test import RequestFactory

    return pseudonymous_client(RequestFactory().get("/", REMOTE_ADDR=address))


def log_in(username: str, password: str) -> Any:
    return Client(REMOTE_ADDR=ADDRESS).post(LOGIN, {"username": username, "password": password})


def test_a_login_is_recorded_with_the_staff_member_and_client(agent: User, org: Organization) -> None:
    assert log_in("agent", factories.PASSWORD).status_code == 302

    entry = the_entry(Action.LOGIN)
    assert (entry.actor, entry.actor_name, entry.organization) == (agent, "agent", org)
    assert entry.client == client_hash()


def test_a_failed_login_keeps_the_typed_name_and_the_client_but_never_the_password(
    agent: User, org: Organization
) -> None:
    log_in("agent", "wrong-Passw0rd-guess")
    log_in("nobody-" + "x" * 143, "another-Secret-guess")  # as long as a login name can be

    known, unknown = AuditEntry.objects.filter(action=Action.LOGIN_FAILED).order_by("pk")
    assert (known.actor, known.actor_name, known.organization, known.client) == (
        None,
        "agent",
        org,
        client_hash(),
    )
    # An unknown name is kept as typed and belongs to no organisation (a longer one is refused
    # by the login form before any login is attempted).
    assert (unknown.actor_name, unknown.organization) == ("nobody-" + "x" * 143, None)
    recorded = everything_recorded()
    assert "wrong-Passw0rd-guess" not in recorded
    assert "another-Secret-guess" not in recorded


def test_a_logout_is_recorded(agent: User, org: Organization) -> None:
    client = Client()
    client.force_login(agent)

    client.post(reverse("staff:logout"))

    entry = the_entry(Action.LOGOUT)
    assert (entry.actor, entry.organization) == (agent, org)


def test_a_lockout_by_axes_is_recorded_with_the_name_and_so_is_each_attempt_while_locked(
    agent: User, org: Organization, settings: Any
) -> None:
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        log_in("agent", "wrong-Passw0rd-guess")

    entry = the_entry(Action.LOCKED_OUT)
    assert (entry.actor_name, entry.organization, entry.client) == ("agent", org, client_hash())
    assert log_in("agent", factories.PASSWORD).status_code != 302  # locked indeed
    assert AuditEntry.objects.filter(action=Action.LOCKED_OUT).count() == 2
    assert not AuditEntry.objects.filter(action=Action.LOGIN).exists()


# --- admin changes ------------------------------------------------------------------------------
def test_an_admin_change_is_recorded_with_field_names_but_not_values(
    office: Office, org_admin: User, org: Organization
) -> None:
    admin = verified(org_admin)
    url = reverse("admin:offices_office_change", args=[office.pk])
    response = admin.post(url, change_form_data(admin, url, name="Bürgerbüro Geheimname Quellenberg"))

    assert response.status_code == 302, response.content[:2000]
    entry = the_entry(Action.ADMIN_CHANGED)
    assert (entry.actor, entry.organization) == (org_admin, org)
    assert entry.target == f"offices.office:{office.pk}"
    assert entry.details["model"] == "offices.office"
    assert entry.details["changed"]  # the field names
    assert "Quellenberg" not in everything_recorded()


def test_an_admin_deletion_is_recorded_without_the_objects_text(
    org: Organization, office: Office, org_admin: User
) -> None:
    doomed = factories.make_office(org, "zweitamt", name="Sprechstunde Zofia Quellenberg")
    admin = verified(org_admin)

    response = admin.post(reverse("admin:offices_office_delete", args=[doomed.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Office.objects.filter(pk=doomed.pk).exists()
    entry = the_entry(Action.ADMIN_DELETED)
    assert (entry.actor, entry.organization, entry.target) == (org_admin, org, f"offices.office:{doomed.pk}")
    assert "Quellenberg" not in everything_recorded()


def test_inline_changes_keep_the_kind_of_object_not_its_text() -> None:
    from buergerbuero.audit.signals import changed_fields

    message = (
        '[{"changed": {"fields": ["Name", "E-Mail"]}},'
        ' {"added": {"name": "appointment", "object": "Zofia Quellenberg, 10:00"}}]'
    )

    assert changed_fields(message) == {"changed": ["Name", "E-Mail"], "added": ["appointment"]}
    assert changed_fields("not json") == {}


def test_deleting_several_objects_at_once_records_each(
    org: Organization, office: Office, org_admin: User
) -> None:
    doomed = [
        factories.make_office(org, f"weg{number}", name=f"Amt Quellenberg {number}") for number in (1, 2)
    ]

    response = verified(org_admin).post(
        reverse("admin:offices_office_changelist"),
        {"action": "delete_selected", "_selected_action": [str(o.pk) for o in doomed], "post": "yes"},
    )

    assert response.status_code == 302
    assert not Office.objects.filter(pk__in=[o.pk for o in doomed]).exists()
    entries = AuditEntry.objects.filter(action=Action.ADMIN_DELETED).order_by("target")
    assert [(e.target, e.actor, e.organization) for e in entries] == [
        (f"offices.office:{o.pk}", org_admin, org)
        for o in sorted(doomed, key=lambda o: f"offices.office:{o.pk}")
    ]
    assert "Quellenberg" not in everything_recorded()

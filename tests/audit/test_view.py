"""The audit log in the admin: org admins read their own organisation's entries only, the
platform operator all; office leads, agents and outsiders see none; nobody edits."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from buergerbuero.audit.models import Action, AuditEntry
from buergerbuero.audit.services import record
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role
from tests import factories
from tests.audit.conftest import logged_in, verified

pytestmark = pytest.mark.django_db
LIST = reverse("admin:audit_auditentry_changelist")


@pytest.fixture
def entries(org: Organization, other_org: Organization, agent: User) -> dict[str, AuditEntry]:
    foreign = factories.make_staff(other_org, "fremd", Role.AGENT)
    made = {
        "own": record(Action.QUEUE_CALL_NEXT, actor=agent, target="ticket:7001"),
        "foreign": record(Action.QUEUE_CALL_NEXT, actor=foreign, target="ticket:7002"),
        "nobodys": record(Action.LOGIN_FAILED, actor_name="unbekannt", target="ticket:7003"),
    }
    assert all(entry is not None for entry in made.values())
    return {name: entry for name, entry in made.items() if entry is not None}


def shown(client: Client) -> list[str]:
    """The targets listed (the viewers' own logins, without a target, left out)."""
    return shown_for(client, "")


def test_an_org_admin_reads_only_their_own_organisations_entries(
    entries: dict[str, AuditEntry], org_admin: User
) -> None:
    assert shown(verified(org_admin)) == ["ticket:7001"]


def test_another_organisations_admin_sees_neither_the_list_nor_a_guessed_entry(
    entries: dict[str, AuditEntry], other_org: Organization
) -> None:
    other_admin = verified(factories.make_staff(other_org, "anderer.admin", Role.ORG_ADMIN))
    assert shown(other_admin) == ["ticket:7002"]

    guessed = other_admin.get(reverse("admin:audit_auditentry_change", args=[entries["own"].pk]), follow=True)
    assert "ticket:7001" not in guessed.content.decode()


def test_the_platform_operator_reads_every_entry(entries: dict[str, AuditEntry]) -> None:
    operator = User.objects.create_superuser("betrieb", password=factories.PASSWORD)

    assert shown(verified(operator)) == ["ticket:7001", "ticket:7002", "ticket:7003"]


@pytest.mark.parametrize("persona", ["office_lead", "agent", "outsider"])
def test_office_leads_agents_and_outsiders_are_refused(
    entries: dict[str, AuditEntry], persona: str, request: pytest.FixtureRequest
) -> None:
    client = logged_in(request.getfixturevalue(persona))

    for url in (LIST, reverse("admin:audit_auditentry_change", args=[entries["own"].pk])):
        response = client.get(url)
        assert response.status_code in (302, 403), (url, response.status_code)
        assert "ticket:7001" not in response.content.decode()


def test_nobody_adds_changes_or_deletes_entries(entries: dict[str, AuditEntry], org_admin: User) -> None:
    admin = verified(org_admin)
    entry = entries["own"]

    assert admin.get(reverse("admin:audit_auditentry_add")).status_code == 403
    assert (
        admin.post(reverse("admin:audit_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code
        == 403
    )
    admin.post(reverse("admin:audit_auditentry_change", args=[entry.pk]), {"target": "ticket:1"})
    entry.refresh_from_db()
    assert entry.target == "ticket:7001"
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_filters_and_search_work_in_german(
    entries: dict[str, AuditEntry], org_admin: User, agent: User
) -> None:
    admin = verified(org_admin)

    page = admin.get(LIST).content.decode()
    assert "Aktionsprotokoll" in page
    assert "Nächste Person aufgerufen" in page
    assert shown_for(admin, f"?action={Action.QUEUE_CALL_NEXT}") == ["ticket:7001"]
    assert shown_for(admin, f"?action={Action.LOGIN}") == []
    assert shown_for(admin, "?q=7001") == ["ticket:7001"]
    assert shown_for(admin, "?q=7002") == []
    assert shown_for(admin, f"?actor__id__exact={agent.pk}") == ["ticket:7001"]


def test_the_staff_filter_lists_only_the_organisations_own_people(
    entries: dict[str, AuditEntry], org_admin: User
) -> None:
    page = verified(org_admin).get(LIST).content.decode()

    assert "agent" in page
    assert "fremd" not in page


def shown_for(client: Client, query: str) -> list[str]:
    response = client.get(LIST + query)
    assert response.status_code == 200
    return sorted(entry.target for entry in response.context["cl"].result_list if entry.target)


def test_every_action_has_a_german_label() -> None:
    from django.utils import translation

    with translation.override("de"):
        german = {value: str(label) for value, label in Action.choices}
    with translation.override("en"):
        english = {value: str(label) for value, label in Action.choices}

    assert [value for value in german if german[value] == english[value]] == []

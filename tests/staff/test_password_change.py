"""Every staff member can change their password at /staff/password/ (linked from the staff
home through "your account"), with the configured validators and an audit entry."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from buergerbuero.audit.models import AuditEntry
from tests import factories

PASSWORD_PAGE = reverse("staff:password_change")
NEW_PASSWORD = "Neues-Pferd-7-Batterie"


def english_client(user: User) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def change(client: Client, old: str, new: str, again: str | None = None) -> str:
    response = client.post(
        PASSWORD_PAGE, {"old_password": old, "new_password1": new, "new_password2": again or new}
    )
    return response.content.decode() if response.status_code == 200 else f"redirect:{response['Location']}"


def test_the_staff_home_leads_to_the_password_page(agent: User) -> None:
    client = english_client(agent)

    home = client.get(reverse("staff:home")).content.decode()
    account = client.get(reverse("staff:security")).content.decode()

    assert reverse("staff:security") in home
    assert PASSWORD_PAGE in account
    assert client.get(PASSWORD_PAGE).status_code == 200


def test_an_agent_changes_the_password_and_stays_logged_in(agent: User) -> None:
    client = english_client(agent)

    assert change(client, factories.PASSWORD, NEW_PASSWORD) == f"redirect:{reverse('staff:security')}"

    assert client.get(reverse("staff:home")).status_code == 200
    agent.refresh_from_db()
    assert agent.check_password(NEW_PASSWORD)
    assert AuditEntry.objects.filter(action="account.password_changed", actor=agent).count() == 1
    fresh = Client()
    assert factories.log_in_with_password(fresh, agent, NEW_PASSWORD).status_code == 302
    assert factories.log_in_with_password(Client(), agent).status_code == 200  # the old one: refused


def test_a_wrong_old_password_or_a_weak_new_one_changes_nothing(agent: User) -> None:
    client = english_client(agent)

    wrong_old = change(client, "not-my-password", NEW_PASSWORD)
    too_short = change(client, factories.PASSWORD, "kurz1")
    too_common = change(client, factories.PASSWORD, "password123")
    mismatch = change(client, factories.PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x")

    assert "Your old password was entered incorrectly" in wrong_old
    assert "too short" in too_short
    assert "too common" in too_common
    assert "didn’t match" in mismatch
    agent.refresh_from_db()
    assert agent.check_password(factories.PASSWORD)
    assert not AuditEntry.objects.filter(action="account.password_changed").exists()


def test_changing_the_password_ends_the_persons_other_sessions(agent: User) -> None:
    laptop, phone = english_client(agent), english_client(agent)

    change(laptop, factories.PASSWORD, NEW_PASSWORD)

    assert phone.get(reverse("staff:home")).status_code == 302

"""Password guessing at the staff login and the admin login is throttled (django-axes).

Limits in the tests are the defaults: 5 failures lock for 15 minutes, per account and per
client address (``LOGIN_FAILURE_LIMIT``, ``LOGIN_COOLOFF_MINUTES``).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests import factories

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

LOGIN = reverse("staff:login")
LOCKED_EN = "Login blocked for now"
ATTACKER = "203.0.113.7"
OFFICE = "198.51.100.20"


def client_from(address: str, language: str = "en") -> Client:
    return Client(REMOTE_ADDR=address, headers={"accept-language": language})


def attempt(client: Client, username: str, password: str) -> Response:
    return client.post(LOGIN, {"username": username, "password": password})


def is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_thirty_wrong_passwords_then_the_right_one_is_still_refused(agent: User) -> None:
    client = client_from(ATTACKER)
    for number in range(30):
        attempt(client, agent.username, f"guess-{number}")

    response = attempt(client, agent.username, factories.PASSWORD)

    assert response.status_code == 429
    assert not is_logged_in(client)
    page = response.content.decode()
    assert LOCKED_EN in page
    assert "15 minutes" in page
    assert "Account locked" not in page  # not axes' bare default text


def test_lockout_page_speaks_german_by_default(agent: User) -> None:
    client = client_from(ATTACKER, language="de")
    for number in range(5):
        attempt(client, agent.username, f"guess-{number}")

    response = attempt(client, agent.username, factories.PASSWORD)

    assert response.status_code == 429
    assert "Anmeldung vorübergehend gesperrt" in response.content.decode()


def test_four_failures_do_not_lock_and_a_success_starts_the_count_anew(agent: User) -> None:
    client = client_from(OFFICE)
    for number in range(4):
        assert attempt(client, agent.username, f"typo-{number}").status_code == 200

    assert attempt(client, agent.username, factories.PASSWORD).status_code == 302
    assert is_logged_in(client)


def test_an_account_is_locked_whatever_address_the_guesses_come_from(agent: User) -> None:
    for number in range(5):
        attempt(client_from(f"203.0.113.{number + 1}"), agent.username, f"guess-{number}")

    owner = client_from(OFFICE)
    response = attempt(owner, agent.username, factories.PASSWORD)

    assert response.status_code == 429
    assert not is_logged_in(owner)


def test_an_address_that_sprays_many_accounts_is_locked(agent: User, office_lead: User) -> None:
    attacker = client_from(ATTACKER)
    for number in range(5):
        attempt(attacker, f"someone-{number}", "Sommer2026!")

    # Even a right password from that address is refused …
    assert attempt(attacker, agent.username, factories.PASSWORD).status_code == 429
    assert not is_logged_in(attacker)
    # … while the account itself is not locked for its owner elsewhere.
    colleague = client_from(OFFICE)
    assert attempt(colleague, office_lead.username, factories.PASSWORD).status_code == 302


def test_a_header_claiming_another_address_does_not_escape_the_lockout(agent: User) -> None:
    for number in range(5):
        spoofed = Client(REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")
        attempt(spoofed, f"someone-{number}", "guess")

    again = Client(REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert attempt(again, agent.username, factories.PASSWORD).status_code == 429


def test_the_lockout_ends_after_the_cool_off(agent: User) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = client_from(ATTACKER)
        for number in range(5):
            attempt(client, agent.username, f"guess-{number}")
        assert attempt(client, agent.username, factories.PASSWORD).status_code == 429

    with time_machine.travel(start + dt.timedelta(minutes=16), tick=False):
        assert attempt(client_from(OFFICE), agent.username, factories.PASSWORD).status_code == 302


def test_admin_login_is_throttled_too(org_admin: User) -> None:
    client = client_from(ATTACKER)
    admin_login = client.get(reverse("admin:login") + "?next=/admin/")
    assert admin_login.status_code == 302
    login_url = admin_login["Location"]
    assert login_url.startswith(LOGIN + "?next=")
    for number in range(30):
        client.post(login_url, {"username": org_admin.username, "password": f"guess-{number}"})

    response = client.post(login_url, {"username": org_admin.username, "password": factories.PASSWORD})

    assert response.status_code == 429
    assert not is_logged_in(client)


def test_posting_a_password_to_the_admins_own_login_logs_nobody_in(org_admin: User) -> None:
    client = client_from(ATTACKER)

    response = client.post(
        reverse("admin:login"), {"username": org_admin.username, "password": factories.PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert not is_logged_in(client)


def test_the_password_change_form_counts_wrong_old_passwords_as_failures(agent: User) -> None:
    client = client_from(ATTACKER)
    client.force_login(agent)
    for number in range(5):
        client.post(
            reverse("staff:password_change"),
            {"old_password": f"guess-{number}", "new_password1": "x", "new_password2": "x"},
        )

    assert attempt(client_from(OFFICE), agent.username, factories.PASSWORD).status_code == 429


def test_an_overlong_name_is_a_field_error_not_a_server_error(agent: User) -> None:
    client = client_from(ATTACKER)
    response = attempt(client, "a" * 300, "wrong")

    assert response.status_code == 200
    assert response.context["form"].errors["username"]
    assert not is_logged_in(client)

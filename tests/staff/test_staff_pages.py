"""The staff area: login at /staff/login/, the home page with the offices served, logout.

Every permission test also proves that a login without an organisation (the *outsider*) is
refused: it gets the 403 "no organisation" page instead of any office.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role
from tests import factories

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

HOME = reverse("staff:home")
LOGIN = reverse("staff:login")
LOGOUT = reverse("staff:logout")
OFFICE_TITLE = re.compile(r'<h3 class="office-card__title"><a href="[^"]*">([^<]*)</a></h3>')


def english_client() -> Client:
    """Texts are checked in English; the site's default language is German."""
    return Client(headers={"accept-language": "en"})


def body(response: Response) -> str:
    return response.content.decode()


def log_in(username: str, password: str = factories.PASSWORD) -> tuple[Client, Response]:
    """Password and, where the login needs one, the second factor (tests/staff/test_second_factor.py
    tests that step itself)."""
    client = english_client()
    response = client.post(LOGIN, {"username": username, "password": password})
    if response.status_code == 302:
        factories.pass_second_factor(client, User.objects.get(username=username))
    return client, response


def office_names_on(response: Response) -> list[str]:
    """The office cards of the staff home, as the page shows them."""
    assert response.status_code == 200, response.status_code
    return OFFICE_TITLE.findall(body(response))


def is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def assert_outsider_refused(outsider: User, *hidden: str) -> None:
    """A login without an organisation gets the 403 "no organisation" page and no office."""
    client, login = log_in(outsider.username)
    assert login.status_code == 302
    response = client.get(HOME)
    assert response.status_code == 403
    assert "staff/no_membership.html" in [template.name for template in response.templates]
    assert "No organisation" in body(response)
    assert OFFICE_TITLE.findall(body(response)) == []
    for text in hidden:
        assert text not in body(response)


@pytest.fixture
def second_office(org: Organization) -> Office:
    """An office of the same organisation that agents and leads do not serve."""
    return factories.make_office(org, "standesamt", name="Standesamt Testhausen")


@pytest.fixture
def foreign_office(other_org: Organization) -> Office:
    return factories.make_office(other_org, "bauamt", name="Bauamt Zwielicht")


# --- login -------------------------------------------------------------------------------------------
def test_login_page_shows_the_staff_login_form(db: None) -> None:
    response = english_client().get(LOGIN)

    assert response.status_code == 200
    assert "staff/login.html" in [template.name for template in response.templates]
    assert 'name="username"' in body(response)
    assert 'name="password"' in body(response)


def test_login_with_test_password_leads_to_staff_home(agent: User, office: Office) -> None:
    client, response = log_in(agent.username)

    assert response.status_code == 302
    assert response["Location"] == HOME
    assert is_logged_in(client)
    home = client.get(HOME)
    assert home.status_code == 200
    assert "Welcome, agent" in body(home)


def test_login_with_wrong_password_shows_an_error_and_does_not_log_in(agent: User) -> None:
    client, response = log_in(agent.username, "wrong-password")

    assert response.status_code == 200
    assert 'role="alert"' in body(response)
    assert "Please enter a correct username and password" in body(response)
    assert [error.code for error in response.context["form"].non_field_errors().as_data()] == [
        "invalid_login"
    ]
    assert not is_logged_in(client)
    redirect = client.get(HOME)
    assert redirect.status_code == 302
    assert redirect["Location"].startswith(LOGIN)


def test_login_with_unknown_user_shows_the_same_error(db: None) -> None:
    client, response = log_in("niemand")

    assert response.status_code == 200
    assert "Please enter a correct username and password" in body(response)
    assert not is_logged_in(client)


def test_login_keeps_a_local_next_url_and_ignores_a_foreign_one(org_admin: User) -> None:
    client = english_client()
    local = client.post(
        f"{LOGIN}?next=/admin/",
        {"username": org_admin.username, "password": factories.PASSWORD, "next": "/admin/"},
    )
    assert local["Location"] == "/admin/"

    client = english_client()
    foreign = client.post(
        LOGIN,
        {"username": org_admin.username, "password": factories.PASSWORD, "next": "https://evil.example/"},
    )
    assert foreign.status_code == 302
    assert foreign["Location"] == HOME


# --- anonymous ---------------------------------------------------------------------------------------
def test_anonymous_staff_home_redirects_to_the_login_page(office: Office) -> None:
    response = english_client().get(HOME)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={HOME}"
    assert office.name not in body(response)


# --- the home page lists the offices served ---------------------------------------------------------
@pytest.mark.parametrize("persona", ["agent", "office_lead"])
def test_home_lists_exactly_the_offices_the_member_serves(
    request: pytest.FixtureRequest,
    office: Office,
    second_office: Office,
    foreign_office: Office,
    outsider: User,
    persona: str,
) -> None:
    user: User = request.getfixturevalue(persona)
    client, _ = log_in(user.username)

    response = client.get(HOME)

    assert office_names_on(response) == [office.name]
    assert [item.office for item in response.context["overviews"]] == [office]
    assert second_office.name not in body(response)
    assert foreign_office.name not in body(response)
    assert_outsider_refused(outsider, office.name, second_office.name, foreign_office.name)


def test_home_lists_every_office_served_also_several(
    org: Organization, office: Office, second_office: Office, foreign_office: Office, outsider: User
) -> None:
    factories.make_staff(org, "doppelt", Role.AGENT, [office, second_office])
    client, _ = log_in("doppelt")

    response = client.get(HOME)

    assert sorted(office_names_on(response)) == sorted([office.name, second_office.name])
    assert foreign_office.name not in body(response)
    assert_outsider_refused(outsider, office.name, second_office.name)


def test_home_of_org_admin_lists_all_offices_of_own_organisation_and_none_of_the_other(
    org_admin: User,
    org: Organization,
    other_org: Organization,
    office: Office,
    second_office: Office,
    foreign_office: Office,
    outsider: User,
) -> None:
    client, _ = log_in(org_admin.username)

    response = client.get(HOME)

    # The org admin serves no office explicitly but sees every office of the organisation.
    assert sorted(office_names_on(response)) == sorted([office.name, second_office.name])
    assert foreign_office.name not in body(response)
    assert other_org.name not in body(response)
    assert org.name in body(response)
    assert_outsider_refused(outsider, office.name, second_office.name, foreign_office.name)


def test_home_of_member_without_offices_says_so(
    org: Organization, foreign_office: Office, outsider: User
) -> None:
    factories.make_staff(org, "neuling", Role.AGENT)
    client, _ = log_in("neuling")

    response = client.get(HOME)

    assert office_names_on(response) == []
    assert "You are not assigned to any office yet" in body(response)
    assert foreign_office.name not in body(response)
    assert_outsider_refused(outsider, foreign_office.name)


@pytest.mark.parametrize(
    ("persona", "shows_admin_link"), [("agent", False), ("office_lead", True), ("org_admin", True)]
)
def test_home_links_to_the_admin_only_for_roles_that_use_it(
    request: pytest.FixtureRequest, office: Office, outsider: User, persona: str, shows_admin_link: bool
) -> None:
    user: User = request.getfixturevalue(persona)
    client, _ = log_in(user.username)

    response = client.get(HOME)

    assert (f'href="{reverse("admin:index")}"' in body(response)) is shows_admin_link
    assert_outsider_refused(outsider)


def test_outsider_gets_the_no_organisation_page(office: Office, outsider: User) -> None:
    client, login = log_in(outsider.username)

    assert login.status_code == 302
    response = client.get(HOME)

    assert response.status_code == 403
    assert "No organisation" in body(response)
    assert "not linked to any organisation" in body(response)
    assert office.name not in body(response)


# --- logout ------------------------------------------------------------------------------------------
def test_logout_by_post_ends_the_session(agent: User) -> None:
    client, _ = log_in(agent.username)
    assert client.get(HOME).status_code == 200

    response = client.post(LOGOUT)

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert not is_logged_in(client)
    after = client.get(HOME)
    assert after.status_code == 302
    assert after["Location"].startswith(LOGIN)


def test_logout_by_get_is_refused_and_keeps_the_session(agent: User) -> None:
    client, _ = log_in(agent.username)

    response = client.get(LOGOUT)

    assert response.status_code == 405
    assert is_logged_in(client)
    assert client.get(HOME).status_code == 200


def test_home_offers_a_logout_form_that_posts(agent: User) -> None:
    client, _ = log_in(agent.username)

    response = client.get(HOME)

    assert f'<form method="post" action="{LOGOUT}">' in body(response)
    assert "csrfmiddlewaretoken" in body(response)


def test_logout_form_is_protected_against_cross_site_requests(agent: User) -> None:
    client = Client(enforce_csrf_checks=True, headers={"accept-language": "en"})
    client.force_login(agent)

    response = client.post(LOGOUT)

    assert response.status_code == 403
    assert is_logged_in(client)

"""The Django admin is scoped per organisation: nothing of another tenant can be seen or changed.

Each test drives the real admin through the test client, the way a browser would: change forms
are read from the page first (see :func:`form_data`), so the posted data is exactly what the
admin offers, with one value changed. Every permission test also proves that a login without an
organisation (the *outsider*) is refused.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember
from tests import factories

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

FormData = dict[str, list[str]]

NEW_PASSWORD = "another-Horse-7-battery"
DOES_NOT_EXIST = "doesn’t exist. Perhaps it was deleted?"
NOT_AUTHORIZED = "but that login may not open this page"


# --- reading admin forms ---------------------------------------------------------------------
class _FormFields(HTMLParser):
    """Collects what a browser would submit from the form with the given id (no file uploads)."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.in_form = False
        self.found = False
        self.data: FormData = {}
        self._select: str | None = None
        self._select_multiple = False
        self._select_options: list[tuple[str, bool]] = []
        self._option_value: str | None = None
        self._option_selected = False
        self._option_text = ""
        self._textarea: str | None = None
        self._textarea_text = ""

    def _add(self, name: str | None, value: str) -> None:
        if name and "__prefix__" not in name:  # skip the inline templates for "add another"
            self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "form" and attr.get("id") == self.form_id:
            self.in_form = self.found = True
            return
        if not self.in_form:
            return
        name = attr.get("name")
        if tag == "input":
            kind = (attr.get("type") or "text").lower()
            if kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"}:
                if "checked" in attr:
                    self._add(name, attr.get("value") or "on")
                return
            self._add(name, attr.get("value") or "")
        elif tag == "select":
            self._select = name
            self._select_multiple = "multiple" in attr
            self._select_options = []
        elif tag == "option" and self._select is not None:
            self._close_option()
            self._option_value = attr.get("value")
            self._option_selected = "selected" in attr
            self._option_text = ""
        elif tag == "textarea":
            self._textarea = name
            self._textarea_text = ""

    def _close_option(self) -> None:
        if self._option_value is not None or self._option_text:
            value = self._option_value if self._option_value is not None else self._option_text.strip()
            self._select_options.append((value, self._option_selected))
        self._option_value = None
        self._option_text = ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea_text += data
        elif self._select is not None and self._option_value is not None:
            self._option_text += data

    def handle_endtag(self, tag: str) -> None:
        if not self.in_form:
            return
        if tag == "form":
            self.in_form = False
        elif tag == "option":
            self._close_option()
        elif tag == "select" and self._select is not None:
            self._close_option()
            chosen = [value for value, selected in self._select_options if selected]
            if not chosen and not self._select_multiple and self._select_options:
                chosen = [self._select_options[0][0]]
            for value in chosen:
                self._add(self._select, value)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            # A browser drops the one newline that directly follows <textarea>.
            self._add(self._textarea, self._textarea_text.removeprefix("\n"))
            self._textarea = None


def form_data(response: Response, form_id: str) -> FormData:
    """The data a browser would post from the admin form ``form_id`` of ``response``."""
    assert response.status_code == 200, response.status_code
    parser = _FormFields(form_id)
    parser.feed(response.content.decode())
    parser.close()
    assert parser.found, f"no form with id {form_id!r} on the page"
    return parser.data


def body(response: Response) -> str:
    return response.content.decode()


def admin_url(name: str, *args: object) -> str:
    return reverse(f"admin:{name}", args=args)


def english_client(user: User | None = None) -> Client:
    """Admin messages are checked in English; the site's default language is German."""
    client = Client(headers={"accept-language": "en"})
    if user is not None:
        client.force_login(user)
    return client


def changelist_objects(response: Response) -> list[Model]:
    assert response.status_code == 200, response.status_code
    assert response.context is not None
    return list(response.context["cl"].result_list)


def assert_redirected_to_index_with_not_found(client: Client, response: Response, *hidden: str) -> None:
    """What the admin does for an id outside the visible queryset: back to the index, no data.
    Where the role may not delete at all (organisations), a plain 403 is as good."""
    if response.status_code == 403:
        for text in hidden:
            assert text not in body(response)
        return
    assert response.status_code == 302
    assert response["Location"] == admin_url("index")
    index = client.get(response["Location"])
    assert index.status_code == 200
    assert DOES_NOT_EXIST in body(index)
    for text in hidden:
        assert text not in body(index)
        assert text not in body(response)


def assert_outsider_refused(outsider: User, url: str, data: FormData | None = None) -> None:
    """A login without an organisation is sent to the admin login (which is the staff login,
    with its throttling and second factor), whatever it asks for."""
    client = english_client(outsider)
    response = client.get(url) if data is None else client.post(url, data)
    assert response.status_code == 302, (url, response.status_code)
    assert response["Location"].startswith(admin_url("login") + "?next=")
    admin_login = client.get(response["Location"])
    assert admin_login.status_code == 302
    assert admin_login["Location"].startswith(reverse("staff:login") + "?next=")
    login_page = client.get(admin_login["Location"])
    assert login_page.status_code == 200
    assert NOT_AUTHORIZED in body(login_page)


# --- the other organisation and a few more objects ------------------------------------------------
@pytest.fixture
def b_office(other_org: Organization) -> Office:
    return factories.make_office(other_org, "bauamt", hours=[(0, "09:00", "12:00")], name="Bauamt Zwielicht")


@pytest.fixture
def b_admin(other_org: Organization) -> User:
    user = factories.make_staff(other_org, "berta-fremd", Role.ORG_ADMIN)
    user.first_name = "Berta"
    user.last_name = "Fremdmann"
    user.save()
    return user


@pytest.fixture
def second_office(org: Organization) -> Office:
    """An office of org A that the office lead does not serve."""
    return factories.make_office(org, "standesamt", name="Standesamt Testhausen")


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser("betrieb", password=factories.PASSWORD)


@pytest.fixture
def org_admin_client(org_admin: User) -> Client:
    return english_client(org_admin)


@pytest.fixture
def lead_client(office_lead: User) -> Client:
    return english_client(office_lead)


# --- org admin: changelists ---------------------------------------------------------------------
def test_org_admin_office_changelist_lists_only_own_organisations_offices(
    org_admin_client: Client, office: Office, second_office: Office, b_office: Office, outsider: User
) -> None:
    url = admin_url("offices_office_changelist")
    response = org_admin_client.get(url)

    assert set(changelist_objects(response)) == {office, second_office}
    assert b_office.name not in body(response)
    assert_outsider_refused(outsider, url)


def test_org_admin_organisation_changelist_lists_only_own_organisation(
    org_admin_client: Client, org: Organization, other_org: Organization, outsider: User
) -> None:
    url = admin_url("orgs_organization_changelist")
    response = org_admin_client.get(url)

    assert changelist_objects(response) == [org]
    assert other_org.name not in body(response)
    assert_outsider_refused(outsider, url)


def test_org_admin_user_changelist_lists_only_logins_of_own_organisation(
    org_admin_client: Client,
    org_admin: User,
    agent: User,
    office_lead: User,
    b_admin: User,
    superuser: User,
    outsider: User,
) -> None:
    url = admin_url("auth_user_changelist")
    response = org_admin_client.get(url)

    assert set(changelist_objects(response)) == {org_admin, agent, office_lead}
    for hidden in (b_admin.username, b_admin.last_name, superuser.username, outsider.username):
        assert hidden not in body(response)
    assert_outsider_refused(outsider, url)


@pytest.mark.parametrize("parameter", ["q", "organization__id__exact", "organization"])
def test_org_admin_cannot_find_other_organisations_offices_by_search_or_filter_parameters(
    org_admin_client: Client,
    org: Organization,
    office: Office,
    b_office: Office,
    other_org: Organization,
    outsider: User,
    parameter: str,
) -> None:
    url = admin_url("offices_office_changelist")
    own_value, foreign_value = (
        (office.name, b_office.name) if parameter == "q" else (str(org.pk), str(other_org.pk))
    )

    response = org_admin_client.get(url, {parameter: foreign_value})

    assert changelist_objects(response) == []
    assert other_org.name not in body(response)
    # The parameter is honoured (it finds the admin's own office), it just never reaches B.
    assert changelist_objects(org_admin_client.get(url, {parameter: own_value})) == [office]
    assert_outsider_refused(outsider, f"{url}?{urlencode({parameter: foreign_value})}")


def test_org_admin_user_search_does_not_find_logins_of_other_organisation(
    org_admin_client: Client, b_admin: User, outsider: User
) -> None:
    url = admin_url("auth_user_changelist")
    response = org_admin_client.get(url, {"q": "berta"})

    assert changelist_objects(response) == []
    assert b_admin.username not in body(response)
    assert_outsider_refused(outsider, url)


# --- org admin: guessing ids of the other organisation -----------------------------------------------
@pytest.mark.parametrize("view", ["change", "delete", "history"])
@pytest.mark.parametrize("kind", ["office", "organization", "user"])
def test_org_admin_guessing_ids_of_other_organisation_in_admin_urls_reveals_nothing(
    org_admin_client: Client,
    b_office: Office,
    other_org: Organization,
    b_admin: User,
    outsider: User,
    kind: str,
    view: str,
) -> None:
    target: Model
    hidden: tuple[str, ...]
    if kind == "office":
        target, url_name, hidden = b_office, "offices_office", (b_office.name, b_office.slug)
    elif kind == "organization":
        target, url_name, hidden = other_org, "orgs_organization", (other_org.name,)
    else:
        target, url_name, hidden = b_admin, "auth_user", (b_admin.username, b_admin.last_name)
    url = admin_url(f"{url_name}_{view}", target.pk)

    response = org_admin_client.get(url)

    assert_redirected_to_index_with_not_found(org_admin_client, response, *hidden)
    assert_outsider_refused(outsider, url)


def test_org_admin_cannot_open_or_set_password_of_other_organisations_login(
    org_admin_client: Client, b_admin: User, outsider: User
) -> None:
    url = admin_url("auth_user_password_change", b_admin.pk)
    data = {"password1": [NEW_PASSWORD], "password2": [NEW_PASSWORD], "usable_password": ["true"]}

    assert org_admin_client.get(url).status_code == 404
    response = org_admin_client.post(url, data)

    assert response.status_code == 404
    assert b_admin.username not in body(response)
    b_admin.refresh_from_db()
    assert b_admin.check_password(factories.PASSWORD)
    assert_outsider_refused(outsider, url, data)
    b_admin.refresh_from_db()
    assert b_admin.check_password(factories.PASSWORD)


def test_org_admin_renaming_other_organisations_office_by_post_changes_nothing(
    org_admin_client: Client, office: Office, b_office: Office, outsider: User
) -> None:
    # A valid change form (read from the admin's own office), renamed, posted to B's office.
    data = form_data(org_admin_client.get(admin_url("offices_office_change", office.pk)), "office_form")
    data["name"] = ["Übernommen"]
    data["slug"] = ["uebernommen"]
    data["seats"] = ["99"]
    b_url = admin_url("offices_office_change", b_office.pk)

    response = org_admin_client.post(b_url, data)

    assert_redirected_to_index_with_not_found(org_admin_client, response, b_office.name)
    assert_outsider_refused(outsider, b_url, data)
    fresh = Office.objects.get(pk=b_office.pk)
    assert (fresh.name, fresh.slug, fresh.seats, fresh.organization_id) == (
        b_office.name,
        b_office.slug,
        b_office.seats,
        b_office.organization_id,
    )
    # The same data posted to the admin's own office is accepted: the form itself was valid.
    own = org_admin_client.post(admin_url("offices_office_change", office.pk), data)
    assert own.status_code == 302
    assert Office.objects.get(pk=office.pk).name == "Übernommen"


def test_org_admin_renaming_other_organisation_by_post_changes_nothing(
    org_admin_client: Client, org: Organization, other_org: Organization, outsider: User
) -> None:
    data = form_data(org_admin_client.get(admin_url("orgs_organization_change", org.pk)), "organization_form")
    data["name"] = ["Übernommene Verwaltung"]
    data["slug"] = ["uebernommen"]
    data["primary_colour"] = ["#8b0000"]
    b_url = admin_url("orgs_organization_change", other_org.pk)

    response = org_admin_client.post(b_url, data)

    assert_redirected_to_index_with_not_found(org_admin_client, response, other_org.name)
    assert_outsider_refused(outsider, b_url, data)
    fresh = Organization.objects.get(pk=other_org.pk)
    assert (fresh.name, fresh.slug, fresh.primary_colour) == (
        other_org.name,
        other_org.slug,
        other_org.primary_colour,
    )
    own = org_admin_client.post(admin_url("orgs_organization_change", org.pk), data)
    assert own.status_code == 302
    assert Organization.objects.get(pk=org.pk).name == "Übernommene Verwaltung"


@pytest.mark.parametrize("kind", ["office", "organization", "user"])
def test_org_admin_delete_post_for_other_organisations_object_deletes_nothing(
    org_admin_client: Client,
    b_office: Office,
    other_org: Organization,
    b_admin: User,
    outsider: User,
    kind: str,
) -> None:
    target: Model = {"office": b_office, "organization": other_org, "user": b_admin}[kind]
    url_name = {"office": "offices_office", "organization": "orgs_organization", "user": "auth_user"}[kind]
    url = admin_url(f"{url_name}_delete", target.pk)

    response = org_admin_client.post(url, {"post": "yes"})

    assert_redirected_to_index_with_not_found(org_admin_client, response, str(target))
    assert_outsider_refused(outsider, url, {"post": ["yes"]})
    assert type(target)._default_manager.filter(pk=target.pk).exists()
    assert Office.objects.filter(pk=b_office.pk).exists()
    assert StaffMember.objects.filter(user=b_admin).exists()


def test_org_admin_can_delete_own_office_but_the_same_post_spares_other_organisations_office(
    org_admin_client: Client, office: Office, second_office: Office, b_office: Office, outsider: User
) -> None:
    """Positive control for the delete test above: the post itself is what the admin accepts."""
    assert_outsider_refused(outsider, admin_url("offices_office_delete", office.pk), {"post": ["yes"]})
    assert Office.objects.filter(pk=office.pk).exists()

    response = org_admin_client.post(admin_url("offices_office_delete", second_office.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Office.objects.filter(pk=second_office.pk).exists()
    assert Office.objects.filter(pk=b_office.pk).exists()


@pytest.mark.parametrize("kind", ["office", "user"])
def test_org_admin_bulk_delete_action_with_other_organisations_ids_deletes_nothing(
    org_admin_client: Client,
    second_office: Office,
    b_office: Office,
    agent: User,
    b_admin: User,
    outsider: User,
    kind: str,
) -> None:
    own: Model
    foreign: Model
    if kind == "office":
        url, own, foreign = admin_url("offices_office_changelist"), second_office, b_office
    else:
        url, own, foreign = admin_url("auth_user_changelist"), agent, b_admin
    data = {"action": ["delete_selected"], "_selected_action": [str(foreign.pk)], "post": ["yes"]}

    response = org_admin_client.post(url, data)

    assert response.status_code in {200, 302}
    assert str(foreign) not in body(response)
    assert type(foreign)._default_manager.filter(pk=foreign.pk).exists()
    assert_outsider_refused(outsider, url, data)
    assert type(foreign)._default_manager.filter(pk=foreign.pk).exists()
    # The same action with an own id does delete: the request itself was well-formed.
    data["_selected_action"] = [str(own.pk)]
    org_admin_client.post(url, data)
    assert not type(own)._default_manager.filter(pk=own.pk).exists()
    assert type(foreign)._default_manager.filter(pk=foreign.pk).exists()


# --- org admin: creating and moving offices ----------------------------------------------------------
def test_org_admin_creates_office_in_own_organisation_without_an_organisation_field(
    org_admin_client: Client, org: Organization, other_org: Organization, outsider: User
) -> None:
    url = admin_url("offices_office_add")
    page = org_admin_client.get(url)
    data = form_data(page, "office_form")
    assert "organization" not in data
    assert other_org.name not in body(page)
    data.update(name=["Ordnungsamt"], slug=["ordnungsamt"], organization=[str(other_org.pk)])

    response = org_admin_client.post(url, data)

    assert response.status_code == 302
    created = Office.objects.get(slug="ordnungsamt")
    assert created.organization == org
    assert not other_org.offices.exists()
    assert_outsider_refused(outsider, url, {**data, "slug": ["ordnungsamt-2"]})
    assert not Office.objects.filter(slug="ordnungsamt-2").exists()


def test_org_admin_cannot_move_own_office_to_other_organisation(
    org_admin_client: Client, org: Organization, office: Office, other_org: Organization, outsider: User
) -> None:
    url = admin_url("offices_office_change", office.pk)
    data = form_data(org_admin_client.get(url), "office_form")
    data["organization"] = [str(other_org.pk)]
    data["name"] = ["Bürgerbüro Mitte"]

    response = org_admin_client.post(url, data)

    assert response.status_code == 302
    office.refresh_from_db()
    assert (office.name, office.organization) == ("Bürgerbüro Mitte", org)
    assert_outsider_refused(outsider, url, {**data, "name": ["Fremd"]})
    office.refresh_from_db()
    assert (office.name, office.organization) == ("Bürgerbüro Mitte", org)


# --- org admin: the user admin and its staff-member inline ----------------------------------------
def _fill_new_login(data: FormData, username: str) -> None:
    data["username"] = [username]
    data["password1"] = [NEW_PASSWORD]
    data["password2"] = [NEW_PASSWORD]


def test_org_admin_user_pages_offer_only_own_offices_and_no_organisation_field(
    org_admin_client: Client,
    agent: User,
    office: Office,
    second_office: Office,
    b_office: Office,
    outsider: User,
) -> None:
    for url, form_id in (
        (admin_url("auth_user_add"), "user_form"),
        (admin_url("auth_user_change", agent.pk), "user_form"),
    ):
        page = org_admin_client.get(url)
        data = form_data(page, form_id)
        assert "staff_member-0-role" in data
        assert not any(name.endswith("organization") for name in data)
        offices_field = page.context["inline_admin_formsets"][0].formset.forms[0].fields["offices"]
        assert set(offices_field.queryset) == {office, second_office}
        assert b_office.name not in body(page)
        assert_outsider_refused(outsider, url)


@pytest.mark.parametrize("page", ["add", "change"])
def test_org_admin_cannot_assign_other_organisations_office_in_staff_inline(
    org_admin_client: Client,
    org: Organization,
    agent: User,
    office: Office,
    second_office: Office,
    b_office: Office,
    outsider: User,
    page: str,
) -> None:
    if page == "add":
        url = admin_url("auth_user_add")
        data = form_data(org_admin_client.get(url), "user_form")
        _fill_new_login(data, "neu")
    else:
        url = admin_url("auth_user_change", agent.pk)
        data = form_data(org_admin_client.get(url), "user_form")
    assert "staff_member-0-role" in data
    data["staff_member-0-offices"] = [str(b_office.pk)]

    response = org_admin_client.post(url, data)

    assert response.status_code == 200  # the form again, with the error
    errors = response.context["inline_admin_formsets"][0].formset.errors
    assert errors[0]["offices"][0].startswith("Select a valid choice.")
    assert f"{b_office.pk} is not one of the available choices" in errors[0]["offices"][0]
    assert not b_office.staff.exists()
    assert not User.objects.filter(username="neu").exists()
    assert list(StaffMember.objects.get(user=agent).offices.all()) == [office]
    assert_outsider_refused(outsider, url, data)
    assert not b_office.staff.exists()

    # Positive control: the same post with an office of the admin's own organisation is saved.
    data["staff_member-0-offices"] = [str(second_office.pk)]
    saved = org_admin_client.post(url, data)
    assert saved.status_code == 302
    member = StaffMember.objects.get(user__username="neu" if page == "add" else agent.username)
    assert member.organization == org
    assert list(member.offices.all()) == [second_office]


def test_org_admin_new_staff_member_joins_own_organisation_even_if_another_is_posted(
    org_admin_client: Client, org: Organization, other_org: Organization, office: Office, outsider: User
) -> None:
    url = admin_url("auth_user_add")
    data = form_data(org_admin_client.get(url), "user_form")
    _fill_new_login(data, "neu")
    data["staff_member-0-role"] = [Role.ORG_ADMIN]
    data["staff_member-0-offices"] = [str(office.pk)]
    data["staff_member-0-organization"] = [str(other_org.pk)]

    response = org_admin_client.post(url, data)

    assert response.status_code == 302
    member = StaffMember.objects.get(user__username="neu")
    assert (member.organization, member.role) == (org, Role.ORG_ADMIN)
    assert not other_org.staff.exists()
    assert_outsider_refused(outsider, url, {**data, "username": ["neu2"]})
    assert not User.objects.filter(username="neu2").exists()


def test_org_admin_cannot_edit_other_organisations_staff_member_through_inline_id(
    org_admin_client: Client, agent: User, b_admin: User, b_office: Office, outsider: User
) -> None:
    url = admin_url("auth_user_change", agent.pk)
    data = form_data(org_admin_client.get(url), "user_form")
    b_member = StaffMember.objects.get(user=b_admin)
    data["staff_member-0-id"] = [str(b_member.pk)]
    data["staff_member-0-display_name"] = ["Gekapert"]
    data["staff_member-0-role"] = [Role.AGENT]

    response = org_admin_client.post(url, data)

    assert response.status_code == 200  # the form again: B's member is not this user's to edit
    assert response.context["inline_admin_formsets"][0].formset.errors[0]
    b_member.refresh_from_db()
    assert (b_member.display_name, b_member.role) == ("", Role.ORG_ADMIN)
    assert_outsider_refused(outsider, url, data)
    b_member.refresh_from_db()
    assert (b_member.display_name, b_member.role) == ("", Role.ORG_ADMIN)


@pytest.mark.parametrize("page", ["add", "change"])
def test_org_admin_cannot_make_a_login_superuser_or_staff(
    org_admin_client: Client, agent: User, office: Office, outsider: User, page: str
) -> None:
    if page == "add":
        url = admin_url("auth_user_add")
        data = form_data(org_admin_client.get(url), "user_form")
        _fill_new_login(data, "neu")
        data["staff_member-0-offices"] = [str(office.pk)]
    else:
        url = admin_url("auth_user_change", agent.pk)
        data = form_data(org_admin_client.get(url), "user_form")
        data["first_name"] = ["Anna"]
    page_html = body(org_admin_client.get(url))
    for flag in ("is_superuser", "is_staff", "groups", "user_permissions"):
        assert flag not in data
        assert f'name="{flag}"' not in page_html
    data["is_superuser"] = ["on"]
    data["is_staff"] = ["on"]

    response = org_admin_client.post(url, data)

    assert response.status_code == 302  # saved …
    user = User.objects.get(username="neu" if page == "add" else agent.username)
    assert page == "add" or user.first_name == "Anna"
    assert not user.is_superuser  # … without the flags
    assert not user.is_staff  # an agent has no admin access
    assert_outsider_refused(outsider, admin_url("auth_user_change", user.pk), data)
    user.refresh_from_db()
    assert not user.is_superuser


def test_org_admin_changing_a_role_grants_or_withdraws_admin_access(
    org_admin_client: Client, agent: User, office_lead: User, outsider: User
) -> None:
    for user, new_role, admin_access in ((office_lead, Role.AGENT, False), (agent, Role.OFFICE_LEAD, True)):
        url = admin_url("auth_user_change", user.pk)
        data = form_data(org_admin_client.get(url), "user_form")
        data["staff_member-0-role"] = [new_role]

        assert org_admin_client.post(url, data).status_code == 302

        user.refresh_from_db()
        assert user.staff_member.role == new_role
        assert user.is_staff is admin_access
        assert not user.is_superuser
        index = english_client(user).get(admin_url("index"))
        assert index.status_code == (200 if admin_access else 302)
        assert_outsider_refused(outsider, url, data)


def test_org_admin_may_reuse_a_web_address_that_only_the_other_organisation_uses(
    org_admin_client: Client, org: Organization, b_office: Office, outsider: User
) -> None:
    """Slugs are unique per organisation; B's slugs are no oracle for A's admin."""
    url = admin_url("offices_office_add")
    data = form_data(org_admin_client.get(url), "office_form")
    data.update(name=["Bauamt"], slug=[b_office.slug])

    response = org_admin_client.post(url, data)

    assert response.status_code == 302
    assert Office.objects.get(organization=org, slug=b_office.slug).name == "Bauamt"
    assert Office.objects.get(pk=b_office.pk).name == b_office.name
    assert_outsider_refused(outsider, url, data)


def test_org_admin_cannot_take_over_a_superuser_who_is_member_of_their_organisation(
    org_admin_client: Client, org: Organization, other_org: Organization, outsider: User
) -> None:
    platform = User.objects.create_superuser("plattform", password=factories.PASSWORD)
    StaffMember.objects.create(user=platform, organization=org, role=Role.ORG_ADMIN)
    url = admin_url("auth_user_password_change", platform.pk)
    assert_outsider_refused(outsider, url)

    org_admin_client.post(
        url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    )

    platform.refresh_from_db()
    assert platform.check_password(factories.PASSWORD), "the org admin set the superuser's password"


# --- office lead ------------------------------------------------------------------------------------
def test_office_lead_office_changelist_lists_only_the_offices_they_serve(
    lead_client: Client, office: Office, second_office: Office, b_office: Office, outsider: User
) -> None:
    url = admin_url("offices_office_changelist")
    response = lead_client.get(url)

    assert changelist_objects(response) == [office]
    assert second_office.name not in body(response)
    assert b_office.name not in body(response)
    assert_outsider_refused(outsider, url)


def test_office_lead_can_change_an_office_they_serve(
    lead_client: Client, office: Office, outsider: User
) -> None:
    url = admin_url("offices_office_change", office.pk)
    data = form_data(lead_client.get(url), "office_form")
    assert "organization" not in data
    data["name"] = ["Bürgerbüro Nord"]

    response = lead_client.post(url, data)

    assert response.status_code == 302
    assert Office.objects.get(pk=office.pk).name == "Bürgerbüro Nord"
    assert_outsider_refused(outsider, url, {**data, "name": ["Fremd"]})
    assert Office.objects.get(pk=office.pk).name == "Bürgerbüro Nord"


@pytest.mark.parametrize("which", ["unserved-own-org", "other-org"])
def test_office_lead_cannot_see_or_change_an_office_they_do_not_serve(
    lead_client: Client, office: Office, second_office: Office, b_office: Office, outsider: User, which: str
) -> None:
    target = second_office if which == "unserved-own-org" else b_office
    data = form_data(lead_client.get(admin_url("offices_office_change", office.pk)), "office_form")
    data["name"] = ["Übernommen"]
    url = admin_url("offices_office_change", target.pk)

    assert_redirected_to_index_with_not_found(lead_client, lead_client.get(url), target.name)
    history = lead_client.get(admin_url("offices_office_history", target.pk))
    assert_redirected_to_index_with_not_found(lead_client, history, target.name)
    assert_redirected_to_index_with_not_found(lead_client, lead_client.post(url, data), target.name)

    assert Office.objects.get(pk=target.pk).name == target.name
    assert_outsider_refused(outsider, url, data)
    assert Office.objects.get(pk=target.pk).name == target.name


def test_office_lead_cannot_add_or_delete_offices(
    lead_client: Client, org: Organization, office: Office, outsider: User
) -> None:
    add_url = admin_url("offices_office_add")
    delete_url = admin_url("offices_office_delete", office.pk)
    changelist_url = admin_url("offices_office_changelist")
    data = {"name": ["Neues Amt"], "slug": ["neues-amt"], "seats": ["1"], "waiting_room_limit": ["30"]}

    assert lead_client.get(add_url).status_code == 403
    assert lead_client.post(add_url, data).status_code == 403
    assert lead_client.get(delete_url).status_code == 403
    assert lead_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert 'value="delete_selected"' not in body(lead_client.get(changelist_url))
    lead_client.post(
        changelist_url, {"action": "delete_selected", "_selected_action": [str(office.pk)], "post": "yes"}
    )

    assert Office.objects.filter(pk=office.pk).exists()
    assert not Office.objects.filter(slug="neues-amt").exists()
    for url, post in ((add_url, data), (delete_url, {"post": ["yes"]})):
        assert_outsider_refused(outsider, url, post)
    assert Office.objects.filter(pk=office.pk).exists()
    assert not Office.objects.filter(slug="neues-amt").exists()


def test_office_lead_cannot_see_users_or_the_organisation_admin(
    lead_client: Client, org: Organization, office_lead: User, org_admin: User, outsider: User
) -> None:
    urls = [
        admin_url("auth_user_changelist"),
        admin_url("auth_user_add"),
        admin_url("auth_user_change", org_admin.pk),
        admin_url("auth_user_change", office_lead.pk),
        admin_url("auth_user_delete", org_admin.pk),
        admin_url("auth_user_password_change", org_admin.pk),
        admin_url("orgs_organization_changelist"),
        admin_url("orgs_organization_add"),
    ]
    for url in urls:
        assert lead_client.get(url).status_code == 403, url
        assert_outsider_refused(outsider, url)

    index = lead_client.get(admin_url("index"))
    assert index.status_code == 200
    models = {model["object_name"] for app in index.context["app_list"] for model in app["models"]}
    # Office leads arrange their offices: hours, their staff's appointment times, their forms.
    assert models == {"Office", "WorkingTime", "Absence", "Appointment", "Notification", "FormTemplate"}
    assert org_admin.username not in body(index)
    assert org.name not in body(index)


@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_office_lead_is_forbidden_the_pages_of_own_organisation(
    lead_client: Client, org: Organization, outsider: User, view: str
) -> None:
    url = admin_url(f"orgs_organization_{view}", org.pk)
    assert_outsider_refused(outsider, url)

    assert lead_client.get(url).status_code == 403


def test_other_organisation_stays_hidden_and_unchanged_whatever_the_organisation_admin_answers(
    org_admin: User, office_lead: User, org: Organization, other_org: Organization, outsider: User
) -> None:
    """Whatever the organisation admin answers (page, redirect, 403 or even an error),
    organisation B is never shown nor changed."""
    data = {
        "name": ["Übernommen"],
        "slug": ["uebernommen"],
        "time_zone": ["Europe/Berlin"],
        "state": ["BY"],
        "languages": ["de"],
        "primary_colour": ["#ff0000"],
        "post": ["yes"],
    }
    for user in (org_admin, office_lead):
        client = english_client(user)
        client.raise_request_exception = False
        for view in ("change", "delete", "history"):
            url = admin_url(f"orgs_organization_{view}", other_org.pk)
            for response in (client.get(url, follow=True), client.post(url, data, follow=True)):
                assert other_org.name not in body(response), (user, url)
                assert other_org.slug not in body(response), (user, url)
            assert_outsider_refused(outsider, url, data)
    fresh = Organization.objects.get(pk=other_org.pk)
    assert (fresh.name, fresh.slug, fresh.primary_colour) == (
        other_org.name,
        other_org.slug,
        other_org.primary_colour,
    )
    assert Organization.objects.count() == 2


# --- agent, outsider, superuser ------------------------------------------------------------------------
def _admin_login(client: Client, username: str) -> Response:
    """Logging in from the admin: its login page leads to the staff login, next= kept."""
    login_url = admin_url("login")
    redirect = client.get(f"{login_url}?next={admin_url('index')}")
    assert redirect.status_code == 302
    return client.post(redirect["Location"], {"username": username, "password": factories.PASSWORD})


@pytest.mark.parametrize("persona", ["agent", "outsider"])
def test_login_without_admin_role_is_refused_by_the_admin(
    request: pytest.FixtureRequest, office: Office, outsider: User, persona: str
) -> None:
    user: User = request.getfixturevalue(persona)
    assert not user.is_staff
    assert not user.is_superuser

    client = english_client()
    response = _admin_login(client, user.username)
    # The staff login lets them in, but the admin sends them back to its login.
    assert response.status_code == 302
    assert response["Location"] == admin_url("index")
    for url in (
        admin_url("index"),
        admin_url("offices_office_changelist"),
        admin_url("offices_office_change", office.pk),
        admin_url("auth_user_changelist"),
    ):
        refused = client.get(url)
        assert refused.status_code == 302, url
        assert refused["Location"].startswith(admin_url("login") + "?next=")
    assert office.name not in body(client.get(admin_url("index"), follow=True))
    # Nor can they change anything by posting to the admin directly.
    renamed = client.post(admin_url("offices_office_change", office.pk), {"name": "Umbenannt"})
    assert renamed.status_code == 302
    assert renamed["Location"].startswith(admin_url("login") + "?next=")
    assert Office.objects.get(pk=office.pk).name == office.name
    assert_outsider_refused(outsider, admin_url("index"))


def test_outsider_gets_no_organisation_page_at_staff_home(outsider: User) -> None:
    client = english_client()
    factories.log_in_with_password(client, outsider)

    response = client.get(reverse("staff:home"))

    assert response.status_code == 403
    assert "staff/no_membership.html" in [template.name for template in response.templates]
    assert "No organisation" in body(response)
    assert_outsider_refused(outsider, admin_url("index"))


def test_org_admin_and_office_lead_may_log_in_to_the_admin(
    org_admin: User, office_lead: User, outsider: User
) -> None:
    for user in (org_admin, office_lead):
        assert user.is_staff
        client = english_client()
        response = _admin_login(client, user.username)
        assert response.status_code == 302
        assert response["Location"] == admin_url("index")
        if user == org_admin:  # org admins confirm with the second factor first
            refused = client.get(admin_url("index"))
            assert refused.status_code == 302
            assert refused["Location"].startswith(reverse("staff:setup"))
            factories.pass_second_factor(client, user)
        assert client.get(admin_url("index")).status_code == 200
    assert_outsider_refused(outsider, admin_url("index"))


def test_superuser_sees_both_organisations(
    superuser: User,
    org: Organization,
    other_org: Organization,
    office: Office,
    b_office: Office,
    org_admin: User,
    b_admin: User,
    outsider: User,
) -> None:
    client = english_client(superuser)

    offices = changelist_objects(client.get(admin_url("offices_office_changelist")))
    organisations = changelist_objects(client.get(admin_url("orgs_organization_changelist")))
    users = changelist_objects(client.get(admin_url("auth_user_changelist")))

    assert set(offices) == {office, b_office}
    assert set(organisations) == {org, other_org}
    assert {org_admin, b_admin, superuser, outsider} <= set(users)
    for target, url_name in (
        (b_office, "offices_office"),
        (other_org, "orgs_organization"),
        (b_admin, "auth_user"),
    ):
        page = client.get(admin_url(f"{url_name}_change", target.pk))
        assert page.status_code == 200
        assert str(target) in body(page)
        assert_outsider_refused(outsider, admin_url(f"{url_name}_change", target.pk))

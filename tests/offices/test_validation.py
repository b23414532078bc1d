"""Bad input is refused with a clear message and nothing is saved.

Model rules are checked with ``full_clean`` (what every form runs) and, where the database has
a constraint too, by writing the row directly. The admin rules (overlapping intervals, office
web addresses) are driven through the real Django admin change view as a superuser.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.fields.files import FieldFile
from django.test import Client
from django.urls import reverse
from django.utils.translation import override

from buergerbuero.offices.models import Closure, Office, OpeningInterval, SpecialOpening
from buergerbuero.offices.services import OpeningCalendar
from buergerbuero.orgs.models import GermanState, Organization
from tests import factories

SLUG_CLASH = "This organisation already has an office with this web address."


# The waiting-room settings every new office form carries (their defaults).
WAITING_DEFAULTS = {
    "admission_mode": "queue",
    "call_confirm_seconds": 60,
    "hold_place_seconds": 300,
    "statistics_suppress_below": 0,
}


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Messages are compared with their English msgids (the project default language is German)."""
    with override("en"):
        yield


def interval(office: Office, weekday: int, opens: str, closes: str) -> OpeningInterval:
    return OpeningInterval(
        office=office,
        weekday=weekday,
        opens=dt.time.fromisoformat(opens),
        closes=dt.time.fromisoformat(closes),
    )


def messages_of(error: ValidationError, field: str) -> list[str]:
    return list(error.message_dict.get(field, []))


def valid_org(**fields: Any) -> Organization:
    values: dict[str, Any] = {"name": "Stadt Prüfhausen", "slug": "pruefhausen", "state": "BY"}
    values.update(fields)
    return Organization(**values)


# --- opening intervals ----------------------------------------------------------------------
@pytest.mark.django_db
class TestIntervalModel:
    def test_inverted_interval_is_refused_on_the_closing_time(self, office: Office) -> None:
        with pytest.raises(ValidationError) as caught:
            interval(office, 0, "16:00", "08:00").full_clean()

        assert messages_of(caught.value, "closes") == ["The closing time must be after the opening time."]

    def test_empty_interval_is_refused(self, office: Office) -> None:
        with pytest.raises(ValidationError) as caught:
            interval(office, 0, "08:00", "08:00").full_clean()

        assert "closes" in caught.value.message_dict

    def test_midnight_to_midnight_is_the_whole_day(self, office: Office) -> None:
        whole_day = interval(office, 6, "00:00", "00:00")

        whole_day.full_clean()
        whole_day.save()  # the database's check agrees

        sunday = dt.date(2026, 6, 21)
        start = dt.datetime.combine(sunday, dt.time(0, 0), tzinfo=office.organization.zone)
        calendar = OpeningCalendar(office)
        assert calendar.status(start + dt.timedelta(hours=3)).is_open
        assert calendar.status(start + dt.timedelta(hours=23, minutes=59)).is_open

    def test_closing_at_00_00_is_accepted_as_midnight(self, office: Office) -> None:
        late = interval(office, 5, "20:00", "00:00")

        late.full_clean()
        late.save()

        assert OpeningInterval.objects.filter(office=office, weekday=5, closes=dt.time(0, 0)).count() == 1

    def test_inverted_extra_opening_is_refused(self, office: Office) -> None:
        special = SpecialOpening(
            office=office, date=dt.date(2026, 6, 20), opens=dt.time(13), closes=dt.time(10)
        )

        with pytest.raises(ValidationError) as caught:
            special.full_clean()

        assert messages_of(caught.value, "closes") == ["The closing time must be after the opening time."]

    def test_database_refuses_an_inverted_interval(self, office: Office) -> None:
        before = OpeningInterval.objects.count()

        with pytest.raises(IntegrityError), transaction.atomic():
            interval(office, 0, "16:00", "08:00").save()

        assert OpeningInterval.objects.count() == before

    def test_database_accepts_an_interval_until_midnight(self, office: Office) -> None:
        interval(office, 5, "20:00", "00:00").save()

        assert OpeningInterval.objects.filter(office=office, weekday=5).exists()


# --- closures -------------------------------------------------------------------------------
@pytest.mark.django_db
class TestClosureModel:
    def test_last_day_before_first_day_is_refused(self, office: Office) -> None:
        closure = Closure(
            office=office, starts_on=dt.date(2026, 7, 10), ends_on=dt.date(2026, 7, 6), reason="Umzug"
        )

        with pytest.raises(ValidationError) as caught:
            closure.full_clean()

        assert messages_of(caught.value, "ends_on") == ["The last day cannot be before the first day."]

    def test_one_day_closure_is_accepted(self, office: Office) -> None:
        Closure(office=office, starts_on=dt.date(2026, 7, 6), ends_on=dt.date(2026, 7, 6)).full_clean()

    def test_database_refuses_a_closure_ending_before_it_starts(self, office: Office) -> None:
        with pytest.raises(IntegrityError), transaction.atomic():
            Closure.objects.create(office=office, starts_on=dt.date(2026, 7, 10), ends_on=dt.date(2026, 7, 6))

        assert not Closure.objects.filter(office=office).exists()


# --- organisations --------------------------------------------------------------------------
@pytest.mark.django_db
class TestOrganizationModel:
    def test_valid_organisation_passes(self) -> None:
        valid_org().full_clean()

    def test_unknown_state_code_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            valid_org(state="XX").full_clean()

        assert messages_of(caught.value, "state") == ["Value 'XX' is not a valid choice."]

    def test_every_german_state_is_accepted(self) -> None:
        assert len(GermanState.values) == 16
        for code in GermanState.values:
            valid_org(state=code).full_clean()

    @pytest.mark.parametrize("slug", ["admin", "staff", "Admin", "static"])
    def test_reserved_slug_is_refused(self, slug: str) -> None:
        with pytest.raises(ValidationError) as caught:
            valid_org(slug=slug).full_clean()

        assert messages_of(caught.value, "slug") == [
            f"“{slug}” is reserved by the system. Please choose another address."
        ]

    def test_bad_colour_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            valid_org(primary_colour="#12345").full_clean()

        assert messages_of(caught.value, "primary_colour") == [
            "Enter the colour as #RRGGBB, for example #004B87."
        ]

    def test_unknown_language_code_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            valid_org(languages="de,xx").full_clean()

        assert messages_of(caught.value, "languages") == ["Unknown language code(s): xx."]

    def test_empty_language_list_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            valid_org(languages=" , ").full_clean()

        assert messages_of(caught.value, "languages") == ["Offer at least one language."]

    def test_unknown_time_zone_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            valid_org(time_zone="Europe/Atlantis").full_clean()

        assert messages_of(caught.value, "time_zone") == [
            "“Europe/Atlantis” is not a known time zone (for example Europe/Berlin)."
        ]


# --- the admin ------------------------------------------------------------------------------
@pytest.fixture
def admin_client_en(db: None) -> Client:
    """A superuser in the admin, speaking English (the messages below are the English msgids)."""
    superuser = User.objects.create_superuser("root", "root@example.org", factories.PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(superuser)
    return client


@pytest.fixture
def org_admin_client_en(org_admin: User) -> Client:
    """An organisation admin of ``org`` in the admin (the organisation is implied, not on the form)."""
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(org_admin)
    return client


def empty_inlines() -> dict[str, Any]:
    data: dict[str, Any] = {}
    for prefix in ("services", "opening_intervals", "special_openings", "closures"):
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    return data


def change_url(office: Office) -> str:
    return reverse("admin:offices_office_change", args=[office.pk])


def change_form_data(client: Client, office: Office) -> dict[str, Any]:
    """The office change form as the admin renders it: main fields plus every inline formset
    with its management form, taken from the GET response (prefixes are not hard-coded)."""
    response = client.get(change_url(office))
    assert response.status_code == 200
    data: dict[str, Any] = {}

    def add(form: Any) -> None:
        for name in form.fields:
            value = form[name].value()
            if value is None or (isinstance(value, FieldFile) and not value):  # no file uploaded
                continue
            if isinstance(value, bool):
                if value:
                    data[form.add_prefix(name)] = "on"
                continue
            data[form.add_prefix(name)] = value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        for form in formset.initial_forms:
            add(form)
    return data


def add_interval_rows(data: dict[str, Any], rows: list[tuple[int, str, str]]) -> None:
    prefix = "opening_intervals"
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    for offset, (weekday, opens, closes) in enumerate(rows):
        index = total + offset
        data[f"{prefix}-{index}-weekday"] = weekday
        data[f"{prefix}-{index}-opens"] = opens
        data[f"{prefix}-{index}-closes"] = closes
    data[f"{prefix}-TOTAL_FORMS"] = total + len(rows)


def hours_of(office: Office) -> list[tuple[int, dt.time, dt.time]]:
    return list(
        OpeningInterval.objects.filter(office=office)
        .order_by("weekday", "opens")
        .values_list("weekday", "opens", "closes")
    )


@pytest.mark.django_db
class TestAdminChangeFormHelper:
    def test_change_page_has_the_expected_inline_prefixes(
        self, admin_client_en: Client, office: Office
    ) -> None:
        response = admin_client_en.get(change_url(office))
        prefixes = {inline.formset.prefix for inline in response.context["inline_admin_formsets"]}

        assert prefixes == {"services", "opening_intervals", "special_openings", "closures"}
        assert b'name="opening_intervals-TOTAL_FORMS"' in response.content

    def test_unchanged_form_saves_without_errors(self, admin_client_en: Client, office: Office) -> None:
        before = hours_of(office)

        response = admin_client_en.post(change_url(office), change_form_data(admin_client_en, office))

        assert response.status_code == 302
        assert hours_of(office) == before


@pytest.mark.django_db
class TestAdminOpeningIntervals:
    @pytest.mark.parametrize(
        ("new_row", "message"),
        [
            (
                (0, "12:00", "18:00"),
                "The intervals 8 a.m.–4 p.m. and noon–6 p.m. overlap or touch. Merge them into one.",
            ),
            (
                (0, "16:00", "18:00"),
                "The intervals 8 a.m.–4 p.m. and 4 p.m.–6 p.m. overlap or touch. Merge them into one.",
            ),
            (
                (0, "06:00", "08:00"),
                "The intervals 6 a.m.–8 a.m. and 8 a.m.–4 p.m. overlap or touch. Merge them into one.",
            ),
        ],
        ids=["overlapping", "touching-at-the-end", "touching-at-the-start"],
    )
    def test_overlapping_or_touching_intervals_on_one_weekday_are_refused(
        self, admin_client_en: Client, office: Office, new_row: tuple[int, str, str], message: str
    ) -> None:
        before = hours_of(office)
        data = change_form_data(admin_client_en, office)
        add_interval_rows(data, [new_row])

        response = admin_client_en.post(change_url(office), data)

        assert response.status_code == 200  # the form is shown again
        assert message in response.content.decode()
        assert hours_of(office) == before

    def test_two_new_overlapping_intervals_are_refused(
        self, admin_client_en: Client, org: Organization
    ) -> None:
        office = factories.make_office(org, "leer")
        data = change_form_data(admin_client_en, office)
        add_interval_rows(data, [(5, "09:00", "12:00"), (5, "11:00", "13:00")])

        response = admin_client_en.post(change_url(office), data)

        assert "overlap or touch" in response.content.decode()
        assert hours_of(office) == []

    def test_interval_until_midnight_overlapping_a_late_one_is_refused(
        self, admin_client_en: Client, office: Office
    ) -> None:
        data = change_form_data(admin_client_en, office)
        add_interval_rows(data, [(4, "18:00", "00:00"), (4, "22:00", "23:00")])

        response = admin_client_en.post(change_url(office), data)

        assert "overlap or touch" in response.content.decode()
        assert not OpeningInterval.objects.filter(office=office, weekday=4, opens=dt.time(18)).exists()

    def test_inverted_interval_is_refused_in_the_admin(self, admin_client_en: Client, office: Office) -> None:
        before = hours_of(office)
        data = change_form_data(admin_client_en, office)
        add_interval_rows(data, [(5, "16:00", "08:00")])

        response = admin_client_en.post(change_url(office), data)

        assert response.status_code == 200
        assert "The closing time must be after the opening time." in response.content.decode()
        assert hours_of(office) == before

    def test_same_hours_on_different_weekdays_are_fine(
        self, admin_client_en: Client, org: Organization
    ) -> None:
        office = factories.make_office(org, "leer")
        data = change_form_data(admin_client_en, office)
        add_interval_rows(data, [(day, "08:00", "16:00") for day in range(5)])

        response = admin_client_en.post(change_url(office), data)

        assert response.status_code == 302
        assert hours_of(office) == [(day, dt.time(8), dt.time(16)) for day in range(5)]

    def test_two_separate_intervals_on_one_weekday_are_fine(
        self, admin_client_en: Client, office: Office
    ) -> None:
        data = change_form_data(admin_client_en, office)
        add_interval_rows(data, [(5, "08:00", "12:00"), (5, "13:00", "16:00")])

        response = admin_client_en.post(change_url(office), data)

        assert response.status_code == 302
        assert hours_of(office)[-2:] == [(5, dt.time(8), dt.time(12)), (5, dt.time(13), dt.time(16))]

    def test_midnight_interval_and_early_morning_next_day_are_fine(
        self, admin_client_en: Client, org: Organization
    ) -> None:
        office = factories.make_office(org, "leer")
        data = change_form_data(admin_client_en, office)
        add_interval_rows(data, [(4, "20:00", "00:00"), (5, "00:00", "02:00")])

        response = admin_client_en.post(change_url(office), data)

        assert response.status_code == 302
        assert hours_of(office) == [(4, dt.time(20), dt.time(0)), (5, dt.time(0), dt.time(2))]

    def test_overlapping_extra_openings_on_one_date_are_refused(
        self, admin_client_en: Client, office: Office
    ) -> None:
        data = change_form_data(admin_client_en, office)
        total = int(data["special_openings-TOTAL_FORMS"])
        for index, (opens, closes) in enumerate([("09:00", "12:00"), ("11:00", "14:00")], start=total):
            data[f"special_openings-{index}-date"] = "2026-06-20"
            data[f"special_openings-{index}-opens"] = opens
            data[f"special_openings-{index}-closes"] = closes
        data["special_openings-TOTAL_FORMS"] = total + 2

        response = admin_client_en.post(change_url(office), data)

        assert "overlap or touch" in response.content.decode()
        assert not SpecialOpening.objects.filter(office=office).exists()

    def test_inverted_closure_is_refused_in_the_admin(self, admin_client_en: Client, office: Office) -> None:
        data = change_form_data(admin_client_en, office)
        index = int(data["closures-TOTAL_FORMS"])
        data[f"closures-{index}-starts_on"] = "2026-07-10"
        data[f"closures-{index}-ends_on"] = "2026-07-06"
        data["closures-TOTAL_FORMS"] = index + 1

        response = admin_client_en.post(change_url(office), data)

        assert response.status_code == 200
        assert "The last day cannot be before the first day." in response.content.decode()
        assert not Closure.objects.filter(office=office).exists()


@pytest.mark.django_db
class TestAdminOfficeAddress:
    def test_office_address_clash_in_one_organisation_is_refused(
        self, admin_client_en: Client, org: Organization, office: Office
    ) -> None:
        second = factories.make_office(org, "gewerbeamt", name="Gewerbeamt")
        data = change_form_data(admin_client_en, second)
        data["slug"] = office.slug

        response = admin_client_en.post(change_url(second), data)

        assert response.status_code == 200
        assert SLUG_CLASH in response.content.decode()
        second.refresh_from_db()
        assert second.slug == "gewerbeamt"

    def test_moving_an_office_into_an_organisation_with_that_address_is_refused(
        self, admin_client_en: Client, office: Office, other_org: Organization
    ) -> None:
        factories.make_office(other_org, "buergerbuero")
        data = change_form_data(admin_client_en, office)
        data["organization"] = other_org.pk

        response = admin_client_en.post(change_url(office), data)

        assert SLUG_CLASH in response.content.decode()
        office.refresh_from_db()
        assert office.organization_id != other_org.pk

    def test_same_address_in_another_organisation_is_allowed(
        self, admin_client_en: Client, office: Office, other_org: Organization
    ) -> None:
        elsewhere = factories.make_office(other_org, "kfz-stelle")
        data = change_form_data(admin_client_en, elsewhere)
        data["slug"] = office.slug

        response = admin_client_en.post(change_url(elsewhere), data)

        assert response.status_code == 302
        elsewhere.refresh_from_db()
        assert elsewhere.slug == office.slug
        assert Office.objects.filter(slug=office.slug).count() == 2

    def test_adding_an_office_with_a_taken_address_is_refused(
        self, admin_client_en: Client, org: Organization, office: Office
    ) -> None:
        data: dict[str, Any] = {
            "organization": org.pk,
            "name": "Noch ein Bürgerbüro",
            "slug": office.slug,
            "seats": 1,
            "waiting_room_limit": 30,
            **WAITING_DEFAULTS,
            "observes_public_holidays": "on",
            "position": 0,
            **empty_inlines(),
        }

        response = admin_client_en.post(reverse("admin:offices_office_add"), data)

        assert response.status_code == 200
        assert SLUG_CLASH in response.content.decode()
        assert Office.objects.filter(organization=org, slug=office.slug).count() == 1

    def test_org_admin_adding_an_office_with_a_taken_address_is_refused(
        self, org_admin_client_en: Client, org: Organization, office: Office
    ) -> None:
        data = {
            "name": "Noch ein Bürgerbüro",
            "slug": office.slug,
            "seats": 1,
            "waiting_room_limit": 30,
            **WAITING_DEFAULTS,
        }
        data.update({"position": 0, **empty_inlines()})

        response = org_admin_client_en.post(reverse("admin:offices_office_add"), data)

        assert response.status_code == 200
        assert SLUG_CLASH in response.content.decode()
        assert Office.objects.filter(organization=org).count() == 1

    def test_org_admin_may_reuse_an_address_of_another_organisation(
        self, org_admin_client_en: Client, org: Organization, other_org: Organization
    ) -> None:
        factories.make_office(other_org, "kfz-stelle")
        data = {
            "name": "Kfz-Stelle",
            "slug": "kfz-stelle",
            "seats": 1,
            "waiting_room_limit": 30,
            **WAITING_DEFAULTS,
        }
        data.update({"position": 0, **empty_inlines()})

        response = org_admin_client_en.post(reverse("admin:offices_office_add"), data)

        assert response.status_code == 302
        assert Office.objects.get(organization=org, slug="kfz-stelle").name == "Kfz-Stelle"

    def test_org_admin_renaming_an_office_to_a_taken_address_is_refused(
        self, org_admin_client_en: Client, org: Organization, office: Office
    ) -> None:
        second = factories.make_office(org, "gewerbeamt", name="Gewerbeamt")
        data = change_form_data(org_admin_client_en, second)
        assert "organization" not in data
        data["slug"] = office.slug

        response = org_admin_client_en.post(change_url(second), data)

        assert SLUG_CLASH in response.content.decode()
        second.refresh_from_db()
        assert second.slug == "gewerbeamt"

    def test_database_refuses_a_duplicate_address_in_one_organisation(
        self, org: Organization, office: Office
    ) -> None:
        with pytest.raises(IntegrityError), transaction.atomic():
            Office.objects.create(organization=org, slug=office.slug, name="Doppelt")

        assert Office.objects.filter(organization=org, slug=office.slug).count() == 1

    def test_model_validation_names_the_address_clash(self, org: Organization, office: Office) -> None:
        with pytest.raises(ValidationError) as caught:
            Office(organization=org, slug=office.slug, name="Doppelt").full_clean()

        assert SLUG_CLASH in caught.value.messages

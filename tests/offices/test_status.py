"""The status of an office at one moment, and the short line citizens read about it.

Every ``now`` is an aware datetime in Europe/Berlin on a fixed date. The week used for the
ordinary cases is 15–21 June 2026 (Monday to Sunday, no public holiday in Bavaria).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils.translation import gettext, override

from buergerbuero.offices.models import Closure, Office, SpecialOpening
from buergerbuero.offices.services import OfficeStatus, OpeningCalendar, status_label
from buergerbuero.orgs.models import Organization
from tests import factories

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
WEEKDAYS_8_TO_16 = [(day, "08:00", "16:00") for day in range(5)]
SUNDAY = 6


def berlin(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, *, fold: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=BERLIN, fold=fold)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def status_at(office: Office, now: dt.datetime) -> OfficeStatus:
    return OpeningCalendar(office).status(now)


def label_at(office: Office, now: dt.datetime, language: str) -> str:
    """The status line in ``language``; the status itself is computed in that language too
    (holiday names are translated when the status is computed)."""
    with override(language):
        calendar = OpeningCalendar(office)
        return status_label(calendar.status(now), calendar.zone)


def test_german_catalogue_is_compiled() -> None:
    with override("de"):
        assert gettext("open until %(time)s") == "geöffnet bis %(time)s"


@pytest.fixture
def nrw_office(other_org: Organization) -> Office:
    """Same hours as ``office`` (Monday–Friday 08:00–16:00), but in North Rhine-Westphalia."""
    return factories.make_office(other_org, "buergerbuero", hours=WEEKDAYS_8_TO_16, name="Bürgerbüro")


@pytest.fixture
def night_office(org: Organization) -> Office:
    """Open Friday 20:00 until Saturday 02:00, entered as two intervals meeting at midnight."""
    return factories.make_office(org, "nachtschalter", hours=[(4, "20:00", "00:00"), (5, "00:00", "02:00")])


@pytest.fixture
def sunday_night_office(org: Organization) -> Office:
    """Open on Sundays 01:00–05:00 local time: spans both DST changes of 2026."""
    return factories.make_office(org, "nachtdienst", hours=[(SUNDAY, "01:00", "05:00")])


@pytest.mark.django_db
class TestRegularWeek:
    def test_open_office_reports_closing_time(self, office: Office) -> None:
        status = status_at(office, berlin(2026, 6, 15, 10, 0))

        assert status.is_open
        assert status.closes_at == berlin(2026, 6, 15, 16, 0)
        assert status.opens_at is None
        assert status.closed_reason == ""
        assert not status.closing_soon
        assert label_at(office, berlin(2026, 6, 15, 10, 0), "en") == "open until 4 p.m."

    def test_open_at_the_opening_minute(self, office: Office) -> None:
        status = status_at(office, berlin(2026, 6, 15, 8, 0))

        assert status.is_open
        assert status.closes_at == berlin(2026, 6, 15, 16, 0)

    def test_closed_at_the_closing_minute(self, office: Office) -> None:
        status = status_at(office, berlin(2026, 6, 15, 16, 0))

        assert not status.is_open
        assert status.opens_at == berlin(2026, 6, 16, 8, 0)

    def test_five_minutes_before_closing_is_closing_soon(self, office: Office) -> None:
        now = berlin(2026, 6, 15, 15, 55)
        status = status_at(office, now)

        assert status.is_open
        assert status.closing_soon
        assert status.minutes_until_close == 5
        assert label_at(office, now, "en") == "closes in 5 minutes"

    def test_last_partial_minute_is_rounded_up_to_one_minute(self, office: Office) -> None:
        now = berlin(2026, 6, 15, 15, 59, 30)
        status = status_at(office, now)

        assert status.minutes_until_close == 1
        assert label_at(office, now, "en") == "closes in 1 minute"

    def test_closing_soon_starts_fifteen_minutes_before_closing(self, office: Office) -> None:
        assert not status_at(office, berlin(2026, 6, 15, 15, 44, 59)).closing_soon
        assert status_at(office, berlin(2026, 6, 15, 15, 45)).closing_soon

    def test_before_opening_says_opens_today(self, office: Office) -> None:
        now = berlin(2026, 6, 15, 7, 0)
        status = status_at(office, now)

        assert not status.is_open
        assert status.opens_at == berlin(2026, 6, 15, 8, 0)
        assert label_at(office, now, "en") == "closed — opens today at 8 a.m."

    def test_after_closing_on_a_weekday_opens_tomorrow(self, office: Office) -> None:
        now = berlin(2026, 6, 15, 17, 0)
        status = status_at(office, now)

        assert not status.is_open
        assert status.closes_at is None
        assert status.opens_at == berlin(2026, 6, 16, 8, 0)
        assert status.closed_reason == ""
        assert label_at(office, now, "en") == "closed — opens tomorrow at 8 a.m."

    def test_friday_evening_opens_on_monday(self, office: Office) -> None:
        now = berlin(2026, 6, 19, 18, 0)
        status = status_at(office, now)

        assert not status.is_open
        assert status.opens_at == berlin(2026, 6, 22, 8, 0)
        # An ordinary weekend is no "reason": the office simply has no hours then.
        assert status.closed_reason == ""
        assert label_at(office, now, "en") == "closed — opens Monday at 8 a.m."

    def test_saturday_has_no_reason_and_opens_monday(self, office: Office) -> None:
        now = berlin(2026, 6, 20, 11, 0)

        assert status_at(office, now).opens_at == berlin(2026, 6, 22, 8, 0)
        assert label_at(office, now, "en") == "closed — opens Monday at 8 a.m."


@pytest.mark.django_db
class TestPublicHolidays:
    def test_christmas_day_in_bavaria_is_closed_with_the_holiday_name(self, office: Office) -> None:
        now = berlin(2026, 12, 25, 10, 0)  # a Friday
        with override("en"):
            status = status_at(office, now)

        assert not status.is_open
        assert status.closed_reason == "Christmas Day"
        # 26 December is a Saturday; the next opening is Monday, 28 December.
        assert status.opens_at == berlin(2026, 12, 28, 8, 0)
        assert label_at(office, now, "en") == "closed (Christmas Day) — opens Monday at 8 a.m."

    def test_bavarian_epiphany_closes_office_but_not_in_nrw(self, office: Office, nrw_office: Office) -> None:
        now = berlin(2027, 1, 6, 10, 0)  # Wednesday, Heilige Drei Könige
        with override("en"):
            bavarian = status_at(office, now)
            westphalian = status_at(nrw_office, now)

        assert office.organization.state == "BY"
        assert nrw_office.organization.state == "NW"
        assert not bavarian.is_open
        assert bavarian.closed_reason == "Epiphany"
        assert bavarian.opens_at == berlin(2027, 1, 7, 8, 0)
        assert westphalian.is_open
        assert westphalian.closes_at == berlin(2027, 1, 6, 16, 0)
        assert westphalian.closed_reason == ""
        assert label_at(office, now, "en") == "closed (Epiphany) — opens tomorrow at 8 a.m."
        assert label_at(nrw_office, now, "en") == "open until 4 p.m."

    def test_office_not_observing_holidays_stays_open(self, org: Organization) -> None:
        office = factories.make_office(
            org, "notdienst", hours=WEEKDAYS_8_TO_16, observes_public_holidays=False
        )
        status = status_at(office, berlin(2026, 12, 25, 10, 0))

        assert status.is_open
        assert status.closes_at == berlin(2026, 12, 25, 16, 0)
        assert status.closed_reason == ""

    def test_extra_opening_on_a_holiday_overrides_the_holiday(self, office: Office) -> None:
        SpecialOpening.objects.create(
            office=office,
            date=dt.date(2027, 1, 6),
            opens=dt.time(10, 0),
            closes=dt.time(13, 0),
            note="Sondertermin",
        )

        before = status_at(office, berlin(2027, 1, 6, 9, 0))
        during = status_at(office, berlin(2027, 1, 6, 11, 0))
        after = status_at(office, berlin(2027, 1, 6, 14, 0))

        # The day is not closed as a whole, so no holiday reason is given.
        assert not before.is_open
        assert before.opens_at == berlin(2027, 1, 6, 10, 0)
        assert before.closed_reason == ""
        assert label_at(office, berlin(2027, 1, 6, 9, 0), "en") == "closed — opens today at 10 a.m."
        assert during.is_open
        assert during.closes_at == berlin(2027, 1, 6, 13, 0)
        assert not after.is_open
        assert after.opens_at == berlin(2027, 1, 7, 8, 0)


@pytest.mark.django_db
class TestClosures:
    def test_closure_closes_office_with_its_reason(self, office: Office) -> None:
        Closure.objects.create(
            office=office, starts_on=dt.date(2026, 6, 15), ends_on=dt.date(2026, 6, 16), reason="Umzug"
        )
        now = berlin(2026, 6, 15, 10, 0)
        status = status_at(office, now)

        assert not status.is_open
        assert status.closed_reason == "Umzug"
        assert status.opens_at == berlin(2026, 6, 17, 8, 0)
        assert label_at(office, now, "en") == "closed (Umzug) — opens Wednesday at 8 a.m."

    def test_closure_without_reason_just_says_closed(self, office: Office) -> None:
        Closure.objects.create(office=office, starts_on=dt.date(2026, 6, 15), ends_on=dt.date(2026, 6, 15))

        assert label_at(office, berlin(2026, 6, 15, 10, 0), "en") == "closed — opens tomorrow at 8 a.m."

    def test_long_closure_names_the_reopening_date(self, office: Office) -> None:
        Closure.objects.create(
            office=office, starts_on=dt.date(2026, 6, 15), ends_on=dt.date(2026, 6, 26), reason="Renovierung"
        )
        now = berlin(2026, 6, 15, 10, 0)

        assert status_at(office, now).opens_at == berlin(2026, 6, 29, 8, 0)
        assert label_at(office, now, "en") == "closed (Renovierung) — opens on 06/29/2026 at 8 a.m."

    def test_extra_opening_inside_a_closure_overrides_the_closure(self, office: Office) -> None:
        Closure.objects.create(
            office=office, starts_on=dt.date(2026, 6, 15), ends_on=dt.date(2026, 6, 19), reason="Umzug"
        )
        SpecialOpening.objects.create(
            office=office, date=dt.date(2026, 6, 17), opens=dt.time(9, 0), closes=dt.time(12, 0)
        )

        assert status_at(office, berlin(2026, 6, 15, 10, 0)).opens_at == berlin(2026, 6, 17, 9, 0)
        during = status_at(office, berlin(2026, 6, 17, 10, 0))
        assert during.is_open
        assert during.closes_at == berlin(2026, 6, 17, 12, 0)


@pytest.mark.django_db
class TestPastMidnight:
    def test_friday_night_is_open_until_two_on_saturday(self, night_office: Office) -> None:
        now = berlin(2026, 6, 19, 23, 0)  # Friday
        status = status_at(night_office, now)

        assert status.is_open
        # The intervals Friday 20:00–24:00 and Saturday 00:00–02:00 are one period.
        assert status.closes_at == berlin(2026, 6, 20, 2, 0)
        assert status.minutes_until_close == 180
        assert label_at(night_office, now, "en") == "open until 2 a.m."

    def test_saturday_small_hours_are_still_open_from_friday(self, night_office: Office) -> None:
        status = status_at(night_office, berlin(2026, 6, 20, 1, 0))

        assert status.is_open
        assert status.closes_at == berlin(2026, 6, 20, 2, 0)

    def test_friday_before_opening_opens_at_eight_in_the_evening(self, night_office: Office) -> None:
        status = status_at(night_office, berlin(2026, 6, 19, 12, 0))

        assert not status.is_open
        assert status.opens_at == berlin(2026, 6, 19, 20, 0)

    def test_after_two_on_saturday_opens_next_friday(self, night_office: Office) -> None:
        now = berlin(2026, 6, 20, 2, 0)
        status = status_at(night_office, now)

        assert not status.is_open
        assert status.opens_at == berlin(2026, 6, 26, 20, 0)
        assert label_at(night_office, now, "en") == "closed — opens Friday at 8 p.m."

    def test_interval_until_midnight_alone_is_open_until_midnight(self, org: Organization) -> None:
        office = factories.make_office(org, "spaet", hours=[(4, "20:00", "00:00")])
        now = berlin(2026, 6, 19, 21, 0)
        status = status_at(office, now)

        assert status.is_open
        assert status.closes_at == berlin(2026, 6, 20, 0, 0)
        assert label_at(office, now, "en") == "open until midnight"
        assert label_at(office, now, "de") == "geöffnet bis 24:00"


@pytest.mark.django_db
class TestDaylightSavingTime:
    """2026: clocks go 02:00 CET → 03:00 CEST on 29 March, 03:00 CEST → 02:00 CET on 25 October."""

    def test_spring_forward_sunday_open_after_the_gap(self, sunday_night_office: Office) -> None:
        now = berlin(2026, 3, 29, 3, 30)  # CEST
        status = status_at(sunday_night_office, now)

        assert now.utcoffset() == dt.timedelta(hours=2)
        assert status.is_open
        assert status.closes_at == berlin(2026, 3, 29, 5, 0)
        assert status.closes_at is not None
        assert status.closes_at.astimezone(dt.UTC) == utc(2026, 3, 29, 3, 0)
        assert status.minutes_until_close == 90
        assert label_at(sunday_night_office, now, "en") == "open until 5 a.m."

    def test_spring_forward_sunday_open_before_the_gap(self, sunday_night_office: Office) -> None:
        status = status_at(sunday_night_office, berlin(2026, 3, 29, 1, 30))  # CET, 00:30 UTC

        assert status.is_open
        assert status.closes_at is not None
        assert status.closes_at.astimezone(dt.UTC) == utc(2026, 3, 29, 3, 0)

    def test_spring_forward_minutes_until_close_count_real_minutes(self, sunday_night_office: Office) -> None:
        # 01:30 CET = 00:30 UTC; closing at 05:00 CEST = 03:00 UTC: 150 real minutes.
        status = status_at(sunday_night_office, berlin(2026, 3, 29, 1, 30))

        assert status.minutes_until_close == 150

    def test_spring_forward_closing_soon_counts_real_minutes(self, org: Organization) -> None:
        office = factories.make_office(org, "kurz", hours=[(SUNDAY, "01:00", "03:10")])
        now = berlin(2026, 3, 29, 1, 59)  # CET, 00:59 UTC; closes 03:10 CEST = 01:10 UTC
        status = status_at(office, now)

        assert status.is_open
        assert status.closes_at is not None
        assert status.closes_at.astimezone(dt.UTC) == utc(2026, 3, 29, 1, 10)
        assert status.closing_soon
        assert status.minutes_until_close == 11

    @pytest.mark.parametrize("in_utc", [False, True], ids=["now-in-berlin", "now-in-utc"])
    def test_spring_forward_next_change_is_fifteen_real_minutes_before_closing(
        self, org: Organization, in_utc: bool
    ) -> None:
        office = factories.make_office(org, "kurz", hours=[(SUNDAY, "01:00", "03:10")])
        now = berlin(2026, 3, 29, 1, 0)  # CET, 00:00 UTC
        status = status_at(office, now.astimezone(dt.UTC) if in_utc else now)

        assert status.is_open
        assert status.next_change_at is not None
        assert status.next_change_at.astimezone(dt.UTC) == utc(2026, 3, 29, 0, 55)

    def test_fall_back_sunday_closes_at_five_cet(self, sunday_night_office: Office) -> None:
        now = berlin(2026, 10, 25, 2, 30, fold=1)  # second 02:30, CET = 01:30 UTC
        status = status_at(sunday_night_office, now)

        assert now.utcoffset() == dt.timedelta(hours=1)
        assert status.is_open
        assert status.closes_at is not None
        assert status.closes_at.astimezone(dt.UTC) == utc(2026, 10, 25, 4, 0)
        assert status.minutes_until_close == 150
        assert label_at(sunday_night_office, now, "en") == "open until 5 a.m."

    def test_fall_back_first_half_hour_is_open_until_the_same_instant(
        self, sunday_night_office: Office
    ) -> None:
        now = berlin(2026, 10, 25, 2, 30, fold=0)  # first 02:30, CEST = 00:30 UTC
        status = status_at(sunday_night_office, now)

        assert now.utcoffset() == dt.timedelta(hours=2)
        assert status.is_open
        assert status.closes_at is not None
        assert status.closes_at.astimezone(dt.UTC) == utc(2026, 10, 25, 4, 0)

    def test_fall_back_minutes_are_right_when_now_is_given_in_utc(self, sunday_night_office: Office) -> None:
        # The same instant as the first 02:30 (CEST), handed over in UTC: 210 real minutes remain.
        now = berlin(2026, 10, 25, 2, 30, fold=0).astimezone(dt.UTC)

        assert status_at(sunday_night_office, now).minutes_until_close == 210

    def test_fall_back_minutes_until_close_count_the_repeated_hour(self, sunday_night_office: Office) -> None:
        first = status_at(sunday_night_office, berlin(2026, 10, 25, 2, 30, fold=0))  # 00:30 UTC
        second = status_at(sunday_night_office, berlin(2026, 10, 25, 2, 30, fold=1))  # 01:30 UTC

        assert first.minutes_until_close == 210
        assert second.minutes_until_close == 150

    def test_fall_back_is_not_closing_soon_an_hour_early(self, org: Organization) -> None:
        office = factories.make_office(org, "frueh", hours=[(SUNDAY, "01:00", "03:00")])
        now = berlin(2026, 10, 25, 2, 50, fold=0)  # CEST, 00:50 UTC; closes 03:00 CET = 02:00 UTC
        status = status_at(office, now)

        assert status.is_open
        assert not status.closing_soon
        assert status.minutes_until_close == 70

    def test_fall_back_next_change_is_never_in_the_past(self, org: Organization) -> None:
        office = factories.make_office(org, "frueh", hours=[(SUNDAY, "01:00", "03:00")])
        now = berlin(2026, 10, 25, 2, 50, fold=0).astimezone(dt.UTC)  # 00:50 UTC
        status = status_at(office, now)

        assert status.is_open
        assert status.next_change_at is not None
        assert status.next_change_at.astimezone(dt.UTC) == utc(2026, 10, 25, 1, 45)
        assert status.next_change_at > now


@pytest.mark.django_db
class TestNextChange:
    def test_open_office_changes_fifteen_minutes_before_closing(self, office: Office) -> None:
        status = status_at(office, berlin(2026, 6, 15, 10, 0))

        assert status.next_change_at == berlin(2026, 6, 15, 15, 45)

    def test_closing_soon_changes_within_a_minute(self, office: Office) -> None:
        now = berlin(2026, 6, 15, 15, 50, 20)
        status = status_at(office, now)

        assert status.next_change_at == now + dt.timedelta(minutes=1)

    def test_closing_soon_in_the_last_minute_changes_at_closing(self, office: Office) -> None:
        status = status_at(office, berlin(2026, 6, 15, 15, 59, 30))

        assert status.next_change_at == berlin(2026, 6, 15, 16, 0)

    def test_closed_office_changes_when_it_opens(self, office: Office) -> None:
        status = status_at(office, berlin(2026, 6, 19, 18, 0))

        assert status.next_change_at == berlin(2026, 6, 22, 8, 0)

    def test_office_without_any_opening_never_changes(self, org: Organization) -> None:
        office = factories.make_office(org, "ohne-zeiten")

        assert status_at(office, berlin(2026, 6, 15, 10, 0)).next_change_at is None


@pytest.mark.django_db
class TestNoOpeningAhead:
    def test_office_without_hours_is_just_closed(self, org: Organization) -> None:
        office = factories.make_office(org, "ohne-zeiten")
        now = berlin(2026, 6, 15, 10, 0)
        status = status_at(office, now)

        assert not status.is_open
        assert status.opens_at is None
        assert status.closes_at is None
        assert status.closed_reason == ""
        assert status.minutes_until_close is None
        assert not status.closing_soon
        assert label_at(office, now, "en") == "closed"

    def test_closure_beyond_the_search_horizon_gives_no_opening_date(self, office: Office) -> None:
        Closure.objects.create(
            office=office, starts_on=dt.date(2026, 6, 15), ends_on=dt.date(2026, 12, 31), reason="Sanierung"
        )
        now = berlin(2026, 6, 15, 10, 0)
        status = status_at(office, now)

        assert not status.is_open
        assert status.opens_at is None
        assert status.closed_reason == "Sanierung"
        assert label_at(office, now, "en") == "closed (Sanierung)"


@pytest.mark.django_db
class TestAwareDatetimesOnly:
    def test_naive_now_is_refused(self, office: Office) -> None:
        naive = berlin(2026, 6, 15, 10, 0).replace(tzinfo=None)

        with pytest.raises(ValueError, match="aware"):
            OpeningCalendar(office).status(naive)

    def test_moments_leaving_the_calendar_are_aware(self, office: Office) -> None:
        open_status = status_at(office, berlin(2026, 6, 15, 10, 0))
        closed_status = status_at(office, berlin(2026, 6, 15, 17, 0))

        assert open_status.closes_at is not None
        assert open_status.closes_at.tzinfo is not None
        assert closed_status.opens_at is not None
        assert closed_status.opens_at.tzinfo is not None


@pytest.mark.django_db
class TestGermanLabels:
    def test_open_until(self, office: Office) -> None:
        assert label_at(office, berlin(2026, 6, 15, 10, 0), "de") == "geöffnet bis 16:00"

    def test_closes_in_minutes(self, office: Office) -> None:
        assert label_at(office, berlin(2026, 6, 15, 15, 55), "de") == "schließt in 5 Minuten"

    def test_closes_in_one_minute(self, office: Office) -> None:
        assert label_at(office, berlin(2026, 6, 15, 15, 59, 30), "de") == "schließt in 1 Minute"

    def test_opens_today(self, office: Office) -> None:
        assert label_at(office, berlin(2026, 6, 15, 7, 0), "de") == "geschlossen — öffnet heute um 08:00"

    def test_opens_tomorrow(self, office: Office) -> None:
        assert label_at(office, berlin(2026, 6, 15, 17, 0), "de") == "geschlossen — öffnet morgen um 08:00"

    def test_friday_evening_opens_monday(self, office: Office) -> None:
        assert label_at(office, berlin(2026, 6, 19, 18, 0), "de") == "geschlossen — öffnet Montag um 08:00"

    def test_christmas_day_named_in_german(self, office: Office) -> None:
        assert (
            label_at(office, berlin(2026, 12, 25, 10, 0), "de")
            == "geschlossen (Erster Weihnachtstag) — öffnet Montag um 08:00"
        )

    def test_epiphany_named_in_german(self, office: Office) -> None:
        assert (
            label_at(office, berlin(2027, 1, 6, 10, 0), "de")
            == "geschlossen (Heilige Drei Könige) — öffnet morgen um 08:00"
        )

    def test_closure_reason(self, office: Office) -> None:
        Closure.objects.create(
            office=office, starts_on=dt.date(2026, 6, 15), ends_on=dt.date(2026, 6, 16), reason="Umzug"
        )

        assert (
            label_at(office, berlin(2026, 6, 15, 10, 0), "de")
            == "geschlossen (Umzug) — öffnet Mittwoch um 08:00"
        )

    def test_reopening_date(self, office: Office) -> None:
        Closure.objects.create(
            office=office, starts_on=dt.date(2026, 6, 15), ends_on=dt.date(2026, 6, 26), reason="Renovierung"
        )

        assert (
            label_at(office, berlin(2026, 6, 15, 10, 0), "de")
            == "geschlossen (Renovierung) — öffnet am 29.06.2026 um 08:00"
        )

    def test_open_past_midnight(self, night_office: Office) -> None:
        assert label_at(night_office, berlin(2026, 6, 19, 23, 0), "de") == "geöffnet bis 02:00"

    def test_open_until_midnight(self, org: Organization) -> None:
        office = factories.make_office(org, "spaet", hours=[(4, "20:00", "00:00")])

        assert label_at(office, berlin(2026, 6, 19, 21, 0), "de") == "geöffnet bis 24:00"

    def test_no_opening_ahead(self, org: Organization) -> None:
        office = factories.make_office(org, "ohne-zeiten")

        assert label_at(office, berlin(2026, 6, 15, 10, 0), "de") == "geschlossen"

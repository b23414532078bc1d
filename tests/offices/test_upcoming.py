"""Deviations from the regular week that the office page announces (closures, holidays, extra
openings), and the weekly table next to them.

The office fixture is in Bavaria and open Monday–Friday 08:00–16:00. Between 15 June and
26 July 2026 (the default 42-day window from 15 June) there is no Bavarian public holiday.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils.translation import override

from buergerbuero.offices.models import Closure, Office, SpecialOpening
from buergerbuero.offices.services import (
    UPCOMING_DAYS,
    OpeningCalendar,
    TimeSpan,
    UpcomingChange,
    upcoming_table,
    weekly_table,
)
from buergerbuero.orgs.models import Organization
from tests import factories

WEEKDAYS_8_TO_16 = [(day, "08:00", "16:00") for day in range(5)]
MID_JUNE = dt.date(2026, 6, 15)  # a Monday


def changes(office: Office, today: dt.date, days: int = UPCOMING_DAYS) -> list[UpcomingChange]:
    with override("en"):
        return OpeningCalendar(office).upcoming_changes(today, days)


def table(office: Office, today: dt.date, language: str = "en") -> list[tuple[str, str, str]]:
    with override(language):
        return upcoming_table(OpeningCalendar(office), today)


def close(office: Office, first: dt.date, last: dt.date, reason: str = "") -> Closure:
    return Closure.objects.create(office=office, starts_on=first, ends_on=last, reason=reason)


def extra(office: Office, date: dt.date, opens: str, closes: str, note: str = "") -> SpecialOpening:
    return SpecialOpening.objects.create(
        office=office,
        date=date,
        opens=dt.time.fromisoformat(opens),
        closes=dt.time.fromisoformat(closes),
        note=note,
    )


@pytest.mark.django_db
class TestClosures:
    def test_regular_weeks_have_no_upcoming_changes(self, office: Office) -> None:
        assert changes(office, MID_JUNE) == []
        assert table(office, MID_JUNE) == []

    def test_consecutive_closure_days_are_joined_into_one_entry(self, office: Office) -> None:
        close(office, dt.date(2026, 7, 6), dt.date(2026, 7, 17), "Betriebsferien")

        assert changes(office, MID_JUNE) == [
            UpcomingChange(dt.date(2026, 7, 6), dt.date(2026, 7, 17), "Betriebsferien", ()),
        ]
        assert table(office, MID_JUNE) == [
            ("Mon, 07/06/2026 – Fri, 07/17/2026", "closed", "Betriebsferien"),
        ]

    def test_closure_spanning_a_weekend_stays_one_entry(self, office: Office) -> None:
        close(office, dt.date(2026, 6, 18), dt.date(2026, 6, 23), "Umzug")  # Thursday to Tuesday

        assert changes(office, MID_JUNE) == [
            UpcomingChange(dt.date(2026, 6, 18), dt.date(2026, 6, 23), "Umzug", ()),
        ]

    def test_adjacent_closures_with_the_same_reason_are_joined(self, office: Office) -> None:
        close(office, dt.date(2026, 6, 22), dt.date(2026, 6, 24), "Umzug")
        close(office, dt.date(2026, 6, 25), dt.date(2026, 6, 26), "Umzug")

        assert changes(office, MID_JUNE) == [
            UpcomingChange(dt.date(2026, 6, 22), dt.date(2026, 6, 26), "Umzug", ()),
        ]

    def test_adjacent_closures_with_different_reasons_stay_apart(self, office: Office) -> None:
        close(office, dt.date(2026, 6, 22), dt.date(2026, 6, 23), "Umzug")
        close(office, dt.date(2026, 6, 24), dt.date(2026, 6, 24), "Personalversammlung")

        assert changes(office, MID_JUNE) == [
            UpcomingChange(dt.date(2026, 6, 22), dt.date(2026, 6, 23), "Umzug", ()),
            UpcomingChange(dt.date(2026, 6, 24), dt.date(2026, 6, 24), "Personalversammlung", ()),
        ]

    def test_closures_with_a_gap_stay_apart(self, office: Office) -> None:
        close(office, dt.date(2026, 6, 22), dt.date(2026, 6, 22), "Schulung")
        close(office, dt.date(2026, 6, 24), dt.date(2026, 6, 24), "Schulung")

        assert [(change.first_day, change.last_day) for change in changes(office, MID_JUNE)] == [
            (dt.date(2026, 6, 22), dt.date(2026, 6, 22)),
            (dt.date(2026, 6, 24), dt.date(2026, 6, 24)),
        ]

    def test_single_day_closure_shows_one_date(self, office: Office) -> None:
        close(office, dt.date(2026, 6, 24), dt.date(2026, 6, 24), "Personalversammlung")

        assert table(office, MID_JUNE) == [("Wed, 06/24/2026", "closed", "Personalversammlung")]

    def test_closure_without_reason_is_listed_as_closed(self, office: Office) -> None:
        close(office, dt.date(2026, 6, 24), dt.date(2026, 6, 24))

        assert changes(office, MID_JUNE) == [
            UpcomingChange(dt.date(2026, 6, 24), dt.date(2026, 6, 24), "", ()),
        ]
        assert table(office, MID_JUNE) == [("Wed, 06/24/2026", "closed", "")]

    def test_closure_already_running_starts_today(self, office: Office) -> None:
        close(office, dt.date(2026, 6, 10), dt.date(2026, 6, 17), "Umzug")

        assert changes(office, MID_JUNE) == [
            UpcomingChange(MID_JUNE, dt.date(2026, 6, 17), "Umzug", ()),
        ]

    def test_only_the_coming_window_is_listed(self, office: Office) -> None:
        close(office, dt.date(2026, 6, 24), dt.date(2026, 6, 24), "Schulung")
        close(office, dt.date(2026, 7, 27), dt.date(2026, 7, 28), "Betriebsausflug")  # day 42 and 43

        assert [change.reason for change in changes(office, MID_JUNE)] == ["Schulung"]
        assert [change.reason for change in changes(office, MID_JUNE, days=43)] == [
            "Schulung",
            "Betriebsausflug",
        ]

    def test_closure_cut_at_the_end_of_the_window(self, office: Office) -> None:
        close(office, dt.date(2026, 6, 16), dt.date(2026, 6, 30), "Umzug")

        assert changes(office, MID_JUNE, days=5) == [
            UpcomingChange(dt.date(2026, 6, 16), dt.date(2026, 6, 19), "Umzug", ()),
        ]


@pytest.mark.django_db
class TestHolidays:
    def test_holidays_are_listed_with_their_names(self, office: Office) -> None:
        assert changes(office, dt.date(2026, 12, 21)) == [
            UpcomingChange(dt.date(2026, 12, 25), dt.date(2026, 12, 25), "Christmas Day", ()),
            # 26 Dec 2026 is a Saturday, on which this office is closed anyway: no news.
            UpcomingChange(dt.date(2027, 1, 1), dt.date(2027, 1, 1), "New Year's Day", ()),
            UpcomingChange(dt.date(2027, 1, 6), dt.date(2027, 1, 6), "Epiphany", ()),
        ]

    def test_holiday_rows_show_date_closed_and_name(self, office: Office) -> None:
        rows = table(office, dt.date(2026, 12, 21))

        assert rows[0] == ("Fri, 12/25/2026", "closed", "Christmas Day")
        assert rows[-1] == ("Wed, 01/06/2027", "closed", "Epiphany")

    def test_holiday_names_follow_the_language(self, office: Office) -> None:
        with override("de"):
            reasons = [
                change.reason for change in OpeningCalendar(office).upcoming_changes(dt.date(2026, 12, 21))
            ]

        assert reasons == ["Erster Weihnachtstag", "Neujahr", "Heilige Drei Könige"]

    def test_holidays_follow_the_organisations_state(self, other_org: Organization) -> None:
        nrw_office = factories.make_office(other_org, "buergerbuero", hours=WEEKDAYS_8_TO_16)

        assert "Epiphany" not in [change.reason for change in changes(nrw_office, dt.date(2026, 12, 21))]

    def test_office_open_on_holidays_lists_none(self, org: Organization) -> None:
        office = factories.make_office(
            org, "notdienst", hours=WEEKDAYS_8_TO_16, observes_public_holidays=False
        )

        assert changes(office, dt.date(2026, 12, 21)) == []

    def test_closure_over_the_holidays_wins_and_is_joined(self, office: Office) -> None:
        close(office, dt.date(2026, 12, 24), dt.date(2027, 1, 1), "Weihnachtsferien")

        assert changes(office, dt.date(2026, 12, 21)) == [
            UpcomingChange(dt.date(2026, 12, 24), dt.date(2027, 1, 1), "Weihnachtsferien", ()),
            UpcomingChange(dt.date(2027, 1, 6), dt.date(2027, 1, 6), "Epiphany", ()),
        ]


@pytest.mark.django_db
class TestExtraOpenings:
    def test_extra_opening_is_listed_with_its_hours(self, office: Office) -> None:
        extra(office, dt.date(2026, 6, 20), "10:00", "13:00", "Samstagsöffnung")

        assert changes(office, MID_JUNE) == [
            UpcomingChange(
                dt.date(2026, 6, 20),
                dt.date(2026, 6, 20),
                "Samstagsöffnung",
                (TimeSpan(dt.time(10, 0), dt.time(13, 0)),),
            ),
        ]
        assert table(office, MID_JUNE) == [("Sat, 06/20/2026", "10 a.m.–1 p.m.", "Samstagsöffnung")]
        assert table(office, MID_JUNE, "de") == [("Sa, 20.06.2026", "10:00–13:00", "Samstagsöffnung")]

    def test_extra_opening_with_two_intervals_lists_both(self, office: Office) -> None:
        extra(office, dt.date(2026, 6, 20), "14:00", "16:00", "Nachmittag")
        extra(office, dt.date(2026, 6, 20), "09:00", "12:00", "Vormittag")

        assert table(office, MID_JUNE, "de") == [
            ("Sa, 20.06.2026", "09:00–12:00, 14:00–16:00", "Vormittag; Nachmittag"),
        ]

    def test_extra_opening_until_midnight_shows_24_00(self, office: Office) -> None:
        extra(office, dt.date(2026, 6, 20), "18:00", "00:00", "Lange Nacht")

        assert table(office, MID_JUNE, "de") == [("Sa, 20.06.2026", "18:00–24:00", "Lange Nacht")]

    def test_extra_opening_on_a_holiday_replaces_the_holiday(self, office: Office) -> None:
        extra(office, dt.date(2027, 1, 6), "10:00", "12:00", "Sondertermin")

        listed = {change.first_day: change for change in changes(office, dt.date(2026, 12, 21))}

        assert listed[dt.date(2027, 1, 6)] == UpcomingChange(
            dt.date(2027, 1, 6),
            dt.date(2027, 1, 6),
            "Sondertermin",
            (TimeSpan(dt.time(10, 0), dt.time(12, 0)),),
        )

    def test_extra_opening_splits_a_closure(self, office: Office) -> None:
        close(office, dt.date(2026, 6, 22), dt.date(2026, 6, 26), "Umzug")
        extra(office, dt.date(2026, 6, 24), "09:00", "12:00", "Notdienst")

        assert changes(office, MID_JUNE) == [
            UpcomingChange(dt.date(2026, 6, 22), dt.date(2026, 6, 23), "Umzug", ()),
            UpcomingChange(
                dt.date(2026, 6, 24),
                dt.date(2026, 6, 24),
                "Notdienst",
                (TimeSpan(dt.time(9, 0), dt.time(12, 0)),),
            ),
            UpcomingChange(dt.date(2026, 6, 25), dt.date(2026, 6, 26), "Umzug", ()),
        ]

    def test_consecutive_extra_openings_with_the_same_hours_are_joined(self, office: Office) -> None:
        extra(office, dt.date(2026, 6, 20), "10:00", "13:00", "Aktionswochenende")
        extra(office, dt.date(2026, 6, 21), "10:00", "13:00", "Aktionswochenende")

        assert table(office, MID_JUNE, "de") == [
            ("Sa, 20.06.2026 – So, 21.06.2026", "10:00–13:00", "Aktionswochenende"),
        ]


@pytest.mark.django_db
class TestWeeklyTable:
    def test_weekly_table_lists_monday_to_sunday(self, office: Office) -> None:
        with override("en"):
            rows = weekly_table(OpeningCalendar(office))

        assert rows == [
            ("Monday", "8 a.m.–4 p.m."),
            ("Tuesday", "8 a.m.–4 p.m."),
            ("Wednesday", "8 a.m.–4 p.m."),
            ("Thursday", "8 a.m.–4 p.m."),
            ("Friday", "8 a.m.–4 p.m."),
            ("Saturday", "closed"),
            ("Sunday", "closed"),
        ]

    def test_weekly_table_shows_several_intervals_and_midnight(self, org: Organization) -> None:
        office = factories.make_office(
            org, "nachtschalter", hours=[(0, "13:00", "16:00"), (0, "08:00", "12:00"), (4, "20:00", "00:00")]
        )
        with override("de"):
            hours = [text for _day, text in weekly_table(OpeningCalendar(office))]

        assert hours[0] == "08:00–12:00, 13:00–16:00"
        assert hours[4] == "20:00–24:00"

    def test_weekly_table_ignores_closures_and_holidays(self, office: Office) -> None:
        close(office, dt.date(2026, 6, 15), dt.date(2026, 6, 19), "Umzug")
        with override("de"):
            hours = [text for _day, text in weekly_table(OpeningCalendar(office))]

        assert hours[:5] == ["08:00–16:00"] * 5


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "christmas"),
    [
        ("uk", "Перший день Різдва"),  # the holidays package has Ukrainian names
        ("ar", "Erster Weihnachtstag"),  # no Arabic names: German, never English
        ("tr", "Erster Weihnachtstag"),
        ("ru", "Erster Weihnachtstag"),
        ("en", "Christmas Day"),
    ],
)
def test_holiday_names_are_the_languages_own_or_german(office: Office, language: str, christmas: str) -> None:
    with override(language):
        reasons = [
            change.reason for change in OpeningCalendar(office).upcoming_changes(dt.date(2026, 12, 21))
        ]

    assert reasons[0] == christmas

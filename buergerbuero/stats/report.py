"""What the statistics page and its export show for a period: totals, per-office and
per-service tables, and the charts' bars (drawn as server-side SVG, no script needed)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from django import forms
from django.db.models import QuerySet, Sum
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from buergerbuero.offices.models import Office
from buergerbuero.stats.models import HourDemand, ServiceDay
from buergerbuero.stats.services import DayLine, day_lines, rows_between, suppressed

MAX_DAYS = 366 * 3
CSV_COLUMNS = (
    "date",
    "office",
    "meetings",
    "participants",
    "open_minutes",
    "staffed_minutes",
    "walk_ins",
    "appointments",
    "served",
    "left_before_call",
    "removed",
    "no_shows",
    "wait_p50_min",
    "wait_p90_min",
    "handling_p50_min",
    "active_staff",
    "ratings",
    "rating_mean",
    "is_demo",
)


class PeriodForm(forms.Form):
    PERIODS = [
        ("7", gettext_lazy("Last 7 days")),
        ("30", gettext_lazy("Last 30 days")),
        ("year", gettext_lazy("This year")),
        ("custom", gettext_lazy("Custom")),
    ]
    period = forms.ChoiceField(label=gettext_lazy("Period"), choices=PERIODS, required=False)
    start = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=gettext_lazy("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    office = forms.TypedChoiceField(
        label=gettext_lazy("Office"), coerce=int, required=False, empty_value=None
    )

    def __init__(self, *args: object, offices: Sequence[Office], today: dt.date, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.today = today
        office_field = cast(forms.TypedChoiceField, self.fields["office"])
        office_field.choices = [("", _("All offices")), *((o.pk, o.name) for o in offices)]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        period = data.get("period") or "30"
        yesterday = self.today - dt.timedelta(days=1)
        if period == "custom":
            start, end = data.get("start"), data.get("end")
            if not isinstance(start, dt.date) or not isinstance(end, dt.date):
                raise forms.ValidationError(_("Choose the first and the last day."), code="missing_dates")
            if end < start:
                raise forms.ValidationError(
                    _("The last day must not be before the first day."), code="inverted"
                )
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(_("Choose at most three years."), code="too_long")
        elif period == "year":
            start, end = dt.date(self.today.year, 1, 1), yesterday
        else:
            end = yesterday
            start = end - dt.timedelta(days=int(period) - 1)
        data["first"], data["last"], data["period"] = start, max(start, end), period
        return data


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    height: float
    text_y: float


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    bars: tuple[Bar, ...]
    width: int
    height: int
    bar_width: float
    baseline: float


def bar_chart(title: str, unit: str, labels: Sequence[str], values: Sequence[float]) -> Chart:
    """Bars scaled to the largest value; the SVG uses only attributes (no inline style)."""
    plot_height, top, bottom, step = 160.0, 18.0, 24.0, 28.0
    peak = max(values, default=0) or 1
    bars = []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = plot_height * value / peak
        y = top + plot_height - height
        bars.append(Bar(label, value, 4 + index * step, y, height, y - 4))
    width = int(8 + step * len(bars))
    return Chart(
        title, unit, tuple(bars), width, int(top + plot_height + bottom), step - 6, top + plot_height
    )


@dataclass(frozen=True)
class Totals:
    offices: int
    active_staff: int
    meetings: int
    participants: int
    open_minutes: int
    staffed_minutes: int
    walk_ins: int
    appointments: int
    served: int
    left_before_call: int
    no_shows: int
    wait_p50_min: float | None
    ratings: int
    rating_mean: float | None


def _sum(lines: Sequence[DayLine], name: str) -> int:
    return sum(getattr(line, name) or 0 for line in lines)


def _weighted_wait(lines: Sequence[DayLine]) -> float | None:
    """Mean of the days' medians (a period's exact median would need every wait, which is
    deleted after the retention period)."""
    medians = [line.wait_p50_min for line in lines if line.wait_p50_min is not None]
    return round(sum(medians) / len(medians), 1) if medians else None


@dataclass(frozen=True)
class Report:
    first: dt.date
    last: dt.date
    lines: list[DayLine]
    totals: Totals
    per_office: list[tuple[str, Totals]]
    per_service: list[dict[str, object]]
    charts: list[Chart]
    has_demo: bool


def _totals(lines: Sequence[DayLine], active_staff: int) -> Totals:
    ratings = _sum(lines, "ratings")
    rating_points = sum((line.rating_mean or 0) * (line.ratings or 0) for line in lines)
    return Totals(
        offices=len({line.office_id for line in lines}),
        active_staff=active_staff,
        meetings=_sum(lines, "meetings"),
        participants=_sum(lines, "participants"),
        open_minutes=_sum(lines, "open_minutes"),
        staffed_minutes=_sum(lines, "staffed_minutes"),
        walk_ins=_sum(lines, "walk_ins"),
        appointments=_sum(lines, "appointments"),
        served=_sum(lines, "served"),
        left_before_call=_sum(lines, "left_before_call"),
        no_shows=_sum(lines, "no_shows"),
        wait_p50_min=_weighted_wait(lines),
        ratings=ratings,
        rating_mean=round(rating_points / ratings, 2) if ratings else None,
    )


def build(offices: QuerySet[Office], first: dt.date, last: dt.date) -> Report:
    """The whole page in four queries: days, services, hours (and the offices with the days)."""
    rows = list(rows_between(offices, first, last))
    lines = day_lines(rows)
    by_office: dict[str, list[DayLine]] = defaultdict(list)
    for line in lines:
        by_office[line.office].append(line)
    # Distinct people over the period are not kept (names are personal data): the peak of a
    # day is the honest lower bound of the staff who worked.
    peak_staff: dict[int, int] = defaultdict(int)
    for line in lines:
        peak_staff[line.office_id] = max(peak_staff[line.office_id], line.active_staff)
    per_office = [(name, _totals(group, peak_staff[group[0].office_id])) for name, group in by_office.items()]
    totals = _totals(lines, sum(peak_staff.values()))

    row_ids = [row.pk for row in rows]
    services = (
        ServiceDay.objects.filter(day_id__in=row_ids)
        .values("day__office__name", "day__office__statistics_suppress_below", "service_name")
        .annotate(arrivals=Sum("arrivals"), served=Sum("served"), meetings=Sum("meetings"))
        .order_by("day__office__name", "service_name")
    )
    per_service = []
    for entry in services:
        threshold = entry["day__office__statistics_suppress_below"]
        per_service.append(
            {
                "office": entry["day__office__name"],
                "service": entry["service_name"] or _("no service chosen"),
                "arrivals": suppressed(entry["arrivals"], threshold),
                "served": suppressed(entry["served"], threshold),
                "meetings": suppressed(entry["meetings"], threshold),
            }
        )

    hours: dict[int, list[float]] = {hour: [0.0, 0.0] for hour in range(24)}
    for hour, counted, minutes in HourDemand.objects.filter(day_id__in=row_ids).values_list(
        "hour", "waits_counted", "wait_minutes"
    ):
        hours[hour][0] += counted
        hours[hour][1] += minutes
    active_hours = [hour for hour in range(24) if hours[hour][0]] or list(range(8, 18))
    span = range(min(active_hours), max(active_hours) + 1)
    wait_chart = bar_chart(
        _("Mean wait by hour of arrival"),
        _("minutes"),
        [f"{hour:02d}" for hour in span],
        [round(hours[hour][1] / hours[hour][0], 1) if hours[hour][0] else 0 for hour in span],
    )
    weekday_names = [formats.date_format(dt.date(2024, 1, 1) + dt.timedelta(days=d), "D") for d in range(7)]
    demand = [0] * 7
    for line in lines:
        demand[line.date.weekday()] += (line.walk_ins or 0) + (line.appointments or 0)
    weekday_chart = bar_chart(_("Demand by weekday"), _("walk-ins and appointments"), weekday_names, demand)
    weeks: dict[dt.date, int] = defaultdict(int)
    for line in lines:
        weeks[line.date - dt.timedelta(days=line.date.weekday())] += line.meetings or 0
    week_keys = sorted(weeks)[-26:]
    week_chart = bar_chart(
        _("Meetings per week"),
        _("meetings"),
        [formats.date_format(week, "SHORT_DATE_FORMAT") for week in week_keys],
        [weeks[week] for week in week_keys],
    )
    return Report(
        first=first,
        last=last,
        lines=lines,
        totals=totals,
        per_office=per_office,
        per_service=per_service,
        charts=[wait_chart, weekday_chart, week_chart],
        has_demo=any(line.is_demo for line in lines),
    )


def csv_text(lines: Sequence[DayLine]) -> str:
    """One row per office and day; a hidden (suppressed) count is an empty cell. With a BOM,
    so that Excel reads the UTF-8 (office names have umlauts)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        writer.writerow(
            ["" if getattr(line, column) is None else _cell(getattr(line, column)) for column in CSV_COLUMNS]
        )
    return out.getvalue()


def _cell(value: object) -> object:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value

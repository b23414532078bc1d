"""The statistics page and its CSV export (rules in ``stats.services``, tables in ``stats.report``)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from buergerbuero.offices.models import Office
from buergerbuero.stats import report
from buergerbuero.stats.services import day_lines, rows_between, visible_offices


def _scope(request: HttpRequest) -> tuple[QuerySet[Office], report.PeriodForm] | None:
    offices = visible_offices(request.user)
    if offices is None:
        return None
    offices = offices.select_related("organization").order_by("organization__name", "position", "name")
    choices = list(offices)
    zone = choices[0].organization.zone if choices else timezone.get_default_timezone()
    today = timezone.now().astimezone(zone).date()
    form = report.PeriodForm(request.GET or None, offices=choices, today=today)
    return offices, form


def _period(
    form: report.PeriodForm, offices: QuerySet[Office]
) -> tuple[QuerySet[Office], dt.date, dt.date] | None:
    if form.is_bound and not form.is_valid():
        return None
    if form.is_bound:
        data = form.cleaned_data
        if data.get("office"):
            offices = offices.filter(pk=data["office"])
        return offices, data["first"], data["last"]
    last = form.today - dt.timedelta(days=1)
    return offices, last - dt.timedelta(days=29), last


@login_required
def page(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    if scope is None:
        return render(request, "stats/forbidden.html", status=403)
    offices, form = scope
    period = _period(form, offices)
    context: dict[str, object] = {"form": form}
    if period is not None:
        chosen, first, last = period
        context["report"] = report.build(chosen, first, last)
        context["export_query"] = request.GET.urlencode()
    return render(request, "stats/page.html", context, status=200 if period is not None else 400)


@login_required
def export(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    if scope is None:
        return render(request, "stats/forbidden.html", status=403)
    offices, form = scope
    period = _period(form, offices)
    if period is None:
        return render(request, "stats/page.html", {"form": form}, status=400)
    chosen, first, last = period
    response = HttpResponse(
        report.csv_text(day_lines(rows_between(chosen, first, last))), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="statistics-{first:%Y%m%d}-{last:%Y%m%d}.csv"'
    return response

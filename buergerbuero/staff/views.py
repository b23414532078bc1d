from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from buergerbuero.offices.services import offices_with_hours, overviews
from buergerbuero.staff.current import current_member
from buergerbuero.staff.services import offices_served


@login_required
def home(request: HttpRequest) -> HttpResponse:
    member = current_member(request)
    if member is None:
        return render(request, "staff/no_membership.html", status=403)
    offices = offices_with_hours(offices_served(member))
    return render(
        request,
        "staff/home.html",
        {
            "member": member,
            "organization": member.organization,
            "overviews": overviews(offices, timezone.now()),
        },
    )

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from buergerbuero.orgs.models import Organization


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "orgs/home.html", {"organizations": Organization.objects.all()})


def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and the test fixtures: the app answers and reaches its database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})

"""The embed snippet (``/embed.js``) and its entry into the citizen pages.

embed stands just above orgs (the websites allowed to embed are the organisation's), below the
apps whose citizen pages it frames: the office is found through ``organization.offices``, not
the offices app's model."""

from __future__ import annotations

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control

from buergerbuero.embed.framing import allow_framing_by_anyone
from buergerbuero.orgs.models import Organization


@cache_control(max_age=3600, public=True)
def snippet(request: HttpRequest) -> HttpResponse:
    path = finders.find("embed/embed.js")
    if not path:
        raise Http404
    with open(path, encoding="utf-8") as script:
        return HttpResponse(script.read(), content_type="text/javascript; charset=utf-8")


def entry(request: HttpRequest, org_slug: str, office_slug: str | None = None) -> HttpResponse:
    """The frame's first page: on an allowed website, the directory (or the office) in the
    wished language; elsewhere a clear refusal (which anyone may frame: it shows nothing
    of the organisation but its name and address)."""
    organization = get_object_or_404(Organization, slug=org_slug)
    office = get_object_or_404(organization.offices, slug=office_slug) if office_slug else None
    origin = request.GET.get("origin", "").rstrip("/")
    target = (
        reverse("office", args=[org_slug, office_slug]) if office else reverse("directory", args=[org_slug])
    )
    if office is None and request.GET.get("page") == "events":
        # The events page, by its route's name: embed does not import the events app.
        target = reverse("events:list", args=[org_slug])
    if origin not in organization.embedding_origins:
        context = {
            "organization": organization,
            "origin": origin,
            "direct_url": request.build_absolute_uri(target),
        }
        return allow_framing_by_anyone(render(request, "embed/refused.html", context, status=403))
    response = redirect(target)
    language = request.GET.get("lang", "")
    if language in dict(settings.LANGUAGES) and language in organization.language_codes:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,  # type: ignore[arg-type]  # a settings string
            secure=settings.LANGUAGE_COOKIE_SECURE,
        )
    return response

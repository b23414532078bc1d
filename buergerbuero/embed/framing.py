"""Who may show our pages in a frame: ``frame-ancestors`` in the one Content-Security-Policy.

Citizen pages of an organisation may be framed by the websites the organisation lists
(``Organization.embed_origins``); every other page only by ourselves (the setting's default,
``CONTENT_SECURITY_POLICY``). Views render citizen pages with :func:`citizen_page`, which
names the organisation; django-csp's middleware writes the header with the rest of the policy
(:mod:`buergerbuero.lib.browser_policy`).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

from buergerbuero.orgs.models import Organization


def frame_ancestors(organization: Organization | None) -> list[str]:
    origins = organization.embedding_origins if organization is not None else []
    return ["'self'", *origins]


def _replace_frame_ancestors(response: HttpResponseBase, sources: list[str]) -> None:
    # django-csp's per-response replacement of single directives (what @csp_replace sets).
    replace = dict(getattr(response, "_csp_replace", None) or {})
    replace["frame-ancestors"] = sources
    response._csp_replace = replace  # type: ignore[attr-defined]


def allow_framing(response: HttpResponse, organization: Organization | None) -> HttpResponse:
    _replace_frame_ancestors(response, frame_ancestors(organization))
    return response


def allow_framing_by_anyone(response: HttpResponse) -> HttpResponse:
    """For pages that show nothing of value to a stranger's website (the embed refusal)."""
    _replace_frame_ancestors(response, ["*"])
    return response


def citizen_page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """Render a citizen page of ``context["organization"]``, frameable by its websites."""
    response = render(request, template, context, status=status)
    return allow_framing(response, context.get("organization"))

"""Who may show our pages in a frame: ``Content-Security-Policy: frame-ancestors``.

Citizen pages of an organisation may be framed by the websites the organisation lists
(``Organization.embed_origins``); every other page only by ourselves. Views render citizen
pages with :func:`citizen_page`, which names the organisation; the middleware writes the
header for every response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from buergerbuero.orgs.models import Organization

HEADER = "Content-Security-Policy"


def frame_ancestors(organization: Organization | None) -> str:
    origins = organization.embedding_origins if organization is not None else []
    return "frame-ancestors " + " ".join(["'self'", *origins])


def allow_framing(response: HttpResponse, organization: Organization | None) -> HttpResponse:
    response[HEADER] = frame_ancestors(organization)
    return response


def allow_framing_by_anyone(response: HttpResponse) -> HttpResponse:
    """For pages that show nothing of value to a stranger's website (the embed refusal)."""
    response[HEADER] = "frame-ancestors *"
    return response


def citizen_page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """Render a citizen page of ``context["organization"]``, frameable by its websites."""
    response = render(request, template, context, status=status)
    return allow_framing(response, context.get("organization"))


class FrameAncestorsMiddleware:
    """Every response without its own policy may be framed by ourselves only."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = frame_ancestors(None)
        return response

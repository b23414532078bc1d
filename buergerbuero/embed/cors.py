"""CORS for the read API, per organisation: a website listed in an organisation's embedding
origins may read that organisation's API from its own pages (django-cors-headers asks us)."""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest

from buergerbuero.orgs.models import Organization

ORGANIZATION_PATH = re.compile(r"^/api/v1/organizations/(?P<slug>[-a-zA-Z0-9_]+)/")


def allow_embedding_origins(sender: Any, request: HttpRequest, **kwargs: Any) -> bool:
    match = ORGANIZATION_PATH.match(request.path)
    origin = request.headers.get("Origin", "").rstrip("/")
    if match is None or not origin:
        return False
    organization = Organization.objects.filter(slug=match["slug"]).only("embed_origins").first()
    return organization is not None and origin in organization.embedding_origins

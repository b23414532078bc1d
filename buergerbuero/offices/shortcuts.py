from __future__ import annotations

from django.shortcuts import get_object_or_404

from buergerbuero.offices.models import Office


def office_or_404(org_slug: str, office_slug: str) -> Office:
    """The office at /<org>/<office>/ (with its organisation), or a 404."""
    return get_object_or_404(
        Office.objects.select_related("organization"), organization__slug=org_slug, slug=office_slug
    )

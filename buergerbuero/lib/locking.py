"""Row locks that work on both databases we run on."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import connection
from django.db.models import QuerySet

Row = TypeVar("Row", bound=Any)


def locked(queryset: QuerySet[Row], *, skip_locked: bool = False) -> QuerySet[Row]:
    """``SELECT … FOR UPDATE`` of the queryset's own rows (and ``SKIP LOCKED`` if asked) on
    PostgreSQL; unchanged on SQLite, whose IMMEDIATE write transactions are exclusive anyway."""
    if connection.features.has_select_for_update:
        skip = skip_locked and connection.features.has_select_for_update_skip_locked
        return queryset.select_for_update(skip_locked=skip, of=("self",))
    return queryset

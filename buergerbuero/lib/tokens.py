"""Secrets that citizens carry in links (tickets, appointments, calendar feeds)."""

from __future__ import annotations

import re

URLSAFE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def looks_like_token(value: str) -> bool:
    """Whether ``value`` could be one of our tokens (``secrets.token_urlsafe``); anything else
    is refused before it reaches the database (PostgreSQL rejects e.g. NUL bytes loudly)."""
    return bool(URLSAFE.match(value or ""))

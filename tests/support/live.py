"""What tests need when they talk to real server processes (which run on the real clock and
with the production password hashers)."""

from __future__ import annotations

import functools

from django.contrib.auth.hashers import PBKDF2PasswordHasher

from buergerbuero.limits import services as limits
from buergerbuero.waiting.views import JOIN_SCOPE
from tests import factories

# Open around the clock on every day: adjacent intervals merge across midnight, so no closing
# time is ever near and the "wait runs past closing time" refusal cannot trigger.
ALWAYS_OPEN = [
    (day, opens, closes) for day in range(7) for opens, closes in (("00:00", "12:00"), ("12:00", "00:00"))
]


@functools.cache
def server_password_hash() -> str:
    """The test password hashed with the server's default hasher (computed once).

    The suite hashes with MD5 to be fast, but a server process runs with the production
    settings, which do not list MD5: a login whose hash it cannot identify is refused.
    """
    return PBKDF2PasswordHasher().encode(factories.PASSWORD, "servertestsalt")


def reset_join_limit() -> None:
    """Forget this machine's recent joins (10 per 10 minutes per address): the browsers all come
    from localhost, and the counter lives in the database the servers share with the tests."""
    for address in ("127.0.0.1", "::1/64"):
        limits.reset(JOIN_SCOPE, address)

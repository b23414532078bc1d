"""The fault suite kills and restarts real processes; see ``support``."""

from __future__ import annotations

import os

import pytest

SCALED = bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))

scaled_only = pytest.mark.skipif(
    not SCALED,
    reason=(
        "scaled mode only (DATABASE_URL and REDIS_URL unset): several server processes share "
        "events over Redis only there; `make test` runs this in its scaled pass"
    ),
)

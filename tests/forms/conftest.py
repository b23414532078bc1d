from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """The services' messages read in English here (the site's default language is German)."""
    with translation.override("en"):
        yield

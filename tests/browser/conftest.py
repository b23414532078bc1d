"""Browser tests: Debian's Chromium driven by Playwright's sync API.

Playwright keeps an event loop running in the test thread while a browser is open, so the
browser lives only as long as this package's tests (async tests elsewhere need the thread's
loop free), and the ORM calls between browser steps are allowed explicitly: they are
synchronous and safe.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_available


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not chromium_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium missing at {CHROMIUM}; `make test` installs it")
        pytest.skip("Chromium not installed (run `make test`, which installs it)")
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh German-speaking browser context, like a citizen's phone in Germany."""
    context = browser.new_context(locale="de-DE", timezone_id="Europe/Berlin")
    page = context.new_page()
    yield page
    context.close()

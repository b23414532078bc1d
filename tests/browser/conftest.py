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

# Every page (and frame) of every context reports what our Content-Security-Policy refused; the
# tests run under the real policy, so a refusal is a broken page even when the test's own
# checks pass (a style dropped, a script not run).
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.effectiveDirective} refused ${event.blockedURI || "inline"}`
    + ` on ${event.documentURI} (${event.sourceFile || "?"}:${event.lineNumber}) ${event.sample}`);
}, true);
"""
# Chromium's own console lines for refusals (the page's event covers the rest).
CSP_CONSOLE_MARKS = ("CSP violation:", "Content Security Policy")
csp_violations: list[str] = []


def _record_csp_violation(message: Any) -> None:
    if any(mark in message.text for mark in CSP_CONSOLE_MARKS):
        csp_violations.append(f"{message.text} [{message.location.get('url', '')}]")


class CspWatchedBrowser:
    """The browser, with every new context watched for CSP refusals."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def new_context(self, **options: Any) -> Any:
        context = self._browser.new_context(**options)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        context.on("console", _record_csp_violation)
        return context

    def new_page(self, **options: Any) -> Any:
        return self.new_context(**options).new_page()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@pytest.fixture(autouse=True)
def _no_csp_violations(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a browser test whose pages met a refusal of our Content-Security-Policy, except
    those the test provokes on purpose (``@pytest.mark.csp_expected("text in the message")``)."""
    csp_violations.clear()
    yield
    expected = [text for marker in request.node.iter_markers("csp_expected") for text in marker.args]
    unexpected = [line for line in csp_violations if not any(text in line for text in expected)]
    csp_violations.clear()
    assert unexpected == [], "Content-Security-Policy refused:\n" + "\n".join(unexpected)


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
            yield CspWatchedBrowser(chromium)
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

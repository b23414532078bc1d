"""The browser tests of the stage use the browser tests' Chromium and their CSP watch."""

from tests.browser.conftest import _no_csp_violations, browser

__all__ = ["_no_csp_violations", "browser"]

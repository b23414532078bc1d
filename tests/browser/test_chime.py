"""The chime of the waiting room and the console (``static/lib/chime.js``) in Chromium: one
AudioContext per page however often it sounds (browsers cap how many a page may hold), resumed
on the user's first gesture (browsers start it suspended until then)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.mode_independent]

# Counts what the page does with AudioContext, without changing what it does.
COUNT_AUDIO_CONTEXTS = """
window.audioCounts = { created: 0, resumed: 0 };
const Original = window.AudioContext;
window.AudioContext = class extends Original {
  constructor(...args) { super(...args); window.audioCounts.created += 1; }
  resume() { window.audioCounts.resumed += 1; return super.resume(); }
};
"""


def test_one_audio_context_for_every_chime_resumed_on_a_gesture(page: Page, asgi_server: AsgiServer) -> None:
    page.add_init_script(COUNT_AUDIO_CONTEXTS)
    page.goto(f"{asgi_server.url}/staff/login/")  # any page of ours, under its real CSP
    counts = page.evaluate(
        """async () => {
            const { chime } = await import("/static/lib/chime.js");
            for (let i = 0; i < 5; i += 1) chime(660, 0.01);
            return { ...window.audioCounts };
        }"""
    )
    assert counts == {"created": 1, "resumed": 0}
    page.keyboard.press("Shift")
    assert page.evaluate("window.audioCounts") == {"created": 1, "resumed": 1}
    page.evaluate("""async () => (await import("/static/lib/chime.js")).chime(880, 0.01)""")
    assert page.evaluate("window.audioCounts.created") == 1

"""``lib.text.clean_text``: what is kept and what is removed from typed text."""

from __future__ import annotations

import pytest

from buergerbuero.lib.text import clean_text

pytestmark = pytest.mark.mode_independent


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("Hallo\x00Welt", "HalloWelt"),
        ("a\x01\x02\x07\x08b", "ab"),
        ("bell\x1b[31mred", "bell[31mred"),
        ("del\x7f", "del"),
        ("c1\x85\x9bx", "c1\nx"),
        ("evil\u202egnp.exe", "evilgnp.exe"),
        ("\u2066isolated\u2069", "isolated"),
        ("lone \ud800 surrogate", "lone  surrogate"),
        ("Zeile 1\r\nZeile 2\rZeile 3", "Zeile 1\nZeile 2\nZeile 3"),
        ("Tab\tund\nZeile", "Tab\tund\nZeile"),
        ("  Müller  ", "Müller"),
        ("Mu\u0308ller", "Müller"),
        ("مرحبا \u200fعالم", "مرحبا \u200fعالم"),
        ("👩\u200d👩\u200d👧 ok", "👩\u200d👩\u200d👧 ok"),
        ("<script>'; DROP TABLE x;--", "<script>'; DROP TABLE x;--"),
    ],
)
def test_clean_text_removes_controls_and_keeps_real_text(given: str, kept: str) -> None:
    assert clean_text(given) == kept


def test_a_single_line_loses_its_line_breaks_and_tabs() -> None:
    assert clean_text(" Anna\n\tBeispiel\x00 ", multiline=False) == "Anna Beispiel"

"""PDF pages laid out with fpdf2 in the font shipped in ``fonts/`` (DejaVu Sans, embedded as a
subset), so umlauts, ß and Latin, Greek and Cyrillic names print in any viewer. A character the
font lacks (Chinese, for example) is written as the replacement character U+FFFD (:func:`printable`),
never dropped silently; Arabic and Hebrew letters print, but unjoined and left to right (no
text shaping).
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fpdf import FPDF

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVuSans"
A4_WIDTH = 595.28  # points
A4_HEIGHT = 841.89
MARGIN = 50.0
# fontTools reports every subsetting step at INFO: noise in the server's log for each PDF.
logging.getLogger("fontTools").setLevel(logging.WARNING)


@cache
def _covered() -> frozenset[int]:
    # the characters both weights have, so bold and regular text print alike
    fonts = [TTFont(FONT_DIR / name) for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")]
    return frozenset.intersection(*(frozenset(font.getBestCmap()) for font in fonts))


def printable(text: str) -> str:
    """``text`` with every character the font cannot draw replaced by U+FFFD."""
    covered = _covered()
    return "".join(
        char if ord(char) in covered or char in "\n\t" else "\N{REPLACEMENT CHARACTER}" for char in text
    )


def document(title: str, size: tuple[float, float] | None = None) -> FPDF:
    """An empty document in points (A4 unless ``size`` says otherwise) with the font in regular
    and bold (``style="B"``)."""
    pdf = FPDF(unit="pt", format=size or "A4")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=MARGIN)
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_fallback_fonts([])
    pdf.set_title(title)
    pdf.set_creator("Virtuelles Bürgerbüro")
    pdf.set_font(FONT, size=11)
    return pdf


def output(pdf: FPDF) -> bytes:
    return bytes(pdf.output())

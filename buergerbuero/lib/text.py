"""Text that people type, cleaned once before it is stored: ``clean_text``.

Control characters have no place in a name, a chat message, an announcement or a comment:
NUL makes PostgreSQL refuse the whole statement, escape sequences and bidirectional overrides
(U+202E …) can make a staff member's screen or log show something else than what was written,
and lone surrogates (possible through JSON's ``\\ud800``) cannot be stored at all. Forms refuse
NUL already (Django's ``ProhibitNullCharactersValidator``); the sockets and plain POST fields
do not go through forms, so the services call this.
"""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls except tab and newline, DEL, the bidi embeddings, overrides and isolates
# (U+202A–U+202E, U+2066–U+2069; the plain marks U+200E/U+200F stay: Arabic needs them), and
# the UTF-16 surrogates.
_REMOVED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x85]")


def clean_text(value: str, *, multiline: bool = True) -> str:
    """``value`` without control characters (tab and newline kept where lines are allowed),
    line breaks as ``\\n``, in Unicode NFC, stripped at both ends."""
    text = _LINE_BREAKS.sub("\n", value)
    text = _REMOVED.sub("", text)
    if not multiline:
        text = " ".join(text.split())
    return unicodedata.normalize("NFC", text).strip()

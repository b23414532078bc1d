"""The translation catalogues: every language compiles with gettext's checks (placeholders of
msgid and msgstr agree), nothing citizens or staff see is left untranslated or fuzzy, the
machine-drafted languages keep their review mark on every entry, the committed .mo files are
the compiled .po files, and the glossary's terms are used (buergerbuero/locale/GLOSSARY.md)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.mode_independent

LOCALE = Path(__file__).resolve().parents[2] / "buergerbuero" / "locale"
LANGUAGES = ["de", "tr", "ar", "uk", "ru"]
DRAFTED = ["tr", "ar", "uk", "ru"]
DOMAINS = ["django", "djangojs"]  # both reach citizens: the pages and their scripts
MARK = "# machine-drafted: please review (native speaker)"
CATALOGUES = [(language, domain) for language in LANGUAGES for domain in DOMAINS]


def po(language: str, domain: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / f"{domain}.po"


def gettext_tool(name: str) -> str:
    tool = shutil.which(name)
    assert tool is not None, f"GNU gettext's {name} is needed"
    return tool


def entries(path: Path) -> list[str]:
    """The catalogue's entries (header and obsolete ones left out), as text blocks."""
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    return [b for b in blocks if re.search(r'^msgid "(?!")', b, re.M) and not b.lstrip().startswith("#~")]


def msgstrs(block: str) -> list[str]:
    """The msgstr texts of an entry (continuation lines joined)."""
    texts: list[str] = []
    current: list[str] | None = None
    for line in block.splitlines():
        if line.startswith("msgstr"):
            current = [line.split(" ", 1)[1][1:-1]]
            texts.append("")
        elif line.startswith('"') and current is not None:
            current.append(line[1:-1])
        else:
            current = None
            continue
        texts[-1] = "".join(current)
    return texts


@pytest.mark.parametrize(("language", "domain"), CATALOGUES)
def test_every_catalogue_compiles_with_gettexts_checks(language: str, domain: str) -> None:
    result = subprocess.run(
        [gettext_tool("msgfmt"), "--check", "-o", "/dev/null", str(po(language, domain))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("language", "domain"), CATALOGUES)
def test_no_entry_is_untranslated_or_fuzzy(language: str, domain: str) -> None:
    path = str(po(language, domain))
    for option in ("--untranslated", "--only-fuzzy"):
        left = subprocess.run(
            [gettext_tool("msgattrib"), option, "--no-obsolete", path],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert re.findall(r'^msgid "(.+)"', left, re.M) == [], f"{option} in {path}"


@pytest.mark.parametrize(("language", "domain"), [(lang, d) for lang in DRAFTED for d in DOMAINS])
def test_machine_drafted_entries_keep_their_review_mark(language: str, domain: str) -> None:
    unmarked = [b.split("\n")[-1] for b in entries(po(language, domain)) if MARK not in b]
    assert unmarked == []


@pytest.mark.parametrize(("language", "domain"), CATALOGUES)
def test_the_committed_mo_file_is_the_compiled_po_file(language: str, domain: str, tmp_path: Path) -> None:
    compiled = tmp_path / "fresh.mo"
    subprocess.run([gettext_tool("msgfmt"), "-o", str(compiled), str(po(language, domain))], check=True)
    assert compiled.read_bytes() == po(language, domain).with_suffix(".mo").read_bytes(), (
        "run `make messages` and commit the .mo files"
    )


# The glossary: one term per concept (visitor ≠ citizen; Arabic quotation marks; blocked ≠ booked).
FORBIDDEN = {
    "ar": [r"مراج[ِ]?ع", "“", "”", "وقت محجوز", "الأوقات المحجوزة"],
    "uk": [r"[Вв]ідвідувач", r"ваш співробітник"],
    "ru": [r"[Пп]осетител", r"ваш сотрудник", r"[Зз]анятое время"],
}


@pytest.mark.parametrize("language", sorted(FORBIDDEN))
def test_the_glossary_terms_are_used(language: str) -> None:
    found = [
        (pattern, text)
        for domain in DOMAINS
        for block in entries(po(language, domain))
        for text in msgstrs(block)
        for pattern in FORBIDDEN[language]
        if re.search(pattern, text)
    ]
    assert found == []


def test_the_glossary_names_every_language_and_the_consent_sign_off() -> None:
    glossary = (LOCALE / "GLOSSARY.md").read_text(encoding="utf-8")
    for term in ("citizen", "staff member", "blocked time", "booked", "recovery code"):
        assert re.search(rf"^\| {term} \|", glossary, re.M | re.I), term
    assert "consent" in glossary.lower()
    assert "sign-off" in glossary.lower()

"""Counts are worded with the plural forms of each language (ngettext), and the seat line says
the same on the server (templates/waiting/_seats.html) and in the page's script
(static/waiting/seats.js, run by node with Django's real JavaScript catalogue)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import translation
from django.views.i18n import JavaScriptCatalog

pytestmark = pytest.mark.mode_independent

ROOT = Path(__file__).resolve().parents[2]
SEATS_JS = ROOT / "buergerbuero" / "static" / "waiting" / "seats.js"
COUNTS = [0, 1, 2, 5, 11, 100]

# The seat noun each language needs after the number (count = seats).
SEAT_WORDS = {
    "de": ["Plätze", "Platz", "Plätze", "Plätze", "Plätze", "Plätze"],
    "en": ["seats", "seat", "seats", "seats", "seats", "seats"],
    "ar": ["مقاعد", "مقعد", "مقعدان", "مقاعد", "مقعدًا", "مقعد"],
    "ru": ["мест", "место", "места", "мест", "мест", "мест"],
    "uk": ["місць", "місце", "місця", "місць", "місць", "місць"],
}


def server_line(language: str, seats: int) -> str:
    live = {"seats": seats, "staffed": min(seats, 3), "free": min(seats, 1)}
    with translation.override(language):
        return " ".join(render_to_string("waiting/_seats.html", {"live": live}).split())


def script_lines(language: str, cases: list[dict[str, int]]) -> list[str]:
    node = shutil.which("node")
    assert node is not None, "node is needed to run the page's JavaScript"
    with translation.override(language):
        response = JavaScriptCatalog.as_view()(RequestFactory().get("/i18n/js/"))
    assert isinstance(response, HttpResponse)
    catalogue = response.content.decode()
    runner = (
        f"new Function({json.dumps(catalogue)}).call(globalThis);\n"
        f"const {{ seatsText }} = await import({json.dumps(SEATS_JS.as_uri())});\n"
        f"process.stdout.write(JSON.stringify({json.dumps(cases)}.map(seatsText)));\n"
    )
    result = subprocess.run(
        [node, "--input-type=module", "-e", runner], capture_output=True, text=True, check=True
    )
    return list(json.loads(result.stdout))


@pytest.mark.parametrize("language", sorted(SEAT_WORDS))
def test_the_seat_line_takes_the_plural_form_of_each_count(language: str) -> None:
    for seats, word in zip(COUNTS, SEAT_WORDS[language], strict=True):
        line = server_line(language, seats)
        assert re.search(rf"^{seats} {word}\b", line), (seats, line)


@pytest.mark.parametrize("language", ["de", "en", "tr", "ar", "uk", "ru"])
def test_the_script_and_the_page_say_the_same_about_seats(language: str) -> None:
    cases = [{"seats": n, "staffed": min(n, 3), "free": min(n, 1)} for n in COUNTS]
    assert script_lines(language, cases) == [server_line(language, n) for n in COUNTS]


def test_directory_and_waiting_room_use_the_one_seat_wording() -> None:
    live_status = (ROOT / "buergerbuero" / "static" / "offices" / "live-status.js").read_text()
    room = (ROOT / "buergerbuero" / "templates" / "waiting" / "room.html").read_text()
    waiting_room = (ROOT / "buergerbuero" / "static" / "waiting" / "waiting-room.js").read_text()
    assert "seats.js" in live_status
    assert "seatsText" in waiting_room
    assert 'include "waiting/_seats.html"' in room
    for text in (live_status, room, waiting_room):
        assert "seats free" not in text
        assert "seats are staffed" not in text


COUNT_PLACEHOLDER = re.compile(
    r"%\((minutes|hours|days|seconds|count|counter|high|waiting|seats)\)[ds]|%[ds] (second|minute)"
)


def msgids_without_plural(path: Path) -> list[str]:
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    singles = []
    for block in blocks:
        if "msgid_plural" in block or block.lstrip().startswith("#~"):
            continue
        found = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        if found:
            singles.append("".join(re.findall(r'"(.*)"', found.group(1))))
    return singles


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_no_count_is_worded_without_ngettext(domain: str) -> None:
    path = ROOT / "buergerbuero" / "locale" / "de" / "LC_MESSAGES" / f"{domain}.po"
    assert [m for m in msgids_without_plural(path) if COUNT_PLACEHOLDER.search(m)] == []


# Plural forms of strings that existed as gettext before (#13): one, few and many.
@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ru", {1: "1 минуту", 2: "2 минуты", 5: "5 минут", 11: "11 минут", 21: "21 минуту"}),
        ("uk", {1: "1 хвилину", 2: "2 хвилини", 5: "5 хвилин", 11: "11 хвилин", 22: "22 хвилини"}),
        ("ar", {1: "1 دقيقة", 2: "2 دقيقتين", 5: "5 دقائق", 11: "11 دقيقة", 100: "100 دقيقة"}),
        ("de", {1: "1 Minute vor", 10: "10 Minuten vor"}),
    ],
)
def test_the_join_window_message_has_every_plural_form(language: str, expected: dict[int, str]) -> None:
    with translation.override(language):
        for minutes, words in expected.items():
            text = translation.ngettext(
                "You can enter from %(minutes)d minute before your appointment.",
                "You can enter from %(minutes)d minutes before your appointment.",
                minutes,
            ) % {"minutes": minutes}
            assert words in text, (minutes, text)

"""The demo organisations: a town in Bavaria and a district in North Rhine-Westphalia."""

from __future__ import annotations

import datetime as dt
from typing import Any

DEMO_PASSWORD = "demo-buergerbuero"
# The demo's org admins and platform operator must confirm their login with a second factor.
# Their authenticator key is published here (and in the README) so that anyone can try them:
# add it to an authenticator app, or print the current code with `manage.py demo_code`.
# Demo only — never a fixed key on a real installation.
DEMO_TOTP_SECRET = "BUERGERBUERODEMO"
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
# One office is open around the clock (also on public holidays), so that a newcomer can try the
# walk-in flow on any day and at any hour.
ROUND_THE_CLOCK = [(day, "00:00", "00:00") for day in range(7)]
# Finished consultations per office in the demo's history (so that live figures and the wait
# estimate show measured handling times on the first visit), and their spread.
HISTORY_CONSULTATIONS = 40
HISTORY_DAYS = 14


def hours(days: list[int], opens: str, closes: str) -> list[tuple[int, str, str]]:
    return [(day, opens, closes) for day in days]


ORGANIZATIONS: list[dict[str, Any]] = [
    {
        "slug": "musterstadt",
        "name": "Stadt Musterstadt",
        "state": "BY",
        "primary_colour": "#004B87",
        "languages": "de,en,tr,ar,uk,ru",
        # The example host page of the README (`make embed-example`) may embed the offices.
        "embed_origins": "http://localhost:8080",
        "offices": [
            {
                "slug": "buergerbuero",
                "name": "Bürgerbüro / Einwohnermeldeamt",
                "description": "Ausweise, Pässe, An- und Ummeldung, Führungszeugnisse.",
                "seats": 4,
                "waiting_room_limit": 40,
                "services": [
                    "Personalausweis beantragen",
                    "Reisepass beantragen",
                    "Wohnsitz an- oder ummelden",
                    "Führungszeugnis beantragen",
                ],
                # A long Thursday for people who work during the day.
                "hours": hours([MON, TUE, WED, FRI], "08:00", "12:00")
                + hours([MON, TUE], "13:00", "16:00")
                + hours([THU], "08:00", "18:00")
                + hours([SAT], "09:00", "12:00"),
                "closures": [(dt.date(2026, 12, 28), dt.date(2026, 12, 30), "Inventur und Systemumstellung")],
                "waiting_area_text": (
                    "Willkommen im Bürgerbüro! Sie werden aufgerufen, sobald ein Platz frei ist.\n\n"
                    "**Wichtig:** Für einen neuen Ausweis brauchen wir ein aktuelles biometrisches Foto. "
                    "Mehr Informationen finden Sie auf [musterstadt.de](https://www.musterstadt.de)."
                ),
                "checklist": "\n".join(
                    ["Personalausweis oder Reisepass", "Aktuelles biometrisches Foto", "Meldebescheinigung"]
                ),
            },
            {
                "slug": "bauamt",
                "name": "Bauamt",
                "description": "Beratung zu Bauanträgen, Bauvoranfragen und Akteneinsicht.",
                "seats": 2,
                "waiting_room_limit": 15,
                "services": ["Beratung zum Bauantrag", "Bauvoranfrage", "Akteneinsicht"],
                # Closed on Wednesdays (internal work day).
                "hours": hours([MON, TUE, THU, FRI], "08:30", "12:00") + hours([THU], "14:00", "17:30"),
            },
            {
                "slug": "auslaenderbehoerde",
                "name": "Ausländerbehörde",
                "description": "Aufenthaltstitel, Verlängerungen und Beratung zur Einbürgerung.",
                "seats": 3,
                "waiting_room_limit": 60,
                "services": ["Aufenthaltstitel", "Verlängerung des Aufenthalts", "Beratung zur Einbürgerung"],
                "hours": hours([MON, TUE, WED, THU, FRI], "07:30", "12:30") + hours([TUE], "14:00", "18:00"),
                "special_openings": [
                    (dt.date(2026, 12, 5), "09:00", "13:00", "Sondersprechtag Einbürgerung")
                ],
            },
            {
                "slug": "buergerservice-online",
                "name": "Bürgerservice online — rund um die Uhr",
                "description": (
                    "Allgemeine Auskünfte und Hilfe bei Online-Anträgen, jeden Tag rund um die Uhr "
                    "(Demo: hier lässt sich das Eintreten an jedem Tag und zu jeder Stunde ausprobieren)."
                ),
                "seats": 3,
                "waiting_room_limit": 30,
                "observes_public_holidays": False,
                "services": ["Allgemeine Auskunft", "Hilfe bei Online-Anträgen"],
                "hours": ROUND_THE_CLOCK,
                "checklist": "Personalausweis oder Reisepass",
            },
            {
                "slug": "schwangerschaftsberatung",
                "name": "Schwangerschaftsberatung",
                "description": "Vertrauliche Beratung rund um Schwangerschaft und Geburt — auch anonym.",
                "seats": 2,
                "waiting_room_limit": 10,
                "services": [
                    "Schwangerschaftskonfliktberatung",
                    "Finanzielle Hilfen",
                    "Beratung nach der Geburt",
                ],
                "hours": hours([MON, TUE, WED, THU], "09:00", "16:00") + hours([FRI], "09:00", "13:00"),
            },
        ],
        "staff": [
            ("admin.musterstadt", "Verwaltung Musterstadt", "org_admin", []),
            ("lead.buergerbuero", "Frau Hoffmann", "office_lead", ["buergerbuero", "bauamt"]),
            ("weber", "Frau Weber", "agent", ["buergerbuero", "buergerservice-online"]),
            ("schmidt", "Herr Schmidt", "agent", ["buergerbuero", "buergerservice-online"]),
            ("yilmaz", "Frau Yılmaz", "agent", ["buergerbuero", "auslaenderbehoerde"]),
            ("nowak", "Herr Nowak", "agent", ["bauamt"]),
            ("fischer", "Frau Fischer", "agent", ["auslaenderbehoerde"]),
            ("kaya", "Frau Kaya", "agent", ["schwangerschaftsberatung"]),
        ],
    },
    {
        "slug": "landkreis-beispiel",
        "name": "Landkreis Beispiel",
        "state": "NW",
        "primary_colour": "#1F5130",
        "offices": [
            {
                "slug": "kfz-zulassung",
                "name": "Kfz-Zulassungsstelle",
                "description": "Zulassung, Abmeldung und Umschreibung von Fahrzeugen.",
                "seats": 3,
                "waiting_room_limit": 30,
                "services": ["Fahrzeug zulassen", "Fahrzeug abmelden"],
                "hours": hours([MON, TUE, WED, THU, FRI], "07:30", "13:00") + hours([THU], "14:00", "18:00"),
            },
            {
                "slug": "sozialamt",
                "name": "Sozialamt",
                "description": "Grundsicherung, Wohngeld und Hilfe in besonderen Lebenslagen.",
                "seats": 2,
                "waiting_room_limit": 20,
                "services": ["Wohngeld", "Grundsicherung"],
                "hours": hours([MON, TUE, THU], "08:00", "12:00") + hours([WED], "13:00", "17:00"),
            },
        ],
        "staff": [
            ("admin.beispiel", "Verwaltung Landkreis", "org_admin", []),
            ("becker", "Herr Becker", "agent", ["kfz-zulassung"]),
            ("demir", "Frau Demir", "agent", ["sozialamt"]),
        ],
    },
]

PLATFORM_SUPERUSER = "betrieb"

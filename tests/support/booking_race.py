"""Many citizens book the same appointment slot at the same instant, through real server processes.

Shared by ``tests/booking/test_races.py`` (correctness) and ``bench/booking.py`` (figures).

``make_scene`` creates an organisation with an office open every day 08:00–16:00 (public holidays
ignored, so any date works with the real clock the server processes run on), one bookable service
(20 min + 5 min buffer, 60 min lead time) and a number of staff members; the slot under race is
08:50 local time a few days ahead (the third slot of the day's grid 08:00, 08:25, 08:50 …).

``race`` first opens the details form once on each server (as a browser does before submitting:
it sets the CSRF cookie, and the server has served a page before the race), then runs every
attempt in a thread of its own with a connection of its own and that server's cookies; a barrier
releases all POSTs together, spread round-robin over the server processes. Each reply is
classified: ``booked`` (302 to ``/a/<token>/``), ``taken`` (409 with the “just taken” refusal),
``server_error`` (5xx, or the connection failed) or ``unexpected``. The pages are requested in
English (language cookie), since the German translations are not under test here; the refusal
is recognised by its English text.
"""

from __future__ import annotations

import datetime as dt
import http.client
import re
import threading
import time
import zoneinfo
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import User

from buergerbuero.offices.models import Office, Service
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import Role, StaffMember
from tests import factories
from tests.waiting.conftest import LiveBrowser

ZONE = zoneinfo.ZoneInfo("Europe/Berlin")
EVERY_DAY = [(day, "08:00", "16:00") for day in range(7)]
RACE_TIME = dt.time(8, 50)
TAKEN_MESSAGE = "This slot was just taken. Please choose another time."  # booking.services._refusal
BOOKED_LOCATION = re.compile(r"/a/([^/?]+)/\?booked=1")
RELEASE_TIMEOUT = 60.0  # all attempts' threads ready within this time


@dataclass(frozen=True)
class Scene:
    organization: str  # slug
    office: str  # slug
    office_id: int
    service_id: int
    agent_ids: tuple[int, ...]
    start: dt.datetime  # UTC, the slot raced for

    def details_path(
        self, agent_id: int | None, *, service_id: int | None = None, start: dt.datetime | None = None
    ) -> str:
        """The citizen's details form of the raced slot (``agent_id=None``: anyone free), or of
        another service and time."""
        query = {"service": str(service_id or self.service_id), "start": (start or self.start).isoformat()}
        if agent_id is not None:
            query["agent"] = str(agent_id)
        return f"/{self.organization}/{self.office}/book/details/?{urlencode(query)}"


def race_start(days_ahead: int = 3) -> dt.datetime:
    """08:50 local time ``days_ahead`` days from today (real clock: the servers use it too)."""
    day = dt.datetime.now(tz=ZONE).date() + dt.timedelta(days=days_ahead)
    return dt.datetime.combine(day, RACE_TIME, tzinfo=ZONE).astimezone(dt.UTC)


def make_scene(agents: int, *, slug: str = "wettlauf", days_ahead: int = 3) -> Scene:
    """An office with ``agents`` bookable staff members (no working times: the office's hours)."""
    organization = factories.make_org(slug, state="BY", name="Stadt Wettlauf")
    office = factories.make_office(
        organization, "termine", hours=EVERY_DAY, name="Terminbüro", observes_public_holidays=False
    )
    service: Service = factories.make_service(office, "Beratung", slot_minutes=20, buffer_minutes=5)
    members = [make_member(organization, office, f"{slug}-agent{number:02d}") for number in range(agents)]
    return Scene(
        organization=organization.slug,
        office=office.slug,
        office_id=office.pk,
        service_id=service.pk,
        agent_ids=tuple(member.pk for member in members),
        start=race_start(days_ahead),
    )


def make_member(organization: Organization, office: Office, username: str) -> StaffMember:
    """A bookable agent (without a usable password: nobody logs in; no hashing cost)."""
    user = User.objects.create(username=username)
    member = StaffMember.objects.create(
        user=user, organization=organization, role=Role.AGENT, display_name=username.title()
    )
    member.offices.add(office)
    return member


def contact_form(number: int) -> dict[str, str]:
    """What citizen ``number`` types in: name, e-mail and mobile number (so two messages each)."""
    return {
        "name": f"Bürger:in {number}",
        "email": f"buerger{number}@example.org",
        "phone": "0151 23456789",
        "language": "de",
        "consent": "on",
    }


# --- the race ------------------------------------------------------------------------------------
@dataclass
class Attempt:
    number: int
    port: int
    kind: str = "unexpected"  # booked, taken, server_error or unexpected
    status: int = 0
    token: str = ""  # of the appointment, when booked
    suggestions: int = 0  # free times offered with a refusal
    detail: str = ""
    seconds: float = 0.0  # from the release to the reply
    started: float = 0.0  # monotonic: the request was sent …
    finished: float = 0.0  # … and its reply read


@dataclass
class RaceResult:
    attempts: list[Attempt]
    seconds: float  # from the release to the last reply
    kinds: Counter[str] = field(init=False)

    def __post_init__(self) -> None:
        self.kinds = Counter(attempt.kind for attempt in self.attempts)

    @property
    def tokens(self) -> list[str]:
        return [attempt.token for attempt in self.attempts if attempt.kind == "booked"]

    @property
    def spans(self) -> list[tuple[float, float]]:
        """When each attempt was in flight (monotonic seconds)."""
        return [(attempt.started, attempt.finished) for attempt in self.attempts]

    @property
    def server_errors(self) -> int:
        return self.kinds["server_error"]

    def problems(self) -> list[str]:
        """Every attempt that was neither booked nor refused as taken, described."""
        return [
            f"#{attempt.number} via :{attempt.port}: {attempt.kind} {attempt.status} {attempt.detail}"
            for attempt in self.attempts
            if attempt.kind not in ("booked", "taken")
        ]


def _classify(attempt: Attempt, status: int, location: str, text: str) -> None:
    attempt.status = status
    booked = BOOKED_LOCATION.fullmatch(location) if status == 302 else None
    if booked is not None:
        attempt.kind, attempt.token = "booked", booked.group(1)
    elif status == 409 and TAKEN_MESSAGE in text:
        attempt.kind = "taken"
        attempt.suggestions = text.count("/book/details/?service=")
    elif status >= 500:
        attempt.kind, attempt.detail = "server_error", _gist(text)
    else:
        attempt.kind, attempt.detail = "unexpected", location or _gist(text)


def _gist(page: str) -> str:
    """The heading of an HTML page (or its start), on one line."""
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.DOTALL)
    return " ".join((heading.group(1) if heading else page).split())[:200]


def _form_cookies(port: int, path: str) -> dict[str, str]:
    """The cookies a browser has after opening the form at ``path`` (CSRF, language)."""
    browser = LiveBrowser(port)
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    try:
        form = browser.get(path)
    finally:
        browser.close()
    if form.status != 200 or "csrftoken" not in browser.cookies:
        raise RuntimeError(f"the form at :{port}{path} was not served: {form.status} {form.text()[:500]}")
    return dict(browser.cookies)


def _attempt(attempt: Attempt, path: str, cookies: dict[str, str], release: threading.Barrier) -> float:
    """One citizen submits the form as soon as the start signal comes; returns the monotonic
    time of the reply."""
    browser = LiveBrowser(attempt.port, cookies=dict(cookies))
    try:
        release.wait(RELEASE_TIMEOUT)
        started = time.monotonic()
        try:
            reply = browser.post(path, contact_form(attempt.number))
        except (OSError, http.client.HTTPException) as failed:
            attempt.kind, attempt.detail = "server_error", f"connection: {failed!r}"
        else:
            _classify(attempt, reply.status, reply.location, reply.text())
        finished = time.monotonic()
        attempt.seconds = finished - started
        attempt.started, attempt.finished = started, finished
        return finished
    finally:
        browser.close()


def race(ports: list[int], path: str | list[str], attempts: int) -> RaceResult:
    """``attempts`` citizens submit the form at ``path`` at the same instant, round-robin over
    the servers on ``ports``; with several paths, citizen ``n`` submits ``path[n % len(path)]``
    (e.g. overlapping times of services of different lengths)."""
    paths = [path] if isinstance(path, str) else path
    cookies = {port: _form_cookies(port, paths[0]) for port in ports}
    released_at = 0.0

    def at_release() -> None:
        nonlocal released_at
        released_at = time.monotonic()

    release = threading.Barrier(attempts, action=at_release)
    runs = [Attempt(number, ports[number % len(ports)]) for number in range(attempts)]
    with ThreadPoolExecutor(max_workers=attempts) as pool:
        finished = list(
            pool.map(
                lambda run: _attempt(run, paths[run.number % len(paths)], cookies[run.port], release), runs
            )
        )
    return RaceResult(runs, max(finished) - released_at)

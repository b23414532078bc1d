"""A citizen opens the office directory in Chromium and sees each office's live status."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone, translation
from playwright.sync_api import expect

from buergerbuero.offices.models import Closure, Office, SpecialOpening
from buergerbuero.offices.services import OpeningCalendar, offices_with_hours, status_label
from buergerbuero.orgs.models import Organization
from tests import factories
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _open_today(office: Office, before: dt.timedelta, after: dt.timedelta) -> None:
    """An extra opening today from ``now - before`` to ``now + after``, kept within the day."""
    now = timezone.localtime(timezone.now(), office.organization.zone)
    opens = max(now - before, now.replace(hour=0, minute=0, second=0, microsecond=0))
    closes = now + after
    closes_time = (
        dt.time(0, 0) if closes.date() != now.date() else closes.time().replace(second=0, microsecond=0)
    )
    SpecialOpening.objects.create(
        office=office,
        date=now.date(),
        opens=opens.time().replace(second=0, microsecond=0),
        closes=closes_time,
    )


def _expected_label(office: Office, language: str) -> str:
    fresh = offices_with_hours(Office.objects.filter(pk=office.pk)).get()
    with translation.override(language):
        return status_label(OpeningCalendar(fresh).status(timezone.now()), fresh.organization.zone)


def _label_on_page(page: Any, office: Office) -> str:
    return str(page.locator(f'[data-status-for="{office.slug}"] .status__label').inner_text())


@pytest.fixture
def town() -> dict[str, Any]:
    organization: Organization = factories.make_org("browserstadt", state="BY", name="Stadt Browserstadt")
    open_office = factories.make_office(organization, "meldeamt", name="Meldeamt", position=0)
    _open_today(open_office, before=dt.timedelta(hours=1), after=dt.timedelta(hours=3))
    closing = factories.make_office(organization, "bauamt", name="Bauamt", position=1)
    _open_today(closing, before=dt.timedelta(hours=1), after=dt.timedelta(minutes=10))
    closed = factories.make_office(organization, "archiv", name="Archiv", position=2)
    today = timezone.localdate(timezone.now(), organization.zone)
    Closure.objects.create(office=closed, starts_on=today, ends_on=today, reason="Betriebsausflug")
    return {"org": organization, "open": open_office, "closing": closing, "closed": closed}


def test_directory_shows_live_status_of_every_office(
    page: Any, asgi_server: AsgiServer, town: dict[str, Any], artifacts_dir: Path
) -> None:
    frames: list[dict[str, Any]] = []
    page.on(
        "websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(json.loads(payload)))
    )
    expected = {key: _expected_label(town[key], "de") for key in ("open", "closing", "closed")}

    page.goto(f"{asgi_server.url}/browserstadt/")

    assert page.locator("h1").inner_text() == "Virtuelle Büros — Stadt Browserstadt"
    for key in ("open", "closing", "closed"):
        shown = _label_on_page(page, town[key])
        assert shown in {expected[key], _expected_label(town[key], "de")}, key
    assert _label_on_page(page, town["open"]).startswith(("geöffnet bis", "schließt in"))
    assert _label_on_page(page, town["closing"]).startswith("schließt in")
    assert _label_on_page(page, town["closed"]) == "geschlossen (Betriebsausflug)"
    assert page.locator('[data-status-for="bauamt"]').get_attribute("class") == "status status--closing"

    # The live channel delivered a snapshot of the same statuses over the real WebSocket.
    for _attempt in range(100):
        snapshots = [frame for frame in frames if frame.get("type") == "status"]
        if snapshots:
            break
        page.wait_for_timeout(50)
    assert snapshots, "no status snapshot arrived over the WebSocket"
    by_slug = {item["office"]: item for item in snapshots[-1]["offices"]}
    assert by_slug["archiv"]["label"] == "geschlossen (Betriebsausflug)"
    assert by_slug["bauamt"]["state"] == "closing"
    page.screenshot(path=str(artifacts_dir / "directory-de.png"), full_page=True)

    page.select_option("#language-select", "en")  # switches at once: no "Wechseln" click (#13)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert _label_on_page(page, town["closed"]) == "closed (Betriebsausflug)"
    page.screenshot(path=str(artifacts_dir / "directory-en.png"), full_page=True)

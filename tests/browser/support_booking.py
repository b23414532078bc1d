"""Helpers for the appointment test in Chromium: a server process living at a chosen moment
that sends real e-mail, the office with its staff, and the people's browsers on the same clock.

**The server's clock.** An appointment can only be entered from shortly before its start, and
the server is a process of its own, so moving the clock in the test process would not help.
:class:`ClockedServer` starts ``manage.py serve`` (through :class:`AsgiServer`, unchanged) with
``tests/support/clock`` first on ``PYTHONPATH``: the ``sitecustomize`` there runs
``time_machine.travel(now + shift, tick=True).start()`` before ``manage.py`` is even read, so
Django, the job loop and everything else in that process see the moved wall clock, which keeps
ticking. ``time.monotonic`` is not moved, so uvicorn's and asyncio's timers and the job loop's
pace are unaffected. The clock is a *shift* against the real clock (not a fixed moment at
process start), so the test process knows the server's time to the millisecond and can put
the browsers on the same time (Playwright's ``clock.install``: a citizen's phone and the
server agree that it is five to ten, and the waiting room's deadline count-down is right).

The test books in one timeline and enters in another: the server first runs on the day before
the appointment (booking), then is restarted five minutes before the start (entering), like a
real server that is still running the next morning. Both moments lie a few days *ahead* of the
real clock (the first Tuesday at least three days away, 10:00 in Berlin; the booking at noon
the day before): the server processes of other tests in the same session run on the real
clock and share the database (their job loops deliver the outbox, expire tickets, mark silent
staff offline), and to them this test's messages, tickets and presences are not yet due.
Sessions made in the test process (``force_login``) are made at the server's time, so that
their expiry means the same to it.

**The mail.** The server gets ``EMAIL_HOST``/``EMAIL_PORT`` of a real SMTP server
(:class:`tests.support.smtp.SmtpServer`, aiosmtpd), ``PUBLIC_URL`` = its own address (the
link in the mail opens this server) and ``JOBS_IN_WEB_PROCESS=true``: with ``REDIS_URL`` set
(the scaled pass) the default is a separate ``manage.py worker``; here the job loop of the
single web process sends the outbox (every 5 s) as in the embedded mode. Its own
``REDIS_PREFIX`` keeps its pub/sub events apart from other servers using the same Redis.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import time_machine
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import formats, translation
from django.utils.translation.trans_real import DjangoTranslation
from playwright.sync_api import Page, ViewportSize, expect

from buergerbuero.booking.models import WorkingTime
from buergerbuero.offices.models import Office, Service
from buergerbuero.staff.models import Role, StaffMember
from tests import factories
from tests.browser.support_call import DESKTOP, People
from tests.support.server import ROOT, AsgiServer, free_port
from tests.support.smtp import ReceivedMail, SmtpServer

BERLIN = ZoneInfo("Europe/Berlin")
CLOCK_FOLDER = ROOT / "tests" / "support" / "clock"
MAIL_TIMEOUT_S = 20.0  # the job loop sends the outbox every 5 s

BOOKED_AGENT = "Frau Adler"
OTHER_AGENT = "Herr Brandt"
CITIZEN = "Maria Muster"
CITIZEN_EMAIL = "maria.muster@example.org"
CITIZEN_PHONE = "0151 23456789"
SERVICE = "Personalausweis"
OTHER_SERVICE = "Reisepass"

# Records every text the console's (visually hidden, assertive) alert region announces.
RECORD_ALERTS = """
window.alertTexts = [];
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-alert]");
  if (!box) return;
  new MutationObserver(() => window.alertTexts.push(box.textContent))
    .observe(box, { childList: true, characterData: true, subtree: true });
});
"""


# --- time -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Moments:
    booking: dt.datetime  # when the citizen books (noon the day before)
    start: dt.datetime  # the appointment (a Tuesday, 10:00 in Berlin)

    @property
    def entering(self) -> dt.datetime:
        """Five minutes before the start (entering opens ten minutes before)."""
        return self.start - dt.timedelta(minutes=5)


def moments(today: dt.date | None = None) -> Moments:
    """The first Tuesday at least three days after ``today`` (a few days ahead of the real
    clock, see the module's docstring), 10:00, booked on the Monday before at noon."""
    today = today or dt.datetime.now(BERLIN).date()
    day = today + dt.timedelta(days=3)
    day += dt.timedelta(days=(1 - day.weekday()) % 7)
    return Moments(
        booking=dt.datetime.combine(day - dt.timedelta(days=1), dt.time(12), tzinfo=BERLIN),
        start=dt.datetime.combine(day, dt.time(10), tzinfo=BERLIN),
    )


class ClockedServer:
    """``manage.py serve`` whose wall clock shows a chosen moment (and then ticks on)."""

    def __init__(self, smtp: SmtpServer | None = None) -> None:
        port = free_port()
        env = {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(CLOCK_FOLDER), os.environ.get("PYTHONPATH")])),
            "PUBLIC_URL": f"http://localhost:{port}",
            "JOBS_IN_WEB_PROCESS": "true",
            "BB_TEST_CLOCK_SHIFT": "0",
            # Redis pub/sub channels are not separated by database number: with the shared
            # prefix, a scaled test run of someone else on this machine would talk to this
            # server (same group names: office:1, member:1 …).
            "REDIS_PREFIX": f"bb-booking-{port}",
        }
        if smtp is not None:
            env |= {"EMAIL_HOST": smtp.host, "EMAIL_PORT": str(smtp.port)}
        self.server = AsgiServer(port=port, extra_env=env)
        self.shift = dt.timedelta(0)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def log_path(self) -> Path:
        return self.server.log_path

    def start_at(self, moment: dt.datetime) -> None:
        """(Re)start the server so that it is ``moment`` now."""
        self.server.stop()
        self.shift = moment - dt.datetime.now(dt.UTC)
        self.server.extra_env["BB_TEST_CLOCK_SHIFT"] = repr(self.shift.total_seconds())
        self.server.start()

    def now(self) -> dt.datetime:
        """What the server's clock shows right now."""
        return dt.datetime.now(dt.UTC) + self.shift

    def stop(self) -> None:
        self.server.stop()


# --- the office ------------------------------------------------------------------------------
@dataclass(frozen=True)
class BookingOffice:
    office: Office
    service: Service
    booked: StaffMember  # the one free at the appointment's time
    other: StaffMember  # same office, works afternoons only

    @property
    def path(self) -> str:
        return f"/{self.office.organization.slug}/{self.office.slug}/"


def make_booking_office() -> BookingOffice:
    """Bürgerbüro of Stadt Terminstadt, Mon–Fri 08–16, two seats, two bookable services; the
    Personalausweis takes 20 minutes plus 10 of buffer (slots on the half hour). Frau Adler
    takes appointments whenever the office is open, Herr Brandt only from 13:00, so 10:00 is
    hers."""
    organization = factories.make_org("terminstadt", state="BY", name="Stadt Terminstadt")
    office = factories.make_office(
        organization,
        "buergerbuero",
        hours=[(day, "08:00", "16:00") for day in range(5)],
        name="Bürgerbüro",
        seats=2,
        observes_public_holidays=False,  # the dates move with the real clock
    )
    service = factories.make_service(office, SERVICE, slot_minutes=20, buffer_minutes=10, lead_minutes=60)
    factories.make_service(office, OTHER_SERVICE, slot_minutes=30, buffer_minutes=0)
    members = []
    for username, name in (("adler", BOOKED_AGENT), ("brandt", OTHER_AGENT)):
        user = factories.make_staff(organization, username, Role.AGENT, [office])
        StaffMember.objects.filter(user=user).update(display_name=name)
        members.append(StaffMember.objects.select_related("user").get(user=user))
    booked, other = members
    for weekday in range(5):
        WorkingTime.objects.create(member=other, weekday=weekday, opens=dt.time(13), closes=dt.time(16))
    return BookingOffice(office=office, service=service, booked=booked, other=other)


# --- words as the pages show them ------------------------------------------------------------
def german(msgid: str) -> str:
    """A text of the templates and views as a German speaker sees it (the catalogue is being
    completed: an untranslated text stays English on both sides)."""
    with translation.override("de"):
        return translation.gettext(msgid)


def german_js(msgid: str) -> str:
    """A text of the scripts (the ``djangojs`` catalogue) as a German speaker sees it."""
    return str(DjangoTranslation("de", domain="djangojs").gettext(msgid))


def german_when(moment: dt.datetime, length: dt.timedelta) -> str:
    """“Dienstag, 8. Dezember 2026, 10:00–10:20”, as the appointment's pages write it."""
    start, end = moment.astimezone(BERLIN), (moment + length).astimezone(BERLIN)
    with translation.override("de"):
        day = formats.date_format(start, "l, j. F Y")
    return f"{day}, {start:%H:%M}–{end:%H:%M}"


# --- people ----------------------------------------------------------------------------------
def open_person(
    people: People,
    name: str,
    server: ClockedServer,
    viewport: ViewportSize | None = None,
    init_script: str = "",
) -> Page:
    """A browser context whose clock shows the server's time (and ticks on)."""
    page = people.open(name, viewport=viewport or DESKTOP, init_script=init_script)
    page.context.clock.install(time=server.now())
    return page


def open_console(page: Page, server: ClockedServer, user: User) -> None:
    """The staff member's console with a logged-in session, made at the server's time (the
    walk-in test logs in through the form)."""
    with time_machine.travel(server.now(), tick=False):
        client = Client()
        client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": server.url}])
    page.goto(f"{server.url}/staff/console/")
    expect(page.locator("#console [data-connection]")).to_have_attribute("data-connection", "open")


def go_available(page: Page) -> None:
    page.get_by_role("button", name=german("Available"), exact=True).click()
    expect(page.locator("[data-presence-label]")).to_have_text(german_js("available"))


def no_horizontal_scrolling(page: Page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], (
        f"{page.url} scrolls sideways: content {widths[0]} px, window {widths[1]} px"
    )


# --- mail --------------------------------------------------------------------------------------
def wait_for_mail(
    smtp: SmtpServer, wanted: Callable[[ReceivedMail], bool], timeout: float = MAIL_TIMEOUT_S
) -> ReceivedMail:
    """The first message the SMTP server accepted that ``wanted`` likes, waiting for it."""
    deadline = time.monotonic() + timeout
    while True:
        found = [mail for mail in smtp.messages if wanted(mail)]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            subjects = [mail.message["Subject"] for mail in smtp.messages]
            raise AssertionError(f"no such mail within {timeout} s; received: {subjects}")
        time.sleep(0.2)


def text_part(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None, "the mail has no plain-text part"
    content: str = body.get_content()
    return content


def attachment(message: EmailMessage, filename: str) -> EmailMessage:
    """The attachment called ``filename``."""
    for part in message.iter_attachments():
        if part.get_filename() == filename:
            return part
    raise AssertionError(
        f"no attachment {filename!r}: {[p.get_filename() for p in message.iter_attachments()]}"
    )


def link_in(text: str) -> str:
    """The one appointment link in a message's text."""
    links: set[str] = set(re.findall(r"https?://[^\s<>\"]+/a/[\w-]+/", text))
    assert len(links) == 1, f"expected one appointment link, found {links}"
    return links.pop()

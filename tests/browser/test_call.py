"""The live consultation in Chromium with fake camera and microphone (fake devices).

Every check is on what WebRTC really delivers: frames decoded and audio packets received
(``getStats`` on the page's peer connections, ``window.consultationCall``) and the size of the
picture in the remote ``<video>``. Each person has their own browser context; every step waits
on what the page shows, never on a fixed delay.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from buergerbuero.consult.models import Feedback
from tests.browser.support_call import (
    AGENT_NAME,
    CITIZEN_NAME,
    PORTRAIT,
    CallOffice,
    Meeting,
    People,
    join_with_video,
    log_in,
    make_call_office,
    mark_stale,
    open_call_page,
    same_connection,
    small_pdf,
    start_consultation,
    wait_for_remote_video,
    watched_people,
)
from tests.support.server import AsgiServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Keeps the page's WebSockets reachable, so that a test can drop one like a network would.
KEEP_SOCKETS = """
const NativeWebSocket = window.WebSocket;
window.testSockets = [];
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) { super(...args); window.testSockets.push(this); }
};
"""
DENY_CAMERA = """
navigator.mediaDevices.getUserMedia = () =>
  Promise.reject(new DOMException("Permission denied by the test", "NotAllowedError"));
"""


@pytest.fixture
def call_office() -> CallOffice:
    return make_call_office()


@pytest.fixture
def people(browser: Browser, asgi_server: AsgiServer) -> Iterator[People]:
    with watched_people(browser, asgi_server) as crowd:
        yield crowd


@dataclass(frozen=True)
class Call:
    meeting: Meeting
    agent: Page
    citizen: Page


def _meet(people: People, place: CallOffice, *, video: bool = True, citizen_script: str = "") -> Call:
    """Staff member and citizen on the consultation page; with ``video`` both joined and seeing
    and hearing each other."""
    meeting = start_consultation(place)
    agent = people.open("agent")
    log_in(agent, people.base, place.agent.user, meeting.agent_path)
    citizen = people.open("citizen", init_script=citizen_script)
    open_call_page(citizen, people.base + meeting.citizen_path)
    expect(agent.locator("#consultation [data-connection]")).to_have_attribute("data-connection", "open")
    expect(citizen.locator('[data-peer-role="agent"]')).to_have_attribute("data-peer", "online")
    expect(agent.locator('[data-peer-role="citizen"]')).to_have_attribute("data-peer", "online")
    if video:
        join_with_video(agent)
        join_with_video(citizen)
        wait_for_remote_video(agent, "citizen")
        wait_for_remote_video(citizen, "agent")
    return Call(meeting, agent, citizen)


def _chat(page: Page, text: str) -> None:
    page.get_by_label("Ihre Nachricht").fill(text)
    page.get_by_role("button", name="Senden").click()


def _chat_line(page: Page, text: str) -> Locator:
    return page.locator("[data-chat-log] li").filter(has_text=text)


# --- (a) the call itself ------------------------------------------------------------------------
def test_both_see_and_hear_each_other(people: People, call_office: CallOffice, artifacts_dir: Path) -> None:
    meeting = start_consultation(call_office)
    agent = people.open("agent")
    log_in(agent, people.base, call_office.agent.user, meeting.agent_path)
    citizen = people.open("citizen")
    open_call_page(citizen, people.base + meeting.citizen_path)

    # The pre-call check: a live preview, the level meter, device choice, then "join".
    check = citizen.locator("[data-precheck-panel]")
    expect(check.get_by_role("heading", name="Kamera und Mikrofon prüfen")).to_be_visible()
    expect(check).to_have_attribute("data-precheck", "ready")
    citizen.wait_for_function(
        "() => document.querySelector('[data-preview]').videoWidth > 0"
        " && document.querySelector('[data-meter]').value > 0"
    )
    expect(check.get_by_label("Kamera")).to_have_value(re.compile(r".+"))
    expect(check.get_by_label("Mikrofon", exact=True)).to_have_value(re.compile(r".+"))
    expect(citizen.locator('[data-peer-role="agent"] [data-peer-online]')).to_have_text(
        f"{AGENT_NAME} ist da."
    )
    citizen.screenshot(path=str(artifacts_dir / "call-precheck.png"), full_page=True)

    join_with_video(agent)
    join_with_video(citizen)
    from_citizen = wait_for_remote_video(agent, "citizen")
    from_agent = wait_for_remote_video(citizen, "agent")
    assert from_citizen["connection"] == from_agent["connection"] == "connected"
    expect(agent.locator('[data-tile="citizen-camera"] figcaption')).to_have_text("Bürger:in")
    expect(citizen.locator('[data-tile="agent-camera"] figcaption')).to_have_text("Mitarbeiter:in")
    for page in (agent, citizen):  # the quality indicator reads getStats (loopback: good, or fair under load)
        expect(page.locator("[data-quality]")).to_have_text(re.compile(r"^Verbindung: (gut|mittel)$"))
    agent.screenshot(path=str(artifacts_dir / "call-video.png"), full_page=True)

    # Microphone off on one side is seen as such; the call goes on.
    citizen.get_by_role("button", name="Mikrofon an").click()
    expect(citizen.get_by_role("button", name="Mikrofon aus")).to_have_attribute("aria-pressed", "false")
    citizen.get_by_role("button", name="Kamera an").click()
    expect(agent.locator('[data-tile="citizen-camera"]')).to_have_class(re.compile(r"\btile--camera-off\b"))
    citizen.get_by_role("button", name="Kamera aus").click()
    expect(agent.locator('[data-tile="citizen-camera"]')).not_to_have_class(
        re.compile(r"\btile--camera-off\b")
    )

    # On a phone held upright the citizen sees everything within the screen's width.
    citizen.set_viewport_size(PORTRAIT)
    expect(citizen.locator('[data-tile="agent-camera"] video')).to_be_in_viewport()
    assert citizen.evaluate("document.documentElement.scrollWidth") <= PORTRAIT["width"]
    citizen.screenshot(path=str(artifacts_dir / "call-portrait.png"))
    assert people.script_errors() == {}


# --- (b) screen sharing --------------------------------------------------------------------------
def test_screen_sharing_both_ways(people: People, call_office: CallOffice, artifacts_dir: Path) -> None:
    call = _meet(people, call_office)
    share = call.citizen.get_by_role("button", name="Bildschirm teilen")
    share.click()
    expect(call.citizen.get_by_role("button", name="Teilen beenden")).to_be_visible()
    wait_for_remote_video(call.agent, "citizen", "screen", audio=False, width=1280)
    screen = call.agent.locator('[data-tile="citizen-screen"]')
    expect(screen).to_have_class(re.compile(r"\btile--screen\b"))
    expect(screen.locator("figcaption")).to_have_text("Bildschirm: Bürger:in")
    # Shown large: the full width of the stage, wider than the camera pictures.
    screen_box = screen.bounding_box()
    camera_box = call.agent.locator('[data-tile="citizen-camera"]').bounding_box()
    tiles_box = call.agent.locator("[data-tiles]").bounding_box()
    assert screen_box is not None
    assert camera_box is not None
    assert tiles_box is not None
    assert screen_box["width"] > 1.5 * camera_box["width"]
    assert screen_box["width"] == pytest.approx(tiles_box["width"], abs=2)
    wait_for_remote_video(call.agent, "citizen")  # the camera picture goes on beside it
    call.agent.screenshot(path=str(artifacts_dir / "call-screen.png"), full_page=True)

    call.citizen.get_by_role("button", name="Teilen beenden").click()
    expect(call.agent.locator('[data-tile="citizen-screen"]')).to_have_count(0)
    expect(share).to_be_visible()

    # The staff member shares too (e.g. the application form).
    call.agent.get_by_role("button", name="Bildschirm teilen").click()
    wait_for_remote_video(call.citizen, "agent", "screen", audio=False, width=1280)
    expect(call.citizen.locator('[data-tile="agent-screen"] figcaption')).to_have_text(
        "Bildschirm: Mitarbeiter:in"
    )
    wait_for_remote_video(call.citizen, "agent")
    assert people.script_errors() == {}


# --- (c) chat and documents ----------------------------------------------------------------------
def test_chat_and_documents_round_trip(people: People, call_office: CallOffice) -> None:
    call = _meet(people, call_office, video=False)
    agent, citizen = call.agent, call.citizen
    _chat(citizen, "Ich schicke Ihnen den Lageplan.")
    expect(_chat_line(agent, "Ich schicke Ihnen den Lageplan.").locator(".chat__author")).to_have_text(
        "Bürger:in"
    )
    _chat(agent, "Danke, ich sehe ihn mir an.")
    expect(_chat_line(citizen, "Danke, ich sehe ihn mir an.").locator(".chat__author")).to_have_text(
        "Mitarbeiter:in"
    )

    # The citizen shares a real PDF; the staff member sees it listed and downloads it.
    pdf = small_pdf("Lageplan Flurstueck 12")
    citizen.get_by_label("Datei teilen (PDF, Bild, Office-Dokument)").set_input_files(
        {"name": "Lageplan.pdf", "mimeType": "application/pdf", "buffer": pdf}
    )
    citizen.get_by_role("button", name="Teilen", exact=True).click()
    expect(citizen.locator("[data-document-error]")).to_have_text("")
    expect(citizen.locator("[data-documents] a")).to_have_text(["Lageplan.pdf"])
    link = agent.locator("[data-documents] a", has_text="Lageplan.pdf")
    expect(link).to_be_visible()
    expect(agent.locator("[data-documents] li")).to_contain_text(["Bürger:in"])
    response = agent.context.request.get(people.base + str(link.get_attribute("href")))
    assert response.status == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert 'filename="Lageplan.pdf"' in response.headers["content-disposition"]
    assert response.headers["content-type"] == "application/pdf"
    assert response.body() == pdf
    with agent.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "Lageplan.pdf"
    assert Path(download.value.path()).read_bytes() == pdf

    # The staff member shares one back; the citizen downloads it with the ticket's token.
    form = small_pdf("Formular Bauantrag")
    agent.get_by_label("Datei teilen (PDF, Bild, Office-Dokument)").set_input_files(
        {"name": "Bauantrag.pdf", "mimeType": "application/pdf", "buffer": form}
    )
    agent.get_by_role("button", name="Teilen", exact=True).click()
    back = citizen.locator("[data-documents] a", has_text="Bauantrag.pdf")
    expect(back).to_be_visible()
    response = citizen.context.request.get(people.base + str(back.get_attribute("href")))
    assert response.status == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.body() == form
    # … and nobody else can: the same address without the token (another browser) is refused.
    stranger = people.open("stranger")
    assert stranger.context.request.get(people.base + str(link.get_attribute("href"))).status == 404

    # HTML renamed to .pdf is refused, in German, and nobody sees it.
    citizen.get_by_label("Datei teilen (PDF, Bild, Office-Dokument)").set_input_files(
        {
            "name": "Rechnung.pdf",
            "mimeType": "application/pdf",
            "buffer": b"<!DOCTYPE html><html><body>Hallo</body></html>",
        }
    )
    citizen.get_by_role("button", name="Teilen", exact=True).click()
    expect(citizen.locator("[data-document-error]")).to_have_text(
        "Es können nur PDF-Dateien, Bilder (PNG, JPEG, WebP) und Office-Dokumente geteilt werden."
    )
    expect(citizen.locator("[data-documents] a")).to_have_count(2)
    expect(agent.locator("[data-documents] a")).to_have_count(2)
    assert people.script_errors("status of 400 (Bad Request)") == {}  # the refused upload


# --- (d) the interpreter -------------------------------------------------------------------------
def test_interpreter_joins_by_link_and_is_removed(
    people: People, call_office: CallOffice, artifacts_dir: Path
) -> None:
    call = _meet(people, call_office)
    agent, citizen = call.agent, call.citizen
    mark_stale(agent, "citizen")  # the agent–citizen connection must survive the newcomer
    mark_stale(citizen, "agent")

    agent.get_by_role("button", name="Einladungslink erstellen").click()
    link_box = agent.get_by_label(re.compile(r"^Senden Sie diesen Link an die Dolmetscherin"))
    expect(link_box).to_have_value(re.compile(r"^http://localhost:\d+/interpret/[\w-]{20,}/$"))
    link = link_box.input_value()

    # Opening the link only offers to join (a messenger's preview must not use it up) …
    interpreter = people.open("interpreter")
    interpreter.goto(link)
    expect(interpreter.get_by_role("heading", level=1)).to_have_text("Dolmetschen in einer Beratung")
    interpreter.reload()  # a second look does not use it up either
    # … joining claims it for this browser.
    interpreter.get_by_role("button", name="Als Dolmetscher:in teilnehmen").click()
    expect(interpreter).to_have_url(re.compile(rf"/interpret/consultations/{call.meeting.consultation.pk}/$"))
    expect(interpreter.locator("#consultation")).to_have_attribute("data-role", "interpreter")
    expect(interpreter.locator("#consultation [data-connection]")).to_have_attribute(
        "data-connection", "open"
    )
    join_with_video(interpreter)
    wait_for_remote_video(interpreter, "agent")
    wait_for_remote_video(interpreter, "citizen")
    wait_for_remote_video(agent, "interpreter")
    wait_for_remote_video(citizen, "interpreter")
    expect(interpreter.locator("[data-tiles] video")).to_have_count(3)  # two remote pictures and its own
    expect(agent.locator('[data-tile="interpreter-camera"] figcaption')).to_have_text("Dolmetscher:in")
    expect(citizen.locator('[data-peer-role="interpreter"]')).to_have_attribute("data-peer", "online")
    assert same_connection(agent, "citizen"), "the interpreter's arrival replaced the agent's connection"
    assert same_connection(citizen, "agent"), "the interpreter's arrival replaced the citizen's connection"
    frames = wait_for_remote_video(agent, "citizen", fresh=False)["framesDecoded"]
    wait_for_remote_video(agent, "citizen", frames=frames + 10, fresh=False)  # still decoding

    # Pinned large for sign-language interpreting.
    agent.get_by_role("button", name="Dolmetscher:in groß zeigen").click()
    pinned = agent.locator('[data-tile="interpreter-camera"]').bounding_box()
    tiles_box = agent.locator("[data-tiles]").bounding_box()
    assert pinned is not None
    assert tiles_box is not None
    assert pinned["width"] == pytest.approx(tiles_box["width"], abs=2)
    agent.screenshot(path=str(artifacts_dir / "call-interpreter.png"), full_page=True)

    # The link works once: another browser opening it now is refused.
    intruder = people.open("intruder")
    response = intruder.goto(link)
    assert response is not None
    assert response.status == 410
    expect(intruder.get_by_text("Dieser Einladungslink ist nicht (mehr) gültig.")).to_be_visible()
    expect(agent.locator("[data-tiles] video")).to_have_count(3)

    # The staff member removes the interpreter: their page leaves, the others go on.
    agent.get_by_role("button", name="Dolmetscher:in entfernen").click()
    expect(interpreter).to_have_url(re.compile(r"/interpret/done/$"))
    for page in (agent, citizen):
        expect(page.locator('[data-role="interpreter"]')).to_have_count(0)
        expect(page.locator('[data-peer-role="interpreter"]')).to_have_attribute("data-peer", "offline")
    assert agent.evaluate("window.consultationCall.peers.has('interpreter')") is False
    assert same_connection(agent, "citizen")
    frames = wait_for_remote_video(agent, "citizen", fresh=False)["framesDecoded"]
    wait_for_remote_video(agent, "citizen", frames=frames + 10, fresh=False)  # and go on decoding
    # The removed interpreter cannot come back with the cookie of the claimed link.
    interpreter.goto(people.base + f"/interpret/consultations/{call.meeting.consultation.pk}/")
    expect(interpreter.get_by_text("Diese Beratung steht Ihnen (nicht mehr) offen.")).to_be_visible()
    assert people.script_errors("status of 410 (Gone)", "status of 403 (Forbidden)") == {}


# --- (e) reload and a dropped connection ------------------------------------------------------------
def test_reload_and_dropped_connection_rejoin(people: People, call_office: CallOffice) -> None:
    call = _meet(people, call_office, citizen_script=KEEP_SOCKETS)
    agent, citizen = call.agent, call.citizen
    _chat(citizen, "Vor dem Neuladen")
    expect(_chat_line(agent, "Vor dem Neuladen")).to_have_count(1)
    mark_stale(agent, "citizen")

    citizen.reload()
    expect(citizen).to_have_url(people.base + call.meeting.citizen_path)
    expect(citizen.locator("#consultation [data-connection]")).to_have_attribute("data-connection", "open")
    expect(_chat_line(citizen, "Vor dem Neuladen")).to_have_count(1)  # the history is back
    join_with_video(citizen)
    wait_for_remote_video(citizen, "agent", frames=15)
    wait_for_remote_video(agent, "citizen", frames=15)  # on a new connection, not the dead one
    citizen_tile = agent.locator('[data-tile="citizen-camera"]')
    expect(citizen_tile).to_have_count(1)
    expect(citizen_tile).not_to_have_class(re.compile(r"\btile--reconnecting\b"))
    _chat(citizen, "Nach dem Neuladen")
    expect(_chat_line(agent, "Nach dem Neuladen")).to_have_count(1)

    # The citizen's connection to the server drops: the socket comes back by itself, a new
    # call connection replaces the old one and goes on with the same camera.
    mark_stale(agent, "citizen")
    citizen.evaluate("window.testSockets.at(-1).close()")
    expect(citizen.locator("#consultation [data-connection]")).to_have_attribute(
        "data-connection", "reconnecting"
    )
    expect(citizen.locator("#consultation [data-connection]")).to_have_attribute("data-connection", "open")
    wait_for_remote_video(agent, "citizen", frames=15)  # frames keep coming
    wait_for_remote_video(citizen, "agent", frames=15)
    expect(citizen_tile.locator("[data-status]")).to_have_text("")
    tracks = citizen.evaluate("window.consultationCall.camera.getTracks().map((track) => track.readyState)")
    assert tracks == ["live", "live"]

    # The citizen's page goes away: the staff member sees "reconnecting" instead of a dead picture.
    citizen.close()
    expect(citizen_tile.locator("[data-status]")).to_have_text("Verbindung wird wiederhergestellt …")
    expect(citizen_tile).to_have_class(re.compile(r"\btile--reconnecting\b"))
    expect(agent.locator('[data-peer-role="citizen"]')).to_have_attribute("data-peer", "offline")
    assert people.script_errors() == {}


# --- (f) camera refused ---------------------------------------------------------------------------
def test_refused_camera_explained_and_chat_only_works(people: People, call_office: CallOffice) -> None:
    meeting = start_consultation(call_office)
    agent = people.open("agent")
    log_in(agent, people.base, call_office.agent.user, meeting.agent_path)
    citizen = people.open("citizen", init_script=DENY_CAMERA)
    open_call_page(citizen, people.base + meeting.citizen_path)

    check = citizen.locator("[data-precheck-panel]")
    expect(check).to_have_attribute("data-precheck", "denied")
    expect(check.get_by_role("alert")).to_have_text(
        "Ihr Browser erlaubt keinen Zugriff auf Kamera oder Mikrofon. Erlauben Sie ihn in der Adressleiste"
        " (Kamera-Symbol) und versuchen Sie es erneut – oder fahren Sie nur mit Chat fort."
    )
    # Trying again explains again; chat only takes the citizen in.
    check.get_by_role("button", name="Mit Video teilnehmen").click()
    expect(check).to_have_attribute("data-precheck", "denied")
    expect(check).to_be_visible()
    check.get_by_role("button", name="Nur mit Chat fortfahren").click()
    expect(check).to_be_hidden()
    expect(citizen.locator("[data-stage]")).to_be_visible()
    expect(citizen.locator('[data-tile="self"]')).to_be_hidden()
    expect(citizen.get_by_role("button", name="Mikrofon an")).to_be_hidden()
    _chat(citizen, "Meine Kamera geht nicht, ich schreibe lieber.")
    expect(_chat_line(agent, "Meine Kamera geht nicht, ich schreibe lieber.")).to_have_count(1)
    _chat(agent, "Kein Problem.")
    expect(_chat_line(citizen, "Kein Problem.")).to_have_count(1)

    # The staff member with video still reaches the citizen; the citizen sends no media.
    join_with_video(agent)
    wait_for_remote_video(citizen, "agent")
    sent = citizen.evaluate(
        "() => window.consultationCall.peers.get('agent').pc.getSenders().filter((s) => s.track).length"
    )
    assert sent == 0
    assert people.script_errors() == {}


# --- (g) the end ------------------------------------------------------------------------------------
def test_end_closing_page_and_rating(people: People, call_office: CallOffice) -> None:
    call = _meet(people, call_office)
    call.agent.get_by_role("button", name="Beratung beenden").click()
    expect(call.agent).to_have_url(re.compile(r"/staff/console/$"))
    citizen = call.citizen
    expect(citizen).to_have_url(re.compile(rf"/w/{re.escape(call.meeting.token)}/done/$"))
    expect(citizen.get_by_role("heading", level=1)).to_have_text("Die Beratung ist beendet")
    expect(citizen.get_by_role("group", name="Wie zufrieden waren Sie? (freiwillig, anonym)")).to_be_visible()
    citizen.get_by_label("4 Sterne").check()
    citizen.get_by_label("Kommentar (freiwillig; bitte keine persönlichen Daten)").fill("Sehr hilfreich.")
    citizen.get_by_role("button", name="Bewertung senden").click()
    expect(citizen.get_by_text("Vielen Dank für Ihre Bewertung.")).to_be_visible()
    expect(citizen.get_by_role("button", name="Bewertung senden")).to_have_count(0)
    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.comment) == (4, "Sehr hilfreich.")
    assert feedback.office_id == call_office.office.pk
    assert CITIZEN_NAME not in str(vars(feedback))
    assert people.script_errors() == {}

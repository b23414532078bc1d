// The waiting room: keeps the citizen's position, estimate and call state live.
//
// Every queue change arrives as one message shared by all waiting citizens: {seq, op, key}.
// We derive our own position by comparing keys (lower comes first). Messages carry a
// sequence number; a gap that does not fill within a moment makes us ask for a snapshot.

import { liveSocket, showConnection } from "../realtime/socket.js";
import { waitAt, waitText } from "./estimate.js";
import { seatsText } from "./seats.js";
import { remember } from "../lib/storage.js";
import { chime } from "../lib/chime.js";

const root = document.getElementById("waiting-room");
const token = root.dataset.token;
const GAP_WAIT_MS = 600;
const ANNOUNCE_EVERY_MS = 30000;

let seq = null;           // last applied sequence number; null until the first snapshot
let position = null;
let status = root.dataset.status;
let live = null;
let closesAt = null;      // when the office closes today, if it is open
const myKey = root.dataset.key.split(",").map(Number);
const pending = new Map(); // seq -> message, held while an earlier one is missing
let gapTimer = null;
let lastAnnounced = 0;
let countdown = null;     // the interval that counts the call's deadline down
let originalTitle = document.title;
let office = Number(root.dataset.office); // the office whose queue we are in (changes on a transfer)
let transferNotice = "";  // said with the next announcement of the place

remember(`bb-ticket-${office}`, token);

function before(a, b) {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

function render() {
  root.querySelector("[data-position]").textContent = position ?? "–";
  const wait = live && position ? waitAt(position, live.estimate) : null;
  root.querySelector("[data-estimate]").textContent = waitText(wait);
  const pastClosing = wait !== null && closesAt !== null && Date.now() + wait[1] * 1000 > closesAt;
  root.querySelector("[data-past-closing]").hidden = !pastClosing || status === "called";
  if (live) {
    root.querySelector("[data-seats]").textContent = seatsText(live);
  }
  const calledPanel = root.querySelector("[data-called-panel]");
  calledPanel.hidden = status !== "called";
  root.querySelector("[data-queue-panel]").hidden = status === "called";
}

// Offices may hide the queue position: then screen readers hear the estimate, like the page shows.
let showPosition = root.dataset.showPosition !== "false";

// Polite and at most every ANNOUNCE_EVERY_MS (not on every change); only while waiting: a called
// citizen has no place in the queue (they hear "It's your turn!" instead).
function announcePosition(force = false) {
  const now = Date.now();
  if (status !== "waiting" || position === null) return;
  if (!force && now - lastAnnounced < ANNOUNCE_EVERY_MS) return;
  lastAnnounced = now;
  const wait = `${gettext("Estimated wait:")} ${root.querySelector("[data-estimate]").textContent}`;
  const place = showPosition ? `${interpolate(gettext("Your place in the queue: %s"), [position])}. ${wait}` : wait;
  // One update of the live region: a second one right after could cut the first off.
  root.querySelector("[data-polite]").textContent = transferNotice ? `${transferNotice} ${place}` : place;
  transferNotice = "";
}

// Staff moved us to another office's queue (the ticket event, or a snapshot that names another
// office after a lost event): its heading and waiting area replace the old ones, and the
// citizen is told — visibly and, with the next place announcement, to screen readers.
// Said now when asked (the place was announced already), else with the next place announcement.
function tellTransfer(name, now = false) {
  const notice = interpolate(
    gettext("You have been moved to the waiting room “%(office)s”. Your place still follows your arrival time."),
    { office: name }, true);
  const shown = root.querySelector("[data-transfer-notice]");
  shown.textContent = notice;
  shown.hidden = false;
  transferNotice = notice;
  if (now || status !== "waiting") {
    root.querySelector("[data-polite]").textContent = notice;
    transferNotice = "";
  }
}

function setShowPosition(show) {
  showPosition = show;
  root.querySelector(".position").hidden = !show;
}

async function officeChanged(next) {
  if (next.id === office) return;
  office = next.id;
  root.dataset.office = String(office);
  remember(`bb-ticket-${office}`, token);
  if (next.name) tellTransfer(next.name);
  if (typeof next.show_position === "boolean") setShowPosition(next.show_position);
  try {
    // The office's parts of the page (a fragment: no styles or scripts of a whole page).
    const response = await fetch(root.dataset.areaUrl, { credentials: "same-origin" });
    if (!response.ok) return;
    const parts = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = parts.querySelector("[data-office-parts]");
    if (!fresh || Number(fresh.dataset.office) !== office) return;
    if (!next.name) tellTransfer(fresh.dataset.officeName, true); // learnt from a snapshot
    setShowPosition(fresh.dataset.showPosition !== "false");
    root.querySelector("h1").textContent = fresh.querySelector("h1").textContent;
    root.querySelector("[data-waiting-area]").replaceChildren(...fresh.querySelector("[data-waiting-area]").childNodes);
    originalTitle = fresh.querySelector("h1").textContent;
    if (status !== "called") document.title = originalTitle;
  } catch { /* offline for a moment: the notice stands, a reload shows the rest */ }
}

function called(deadline) {
  status = "called";
  render();
  document.title = `🔔 ${gettext("It's your turn!")} — ${originalTitle}`;
  root.querySelector("[data-assertive]").textContent = gettext("It's your turn! Please confirm that you are here.");
  clearInterval(countdown);
  if (deadline) {
    // Counts down visibly (not in a live region: a screen reader should not hear every second).
    const show = () => {
      const seconds = Math.max(0, Math.round((Date.parse(deadline) - Date.now()) / 1000));
      root.querySelector("[data-deadline-text]").textContent = interpolate(
        ngettext("Please confirm within %s second.", "Please confirm within %s seconds.", seconds), [seconds]);
      if (seconds === 0 || status !== "called") clearInterval(countdown);
    };
    show();
    countdown = setInterval(show, 1000);
  }
  chime(880, 0.4);
  root.querySelector("[data-confirm-button]").focus();
}

function applySnapshot(message) {
  seq = message.seq;
  status = message.status;
  position = message.position;
  live = message.live;
  closesAt = message.closes_at ? Date.parse(message.closes_at) : null;
  pending.clear();
  if (message.office && message.office !== office) officeChanged({ id: message.office });
  setAnnouncement(message.announcement);
  if (message.status === "admitted") return location.assign(root.dataset.consultationUrl);
  if (message.status === "called") called(message.deadline);
  render();
  announcePosition(true);
}

function setAnnouncement(text) {
  const box = root.querySelector("[data-announcement-box]");
  const shown = root.querySelector("[data-announcement]");
  const changed = Boolean(text) && text !== shown.textContent;
  box.hidden = !text;
  shown.textContent = text || "";
  // A new message is also spoken: the box is no live region (it appears together with its
  // first message, and screen readers do not announce a region that appears with its text).
  if (changed) {
    root.querySelector("[data-polite]").textContent = `${box.querySelector("h2").textContent}: ${text}`;
  }
}

function applyQueueMessage(message) {
  if (message.type === "queue" && position !== null && before(message.key, myKey)) {
    position += message.op === "join" ? 1 : -1;
    announcePosition();
  }
  if (message.type === "announcement") setAnnouncement(message.text);
  if (message.live) live = message.live;
  render();
}

// The next message to apply: the one numbered seq + 1, or one that also stands for it
// ("covers": the server merged figures-only updates into it, realtime/hub.py).
function nextInSequence() {
  if (pending.has(seq + 1)) return pending.get(seq + 1);
  for (const message of pending.values()) {
    if (message.covers !== undefined && message.covers <= seq + 1) return message;
  }
  return null;
}

function onSequenced(message) {
  if (seq === null || message.seq <= seq) return; // before our snapshot, or already applied
  pending.set(message.seq, message);
  for (let next = nextInSequence(); next !== null; next = nextInSequence()) {
    pending.delete(next.seq);
    seq = next.seq;
    applyQueueMessage(next);
  }
  clearTimeout(gapTimer);
  if (pending.size > 0) {
    gapTimer = setTimeout(() => socket.send({ type: "resync" }), GAP_WAIT_MS);
  }
}

const STAFF_ENDED = new Set(["removed", "no_show"]);
const UNDO_WAIT_MS = 11_000; // the console's undo window (waiting.services.UNDO_SECONDS) and a second
let endedTimer = null;

function onTicketEvent(message) {
  switch (message.type) {
    case "called": return called(message.deadline);
    case "admitted": return location.assign(root.dataset.consultationUrl);
    case "requeued":
      clearTimeout(endedTimer); // staff took a removal back: the place is ours again
      status = "waiting";
      document.title = originalTitle;
      return socket.send({ type: "resync" });
    case "ended":
      // Staff may take a removal back for a few seconds: only then does the page change.
      if (STAFF_ENDED.has(message.reason)) {
        clearTimeout(endedTimer);
        endedTimer = setTimeout(() => location.reload(), UNDO_WAIT_MS);
        return;
      }
      return location.reload();
    case "transferred":
      // The server follows with a fresh snapshot of the new queue.
      return officeChanged({ id: message.office, name: message.office_name, show_position: message.show_position });
  }
}

const socket = liveSocket(`/ws/tickets/${encodeURIComponent(token)}/`, {
  onState: (state) => showConnection(root, state),
  onMessage(message) {
    if (message.type === "snapshot") return applySnapshot(message);
    if ("seq" in message) return onSequenced(message);
    onTicketEvent(message);
  },
  onOpen() { /* the server sends a snapshot on every (re)connection */ },
});

render();

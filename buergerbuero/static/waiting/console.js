// The staff console: presence, call next, the live list of waiting citizens, and actions.
// The server pushes the whole console state on every change; buttons POST small requests.
// A new state updates the page in place: rows and office cards are kept per id, so that a
// half-typed message and the keyboard focus survive every change.

import { liveSocket, showConnection } from "../realtime/socket.js";
import { chime } from "../lib/chime.js";
import { button } from "../lib/elements.js";
import { seatsText } from "./seats.js";

const root = document.getElementById("console");
const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
const errorBox = root.querySelector("[data-console-error]");
const dialog = document.querySelector("[data-confirm-dialog]");
let knownTickets = null;
let state = null;
let refreshTimer = null;

const PRESENCE = {
  available: gettext("available"),
  busy: gettext("in consultation"),
  pause: gettext("pause"),
  offline: gettext("offline"),
};
const MODE = { video: gettext("Video"), chat: gettext("Chat only") };
const UNDO_MS = 10_000; // waiting.services.UNDO_SECONDS

// An address from the page (Django's URLs, reversed with 0 for the id) for one ticket or office.
function urlFor(name, id) {
  return root.dataset[name].replace("/0/", `/${encodeURIComponent(id)}/`);
}

async function post(url, data = {}) {
  errorBox.textContent = "";
  const response = await fetch(url, {
    method: "POST",
    headers: { "X-CSRFToken": csrf },
    body: new URLSearchParams(data),
    credentials: "same-origin",
  });
  let body = {};
  try { body = await response.json(); } catch { /* not JSON */ }
  if (!response.ok) {
    errorBox.textContent = body.error || gettext("That did not work. Please try again.");
    body.failed = true;
  }
  return body;
}

// --- confirmation: a modal dialog (focus inside, Escape cancels, focus returns after) -------
function confirmAction(title, text, okLabel) {
  dialog.querySelector("[data-confirm-title]").textContent = title;
  dialog.querySelector("[data-confirm-text]").textContent = text;
  dialog.querySelector("[data-confirm-ok]").textContent = okLabel;
  dialog.returnValue = "";
  const opener = document.activeElement;
  dialog.showModal();
  dialog.querySelector("[data-confirm-cancel]").focus(); // the safe choice is the default
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      if (opener && opener.isConnected) opener.focus();
      resolve(dialog.returnValue === "confirm");
    }, { once: true });
  });
}

// --- undo of a removal ---------------------------------------------------------------------
const undoBar = root.querySelector("[data-undo]");
const undoButton = root.querySelector("[data-undo-button]");
let undoTicket = null;
let undoTimer = null;

function offerUndo(ticket, text) {
  undoTicket = ticket;
  root.querySelector("[data-undo-text]").textContent = text;
  undoBar.hidden = false;
  clearTimeout(undoTimer);
  undoTimer = setTimeout(hideUndo, UNDO_MS);
}

function hideUndo() {
  const hadFocus = undoBar.contains(document.activeElement);
  undoBar.hidden = true;
  undoTicket = null;
  if (hadFocus) focusQueue();
}

function focusQueue() {
  const heading = root.querySelector("#queue-heading");
  heading.tabIndex = -1;
  heading.focus();
}

undoButton.addEventListener("click", async () => {
  if (undoTicket === null) return;
  const ticket = undoTicket;
  clearTimeout(undoTimer);
  hideUndo();
  const result = await post(urlFor("undoRemove", ticket));
  if (!result.failed) {
    root.querySelector("[data-alert]").textContent = gettext("The citizen is back in their place.");
  }
  focusQueue();
});

async function removeTicket(ticket, noShow) {
  const name = ticket.name || gettext("(anonymous)");
  const confirmed = await confirmAction(
    noShow ? gettext("Mark as no-show?") : gettext("Remove from the queue?"),
    interpolate(noShow
      ? gettext("%s will be marked as not present and leaves the waiting room.")
      : gettext("%s leaves the waiting room."), [name]),
    noShow ? gettext("Mark as no-show") : gettext("Remove"),
  );
  if (!confirmed) return;
  const result = await post(urlFor("remove", ticket.id), noShow ? { no_show: "1" } : {});
  if (result.failed) return;
  offerUndo(ticket.id, interpolate(
    noShow ? gettext("%s was marked as no-show.") : gettext("%s was removed."), [name]));
  undoButton.focus(); // the row is gone: the next thing a keyboard user may want is "Undo"
}

async function transferTicket(ticket, select) {
  const target = state.transfer_targets.find((office) => String(office.id) === select.value);
  if (!target) return;
  const confirmed = await confirmAction(
    gettext("Transfer?"),
    interpolate(gettext("%(name)s moves to the waiting room of %(office)s, keeping their arrival time."),
      { name: ticket.name || gettext("(anonymous)"), office: target.name }, true),
    gettext("Transfer"),
  );
  if (confirmed) await post(urlFor("transfer", ticket.id), { office: target.id });
  select.value = "";
}

// --- arrivals ------------------------------------------------------------------------------
function minutes(seconds) {
  const value = Math.floor(seconds / 60);
  return interpolate(ngettext("%s min", "%s min", value), [value]);
}

function updateTitle() {
  const count = state ? state.waiting.length : 0;
  document.title = `(${count}) ${gettext("Console")}`;
}

function alertArrival(count, text = null) {
  root.querySelector("[data-alert]").textContent = text || interpolate(
    ngettext("%s citizen has arrived", "%s citizens have arrived", count), [count]);
  updateTitle();
  chime(660, 0.25);
  root.classList.add("console--arrival");
  setTimeout(() => root.classList.remove("console--arrival"), 1500);
}

// --- office cards (built once per office, then updated) ------------------------------------
const cards = new Map(); // office id -> card element
let current = new Map(); // office id -> the office's latest state

function buildCard(id) {
  const card = document.getElementById("office-template").content.firstElementChild.cloneNode(true);
  card.dataset.office = id;
  card.querySelector("[data-announce-form]").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = event.target.querySelector("input[name=text]");
    const result = await post(urlFor("announce", id), { text: input.value });
    if (result.ok) input.value = "";
  });
  card.querySelector("[data-clear-announcement]").addEventListener("click", async () => {
    const result = await post(urlFor("clearAnnouncement", id));
    if (result.ok) card.querySelector("[data-announce-form] input").focus();
  });
  card.querySelector("[data-open-now-form]").addEventListener("submit", async (event) => {
    event.preventDefault();
    await post(urlFor("openNow", id), { until: event.target.elements.until.value });
  });
  card.querySelector("[data-close-now]").addEventListener("click", async () => {
    const office = current.get(id);
    const confirmed = await confirmAction(
      gettext("Close now?"),
      interpolate(gettext("%s closes for the rest of today; citizens already waiting keep their place."),
        [office.name]),
      gettext("Close now"),
    );
    if (confirmed) await post(urlFor("closeNow", id));
  });
  return card;
}

function renderOffices() {
  const container = root.querySelector("[data-offices]");
  current = new Map(state.offices.map((office) => [office.id, office]));
  for (const [id, card] of cards) {
    if (!current.has(id)) { card.remove(); cards.delete(id); }
  }
  state.offices.forEach((office, index) => {
    let card = cards.get(office.id);
    if (!card) { card = buildCard(office.id); cards.set(office.id, card); }
    if (container.children[index] !== card) container.insertBefore(card, container.children[index] || null);
    card.querySelector("[data-name]").textContent = office.name;
    // The citizens' wording of the seats (one wording everywhere), plural forms for the counts.
    card.querySelector("[data-figures]").textContent = `${interpolate(
      ngettext("%(waiting)s person waiting", "%(waiting)s people waiting", office.waiting), office, true)} · ${seatsText(office)}`;
    card.querySelector("[data-hours-status]").textContent = office.status;
    card.querySelector("[data-close-now]").hidden = !office.open;
    const shown = card.querySelector("[data-current-announcement]");
    const focusInShown = shown.contains(document.activeElement);
    shown.hidden = !office.announcement;
    card.querySelector("[data-announcement-text]").textContent = office.announcement;
    if (focusInShown && shown.hidden) card.querySelector("[data-announce-form] input").focus();
  });
  scheduleRefresh();
}

// The opening status changes with the clock too ("closes in 10 minutes"): ask for a fresh
// state when it does.
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const changes = state.offices.map((office) => Date.parse(office.next_change_at)).filter(Number.isFinite);
  if (changes.length === 0) return;
  const delay = Math.max(1000, Math.min(...changes) - Date.now() + 500);
  refreshTimer = setTimeout(() => socket.send({ type: "refresh" }), Math.min(delay, 3_600_000));
}

const LANGUAGE_NAMES = JSON.parse(document.getElementById("language-names")?.textContent || "{}");

// The citizen's language, and a hint where an interpreter may help (not German).
function languageText(code) {
  const name = LANGUAGE_NAMES[code] || code;
  return code === "de" ? name : `${name} · ${gettext("interpreter may help")}`;
}

// --- the queue (rows kept per ticket, their actions rebuilt only when they change) ---------
const rows = new Map(); // ticket id -> { row, cells, actions, signature }
let ticketsById = new Map();

function buildRow(id) {
  const row = document.createElement("tr");
  row.dataset.ticket = id;
  const cells = Array.from({ length: 5 }, () => row.appendChild(document.createElement("td")));
  const actions = row.appendChild(document.createElement("td"));
  actions.className = "queue-table__actions";
  return { row, cells, actions, signature: "" };
}

function buildActions(entry, ticket, admit) {
  const id = ticket.id;
  const focusedKey = entry.actions.contains(document.activeElement) ? document.activeElement.dataset.key : null;
  entry.actions.replaceChildren();
  if (admit) {
    const admitButton = button(gettext("Admit"), () => post(urlFor("callTicket", id)));
    admitButton.dataset.key = "admit";
    entry.actions.append(admitButton);
  }
  const remove = button(gettext("Remove"), () => removeTicket(ticketsById.get(id), false));
  remove.dataset.key = "remove";
  const noShow = button(gettext("No-show"), () => removeTicket(ticketsById.get(id), true));
  noShow.dataset.key = "no-show";
  const select = document.createElement("select");
  select.dataset.key = "transfer";
  select.setAttribute("aria-label", gettext("Transfer to office"));
  select.append(new Option(gettext("Transfer to …"), ""));
  for (const target of state.transfer_targets) {
    if (target.id !== ticket.office) select.append(new Option(target.name, target.id));
  }
  // A choice alone does nothing: the transfer waits for its confirmation.
  select.addEventListener("change", () => transferTicket(ticketsById.get(id), select));
  entry.actions.append(remove, noShow, select);
  if (focusedKey) entry.actions.querySelector(`[data-key="${focusedKey}"]`)?.focus();
}

function renderQueue() {
  const body = root.querySelector("[data-queue]");
  const knock = new Set(state.offices.filter((office) => office.knock).map((office) => office.id));
  ticketsById = new Map(state.waiting.map((ticket) => [ticket.id, ticket]));
  let focusLost = false;
  for (const [id, entry] of rows) {
    if (!ticketsById.has(id)) {
      focusLost ||= entry.row.contains(document.activeElement);
      entry.row.remove();
      rows.delete(id);
    }
  }
  const targets = state.transfer_targets.map((office) => `${office.id}:${office.name}`).join("|");
  state.waiting.forEach((ticket, index) => {
    let entry = rows.get(ticket.id);
    if (!entry) { entry = buildRow(ticket.id); rows.set(ticket.id, entry); }
    entry.row.className = ticket.booked_for_me ? "queue-table__booked" : "";
    const texts = [
      (ticket.name || gettext("(anonymous)")) + (ticket.booked ? ` (${gettext("appointment")})` : ""),
      ticket.service || "—",
      languageText(ticket.language),
      MODE[ticket.mode] || ticket.mode,
      minutes(ticket.waited_s),
    ];
    texts.forEach((text, i) => { if (entry.cells[i].textContent !== text) entry.cells[i].textContent = text; });
    const admit = (knock.has(ticket.office) || ticket.booked_for_me) && ticket.callable;
    const signature = `${admit}|${ticket.office}|${targets}`;
    if (entry.signature !== signature) {
      buildActions(entry, ticket, admit);
      entry.signature = signature;
    }
    // Move only rows out of place (moving a row would take the focus out of it).
    if (body.children[index] !== entry.row) {
      const focused = entry.row.contains(document.activeElement) ? document.activeElement : null;
      body.insertBefore(entry.row, body.children[index] || null);
      focused?.focus();
    }
  });
  root.querySelector("[data-waiting-count]").textContent = state.waiting.length;
  if (focusLost && !dialog.open && undoBar.hidden) focusQueue();
}

function renderCall() {
  const box = root.querySelector("[data-current-call]");
  box.hidden = !state.call;
  if (state.call) {
    box.querySelector("[data-current-call-text]").textContent = interpolate(
      gettext("Called %s — waiting for their confirmation."), [state.call.name || gettext("(anonymous)")]);
  }
  const open = root.querySelector("[data-open-consultation]");
  open.hidden = !state.in_consultation;
  open.querySelector("a").href = root.dataset.currentConsultation;
  root.querySelector("[data-call-next-button]").disabled = Boolean(state.call || state.in_consultation);
  root.querySelector("[data-presence-label]").textContent = PRESENCE[state.presence] || state.presence;
  for (const presenceButton of root.querySelectorAll("[data-set-presence]")) {
    presenceButton.setAttribute("aria-pressed", String(presenceButton.dataset.setPresence === state.presence));
  }
}

const BOOKED_ARRIVED = () => gettext("A citizen with an appointment with you has arrived. Please let them in.");
const announcedBooked = new Set(); // tickets whose arrival "booked_arrived" announced already

function render(next) {
  const ids = new Set(next.waiting.map((ticket) => ticket.id));
  const arrived = knownTickets
    ? next.waiting.filter((ticket) => !knownTickets.has(ticket.id) && !announcedBooked.has(ticket.id))
    : [];
  knownTickets = ids;
  state = next;
  renderCall();
  renderOffices();
  renderQueue();
  updateTitle();
  if (arrived.some((ticket) => ticket.booked_for_me)) alertArrival(1, BOOKED_ARRIVED());
  else if (arrived.length > 0) alertArrival(arrived.length);
}

const socket = liveSocket("/ws/console/", {
  onState: (connection) => showConnection(root, connection),
  onMessage(message) {
    if (message.type === "state") render(message);
    if (message.type === "admitted") location.assign(urlFor("consultation", message.consultation));
    if (message.type === "booked_arrived") {
      announcedBooked.add(message.ticket);
      alertArrival(1, BOOKED_ARRIVED());
    }
  },
});

root.querySelector("[data-call-next-button]").addEventListener("click", async () => {
  const result = await post(root.dataset.callNext);
  if (result.ticket === null) errorBox.textContent = gettext("Nobody is waiting for you right now.");
});
for (const presenceButton of root.querySelectorAll("[data-set-presence]")) {
  presenceButton.addEventListener("click", () => post(root.dataset.presence, { state: presenceButton.dataset.setPresence }));
}

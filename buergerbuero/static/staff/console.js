// The staff console: presence, call next, the live list of waiting citizens, and actions.
// The server pushes the whole console state on every change; buttons POST small requests.

import { liveSocket, showConnection } from "../realtime/socket.js";

const root = document.getElementById("console");
const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
const errorBox = root.querySelector("[data-console-error]");
let knownTickets = null;
let state = null;

const PRESENCE = {
  available: gettext("available"),
  busy: gettext("in consultation"),
  pause: gettext("pause"),
  offline: gettext("offline"),
};
const MODE = { video: gettext("Video"), chat: gettext("Chat only") };

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
  if (!response.ok) errorBox.textContent = body.error || gettext("That did not work. Please try again.");
  return body;
}

function minutes(seconds) {
  const value = Math.floor(seconds / 60);
  return interpolate(ngettext("%s min", "%s min", value), [value]);
}

function alertArrival(count, text = null) {
  root.querySelector("[data-alert]").textContent = text || interpolate(
    ngettext("%s citizen has arrived", "%s citizens have arrived", count), [count]);
  document.title = `(${state.waiting.length}) ${gettext("Console")}`;
  try {
    const audio = new AudioContext();
    const oscillator = audio.createOscillator();
    oscillator.frequency.value = 660;
    oscillator.connect(audio.destination);
    oscillator.start();
    oscillator.stop(audio.currentTime + 0.25);
  } catch { /* no audio: the visual alert remains */ }
  root.classList.add("console--arrival");
  setTimeout(() => root.classList.remove("console--arrival"), 1500);
}

function button(label, onClick, className = "button button--small") {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = label;
  element.addEventListener("click", onClick);
  return element;
}

function renderOffices() {
  const container = root.querySelector("[data-offices]");
  container.replaceChildren();
  const template = document.getElementById("office-template");
  for (const office of state.offices) {
    const card = template.content.cloneNode(true);
    card.querySelector("[data-name]").textContent = office.name;
    card.querySelector("[data-figures]").textContent = interpolate(
      gettext("%(waiting)s waiting · %(staffed)s of %(seats)s seats staffed · %(free)s free"), office, true);
    card.querySelector("form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = event.target.querySelector("input[name=text]");
      const result = await post(`/staff/console/offices/${office.id}/announce/`, { text: input.value });
      if (result.ok) input.value = "";
    });
    container.append(card);
  }
}

const LANGUAGE_NAMES = JSON.parse(document.getElementById("language-names")?.textContent || "{}");

// The citizen's language, and a hint where an interpreter may help (not German).
function languageText(code) {
  const name = LANGUAGE_NAMES[code] || code;
  return code === "de" ? name : `${name} · ${gettext("interpreter may help")}`;
}

function renderQueue() {
  const body = root.querySelector("[data-queue]");
  body.replaceChildren();
  const knock = new Set(state.offices.filter((office) => office.knock).map((office) => office.id));
  for (const ticket of state.waiting) {
    const row = document.createElement("tr");
    if (ticket.booked_for_me) row.className = "queue-table__booked";
    const cells = [
      (ticket.name || gettext("(anonymous)")) + (ticket.booked ? ` (${gettext("appointment")})` : ""),
      ticket.service || "—",
      languageText(ticket.language),
      MODE[ticket.mode] || ticket.mode,
      minutes(ticket.waited_s),
    ];
    for (const text of cells) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    const actions = document.createElement("td");
    actions.className = "queue-table__actions";
    if ((knock.has(ticket.office) || ticket.booked_for_me) && ticket.callable) {
      actions.append(button(gettext("Admit"), () => post(`/staff/console/tickets/${ticket.id}/call/`)));
    }
    actions.append(button(gettext("Remove"), () => post(`/staff/console/tickets/${ticket.id}/remove/`)));
    actions.append(button(gettext("No-show"), () => post(`/staff/console/tickets/${ticket.id}/remove/`, { no_show: "1" })));
    const select = document.createElement("select");
    select.setAttribute("aria-label", gettext("Transfer to office"));
    select.append(new Option(gettext("Transfer to …"), ""));
    for (const target of state.transfer_targets) {
      if (target.id !== ticket.office) select.append(new Option(target.name, target.id));
    }
    select.addEventListener("change", () => {
      if (select.value) post(`/staff/console/tickets/${ticket.id}/transfer/`, { office: select.value });
    });
    actions.append(select);
    row.append(actions);
    body.append(row);
  }
  root.querySelector("[data-waiting-count]").textContent = state.waiting.length;
}

function renderCall() {
  const box = root.querySelector("[data-current-call]");
  box.hidden = !state.call;
  if (state.call) {
    box.querySelector("[data-current-call-text]").textContent = interpolate(
      gettext("Called %s — waiting for their confirmation."), [state.call.name || gettext("(anonymous)")]);
  }
  const open = root.querySelector("[data-open-consultation]");
  open.hidden = !state.consultation;
  if (state.consultation) {
    open.querySelector("a").href = `/staff/consultations/${state.consultation}/`;
  }
  root.querySelector("[data-call-next-button]").disabled = Boolean(state.call || state.consultation);
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
  if (arrived.some((ticket) => ticket.booked_for_me)) alertArrival(1, BOOKED_ARRIVED());
  else if (arrived.length > 0) alertArrival(arrived.length);
}

liveSocket("/ws/console/", {
  onState: (connection) => showConnection(root, connection),
  onMessage(message) {
    if (message.type === "state") render(message);
    if (message.type === "admitted") location.assign(`/staff/consultations/${message.consultation}/`);
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

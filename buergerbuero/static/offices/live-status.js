// Keeps the office status lines ("open until 16:00", "closes in 10 minutes") and the live
// figures (free seats, people waiting, estimated wait) current. The server sends every
// office's status and when it next changes; we ask again then (and every few minutes, in
// case staff changed the hours). Queue changes arrive as they happen.
//
// Every open directory page would otherwise ask at the same instant (at 16:00 for "closed"):
// each asks at a random moment within JITTER_MS after the change instead, which spreads the
// snapshots the server computes over 20 seconds; the status line is at most that late.

import { liveSocket } from "../realtime/socket.js";
import { waitAt, waitText } from "../waiting/estimate.js";
import { liveLine } from "../waiting/seats.js";
import { recall } from "../lib/storage.js";

const container = document.querySelector("[data-live-status]");
const REFRESH_EVERY_MS = 5 * 60 * 1000;
const JITTER_MS = 20000;
let timer = null;

function each(selector, slug, update) {
  for (const element of document.querySelectorAll(`[${selector}="${CSS.escape(slug)}"]`)) update(element);
}

function applyLive(office) {
  each("data-live-for", office.office, (element) => {
    element.hidden = false;
    element.textContent = liveLine(office, waitText(waitAt(office.waiting + 1, office.estimate)));
  });
}

function applyStatus(office) {
  each("data-status-for", office.office, (status) => {
    status.className = `status status--${office.state}`;
    status.querySelector(".status__label").textContent = office.label;
  });
  each("data-today-for", office.office, (today) => { today.textContent = office.today; });
  applyLive(office);
}

function nextDelay(offices) {
  const now = Date.now();
  let delay = REFRESH_EVERY_MS;
  for (const office of offices) {
    if (office.next_change_at) {
      delay = Math.min(delay, Math.max(1000, Date.parse(office.next_change_at) - now + 500));
    }
  }
  return delay + Math.random() * JITTER_MS;
}

if (container && "WebSocket" in window) {
  const lang = document.documentElement.lang || "de";
  const socket = liveSocket(
    `/ws/${encodeURIComponent(container.dataset.org)}/status/?lang=${encodeURIComponent(lang)}`, {
      onMessage(message) {
        if (message.type === "office_live") return applyLive(message);
        if (message.type !== "status") return;
        message.offices.forEach(applyStatus);
        clearTimeout(timer);
        timer = setTimeout(() => socket.send({ type: "refresh" }), nextDelay(message.offices));
      },
    });
}

// On an office page: offer the way back to a place this browser holds in its waiting room.
for (const link of document.querySelectorAll("[data-return-to-place]")) {
  const token = recall(`bb-ticket-${link.dataset.returnToPlace}`);
  if (token) {
    link.href = link.dataset.roomUrl.replace("/0/", `/${encodeURIComponent(token)}/`); // the room's URL, 0 for the token
    link.hidden = false;
  }
}

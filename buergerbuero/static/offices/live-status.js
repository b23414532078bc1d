// Keeps the office status lines ("open until 16:00", "closes in 10 minutes") current.
// The server sends every office's status and when it next changes; we ask again then
// (and every few minutes, in case staff changed the hours). Reconnects with backoff.

const container = document.querySelector("[data-live-status]");
const REFRESH_EVERY_MS = 5 * 60 * 1000;
const MAX_BACKOFF_MS = 60 * 1000;

function apply(offices) {
  for (const office of offices) {
    for (const status of document.querySelectorAll(`[data-status-for="${CSS.escape(office.office)}"]`)) {
      status.className = `status status--${office.state}`;
      status.querySelector(".status__label").textContent = office.label;
    }
    for (const today of document.querySelectorAll(`[data-today-for="${CSS.escape(office.office)}"]`)) {
      today.textContent = office.today;
    }
  }
}

function nextDelay(offices) {
  const now = Date.now();
  let delay = REFRESH_EVERY_MS;
  for (const office of offices) {
    if (office.next_change_at) {
      delay = Math.min(delay, Math.max(1000, Date.parse(office.next_change_at) - now + 500));
    }
  }
  return delay;
}

function connect(backoff = 1000) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const lang = document.documentElement.lang || "de";
  const url = `${scheme}://${location.host}/ws/${encodeURIComponent(container.dataset.org)}/status/?lang=${encodeURIComponent(lang)}`;
  const socket = new WebSocket(url);
  let timer = null;
  socket.addEventListener("open", () => { backoff = 1000; });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type !== "status") return;
    apply(message.offices);
    clearTimeout(timer);
    timer = setTimeout(() => socket.send(JSON.stringify({ type: "refresh" })), nextDelay(message.offices));
  });
  socket.addEventListener("close", () => {
    clearTimeout(timer);
    setTimeout(() => connect(Math.min(backoff * 2, MAX_BACKOFF_MS)), backoff);
  });
}

if (container && "WebSocket" in window) {
  connect();
}

// The consultation page (both sides): chat and whether the other side is present.

import { liveSocket, showConnection } from "../realtime/socket.js";

const root = document.getElementById("consultation");
const role = root.dataset.role;
const token = root.dataset.token || "";
const log = root.querySelector("[data-chat-log]");
const form = root.querySelector("[data-chat-form]");
const error = root.querySelector("[data-chat-error]");
const seen = new Set();

function timeText(iso) {
  return new Date(iso).toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });
}

function addMessage(message) {
  if (seen.has(message.id)) return;
  seen.add(message.id);
  const item = document.createElement("li");
  item.className = `chat__message chat__message--${message.author === role ? "own" : "other"}`;
  const who = document.createElement("span");
  who.className = "chat__author";
  who.textContent = message.author === role ? gettext("You") : (role === "agent" ? gettext("Citizen") : gettext("Staff member"));
  const when = document.createElement("time");
  when.dateTime = message.sent_at;
  when.textContent = timeText(message.sent_at);
  const text = document.createElement("p");
  text.textContent = message.text;
  item.append(who, " ", when, text);
  log.append(item);
  item.scrollIntoView({ block: "nearest" });
}

function setPeer(online) {
  root.querySelector("[data-peer]").dataset.peer = online ? "online" : "offline";
  root.querySelector("[data-peer-online]").hidden = !online;
  root.querySelector("[data-peer-offline]").hidden = online;
}

const query = token ? `?ticket=${encodeURIComponent(token)}` : "";
const socket = liveSocket(`/ws/consultations/${root.dataset.consultation}/${query}`, {
  onState(state) {
    showConnection(root, state);
    if (state === "closed") location.assign(root.dataset.doneUrl);
  },
  onMessage(message) {
    switch (message.type) {
      case "history": return message.messages.forEach(addMessage);
      case "chat": return addMessage(message);
      case "presence": if (message.role !== role) setPeer(message.online); return;
      case "error": error.textContent = message.message; return;
      case "ended": return location.assign(root.dataset.doneUrl);
    }
  },
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const input = form.querySelector("textarea");
  const text = input.value.trim();
  if (!text) return;
  error.textContent = "";
  socket.send({ type: "chat", text });
  input.value = "";
  input.focus();
});

form.querySelector("textarea").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
});

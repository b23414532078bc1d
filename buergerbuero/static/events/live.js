// An event's live page, for viewers and for hosts: the lobby's countdown, the stage's video
// tiles (media through Janus, /static/sfu/stage.js), questions with upvotes and moderation,
// raised hands, the citizen's turn in consultation hours, and the chat. The server decides
// everything (who may publish, ask, raise a hand); this page only shows and asks.

import { liveSocket, showConnection } from "../realtime/socket.js";
import { button as makeButton } from "../lib/elements.js";
import { PreCheck } from "../consult/precheck.js";
import { startCountdowns } from "./countdown.js";

const root = document.getElementById("event-live");
const config = JSON.parse(document.getElementById("event-config").textContent);
const host = config.role === "host";
const $ = (selector) => root.querySelector(selector);
const errorBox = $("[data-error]");
const tiles = $("[data-tiles]");
const people = $("[data-stage-people]");
const questionsList = $("[data-questions]");
const chatLog = $("[data-chat-log]");
const handButton = $("[data-hand]");
const publishControls = $("[data-publish-controls]");
const precheckPanel = $("[data-precheck-panel]");
// The same pre-call check as a consultation's: preview, microphone level, device choice.
const precheck = new PreCheck(precheckPanel, { wantVideo: true });

const questions = new Map(); // id -> question
const seenChat = new Set();
const streams = new Map(); // feed -> MediaStream
let stageSeats = [];
let status = config.status;
let onStage = false;
let handRaised = false;
let stage = null; // the media Stage (null without Janus or before the snapshot)
let localStream = null;
let iceServers = [];
let iceTransportPolicy = "all";

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = !text;
}

// The event page's buttons are secondary unless said otherwise.
function button(label, onClick, className = "button button--small button--secondary") {
  return makeButton(label, onClick, className);
}

// --- the socket ---------------------------------------------------------------------------
const query = new URLSearchParams({ lang: document.documentElement.lang || "de" });
if (config.token) query.set("viewer", config.token);
const socket = liveSocket(`/ws/events/${config.event}/?${query}`, {
  onMessage: received,
  onState: (state) => showConnection(root, state),
});
const send = (message) => socket.send(message);

function received(message) {
  switch (message.type) {
    case "snapshot": return snapshot(message);
    case "event_status": return setStatus(message.status, message.chat_enabled);
    case "stage": return showStage(message.seats);
    case "question": return upsertQuestion(message);
    case "hand": return showHand(message);
    case "on_stage": return setOnStage(message.on);
    case "chat": return addChat(message);
    case "turn": return showTurn(message);
    case "called_next": return calledNext(message);
    case "media": return mediaMessage(message);
    case "ended": return removed();
    case "error": return showError(message.message);
    default: return undefined;
  }
}

function snapshot(message) {
  iceServers = message.ice_servers || [];
  iceTransportPolicy = message.ice_transport_policy || "all";
  setStatus(message.status, message.chat_enabled);
  questions.clear();
  questionsList.replaceChildren();
  message.questions.forEach(upsertQuestion);
  message.chat.forEach(addChat);
  if (host) {
    $("[data-hands]").replaceChildren();
    message.hands.forEach((hand) => showHand({ ...hand, raised: true }));
  } else {
    setHand(Boolean(message.hand));
    if (message.turn) showTurn(message.turn);
  }
  setOnStage(Boolean(message.on_stage));
  showStage(message.stage);
}

function setStatus(next, chatEnabled) {
  status = next;
  $("[data-state-lobby]").hidden = status !== "scheduled";
  $("[data-state-live]").hidden = status !== "live";
  $("[data-state-ended]").hidden = status !== "ended";
  $("[data-chat-off]").hidden = chatEnabled;
  $("[data-chat-form]").hidden = !chatEnabled || status !== "live";
  if (status === "live") startMedia();
  if (status === "ended") stopMedia();
}

// --- the stage ----------------------------------------------------------------------------
const ROLES = {
  host: gettext("Host"),
  speaker: gettext("Co-speaker"),
  interpreter: gettext("Sign-language interpreter"),
  guest: gettext("Viewer on stage"),
};

function showStage(seats) {
  stageSeats = seats;
  people.replaceChildren(...seats.map(personItem));
  $("[data-stage-empty]").hidden = seats.length > 0;
  renderTiles();
  const mine = seats.find((seat) => (host ? seat.member === config.member : seat.attendee === config.attendee));
  // A host's own seat comes and goes with the stage (a viewer's with its own on_stage event).
  if (host && Boolean(mine) !== onStage) setOnStage(Boolean(mine));
  if (mine?.muted && localStream) localStream.getAudioTracks().forEach((track) => { track.enabled = false; });
}

function personItem(seat) {
  const item = document.createElement("li");
  const name = document.createElement("span");
  name.textContent = `${seat.name} (${ROLES[seat.role] || seat.role})${seat.muted ? ` — ${gettext("muted")}` : ""}`;
  item.append(name);
  if (host && seat.role !== "host") {
    item.append(
      button(seat.muted ? gettext("Unmute") : gettext("Mute"), () => send({ type: "mute", seat: seat.id, muted: !seat.muted })),
      button(seat.pinned ? gettext("Unpin") : gettext("Pin"), () => send({ type: "pin", seat: seat.id, pinned: !seat.pinned })),
      button(gettext("Back to the audience"), () => send({ type: "off_stage", seat: seat.id })),
    );
  }
  return item;
}

const figures = new Map(); // feed -> its tile, kept while the feed plays (no flicker, sound stays on)

function tileFor(feed, stream) {
  let figure = figures.get(feed);
  if (figure && figure.querySelector("video").srcObject === stream) return figure;
  figure = document.createElement("figure");
  figure.dataset.feed = feed;
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.srcObject = stream;
  figure.append(video, document.createElement("figcaption"));
  // A browser that refuses to play sound before the person interacted plays it muted, with
  // a button that turns the sound on (a click is the interaction it waits for).
  video.play().catch(() => {
    video.muted = true;
    video.play().catch(() => {});
    const sound = button(gettext("Turn the sound on"), () => { video.muted = false; sound.remove(); });
    figure.append(sound);
  });
  figures.set(feed, figure);
  return figure;
}

function renderTiles() {
  const shown = [];
  for (const seat of stageSeats) {
    const stream = seat.feed ? streams.get(seat.feed) : null;
    if (!stream) continue;
    const figure = tileFor(seat.feed, stream);
    figure.className = `event-tile${seat.pinned ? " event-tile--pinned" : ""}`;
    figure.querySelector("figcaption").textContent = seat.name;
    shown.push(figure);
  }
  for (const feed of [...figures.keys()]) {
    if (!streams.has(feed)) figures.delete(feed);
  }
  tiles.replaceChildren(...shown);
}

async function startMedia() {
  if (stage || !config.media) return;
  let Stage;
  try {
    ({ Stage } = await import("../sfu/stage.js"));
  } catch {
    return; // no media module: the page still works without video
  }
  if (stage) return;
  stage = new Stage({
    send: (message) => send({ type: "media", ...message }),
    iceServers,
    iceTransportPolicy,
    autoSubscribe: true, // everyone watches the whole stage
    onRemoteStream: (feed, stream) => { streams.set(feed, stream); renderTiles(); },
    onRemoteGone: (feed) => { streams.delete(feed); renderTiles(); },
    onError: mediaFailed,
  });
  showStage(stageSeats);
}

// --- Janus restarted or went away ---------------------------------------------------------
// The server drops this page's Janus session and re-creates the room on the next join; the page
// re-joins after a growing, jittered delay (so a large audience does not return at once) and
// publishes again if it is on stage. Questions, hands and chat go on meanwhile.
const RECOVERABLE = new Set(["unavailable", "room_closed"]);
const reconnecting = $("[data-media-reconnecting]");
let retryDelay = 1000;
let retryTimer = null;
let republish = false; // on stage when Janus went away: publish again once joined

function mediaMessage(message) {
  const handled = stage?.handle(message);
  if (message.op === "publishers" && retryTimer === null && stage) {
    reconnecting.hidden = true; // joined: Janus is back
    retryDelay = 1000;
    if (republish && onStage && localStream) stage.publish(localStream);
    republish = false;
  }
  return handled;
}

function mediaFailed(reason) {
  if (!RECOVERABLE.has(reason) || status !== "live") {
    showError(interpolate(gettext("The video connection failed (%(reason)s)."), { reason }, true));
    return;
  }
  reconnecting.hidden = false;
  republish = republish || Boolean(onStage && localStream);
  stage?.close();
  stage = null;
  streams.clear();
  renderTiles();
  if (retryTimer !== null) return;
  retryTimer = setTimeout(rejoin, retryDelay * (0.5 + Math.random()));
  retryDelay = Math.min(retryDelay * 2, 30000);
}

function rejoin() {
  retryTimer = null;
  if (status === "live") startMedia();
}

function stopMedia() {
  clearTimeout(retryTimer);
  retryTimer = null;
  reconnecting.hidden = true;
  stage?.close();
  stage = null;
  localStream?.getTracks().forEach((track) => track.stop());
  localStream = null;
  streams.clear();
  renderTiles();
}

function setOnStage(on) {
  onStage = on;
  publishControls.hidden = !on || !config.media;
  if (!on && localStream) {
    stage?.unpublish();
    localStream.getTracks().forEach((track) => track.stop());
    localStream = null;
  }
  if (on && !host) setHand(false);
  precheckPanel.hidden = !on || Boolean(localStream);
  if (on && !localStream && config.media) precheck.start();
  if (!on) precheck.stopStream();
}

async function publish(getStream) {
  showError("");
  try {
    localStream?.getTracks().forEach((track) => track.stop());
    localStream = await getStream();
    await startMedia();
    stage?.publish(localStream); // the server names the feed after the seat
  } catch (error) {
    showError(gettext("Camera or microphone could not be started. Please check the browser's permission."));
  }
}

$("[data-publish-camera]").addEventListener("click", () => publish(async () => {
  // The checked devices' stream if the check has one, else the browser's defaults.
  const checked = precheck.takeStream();
  precheckPanel.hidden = true;
  return checked || navigator.mediaDevices.getUserMedia(precheck.constraints());
}));
$("[data-publish-screen]").addEventListener("click", () => publish(() => {
  precheck.stopStream();
  precheckPanel.hidden = true;
  return navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
}));
$("[data-unpublish]").addEventListener("click", () => {
  stage?.unpublish();
  localStream?.getTracks().forEach((track) => track.stop());
  localStream = null;
});
$("[data-leave-stage]")?.addEventListener("click", () => send({ type: "leave_stage" }));

// --- questions ----------------------------------------------------------------------------
const STATUS = { pending: gettext("waiting for approval"), approved: gettext("approved"), answered: gettext("answered") };

function upsertQuestion(question) {
  if (question.status === "hidden") questions.delete(question.id);
  else questions.set(question.id, question);
  const sorted = [...questions.values()].sort((a, b) => b.upvotes - a.upvotes || a.id - b.id);
  questionsList.replaceChildren(...sorted.map(questionItem));
  $("[data-questions-empty]").hidden = questions.size > 0;
}

function questionItem(question) {
  const item = document.createElement("li");
  item.dataset.question = question.id;
  const text = document.createElement("p");
  text.className = "event-question__text";
  text.textContent = question.text;
  const meta = document.createElement("span");
  meta.className = "event-question__status";
  const author = question.author || gettext("anonymous");
  meta.textContent = `${author} · ${STATUS[question.status] || question.status} · ${interpolate(ngettext("%(count)s vote", "%(count)s votes", question.upvotes), { count: question.upvotes }, true)}`;
  item.append(text, meta);
  if (host) {
    if (question.status === "pending") item.append(button(gettext("Approve"), () => send({ type: "moderate", id: question.id, action: "approve" })));
    if (question.status !== "answered") item.append(button(gettext("Mark answered"), () => send({ type: "moderate", id: question.id, action: "answer" })));
    item.append(button(gettext("Hide"), () => send({ type: "moderate", id: question.id, action: "hide" })));
  } else if (question.status !== "pending") {
    const vote = button(gettext("Support this question"), () => send({ type: "upvote", id: question.id }));
    vote.setAttribute("aria-label", interpolate(gettext("Support the question: %(text)s"), { text: question.text.slice(0, 80) }, true));
    item.append(vote);
  }
  return item;
}

$("[data-question-form]")?.addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  const form = submitted.currentTarget;
  const text = form.elements.text.value.trim();
  if (!text) return;
  send({ type: "question", text, anonymous: Boolean(form.elements.anonymous?.checked) });
  form.elements.text.value = "";
  $("[data-question-sent]").textContent = host ? "" : gettext("Sent. Your question is shown once a host has approved it.");
});

// --- hands --------------------------------------------------------------------------------
function setHand(raised) {
  handRaised = raised;
  if (!handButton) return;
  handButton.setAttribute("aria-pressed", String(raised));
  handButton.textContent = raised ? gettext("Lower hand") : gettext("Raise hand");
}

handButton?.addEventListener("click", () => {
  send({ type: "hand", raised: !handRaised });
  setHand(!handRaised);
});

function showHand(hand) {
  if (!host) return;
  const list = $("[data-hands]");
  list.querySelector(`[data-attendee="${hand.attendee}"]`)?.remove();
  if (hand.raised) {
    const item = document.createElement("li");
    item.dataset.attendee = hand.attendee;
    const name = document.createElement("span");
    name.textContent = hand.name;
    item.append(
      name,
      button(gettext("Bring on stage"), () => send({ type: "on_stage", attendee: hand.attendee }), "button button--small"),
      button(gettext("Remove from the event"), () => send({ type: "remove", attendee: hand.attendee })),
    );
    list.append(item);
  }
  $("[data-hands-empty]").hidden = list.children.length > 0;
}

// --- consultation hours: the citizen's turn -------------------------------------------------
function showTurn(turn) {
  const box = $("[data-turn]");
  const here = $("[data-here]");
  const join = $("[data-queue-join]");
  if (!box) return;
  box.hidden = false;
  here.hidden = turn.status !== "called";
  join.hidden = ["waiting", "called"].includes(turn.status);
  if (turn.status === "waiting") {
    box.textContent = interpolate(gettext("Your position: %(position)s. Expected wait: %(wait)s."), { position: turn.position, wait: turn.wait }, true);
  } else if (turn.status === "called") {
    box.textContent = gettext("It is your turn: please confirm that you are here.");
    here.focus();
  } else {
    box.textContent = "";
    box.hidden = true;
  }
}

$("[data-queue-join]")?.addEventListener("click", () => send({ type: "queue" }));
$("[data-here]")?.addEventListener("click", () => send({ type: "here" }));
$("[data-call-next]")?.addEventListener("click", () => send({ type: "call_next" }));

function calledNext(message) {
  $("[data-call-result]").textContent = message.called ? gettext("Called: the citizen comes on stage when they confirm.") : gettext("Nobody is waiting.");
}

// --- chat ---------------------------------------------------------------------------------
function addChat(message) {
  if (seenChat.has(message.id)) return;
  seenChat.add(message.id);
  const item = document.createElement("li");
  const text = document.createElement("p");
  const who = document.createElement("strong");
  who.textContent = `${message.author}: `;
  text.append(who, message.text);
  item.append(text);
  chatLog.append(item);
  chatLog.scrollTop = chatLog.scrollHeight;
}

$("[data-chat-form]").addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  const input = submitted.currentTarget.elements.text;
  const text = input.value.trim();
  if (!text) return;
  send({ type: "chat", text });
  input.value = "";
});

function removed() {
  stopMedia();
  showError(gettext("A host removed you from this event."));
  socket.stop();
}

startCountdowns(root);

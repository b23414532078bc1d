// The consultation page for every participant: pre-call check, the call (camera, microphone,
// screen sharing, chat-only mode), chat, documents, presence, and for the staff member the
// interpreter invitation. Media flow peer to peer (see call.js); this file wires the page.

import { liveSocket, showConnection } from "../realtime/socket.js";
import { Call } from "./call.js";
import { SharedForm } from "./form.js";
import { PreCheck } from "./precheck.js";

const root = document.getElementById("consultation");
const role = root.dataset.role;
const token = root.dataset.token || "";
const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
const chatLog = root.querySelector("[data-chat-log]");
const chatForm = root.querySelector("[data-chat-form]");
const chatError = root.querySelector("[data-chat-error]");
const stage = root.querySelector("[data-stage]");
const tiles = root.querySelector("[data-tiles]");
const precheckPanel = root.querySelector("[data-precheck-panel]");
const seenMessages = new Set();
const seenDocuments = new Set();
const remote = new Map(); // role -> { streams: Map(id -> MediaStream), screenId, media }
const offlineSince = new Map(); // role -> when the server last said they left (performance.now())
const connectionOf = new Map(); // role -> the id of their newest socket the server announced
const LABELS = {
  agent: gettext("Staff member"),
  citizen: gettext("Citizen"),
  interpreter: gettext("Interpreter"),
};

let call = null;
let joined = false;
let localCamera = null; // the camera + microphone stream in use (null: chat only); outlives a Call
let speaker = "";
const precheck = new PreCheck(precheckPanel, { wantVideo: true });

// --- chat --------------------------------------------------------------------------------
function timeText(iso) {
  return new Date(iso).toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });
}

function addMessage(message) {
  if (seenMessages.has(message.id)) return;
  seenMessages.add(message.id);
  const item = document.createElement("li");
  item.className = `chat__message chat__message--${message.author === role ? "own" : "other"}`;
  const who = document.createElement("span");
  who.className = "chat__author";
  who.textContent = message.author === role ? gettext("You") : LABELS[message.author] || message.author;
  const when = document.createElement("time");
  when.dateTime = message.sent_at;
  when.textContent = timeText(message.sent_at);
  const text = document.createElement("p");
  text.textContent = message.text;
  item.append(who, " ", when, text);
  chatLog.append(item);
  item.scrollIntoView({ block: "nearest" });
}

// Text sent while the socket reconnects stays in the box (with a notice) and goes out as soon
// as the socket is back, unless the person has changed it meanwhile.
let connected = false;
let unsent = null;

function sendUnsent() {
  const input = chatForm.querySelector("textarea");
  if (unsent !== null && input.value.trim() === unsent) {
    socket.send({ type: "chat", text: unsent });
    input.value = "";
    chatError.textContent = "";
  }
  unsent = null;
}

chatForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const input = chatForm.querySelector("textarea");
  const text = input.value.trim();
  if (!text) return;
  if (!connected) {
    unsent = text;
    chatError.textContent = gettext("Not connected: your message stays here and is sent as soon as the connection is back.");
    return;
  }
  chatError.textContent = "";
  socket.send({ type: "chat", text });
  input.value = "";
  input.focus();
});
chatForm.querySelector("textarea").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    chatForm.requestSubmit();
  }
});

// --- documents -----------------------------------------------------------------------------
function ticketQuery() {
  return token ? `?ticket=${encodeURIComponent(token)}` : "";
}

function documentUrl(documentId) {
  return `${root.dataset.documentsUrl}${documentId}/${ticketQuery()}`;
}

function addDocument(document_) {
  if (seenDocuments.has(document_.id)) return;
  seenDocuments.add(document_.id);
  const item = document.createElement("li");
  const link = document.createElement("a");
  link.href = documentUrl(document_.id);
  link.textContent = document_.name;
  link.setAttribute("download", document_.name);
  const meta = document.createElement("span");
  meta.className = "hint";
  meta.textContent = ` (${Math.max(1, Math.round(document_.size / 1024))} KB, ${LABELS[document_.shared_by] || ""})`;
  item.append(link, meta);
  root.querySelector("[data-documents]").append(item);
}

root.querySelector("[data-document-form]").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const error = root.querySelector("[data-document-error]");
  const file = form.querySelector("input[type=file]").files[0];
  if (!file) {
    error.textContent = gettext("Please choose a file.");
    return;
  }
  error.textContent = "";
  const body = new FormData();
  body.append("file", file);
  // The citizen's token goes in the address: the server knows who sends before reading the file.
  const response = await fetch(`${root.dataset.documentsUrl}${ticketQuery()}`, {
    method: "POST", body, headers: { "X-CSRFToken": csrf }, credentials: "same-origin",
  }).catch(() => null);
  if (!response) {
    error.textContent = gettext("That did not work. Please try again.");
    return;
  }
  const result = await response.json().catch(() => ({}));
  if (!response.ok) {
    error.textContent = result.error || gettext("That did not work. Please try again.");
    return;
  }
  addDocument(result);
  form.reset();
});

// --- presence ------------------------------------------------------------------------------
function onPresence({ role: peerRole, online, reply, connection }) {
  if (peerRole === role) return;
  let known = Boolean(reply);
  if (online) {
    // A reply from a socket we have not heard of (its page came while events were lost):
    // a new page, so a new connection.
    if (connectionOf.has(peerRole) && connectionOf.get(peerRole) !== connection) known = false;
    connectionOf.set(peerRole, connection);
  } else if (connectionOf.has(peerRole) && connectionOf.get(peerRole) !== connection) {
    return; // the end of their previous socket, reported after the new one arrived
  }
  setPresence(peerRole, online, known);
}

// reply: the participant was here already and answers our (or a newcomer's) announcement.
function setPresence(peerRole, online, reply = false) {
  showPresence(peerRole, online);
  if (!call) return;
  if (online && reply) {
    call.ensurePeer(peerRole);
  } else if (online) {
    call.connectTo(peerRole); // their page is new: so is the connection
  } else {
    // Gone from the server. "Reconnecting" unless media still arrive (only their socket
    // dropped; the peer connection does not need it while nothing changes).
    offlineSince.set(peerRole, performance.now());
    const peer = call.peers.get(peerRole);
    if (!peer) {
      setTileState(peerRole, "offline");
      return;
    }
    peer.receiving().then((flowing) => {
      if (!flowing && call?.peers.get(peerRole) === peer) setTileState(peerRole, "offline");
    }).catch(() => {});
  }
}

// The list of participants (and the interpreter's buttons for the staff member).
function showPresence(peerRole, online) {
  const item = root.querySelector(`[data-peer-role="${peerRole}"]`);
  if (item) {
    if (peerRole === "interpreter" && online) item.hidden = false;
    item.dataset.peer = online ? "online" : "offline";
    item.querySelector("[data-peer-online]").hidden = !online;
    item.querySelector("[data-peer-offline]").hidden = online;
  }
  if (peerRole === "interpreter") {
    root.querySelector("[data-remove-interpreter]")?.toggleAttribute("hidden", !online);
    root.querySelector("[data-pin-interpreter]")?.toggleAttribute("hidden", !online);
  }
}

// --- remote tiles ----------------------------------------------------------------------------
function tile(peerRole, kind) {
  const key = `${peerRole}-${kind}`;
  let figure = tiles.querySelector(`[data-tile="${key}"]`);
  if (!figure) {
    figure = document.createElement("figure");
    figure.className = `tile tile--${kind} tile--${peerRole}`;
    figure.dataset.tile = key;
    figure.dataset.role = peerRole;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    if (speaker && video.setSinkId) video.setSinkId(speaker).catch(() => {});
    const caption = document.createElement("figcaption");
    caption.textContent = kind === "screen"
      ? interpolate(gettext("Screen of %s"), [LABELS[peerRole]])
      : LABELS[peerRole];
    const status = document.createElement("span");
    status.className = "tile__status";
    status.dataset.status = "";
    figure.append(video, caption, status);
    if (kind === "screen") tiles.prepend(figure);
    else tiles.insertBefore(figure, tiles.querySelector("[data-tile=self]"));
  }
  return figure;
}

function remoteInfo(peerRole) {
  if (!remote.has(peerRole)) remote.set(peerRole, { streams: new Map(), screenId: null, media: null });
  return remote.get(peerRole);
}

// One tile for the camera (the newest camera stream) and one for a shared screen.
function showRemote(peerRole) {
  const info = remote.get(peerRole);
  if (!info) return;
  let camera = null;
  let screen = null;
  for (const stream of info.streams.values()) {
    if (stream.id === info.screenId) screen = stream;
    else camera = stream;
  }
  for (const [kind, stream] of [["camera", camera], ["screen", screen]]) {
    if (!stream) continue;
    const video = tile(peerRole, kind).querySelector("video");
    if (video.srcObject !== stream) video.srcObject = stream;
  }
  const screenTile = tiles.querySelector(`[data-tile="${peerRole}-screen"]`);
  if (screenTile && !screen) screenTile.remove();
  const cameraTile = tiles.querySelector(`[data-tile="${peerRole}-camera"]`);
  cameraTile?.classList.toggle("tile--camera-off", Boolean(info.media && !info.media.camera));
  tiles.classList.toggle("tiles--screen", Boolean(tiles.querySelector(".tile--screen")));
}

function onRemoteTrack(peerRole, track, stream) {
  if (!stream) return;
  const info = remoteInfo(peerRole);
  info.streams.set(stream.id, stream);
  stream.addEventListener("removetrack", () => {
    if (stream.getTracks().length > 0 || info.streams.get(stream.id) !== stream) return;
    info.streams.delete(stream.id);
    for (const video of tiles.querySelectorAll(`[data-role="${peerRole}"] video`)) {
      if (video.srcObject === stream) video.closest("figure").remove();
    }
    showRemote(peerRole);
  });
  showRemote(peerRole);
}

function onMedia(peerRole, media) {
  const info = remoteInfo(peerRole);
  if (info.screenId && info.screenId !== media.screen) info.streams.delete(info.screenId);
  info.screenId = media.screen;
  info.media = media;
  showRemote(peerRole);
}

// The connection to peerRole was replaced (their page reloaded or reconnected): until the new
// one brings pictures, their camera tile says "reconnecting" instead of showing a dead picture.
function onPeerReset(peerRole) {
  remote.delete(peerRole);
  tiles.querySelector(`[data-tile="${peerRole}-screen"]`)?.remove();
  const video = tiles.querySelector(`[data-tile="${peerRole}-camera"] video`);
  if (video) video.srcObject = null;
  tiles.classList.toggle("tiles--screen", Boolean(tiles.querySelector(".tile--screen")));
  setTileState(peerRole, "disconnected");
}

// The participant is gone for good (the interpreter was removed).
function forget(peerRole) {
  call?.disconnectFrom(peerRole);
  remote.delete(peerRole);
  tiles.querySelectorAll(`[data-role="${peerRole}"]`).forEach((figure) => figure.remove());
  tiles.classList.toggle("tiles--screen", Boolean(tiles.querySelector(".tile--screen")));
  setPresence(peerRole, false);
}

function setTileState(peerRole, state) {
  for (const figure of tiles.querySelectorAll(`[data-role="${peerRole}"]`)) {
    const status = figure.querySelector(".tile__status");
    const trouble = ["disconnected", "failed", "offline"].includes(state);
    figure.classList.toggle("tile--reconnecting", trouble);
    status.textContent = trouble ? gettext("Reconnecting …") : "";
  }
}

// The indicator shows the weakest of the connections (with an interpreter there are two).
const qualities = new Map(); // role -> level
const QUALITY_ORDER = ["poor", "fair", "good", "unknown"];

function onQuality(peerRole, quality) {
  // Media arrived after the last "offline": they are here, whatever that (late) message said.
  if (quality.receivingSince !== null && quality.receivingSince > (offlineSince.get(peerRole) ?? -1)) {
    setTileState(peerRole, "receiving");
    showPresence(peerRole, true);
  }
  qualities.set(peerRole, quality.level);
  for (const known of qualities.keys()) {
    if (!call?.peers.has(known)) qualities.delete(known);
  }
  const levels = [...qualities.values()];
  const level = QUALITY_ORDER.find((candidate) => levels.includes(candidate)) ?? "unknown";
  const texts = {
    good: gettext("Connection: good"),
    fair: gettext("Connection: fair"),
    poor: gettext("Connection: poor"),
    unknown: "",
  };
  const element = root.querySelector("[data-quality]");
  element.dataset.quality = level;
  element.textContent = texts[level];
}

// --- joining and controls ----------------------------------------------------------------------
async function join(withVideo) {
  if (withVideo && !precheck.stream && !(await precheck.start())) return; // the check explains why
  joined = true;
  speaker = precheck.selectedSpeaker();
  const stream = withVideo ? precheck.takeStream() : null;
  if (!withVideo) precheck.stopStream();
  precheckPanel.hidden = true;
  stage.hidden = false;
  // The button that had the focus is gone with the check: keyboard users continue in the call.
  stage.querySelector(".controls button:not([hidden])")?.focus();
  // Pictures that arrived during the check: the chosen speaker, and playing now that the
  // person has clicked (in case the browser held back autoplay with sound until then).
  for (const video of tiles.querySelectorAll("video:not([data-local])")) {
    if (speaker && video.setSinkId) video.setSinkId(speaker).catch(() => {});
    video.play().catch(() => {});
  }
  await useCamera(stream);
  if (navigator.mediaDevices?.getDisplayMedia) root.querySelector("[data-share-screen]").hidden = false;
}

async function useCamera(stream) {
  localCamera = stream;
  const local = root.querySelector("[data-local]");
  local.srcObject = stream;
  root.querySelector("[data-tile=self]").hidden = !stream;
  // A new stream keeps what the buttons say (a muted microphone stays muted).
  for (const button of root.querySelectorAll("[data-toggle]")) {
    const on = button.getAttribute("aria-pressed") === "true";
    stream?.getTracks().filter((track) => track.kind === button.dataset.toggle).forEach((track) => { track.enabled = on; });
  }
  await call?.setCamera(stream);
  const hasVideo = Boolean(stream);
  root.querySelector("[data-toggle=audio]").hidden = !hasVideo;
  root.querySelector("[data-toggle=video]").hidden = !hasVideo;
  root.querySelector("[data-chat-only-toggle]").textContent = hasVideo ? gettext("Chat only") : gettext("Back to video");
  await listCameras(stream);
}

async function listCameras(stream) {
  const select = root.querySelector("[data-switch-camera]");
  const cameras = stream ? (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput") : [];
  select.hidden = cameras.length < 2;
  const current = stream?.getVideoTracks()[0]?.getSettings().deviceId;
  select.replaceChildren(...cameras.map((camera, index) =>
    new Option(camera.label || `${gettext("Camera")} ${index + 1}`, camera.deviceId, false, camera.deviceId === current)));
}

root.querySelector("[data-switch-camera]").addEventListener("change", async (event) => {
  const audio = localCamera?.getAudioTracks()[0]?.getSettings().deviceId;
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { deviceId: { exact: event.target.value } },
    audio: audio ? { deviceId: { exact: audio } } : true,
  });
  await useCamera(stream);
});

for (const button of root.querySelectorAll("[data-toggle]")) {
  button.addEventListener("click", () => {
    const on = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", String(on));
    const kind = button.dataset.toggle;
    call?.setEnabled(kind, on);
    button.textContent = kind === "audio"
      ? (on ? gettext("Microphone on") : gettext("Microphone off"))
      : (on ? gettext("Camera on") : gettext("Camera off"));
  });
}

root.querySelector("[data-chat-only-toggle]").addEventListener("click", async () => {
  if (localCamera) {
    await useCamera(null);
    return;
  }
  try {
    await useCamera(await navigator.mediaDevices.getUserMedia({ video: true, audio: true }));
  } catch {
    chatError.textContent = gettext("Camera or microphone could not be started.");
  }
});

const shareButton = root.querySelector("[data-share-screen]");
shareButton.addEventListener("click", async () => {
  if (call.screen) {
    call.stopScreen();
    shareButton.textContent = gettext("Share screen");
    return;
  }
  try {
    await call.shareScreen();
    shareButton.textContent = gettext("Stop sharing");
    call.screen.getVideoTracks()[0].addEventListener("ended", () => { shareButton.textContent = gettext("Share screen"); });
  } catch { /* the user cancelled the browser's dialog */ }
});

root.querySelector("[data-pin-interpreter]")?.addEventListener("click", (event) => {
  const pinned = event.target.getAttribute("aria-pressed") !== "true";
  event.target.setAttribute("aria-pressed", String(pinned));
  tiles.classList.toggle("tiles--pin-interpreter", pinned);
});

for (const button of root.querySelectorAll("[data-join]")) {
  button.addEventListener("click", () => join(button.dataset.join === "video"));
}

// --- interpreter (staff member only) ---------------------------------------------------------
const interpreterBox = root.querySelector(".interpreter");
if (interpreterBox) {
  const post = async (url) => {
    const response = await fetch(url, { method: "POST", headers: { "X-CSRFToken": csrf }, credentials: "same-origin" });
    return response.json().catch(() => ({}));
  };
  interpreterBox.querySelector("[data-invite-interpreter]").addEventListener("click", async () => {
    const result = await post(interpreterBox.dataset.inviteUrl);
    if (!result.link) return;
    const input = interpreterBox.querySelector("[data-invite-link]");
    input.value = result.link;
    interpreterBox.querySelector("[data-invite-box]").hidden = false;
    input.select();
  });
  interpreterBox.querySelector("[data-remove-interpreter]").addEventListener("click", async () => {
    await post(interpreterBox.dataset.removeUrl);
    forget("interpreter");
  });
}

// --- the socket ----------------------------------------------------------------------------------
function leavePage() {
  call?.hangUp();
  location.assign(root.dataset.doneUrl);
}

// Every (re)connection of the socket brings a "history" and a fresh Call: the others connect
// anew to it. Camera and screen go on from the previous Call.
function startCall(message) {
  const screen = call?.screen ?? null;
  call?.hangUp({ keepMedia: true });
  call = new Call({
    role,
    send: (payload) => socket.send(payload),
    iceServers: message.ice_servers,
    iceTransportPolicy: message.ice_transport_policy,
    onRemoteTrack,
    onPeerState: setTileState,
    onQuality,
    onMedia,
    onPeerReset,
  });
  window.consultationCall = call; // for support diagnostics (and the browser tests)
  if (joined) useCamera(localCamera);
  if (screen) call.useScreen(screen);
}

// The form of the office filled in together (form.js); `socket` exists by the time anyone types.
const sharedForm = new SharedForm(root, { role, token, send: (payload) => socket.send(payload) });
window.consultationForm = sharedForm; // for support diagnostics (and the browser tests)

const earlySocket = window.earlyConsultationSocket ?? null; // opened by early-socket.js as the page began
window.earlyConsultationSocket = null; // taken (or too late: early-socket.js then opens none)
const socket = liveSocket(`/ws/consultations/${root.dataset.consultation}/${ticketQuery()}`, {
  first: earlySocket,
  onState(state) {
    showConnection(root, state);
    connected = state === "open";
    if (connected) sendUnsent();
    if (state === "closed") leavePage();
  },
  onMessage(message) {
    switch (message.type) {
      case "history":
        startCall(message);
        message.messages.forEach(addMessage);
        message.documents.forEach(addDocument);
        sharedForm.setForms(message.forms || []);
        sharedForm.load(message.form);
        return;
      case "resync": // the server lost events meanwhile: what we missed, and fresh negotiation
        message.messages.forEach(addMessage);
        message.documents.forEach(addDocument);
        sharedForm.load(message.form);
        call?.renegotiate();
        return;
      case "chat": return addMessage(message);
      case "document": return addDocument(message);
      case "presence":
        sharedForm.onPresence(message);
        return onPresence(message);
      case "form.state": return sharedForm.load(message.form);
      case "form.value": return sharedForm.onValue(message);
      case "form.focus": return sharedForm.onFocus(message);
      case "form.closed": return sharedForm.closed();
      case "form.refused": return sharedForm.onRefused(message);
      case "signal": return call?.onSignal(message);
      case "error": chatError.textContent = message.message; return;
      case "signal_refused": console.warn("the server refused a signalling message:", message.code); return;
      case "ended": return leavePage();
      case "interpreter_removed":
        if (role === "interpreter") leavePage();
        else forget("interpreter");
        return;
    }
  },
});

// Start the device check at once for video consultations; chat-only ones may still join with video.
if (root.dataset.chatOnly === "1") {
  root.querySelector("[data-join=chat]").classList.replace("button--secondary", "button--large");
  root.querySelector("[data-join=video]").classList.replace("button--large", "button--secondary");
  precheckPanel.querySelector("[data-precheck-message]").textContent = gettext("You chose chat only. You can still turn on your camera.");
  precheck.wantVideo = true;
} else {
  precheck.start();
}

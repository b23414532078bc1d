// The proof page's script (tests only): the product's Stage over a socket to a JanusPeer.
import { Stage } from "/static/sfu/stage.js";

const params = new URLSearchParams(location.search);
const role = params.get("role");
const tiles = document.querySelector("[data-tiles]");
const state = { errors: [], announced: [], gone: [], stage: null, ready: false };
window.proof = state;

const socket = new WebSocket(`ws://${location.host}/ws/?room=${encodeURIComponent(params.get("room"))}`);

function tile(feed) {
  let video = tiles.querySelector(`[data-feed="${feed}"]`);
  if (!video) {
    video = document.createElement("video");
    video.dataset.feed = String(feed);
    video.autoplay = true;
    video.muted = true;
    video.playsInline = true;
    tiles.append(video);
  }
  return video;
}

socket.addEventListener("open", async () => {
  const stage = new Stage({
    send: (message) => socket.send(JSON.stringify({ type: "media", ...message })),
    iceServers: [],
    autoSubscribe: role === "viewer",
    onRemoteStream: (feed, stream) => { tile(feed).srcObject = stream; },
    onRemoteGone: (feed) => { state.gone.push(feed); tiles.querySelector(`[data-feed="${feed}"]`)?.remove(); },
    onError: (reason) => state.errors.push(reason),
    onPublishers: (feeds) => state.announced.push(...feeds),
  });
  state.stage = stage;
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "media") stage.handle(message);
  });
  if (role === "publisher") await window.publishCamera();
  state.ready = true;
});

// Video frames the subscriber connection decoded (inbound-rtp), for the tests.
window.framesDecoded = async () => {
  const pc = state.stage?.subscriber;
  if (!pc) return 0;
  let frames = 0;
  (await pc.getStats()).forEach((report) => {
    if (report.type === "inbound-rtp" && report.kind === "video") frames += report.framesDecoded || 0;
  });
  return frames;
};

window.publishCamera = async () => {
  await state.stage.publish(await navigator.mediaDevices.getUserMedia({ audio: true, video: true }), "Bürgermeisterin");
};

window.shareScreen = async () => {
  await state.stage.publish(await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false }), "");
};

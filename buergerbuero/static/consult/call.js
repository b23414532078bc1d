// Peer-to-peer calls inside a consultation: one RTCPeerConnection per other participant
// (citizen, staff member, interpreter), signalling through our WebSocket. Media never pass
// through our server; TURN (if configured) only relays encrypted packets.
//
// Negotiation follows the "perfect negotiation" pattern (W3C WebRTC, §10.7): both sides may
// add tracks at any time (camera, screen share, back from chat-only); the polite side yields
// on collisions. Ranks decide who is polite: the staff member never is, the interpreter always.
//
// Who connects when: a participant whose page (re)connects announces itself ("presence");
// everyone else answers with a "reply" presence. Each page has a fresh Call per socket
// connection, so an announcement means "start a new connection to me" (connectTo, dropping
// the connection to that participant's previous page), while a reply only asks for a
// connection where none exists yet (ensurePeer): the agent–citizen connection is not touched
// when the interpreter arrives.
//
// A new connection is opened by the impolite side's offer; the polite side adds its media when
// it answers. The camera's audio and video transceivers send from the first offer on, without a
// track until the person joins: the connection comes up during the pre-call check, and joining,
// switching cameras or going chat-only only swap tracks (replaceTrack), with no new negotiation. Were both to offer at
// once, the polite side would roll back its first offer, and Chromium then sometimes gathers
// no ICE candidates for its answer: a connection that never comes up.

const RANK = { agent: 0, citizen: 1, interpreter: 2 };
const QUALITY_EVERY_MS = 2000;
const RESTART_AFTER_MS = 2500;
// While the connection stays down, ICE is restarted again and again (the browser gives up
// gathering after ~30 s, so a single restart cannot outlast a long outage), at growing pauses.
const RESTART_RETRY_MAX_MS = 15000;
const AWAIT_OFFER_MS = 4000; // the polite side offers itself if no offer came by then

export class Call {
  constructor({
    role, send, iceServers, iceTransportPolicy = "all", onRemoteTrack, onPeerState, onQuality, onMedia, onPeerReset,
  }) {
    this.role = role;
    this.send = send;
    this.config = { iceServers, iceTransportPolicy };
    this.onRemoteTrack = onRemoteTrack;
    this.onPeerState = onPeerState;
    this.onQuality = onQuality;
    this.onMedia = onMedia;
    this.onPeerReset = onPeerReset; // (role): the connection to role was replaced by a new one
    this.peers = new Map();
    this.camera = null;      // MediaStream of camera + microphone (or null: chat only)
    this.screen = null;      // MediaStream of a screen share
    // The stream id under which the camera's tracks arrive at the others (whatever camera).
    this.cameraStream = new MediaStream();
    this.qualityTimer = setInterval(() => this.measureQuality(), QUALITY_EVERY_MS);
  }

  // --- peers -----------------------------------------------------------------------
  // A new connection to remoteRole (their page is new): replaces any earlier one.
  connectTo(remoteRole) {
    const previous = this.peers.get(remoteRole);
    if (previous) {
      previous.close();
      this.onPeerReset?.(remoteRole);
    }
    const peer = new Peer(this, remoteRole);
    this.peers.set(remoteRole, peer);
    peer.start();
    this.announceMedia(remoteRole);
    return peer;
  }

  // A connection to remoteRole unless one is open already.
  ensurePeer(remoteRole) {
    const peer = this.peers.get(remoteRole);
    if (peer && peer.pc.signalingState !== "closed") return peer;
    return this.connectTo(remoteRole);
  }

  // The server lost events (Redis was down): offers, answers or candidates may be gone. A
  // connection that is negotiated and connected restarts ICE (a fresh offer, gathered anew);
  // a half-negotiated one is replaced by the impolite side (the polite side answers whatever
  // offer comes, and starts afresh itself if that offer does not fit its connection).
  renegotiate() {
    for (const [remoteRole, peer] of this.peers) {
      const healthy = peer.pc.signalingState === "stable" && ["connected", "completed"].includes(peer.pc.iceConnectionState);
      if (healthy) peer.pc.restartIce();
      else if (!peer.polite) this.connectTo(remoteRole);
    }
  }

  disconnectFrom(remoteRole) {
    this.peers.get(remoteRole)?.close();
    this.peers.delete(remoteRole);
  }

  async onSignal(message) {
    if (message.media) return this.onMedia?.(message.from, message.media);
    const offer = message.description?.type === "offer";
    let peer = this.peers.get(message.from);
    if (!peer || peer.pc.signalingState === "closed") {
      // Only an offer opens a connection; stray answers and candidates (of a connection
      // already replaced or removed) are dropped.
      if (!offer) return;
      peer = this.connectTo(message.from);
    }
    try {
      await peer.onSignal(message);
    } catch (error) {
      if (!offer || peer !== this.peers.get(message.from)) {
        console.warn("ignored a signalling message", error);
        return;
      }
      // The offer does not fit this connection (the other page started afresh without our
      // noticing): start afresh too.
      console.warn("starting a new connection after a failed offer", error);
      await this.connectTo(message.from).onSignal(message).catch((again) => console.warn("offer refused", again));
    }
  }

  // --- local media ---------------------------------------------------------------------
  async setCamera(stream) {
    const previous = this.camera;
    this.camera = stream;
    for (const peer of this.peers.values()) peer.replaceLocal(previous, stream);
    if (previous && previous !== stream) previous.getTracks().forEach((track) => track.stop());
    this.announceMedia();
  }

  async shareScreen() {
    return this.useScreen(await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false }));
  }

  // Shares a screen stream (a new one, or one taken over from the Call before a reconnect).
  useScreen(stream) {
    this.screen = stream;
    const [track] = stream.getVideoTracks();
    track.addEventListener("ended", () => {
      if (this.screen === stream) this.stopScreen();
    });
    for (const peer of this.peers.values()) peer.addStream(stream);
    this.announceMedia();
    return stream;
  }

  stopScreen() {
    if (!this.screen) return;
    for (const peer of this.peers.values()) peer.removeStream(this.screen);
    this.screen.getTracks().forEach((track) => track.stop());
    this.screen = null;
    this.announceMedia();
  }

  setEnabled(kind, enabled) {
    this.camera?.getTracks().filter((track) => track.kind === kind).forEach((track) => { track.enabled = enabled; });
    this.announceMedia();
  }

  mediaState() {
    const enabled = (kind) => Boolean(this.camera?.getTracks().some((t) => t.kind === kind && t.enabled));
    return { camera: enabled("video"), microphone: enabled("audio"), screen: this.screen ? this.screen.id : null };
  }

  announceMedia(only = null) {
    const media = this.mediaState();
    for (const remoteRole of this.peers.keys()) {
      if (!only || only === remoteRole) this.send({ type: "signal", to: remoteRole, media });
    }
  }

  // --- quality from getStats -------------------------------------------------------------
  async measureQuality() {
    for (const [remoteRole, peer] of this.peers) {
      const quality = await peer.quality();
      if (quality) this.onQuality?.(remoteRole, quality);
    }
  }

  // Ends every connection. keepMedia leaves camera and screen running for a Call that takes
  // them over (the socket reconnected); otherwise they are stopped.
  hangUp({ keepMedia = false } = {}) {
    clearInterval(this.qualityTimer);
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    if (!keepMedia) {
      this.screen?.getTracks().forEach((track) => track.stop());
      this.camera?.getTracks().forEach((track) => track.stop());
    }
    this.screen = null;
    this.camera = null;
  }
}

class Peer {
  constructor(call, remoteRole) {
    this.call = call;
    this.remoteRole = remoteRole;
    this.polite = RANK[call.role] > RANK[remoteRole];
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.settingRemoteAnswer = false;
    this.awaitingOffer = false; // polite side of a new connection, until the first offer
    this.offerTimer = null;
    this.senders = new Map(); // track id -> RTCRtpSender (the screen's)
    this.cameraSenders = null; // kind -> RTCRtpSender of the camera's transceivers
    this.restartTimer = null;
    this.lastStats = null;
    const pc = new RTCPeerConnection(call.config);
    this.pc = pc;
    pc.addEventListener("negotiationneeded", () => this.offer());
    pc.addEventListener("icecandidate", ({ candidate }) => {
      if (candidate) this.signal({ candidate: candidate.toJSON() });
    });
    pc.addEventListener("track", ({ track, streams }) => call.onRemoteTrack?.(remoteRole, track, streams[0]));
    pc.addEventListener("iceconnectionstatechange", () => this.onIceState());
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "failed") this.restartUntilConnected();
    });
  }

  // Whether media packets keep arriving on this connection (watched for windowMs).
  async receiving(windowMs = 1000) {
    const received = async () => {
      let packets = 0;
      (await this.pc.getStats()).forEach((report) => {
        if (report.type === "inbound-rtp") packets += report.packetsReceived || 0;
      });
      return packets;
    };
    if (this.pc.signalingState === "closed") return false;
    const before = await received();
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    if (this.pc.signalingState === "closed") return false;
    return (await received()) > before;
  }

  signal(payload) {
    this.call.send({ type: "signal", to: this.remoteRole, ...payload });
  }

  async offer() {
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      this.signal({ description: { type: this.pc.localDescription.type, sdp: this.pc.localDescription.sdp } });
    } catch (error) {
      console.warn("could not make an offer", error);
    } finally {
      this.makingOffer = false;
    }
  }

  async onSignal({ description, candidate }) {
    const pc = this.pc;
    if (description) {
      const readyForOffer = !this.makingOffer && (pc.signalingState === "stable" || this.settingRemoteAnswer);
      const collision = description.type === "offer" && !readyForOffer;
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      this.settingRemoteAnswer = description.type === "answer";
      try {
        await pc.setRemoteDescription(description); // the polite side rolls back its own offer
      } finally {
        this.settingRemoteAnswer = false;
      }
      if (description.type === "offer") {
        if (this.awaitingOffer) this.stopAwaiting(); // our media go into the answer
        await pc.setLocalDescription();
        this.signal({ description: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
      }
    } else if (candidate) {
      try {
        await pc.addIceCandidate(candidate);
      } catch (error) {
        if (!this.ignoreOffer) console.warn("ignored an ICE candidate", error);
      }
    }
  }

  onIceState() {
    const state = this.pc.iceConnectionState;
    this.call.onPeerState?.(this.remoteRole, state);
    if (state === "connected" || state === "completed" || state === "closed") {
      clearTimeout(this.restartTimer);
      this.restartTimer = null;
      this.restartDelay = RESTART_AFTER_MS;
    } else if (state === "failed") {
      this.restartUntilConnected();
    } else if (state === "disconnected" && !this.restartTimer) {
      // Often heals by itself (a network switch); if not, restart ICE.
      this.restartTimer = setTimeout(() => this.restartUntilConnected(), RESTART_AFTER_MS);
    }
  }

  restartUntilConnected() {
    clearTimeout(this.restartTimer);
    if (this.pc.signalingState === "closed" || ["connected", "completed"].includes(this.pc.iceConnectionState)) return;
    this.pc.restartIce();
    this.restartDelay = Math.min((this.restartDelay || RESTART_AFTER_MS) * 2, RESTART_RETRY_MAX_MS);
    this.restartTimer = setTimeout(() => this.restartUntilConnected(), this.restartDelay);
  }

  // The impolite side offers at once; the polite side waits for that offer (see the top).
  start() {
    if (!this.polite) {
      this.addLocalMedia();
      return;
    }
    this.awaitingOffer = true;
    this.offerTimer = setTimeout(() => this.stopAwaiting(), AWAIT_OFFER_MS);
  }

  stopAwaiting() {
    if (!this.awaitingOffer) return;
    this.awaitingOffer = false;
    clearTimeout(this.offerTimer);
    this.addLocalMedia();
  }

  // Our camera (its transceivers, see the top) and screen.
  addLocalMedia() {
    this.prepareCamera();
    if (this.call.screen) this.addStream(this.call.screen);
  }

  // The camera's audio and video transceivers, sending whatever camera track there is (none
  // yet: nothing is sent until the person joins). The polite side takes the first of each kind
  // the offer brought; the impolite side makes them, before any screen, so the first video
  // m-line is the camera's on both sides.
  prepareCamera() {
    if (this.cameraSenders) return;
    this.cameraSenders = {};
    for (const kind of ["audio", "video"]) {
      let transceiver = this.pc.getTransceivers().find((candidate) =>
        candidate.receiver.track.kind === kind && !candidate.sender.track && candidate.currentDirection !== "stopped");
      if (transceiver) {
        transceiver.direction = "sendrecv";
        transceiver.sender.setStreams?.(this.call.cameraStream);
      } else {
        transceiver = this.pc.addTransceiver(kind, { direction: "sendrecv", streams: [this.call.cameraStream] });
      }
      this.cameraSenders[kind] = transceiver.sender;
    }
    this.replaceLocal(null, this.call.camera);
  }

  addStream(stream) {
    if (this.awaitingOffer) return; // added when answering
    for (const track of stream.getTracks()) {
      // A transceiver of its own (addTrack could take the camera's while it has no track yet).
      if (!this.senders.has(track.id)) {
        this.senders.set(track.id, this.pc.addTransceiver(track, { direction: "sendrecv", streams: [stream] }).sender);
      }
    }
  }

  removeStream(stream) {
    if (this.awaitingOffer) return;
    for (const track of stream.getTracks()) {
      const sender = this.senders.get(track.id);
      if (sender) {
        this.pc.removeTrack(sender);
        this.senders.delete(track.id);
      }
    }
  }

  // The camera changed (joined, another camera, chat only): swap the tracks in place.
  replaceLocal(previous, next) {
    if (this.awaitingOffer || !this.cameraSenders) return; // the camera is added when answering
    for (const [kind, sender] of Object.entries(this.cameraSenders)) {
      const track = next?.getTracks().find((candidate) => candidate.kind === kind) ?? null;
      if (sender.track !== track) sender.replaceTrack(track).catch((error) => console.warn("camera not swapped", error));
    }
  }

  async quality() {
    if (this.pc.connectionState === "closed") return null;
    const stats = await this.pc.getStats();
    let rtt = null;
    let lost = 0;
    let received = 0;
    stats.forEach((report) => {
      if (report.type === "candidate-pair" && report.state === "succeeded" && report.nominated) {
        rtt = report.currentRoundTripTime ?? rtt;
      }
      if (report.type === "inbound-rtp") {
        lost += report.packetsLost || 0;
        received += report.packetsReceived || 0;
      }
    });
    const now = performance.now();
    const previous = this.lastStats;
    this.lastStats = { lost, received, at: now };
    const newLost = previous ? lost - previous.lost : 0;
    const newReceived = previous ? received - previous.received : 0;
    const lossRate = newLost + newReceived > 0 ? newLost / (newLost + newReceived) : 0;
    // Media arrived between the previous measurement and this one: since when we know they flow.
    const receivingSince = previous && newReceived > 0 ? previous.at : null;
    let level = "good";
    if (rtt === null && received === 0) level = "unknown";
    else if ((rtt ?? 0) > 0.4 || lossRate > 0.08) level = "poor";
    else if ((rtt ?? 0) > 0.2 || lossRate > 0.02) level = "fair";
    return { level, rtt, lossRate, receivingSince };
  }

  close() {
    clearTimeout(this.restartTimer);
    clearTimeout(this.offerTimer);
    this.pc.close();
  }
}

// The types of ICE candidate pairs in use, e.g. ["relay"] when TURN relays the call.
export async function selectedCandidateTypes(pc) {
  const stats = await pc.getStats();
  const types = [];
  stats.forEach((report) => {
    if (report.type === "candidate-pair" && report.state === "succeeded" && report.nominated) {
      const local = stats.get(report.localCandidateId);
      if (local) types.push(local.candidateType);
    }
  });
  return types;
}

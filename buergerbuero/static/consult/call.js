// Peer-to-peer calls inside a consultation: one RTCPeerConnection per other participant
// (citizen, staff member, interpreter), signalling through our WebSocket. Media never pass
// through our server; TURN (if configured) only relays encrypted packets.
//
// Negotiation follows the "perfect negotiation" pattern (W3C WebRTC, §10.7): both sides may
// add tracks at any time (camera, screen share, back from chat-only); the polite side yields
// on collisions. Ranks decide who is polite: the staff member never is, the interpreter always.

const RANK = { agent: 0, citizen: 1, interpreter: 2 };
const QUALITY_EVERY_MS = 2000;
const RESTART_AFTER_MS = 2500;

export class Call {
  constructor({ role, send, iceServers, iceTransportPolicy = "all", onRemoteTrack, onPeerState, onQuality, onMedia }) {
    this.role = role;
    this.send = send;
    this.config = { iceServers, iceTransportPolicy };
    this.onRemoteTrack = onRemoteTrack;
    this.onPeerState = onPeerState;
    this.onQuality = onQuality;
    this.onMedia = onMedia;
    this.peers = new Map();
    this.camera = null;      // MediaStream of camera + microphone (or null: chat only)
    this.screen = null;      // MediaStream of a screen share
    this.qualityTimer = setInterval(() => this.measureQuality(), QUALITY_EVERY_MS);
  }

  // --- peers -----------------------------------------------------------------------
  connectTo(remoteRole) {
    this.peers.get(remoteRole)?.close();
    const peer = new Peer(this, remoteRole);
    this.peers.set(remoteRole, peer);
    peer.addLocalMedia();
    this.announceMedia(remoteRole);
    return peer;
  }

  disconnectFrom(remoteRole) {
    this.peers.get(remoteRole)?.close();
    this.peers.delete(remoteRole);
  }

  async onSignal(message) {
    if (message.media) return this.onMedia?.(message.from, message.media);
    const peer = this.peers.get(message.from) || this.connectTo(message.from);
    await peer.onSignal(message);
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
    this.screen = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const [track] = this.screen.getVideoTracks();
    track.addEventListener("ended", () => this.stopScreen());
    for (const peer of this.peers.values()) peer.addStream(this.screen);
    this.announceMedia();
    return this.screen;
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

  hangUp() {
    clearInterval(this.qualityTimer);
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    this.stopScreen();
    this.camera?.getTracks().forEach((track) => track.stop());
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
    this.senders = new Map(); // track id -> RTCRtpSender
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
      const collision = description.type === "offer" && (this.makingOffer || pc.signalingState !== "stable");
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      await pc.setRemoteDescription(description);
      if (description.type === "offer") {
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
    clearTimeout(this.restartTimer);
    if (state === "failed") this.pc.restartIce();
    if (state === "disconnected") {
      // Often heals by itself (a network switch); if not, restart ICE.
      this.restartTimer = setTimeout(() => {
        if (this.pc.iceConnectionState === "disconnected") this.pc.restartIce();
      }, RESTART_AFTER_MS);
    }
  }

  addLocalMedia() {
    if (this.call.camera) this.addStream(this.call.camera);
    if (this.call.screen) this.addStream(this.call.screen);
  }

  addStream(stream) {
    for (const track of stream.getTracks()) {
      if (!this.senders.has(track.id)) this.senders.set(track.id, this.pc.addTrack(track, stream));
    }
  }

  removeStream(stream) {
    for (const track of stream.getTracks()) {
      const sender = this.senders.get(track.id);
      if (sender) {
        this.pc.removeTrack(sender);
        this.senders.delete(track.id);
      }
    }
  }

  replaceLocal(previous, next) {
    // Same kinds: swap tracks in place (no renegotiation); otherwise add/remove.
    const previousTracks = previous ? previous.getTracks() : [];
    const nextTracks = next ? next.getTracks() : [];
    for (const old of previousTracks) {
      const sender = this.senders.get(old.id);
      if (!sender) continue;
      const replacement = nextTracks.find((track) => track.kind === old.kind);
      this.senders.delete(old.id);
      if (replacement) {
        sender.replaceTrack(replacement);
        this.senders.set(replacement.id, sender);
      } else {
        this.pc.removeTrack(sender);
      }
    }
    for (const track of nextTracks) {
      if (!this.senders.has(track.id)) this.senders.set(track.id, this.pc.addTrack(track, next));
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
    const previous = this.lastStats;
    this.lastStats = { lost, received };
    const newLost = previous ? lost - previous.lost : 0;
    const newReceived = previous ? received - previous.received : 0;
    const lossRate = newLost + newReceived > 0 ? newLost / (newLost + newReceived) : 0;
    let level = "good";
    if (rtt === null && received === 0) level = "unknown";
    else if ((rtt ?? 0) > 0.4 || lossRate > 0.08) level = "poor";
    else if ((rtt ?? 0) > 0.2 || lossRate > 0.02) level = "fair";
    return { level, rtt, lossRate };
  }

  close() {
    clearTimeout(this.restartTimer);
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

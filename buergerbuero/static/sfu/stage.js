// The media of an event's stage, through the Janus SFU: this page publishes its camera,
// microphone or screen on one connection and watches everyone on stage on another.
//
// The page never talks to Janus. Every message goes over the page's own socket (`send`), where
// the server's JanusPeer (buergerbuero/sfu/peer.py) checks it and speaks to Janus; the server's
// answers come back through `handle(message)`. Both directions carry an `op` (the list is in
// peer.py's docstring).
//
// Publishing: one RTCPeerConnection with an audio transceiver first and a video transceiver
// second (mids "0" and "1": the server mutes a feed's audio or video by these mids). Switching
// between camera and screen, or to another camera, swaps the tracks (replaceTrack) on the same
// connection, with no new negotiation. Watching: Janus offers one connection with a pair of
// streams per feed; each offer after a change (someone comes on stage or leaves) is answered
// on that connection. The streams of one feed arrive as one MediaStream (`onRemoteStream`).
//
// ICE servers come from the page: the events page passes the same time-limited TURN
// credentials as a consultation's page.

export class Stage {
  constructor({
    send, iceServers = [], iceTransportPolicy = "all", onRemoteStream, onRemoteGone, onError, onPublishers,
    autoSubscribe = false,
  }) {
    this.send = send;
    this.config = { iceServers, iceTransportPolicy, bundlePolicy: "max-bundle" };
    this.onRemoteStream = onRemoteStream;
    this.onRemoteGone = onRemoteGone;
    this.onError = onError;
    this.onPublishers = onPublishers;
    this.autoSubscribe = autoSubscribe;
    this.publisher = null; // RTCPeerConnection while on stage
    this.senders = null; // { audio, video } RTCRtpSenders of the publisher
    this.subscriber = null; // RTCPeerConnection of everything watched
    this.feed = null; // our own feed while published
    this.requested = new Set(); // feeds asked for (the server subscribes them as they come)
    this.mids = new Map(); // subscriber mid -> feed
    this.streams = new Map(); // feed -> MediaStream
    this.queue = Promise.resolve(); // server messages, one after the other
    this.closed = false;
    this.send({ op: "join" });
  }

  // --- publishing --------------------------------------------------------------------------
  async publish(stream, display = "") {
    const audio = stream.getAudioTracks()[0] || null;
    const video = stream.getVideoTracks()[0] || null;
    if (this.publisher) {
      // Camera → screen, another camera, or back: the same connection sends the new tracks.
      await this.senders.audio.replaceTrack(audio);
      await this.senders.video.replaceTrack(video);
      this.send({ op: "configure", audio: Boolean(audio), video: Boolean(video) });
      return;
    }
    const pc = new RTCPeerConnection(this.config);
    this.publisher = pc;
    const init = { direction: "sendonly", streams: [stream] };
    this.senders = {
      audio: pc.addTransceiver(audio || "audio", init).sender,
      video: pc.addTransceiver(video || "video", init).sender,
    };
    pc.addEventListener("icecandidate", (event) => this.trickle("publisher", event.candidate));
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    this.send({
      op: "publish",
      jsep: { type: "offer", sdp: pc.localDescription.sdp },
      display,
      audio: Boolean(audio),
      video: Boolean(video),
    });
  }

  async unpublish() {
    if (!this.publisher) return;
    this.send({ op: "unpublish" });
    this.dropPublisher();
  }

  dropPublisher() {
    this.publisher?.close();
    this.publisher = null;
    this.senders = null;
    this.feed = null;
  }

  // --- watching ------------------------------------------------------------------------------
  async subscribe(feedIds) {
    const feeds = [...new Set(feedIds)].filter(
      (feed) => Number.isSafeInteger(feed) && feed > 0 && feed !== this.feed && !this.requested.has(feed),
    );
    if (!feeds.length || this.closed) return;
    feeds.forEach((feed) => this.requested.add(feed));
    for (let start = 0; start < feeds.length; start += 16) {
      this.send({ op: "subscribe", feeds: feeds.slice(start, start + 16) });
    }
  }

  async answer(message) {
    const feedsNow = new Set();
    for (const stream of message.streams || []) {
      if (stream.mid !== null && stream.mid !== undefined && stream.feed) {
        this.mids.set(String(stream.mid), stream.feed);
        feedsNow.add(stream.feed);
      }
    }
    for (const feed of [...this.streams.keys()]) {
      if (!feedsNow.has(feed)) this.dropFeed(feed);
    }
    if (!this.subscriber) {
      const pc = new RTCPeerConnection(this.config);
      this.subscriber = pc;
      pc.addEventListener("icecandidate", (event) => this.trickle("subscriber", event.candidate));
      pc.addEventListener("track", (event) => this.addTrack(event));
    }
    await this.subscriber.setRemoteDescription(message.jsep);
    const answer = await this.subscriber.createAnswer();
    await this.subscriber.setLocalDescription(answer);
    this.send({ op: "answer", jsep: { type: "answer", sdp: this.subscriber.localDescription.sdp } });
  }

  addTrack(event) {
    const feed = this.mids.get(String(event.transceiver.mid));
    if (!feed) return;
    let stream = this.streams.get(feed);
    if (!stream) {
      stream = new MediaStream();
      this.streams.set(feed, stream);
    }
    for (const old of stream.getTracks()) {
      if (old.kind === event.track.kind && old !== event.track) stream.removeTrack(old);
    }
    if (!stream.getTracks().includes(event.track)) stream.addTrack(event.track);
    this.onRemoteStream?.(feed, stream);
  }

  dropFeed(feed) {
    this.requested.delete(feed);
    for (const [mid, owner] of [...this.mids]) {
      if (owner === feed) this.mids.delete(mid);
    }
    if (this.streams.delete(feed)) this.onRemoteGone?.(feed);
  }

  // --- the server's messages -------------------------------------------------------------------
  handle(message) {
    this.queue = this.queue
      .then(() => this.apply(message))
      .catch(() => this.onError?.("failed"));
    return this.queue;
  }

  async apply(message) {
    if (this.closed) return;
    switch (message.op) {
      case "published":
        this.feed = message.feed;
        await this.publisher?.setRemoteDescription(message.jsep);
        return;
      case "unpublished":
        // Confirms our own unpublish: that connection was dropped when we asked, and the page
        // may have published anew on a new one since — which this must not touch.
        return;
      case "publishers":
        this.onPublishers?.(message.feeds);
        if (this.autoSubscribe) await this.subscribe(message.feeds.map((feed) => feed.id));
        return;
      case "offer":
        await this.answer(message);
        return;
      case "left":
        this.dropFeed(message.feed);
        return;
      case "error":
        if (message.reason === "removed" || message.reason === "room_closed") this.hangUp();
        this.onError?.(message.reason);
        return;
      default:
    }
  }

  trickle(target, candidate) {
    if (this.closed) return;
    this.send({
      op: "trickle",
      target,
      candidate: candidate && candidate.candidate
        ? { candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex }
        : null,
    });
  }

  hangUp() {
    this.dropPublisher();
    this.subscriber?.close();
    this.subscriber = null;
    for (const feed of [...this.streams.keys()]) this.dropFeed(feed);
    this.requested.clear();
    this.mids.clear();
  }

  close() {
    if (this.closed) return;
    try {
      this.send({ op: "leave" });
    } catch {
      // the socket is gone already: the server ends our Janus session with it
    }
    this.hangUp();
    this.closed = true;
  }
}

"""Benchmark of an event's media: one host publishing, N viewers watching through Janus.

Everything runs on this machine, through the product's own media layer: a real Janus
(Debian's, started from the project's configuration by ``buergerbuero.sfu.process`` on free
loopback ports), a room made by ``sfu.rooms``, and for every participant a
``sfu.peer.JanusPeer`` — the server side a page's socket would have — speaking the same
messages ``static/sfu/stage.js`` sends. The browsers are lean: aiortc (a Python WebRTC stack)
instead of a Chromium page per viewer, which would not fit on two cores; the viewers are spread
over ``--receivers`` processes, and the host and guests publish from processes of their own.

1. **Host**: an aiortc publisher in a process of its own (so its encoder does not starve with
   the viewers): audio and 640×360 video at 30 fps, VP8 at ``--video-kbps`` (moving stripes
   and a small block of noise: the picture changes every frame); it publishes as ``stage.js``
   does (audio transceiver first, then video), and makes at most one keyframe per 300 ms on
   request, as a browser's encoder does (``keyframes_host``: requests and keyframes made).
2. **Viewers** join in waves (``--concurrency`` at a time, as an audience arrives): ``join``,
   ``subscribe`` to the announced feed, answer Janus's offer. *Join → first frame*: from the
   ``join`` until the viewer's first video frame is decoded (libvpx, through PyAV). After that
   first picture a viewer only counts the frames that arrive (RTP packets with the marker bit,
   decrypted and parsed) without decoding them (decoding a hundred streams would measure the
   bench, not Janus); ``frames_per_viewer_second`` and ``video_kbps_per_viewer`` show the media
   kept arriving and at which rate.
3. **Steady state** (``--seconds``): the CPU of Janus, measured from /proc, before any viewer
   (the host alone: the baseline of the same run) and with all viewers watching;
   ``janus_cpu_ms_per_viewer_second`` = (CPU with N − CPU with none) / (N × seconds), the
   figure that scales to a bigger server (at the bitrate reported next to it).
4. **Stage switch** (``--switches`` times): someone comes on stage — another publisher process
   joins and publishes, as a viewer's page does when the moderator brings it up — and every
   viewer, as ``stage.js`` with ``autoSubscribe`` does, subscribes to the new feed when it is
   announced; *switch → visible* is from the ``publish`` until each viewer decodes that feed's
   first frame (``time.monotonic`` is one clock for all processes). One guest at a time, as in
   consultation hours: each goes back (unpublishes) before the next comes up, so from the
   second switch on the new feed takes the m-lines the one before left.

Run: ``.venv/bin/python bench/event.py --viewers 100``. The last line is the JSON report;
``failures`` counts viewers that did not show a picture within ``--timeout`` seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the project importable (not only this folder)
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import contextlib
import json
import logging
import os
import queue
import secrets
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from bench.support import cli
from bench.support.environment import BenchEnvironment
from bench.support.processes import CpuMeter, cpu_seconds, machine_busy_seconds, raise_fd_limit, rss_kib
from bench.support.report import run_and_report, say, with_all
from bench.support.stats import ms_percentile, rounded

TARGET_VIEWERS = 100
TARGET_P95_JOIN_MS = 3000
VIDEO_SIZE = (640, 360)
FPS = 30
PLI_INTERVAL = 0.2  # a receiver asks for a keyframe at most this often (Chromium: every 200 ms)
KEYFRAME_INTERVAL = 0.3  # a publisher sends a keyframe on request at most this often (Chromium too)
RESET = "reset"  # to a decoder thread: another feed comes on this m-line, decode its first keyframe


class AtMostEvery:
    """Whether an object may act now, at most once per ``seconds`` each (as a browser limits
    its keyframe requests and its encoder its keyframes)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.last: dict[int, float] = {}

    def __call__(self, actor: object) -> bool:
        now = time.monotonic()
        if now - self.last.get(id(actor), 0.0) < self.seconds:
            return False
        self.last[id(actor)] = now
        return True


# --- lean receivers ---------------------------------------------------------------------------
def lean_decoder_worker(
    loop: asyncio.AbstractEventLoop,
    input_q: queue.Queue[Any],
    output_q: asyncio.Queue[Any],
    decode_error: Any,
) -> None:
    """aiortc's decoder thread, lean: VP8 keyframes are decoded (a decoded picture is the proof
    that real video arrived; Janus asks the publisher for one whenever a viewer starts watching
    a feed), every other frame is only counted; audio is counted, not decoded."""
    from aiortc.codecs import get_decoder

    decoder = None
    decoded = False
    while True:
        task = input_q.get()
        if task is None:
            asyncio.run_coroutine_threadsafe(output_q.put(None), loop)
            return
        if task == RESET:
            decoded = False
            continue
        codec, encoded_frame = task
        if not codec.mimeType.startswith("video/"):
            continue
        keyframe = bool(encoded_frame.data) and not encoded_frame.data[0] & 0x01  # VP8: P bit clear
        if not keyframe:
            if not decoded:
                decode_error.set()  # still no picture: the receiver asks for a keyframe (PLI)
            continue
        if decoder is None:
            decoder = get_decoder(codec)
        try:
            frames = decoder.decode(encoded_frame)
        except Exception:
            decode_error.set()
            continue
        if frames:
            decoded = True
            asyncio.run_coroutine_threadsafe(output_q.put(frames[0]), loop)


COUNTS = {"video": 0, "audio": 0, "video_bytes": 0, "audio_bytes": 0}


LEAN: set[int] = set()  # ids of receivers that only count from now on


def install_lean_stack() -> None:
    """aiortc with the lean decoder, and receivers that, once their first picture is decoded (and
    audio ones from the start), only count the RTP packets that end a frame (the marker bit):
    decrypting (SRTP) and parsing every packet stays, the jitter buffer, NACKs and statistics in
    Python go — a hundred full receivers in one Python process fall behind the stream."""
    import aioice.ice
    import aiortc.rtcrtpreceiver
    from aiortc.jitterbuffer import JitterBuffer
    from aiortc.rtcrtpreceiver import NackGenerator, TimestampMapper

    aiortc.rtcrtpreceiver.decoder_worker = lean_decoder_worker
    # A hundred receivers share this one Python process: under load a consent check (RFC 7675,
    # sent once, no retransmission) is answered late, and six late answers in a row would end
    # the connection. A browser checks consent in a network thread of its own; here a late
    # answer must not count as Janus withdrawing consent.
    aioice.ice.CONSENT_FAILURES = 10**6
    receiver_class = aiortc.rtcrtpreceiver.RTCRtpReceiver
    handle = receiver_class._handle_rtp_packet

    async def lean_handle(self: Any, packet: Any, arrival_time_ms: int) -> None:
        if id(self) in LEAN:
            COUNTS[f"{self.track.kind}_bytes"] += len(packet.payload)
            if packet.marker or self.track.kind == "audio":
                COUNTS[self.track.kind] += 1
            return
        await handle(self, packet, arrival_time_ms)

    receiver_class._handle_rtp_packet = lean_handle  # type: ignore[method-assign]

    # Janus hands the m-lines of a feed that left to the next feed, with new SSRCs; aiortc
    # registers a receiver's SSRCs only when it first starts, and drops packets of an unknown
    # SSRC once several receivers share the payload type (Chromium routes by the mid). A new
    # SSRC is a new stream: its sequence numbers and timestamps start afresh.
    receive = receiver_class.receive

    async def receive_again(self: Any, parameters: Any) -> None:
        known = set(self.transport._rtp_router.ssrc_table)
        if self._RTCRtpReceiver__started and any(e.ssrc not in known for e in parameters.encodings):
            for encoding in parameters.encodings:
                if encoding.rtx:
                    self._RTCRtpReceiver__rtx_ssrc[encoding.rtx.ssrc] = encoding.ssrc
            self.transport._register_rtp_receiver(self, parameters)
            self._RTCRtpReceiver__jitter_buffer = JitterBuffer(capacity=512, is_video=True)
            self._RTCRtpReceiver__nack_generator = NackGenerator()
            self._RTCRtpReceiver__timestamp_mapper = TimestampMapper()
        await receive(self, parameters)

    receiver_class.receive = receive_again  # type: ignore[method-assign]

    # aiortc asks for a keyframe (PLI) after every frame it cannot decode: 30 a second per
    # viewer until a keyframe arrives; Chromium asks every 200 ms while it waits. A hundred viewers
    # that start watching a new feed at once, each as eager as aiortc, make the publisher send
    # nothing but keyframes (Janus passes every PLI on) and measure that storm instead of Janus.
    send_pli = receiver_class._send_rtcp_pli
    pli_due = AtMostEvery(PLI_INTERVAL)

    async def browser_like_pli(self: Any, media_ssrc: int) -> None:
        if pli_due(self):
            await send_pli(self, media_ssrc)

    receiver_class._send_rtcp_pli = browser_like_pli  # type: ignore[method-assign]
    logging.getLogger("aiortc").setLevel(logging.ERROR)
    logging.getLogger("aioice").setLevel(logging.ERROR)


KEYFRAMES = {"requested": 0, "sent": 0}


def install_browser_like_publisher(video_kbps: int) -> None:
    """aiortc as a publisher that behaves like a browser's encoder: a fixed bitrate, and at most
    one keyframe per ``KEYFRAME_INTERVAL`` however many keyframe requests arrive. aiortc makes a
    keyframe of the next frame after each one, and Janus passes every viewer's PLI on: a hundred
    viewers waiting for a new feed made its publisher send keyframes only, overloading Janus and
    the receivers, which then lost parts of the keyframes they waited for."""
    import aiortc.codecs.vpx
    import aiortc.rtcrtpsender

    # the encoder starts at and never exceeds this bitrate (Janus's REMB would raise it)
    aiortc.codecs.vpx.DEFAULT_BITRATE = aiortc.codecs.vpx.MAX_BITRATE = video_kbps * 1000
    aiortc.codecs.vpx.MIN_BITRATE = min(aiortc.codecs.vpx.MIN_BITRATE, video_kbps * 1000)
    sender_class = aiortc.rtcrtpsender.RTCRtpSender
    send_keyframe = sender_class._send_keyframe
    keyframe_due = AtMostEvery(KEYFRAME_INTERVAL)

    def browser_like_keyframe(self: Any) -> None:
        KEYFRAMES["requested"] += 1
        if keyframe_due(self):
            KEYFRAMES["sent"] += 1
            send_keyframe(self)

    sender_class._send_keyframe = browser_like_keyframe  # type: ignore[method-assign]


def bundled() -> Any:
    """One transport for all media, as browsers do (Janus expects BUNDLE)."""
    from aiortc import RTCBundlePolicy, RTCConfiguration

    return RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


# --- participants ---------------------------------------------------------------------------------
def moving_pictures() -> list[Any]:
    """A second of 640×360 pictures: diagonal stripes that move a little every frame, and a
    small block of noise (so every frame has something new) — the encoder can follow its
    target bitrate, as with a camera, instead of drowning in noise."""
    import av

    width, height = VIDEO_SIZE
    ramp = bytes((x * 2) % 256 for x in range(2 * width + 256))
    pictures = []
    for index in range(FPS):
        luma = bytearray()
        for row in range(height):
            start = (row + index * 4) % 256
            luma += ramp[start : start + width]
        block = 32
        left, top = (index * 16) % (width - block), (index * 8) % (height - block)
        for row in range(top, top + block):
            luma[row * width + left : row * width + left + block] = secrets.token_bytes(block)
        frame = av.VideoFrame(width, height, "yuv420p")
        frame.planes[0].update(bytes(luma))
        for plane in frame.planes[1:]:
            plane.update(b"\x80" * plane.buffer_size)
        pictures.append(frame)
    return pictures


class MovingVideo:
    """The moving pictures as a 30 fps video track."""

    def __new__(cls) -> Any:
        from aiortc import VideoStreamTrack

        pictures = moving_pictures()

        class Track(VideoStreamTrack):
            count = 0

            async def recv(self) -> Any:
                pts, time_base = await self.next_timestamp()
                frame = pictures[self.count % len(pictures)]
                self.count += 1
                frame.pts, frame.time_base = pts, time_base
                return frame

        return Track()


class Participant:
    """A page: its JanusPeer (the server side of its socket) and its aiortc connections."""

    def __init__(self, server: str, room: int, *, auto_subscribe: bool) -> None:
        from buergerbuero.sfu.peer import JanusPeer

        self.peer = JanusPeer(server, room, self.on_event)
        self.auto_subscribe = auto_subscribe
        self.publisher: Any = None
        self.subscriber: Any = None
        self.mids: dict[str, int] = {}
        self.watches: dict[str, tuple[int | None, asyncio.Task[None]]] = {}  # video mid -> feed, watch
        # the steps of watching a feed, each feed -> when (time.monotonic, one clock for all)
        self.announced: dict[int, float] = {}  # the server announced the feed on stage
        self.subscribed: dict[int, float] = {}  # the subscribe was handed to Janus (acked)
        self.offer_arrived: dict[int, float] = {}  # Janus's offer with it reached the page
        self.offered: dict[int, float] = {}  # the page began to answer that offer
        self.answered: dict[int, float] = {}  # the answer to that offer was sent
        self.first_frame: dict[int, float] = {}  # its first video frame was decoded
        self.feed_seen: dict[int, asyncio.Event] = {}
        self.published = asyncio.Event()
        self.errors: list[str] = []
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.worker = asyncio.create_task(self.work())

    async def on_event(self, event: dict[str, Any]) -> None:
        now = time.monotonic()
        if event["op"] == "publishers":
            for feed in event["feeds"]:
                self.announced.setdefault(feed["id"], now)
        elif event["op"] == "offer":
            for stream in event["streams"]:
                if stream["feed"]:
                    self.offer_arrived.setdefault(stream["feed"], now)
        await self.queue.put(event)

    async def work(self) -> None:
        """The server's messages one after the other, as stage.js handles them."""
        while True:
            event = await self.queue.get()
            try:
                await self.apply(event)
            except Exception as error:
                self.errors.append(f"{event['op']}: {error!r}")

    async def apply(self, event: dict[str, Any]) -> None:
        from aiortc import RTCSessionDescription

        op = event["op"]
        if op == "publishers" and self.auto_subscribe and event["feeds"]:
            feeds = [feed["id"] for feed in event["feeds"]]
            await self.peer.handle({"op": "subscribe", "feeds": feeds})
            for feed in feeds:
                self.subscribed.setdefault(feed, time.monotonic())
        elif op == "published":
            await self.publisher.setRemoteDescription(RTCSessionDescription(**event["jsep"]))
            self.published.set()
        elif op == "offer":
            await self.answer(event)
        elif op == "error":
            self.errors.append(event["reason"])

    async def answer(self, event: dict[str, Any]) -> None:
        from aiortc import RTCPeerConnection, RTCSessionDescription

        arrived = time.monotonic()
        for stream in event["streams"]:
            if stream["mid"] is not None and stream["feed"]:
                self.mids[str(stream["mid"])] = stream["feed"]
                self.offered.setdefault(stream["feed"], arrived)
        for transceiver in self.subscriber.getTransceivers() if self.subscriber else []:
            mid = str(transceiver.mid)
            if mid in self.watches and self.watches[mid][0] != self.mids.get(mid):
                self.rewatch(transceiver, mid)
        if self.subscriber is None:
            self.subscriber = RTCPeerConnection(bundled())
            self.subscriber.on("track", self.on_track)
        await self.subscriber.setRemoteDescription(RTCSessionDescription(**event["jsep"]))
        await self.subscriber.setLocalDescription(await self.subscriber.createAnswer())
        local = self.subscriber.localDescription
        await self.peer.handle({"op": "answer", "jsep": {"type": local.type, "sdp": local.sdp}})
        for feed in self.mids.values():
            self.answered.setdefault(feed, time.monotonic())

    def on_track(self, track: Any) -> None:
        transceiver = next((t for t in self.subscriber.getTransceivers() if t.receiver.track is track), None)
        if transceiver is None:
            return
        if track.kind != "video":
            LEAN.add(id(transceiver.receiver))
            return
        mid = str(transceiver.mid)
        self.watches[mid] = (
            self.mids.get(mid),
            asyncio.create_task(self.watch(track, mid, transceiver.receiver)),
        )

    def rewatch(self, transceiver: Any, mid: str) -> None:
        """The m-line of a feed that left now carries another (Janus hands free m-lines to the
        next feed, with the same SSRC and sequence numbers that go on, so aiortc fires no new
        track): its receiver decodes again until it has the new feed's first picture."""
        receiver = transceiver.receiver
        self.watches[mid][1].cancel()
        LEAN.discard(id(receiver))
        while not receiver.track._queue.empty():  # pictures of the feed before
            receiver.track._queue.get_nowait()
        receiver._RTCRtpReceiver__decoder_queue.put(RESET)  # no picture yet: ask for keyframes
        self.watches[mid] = (
            self.mids.get(mid),
            asyncio.create_task(self.watch(receiver.track, mid, receiver)),
        )

    async def watch(self, track: Any, mid: str, receiver: Any) -> None:
        """The first decoded picture of this m-line: the feed it carries is seen; from then on the
        receiver only counts frames."""
        with contextlib.suppress(Exception):
            await track.recv()
            feed = self.mids.get(mid)
            if feed is not None and feed not in self.first_frame:
                self.first_frame[feed] = time.monotonic()
                self.feed_seen.setdefault(feed, asyncio.Event()).set()
            LEAN.add(id(receiver))

    async def seen(self, feed: int, timeout: float) -> float | None:
        event = self.feed_seen.setdefault(feed, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return None
        return self.first_frame[feed]

    async def publish(self, display: str) -> float:
        """Publish audio and video as stage.js does; the time the publish was sent."""
        from aiortc import AudioStreamTrack, RTCPeerConnection

        self.publisher = RTCPeerConnection(bundled())
        self.publisher.addTransceiver(AudioStreamTrack(), direction="sendonly")
        self.publisher.addTransceiver(MovingVideo(), direction="sendonly")
        await self.publisher.setLocalDescription(await self.publisher.createOffer())
        local = self.publisher.localDescription
        started = time.monotonic()
        await self.peer.handle(
            {"op": "publish", "jsep": {"type": "offer", "sdp": local.sdp}, "display": display}
        )
        return started

    async def unpublish(self) -> None:
        await self.peer.handle({"op": "unpublish"})
        if self.publisher is not None:
            await self.publisher.close()
            self.publisher = None
        self.published.clear()

    async def close(self) -> None:
        self.worker.cancel()
        for _, task in self.watches.values():
            task.cancel()
        await self.peer.close()
        for pc in (self.publisher, self.subscriber):
            if pc is not None:
                with contextlib.suppress(Exception):
                    await pc.close()


class Publisher:
    """``bench/event.py --publish ROOM``: a host or a guest publishing from its own process; it
    prints its feed and when it sent the publish, and leaves the stage when its stdin closes."""

    def __init__(self, room: int, display: str, video_kbps: int) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - this script, our arguments
            [
                *(sys.executable, __file__, "--publish", str(room), "--display", display),
                *("--video-kbps", str(video_kbps)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.feed = 0
        self.started = 0.0
        self.keyframes = {"requested": 0, "sent": 0}  # known when it has stopped

    def wait(self, timeout: float) -> None:
        assert self.process.stdout is not None  # noqa: S101 - a pipe, asked for above
        deadline = time.monotonic() + timeout
        line = self.process.stdout.readline()
        if not line or time.monotonic() > deadline:
            raise RuntimeError("the publisher did not publish")
        answer = json.loads(line)
        self.feed, self.started = int(answer["feed"]), float(answer["started"])

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                assert self.process.stdin is not None  # noqa: S101
                self.process.stdin.close()
            try:
                assert self.process.stdout is not None  # noqa: S101
                line = self.process.stdout.readline()
                if line:
                    self.keyframes = json.loads(line)["keyframes"]
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Audience:
    """``bench/event.py --audience ROOM``: a share of the viewers in a process of its own. It
    answers one JSON line per command line: its joins first, then ``count``, ``see``, ``close``."""

    def __init__(self, room: int, count: int, host_feed: int, args: argparse.Namespace) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - this script, our arguments
            [
                *(sys.executable, __file__, "--audience", str(room), "--count", str(count)),
                *("--host-feed", str(host_feed), "--concurrency", str(args.concurrency)),
                *("--timeout", str(args.timeout)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None  # noqa: S101 - a pipe, asked for above
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a viewers' process ended early")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None  # noqa: S101
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# The steps from a guest's publish to each viewer's first picture of it (Participant's fields).
SWITCH_STEPS = ("announced", "subscribed", "offer_arrived", "offered", "answered")


class LoopLag:
    """How late this process's event loop runs a timer: when the receivers (Python, one core at
    most per process) fall behind, every step they take waits this long, and the bench measures
    itself rather than Janus."""

    TICK = 0.05

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (when, how late)
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.TICK)
            now = time.monotonic()
            self.samples.append((now, now - before - self.TICK))

    def since(self, start: float) -> list[float]:
        return [late for when, late in self.samples if when >= start]


def answer_line(answer: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


async def watch_as_audience(room: int, count: int, host_feed: int, concurrency: int, timeout: float) -> None:
    viewers: list[Participant] = []
    joins: list[float] = []
    failures = 0
    semaphore = asyncio.Semaphore(concurrency)

    async def join_one() -> None:
        nonlocal failures
        async with semaphore:
            viewer = Participant("bench", room, auto_subscribe=True)
            viewers.append(viewer)
            started = time.monotonic()
            await viewer.peer.handle({"op": "join"})
            seen = await viewer.seen(host_feed, timeout)
            if seen is None:
                failures += 1
            else:
                joins.append(seen - started)

    lag = LoopLag()
    await asyncio.gather(*(join_one() for _ in range(count)))
    answer_line({"joins": joins, "failures": failures})
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        command = json.loads(line) if line.strip() else {"cmd": "close"}
        if command["cmd"] == "count":
            answer_line(dict(COUNTS))
        elif command["cmd"] == "see":
            feed = int(command["feed"])
            seen = await asyncio.gather(*(viewer.seen(feed, timeout) for viewer in viewers))
            steps = {
                name: [getattr(viewer, name)[feed] for viewer in viewers if feed in getattr(viewer, name)]
                for name in SWITCH_STEPS
            }
            answer_line({"seen": seen, **steps, "loop_lag": lag.since(float(command["since"]))})
        else:
            errors = sorted({error for viewer in viewers for error in viewer.errors})
            await asyncio.gather(*(viewer.close() for viewer in viewers), return_exceptions=True)
            answer_line({"errors": errors})
            return


async def publish_until_stdin_closes(room: int, display: str, timeout: float) -> None:
    publisher = Participant("bench", room, auto_subscribe=False)
    await publisher.peer.handle({"op": "join"})
    started = await publisher.publish(display)  # time.monotonic(): one clock for all processes
    await asyncio.wait_for(publisher.published.wait(), timeout)
    sys.stdout.write(json.dumps({"feed": publisher.peer.feed_id, "started": started}) + "\n")
    sys.stdout.flush()
    await asyncio.to_thread(sys.stdin.read)
    await publisher.unpublish()
    await publisher.close()
    answer_line({"keyframes": dict(KEYFRAMES)})


# --- the bench -------------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.environment = BenchEnvironment("event", keep=args.keep)
        self.janus: Any = None
        self.publishers: list[Publisher] = []
        self.audiences: list[Audience] = []

    def start_janus(self) -> None:
        from buergerbuero.sfu.process import JanusProcess, janus_binary
        from tests.support.coturn import free_port_range
        from tests.support.server import free_port

        binary = janus_binary()
        if binary is None:
            raise SystemExit("janus is not installed (apt-get install janus, or `make system-deps`)")
        # one UDP port per connection and address Janus offers (IPv4, IPv6, link-local)
        ports = 4 * (self.args.viewers + self.args.switches + 1) + 20
        first = free_port_range(ports, low=30000, high=60000)
        self.janus = JanusProcess(
            self.environment.tmp / "janus",
            api_secret=secrets.token_urlsafe(24),
            admin_secret=secrets.token_urlsafe(24),
            admin_key=secrets.token_urlsafe(24),
            http_port=free_port(),
            admin_port=free_port(),
            rtp_ports=(first, first + ports - 1),
            binary=binary,
        )
        self.janus.start()

    def configure(self) -> None:
        self.environment.tmp.mkdir(parents=True, exist_ok=True)
        self.start_janus()
        self.environment.setup(
            JANUS_SERVERS=f"bench={self.janus.url}",
            JANUS_API_SECRET=self.janus.api_secret,
            JANUS_ADMIN_KEY=self.janus.admin_key,
        )
        raise_fd_limit(self.args.viewers * 8)

    def run(self) -> dict[str, Any]:
        return asyncio.run(self.scenario())

    async def publisher(self, room: int, display: str) -> Publisher:
        """A publisher in a process of its own (its encoder must not starve with the viewers)."""
        publisher = Publisher(room, display, self.args.video_kbps)
        self.publishers.append(publisher)
        await asyncio.to_thread(publisher.wait, self.args.timeout)
        return publisher

    def janus_cpu(self, seconds: float) -> tuple[float, float]:
        """Janus's CPU seconds and the machine's busy seconds over ``seconds`` of waiting."""
        cpu, busy = cpu_seconds([self.janus.pid]), machine_busy_seconds()
        time.sleep(seconds)
        return cpu_seconds([self.janus.pid]) - cpu, machine_busy_seconds() - busy

    async def scenario(self) -> dict[str, Any]:
        from buergerbuero.sfu import rooms

        args = self.args
        room = 1000 + secrets.randbelow(10**6)
        stage = args.switches + 1
        await asyncio.to_thread(rooms.create_room, "bench", room, description="bench", max_publishers=stage)
        bench_cpu_start = cpu_seconds([os.getpid()])

        host = await self.publisher(room, "Host")
        host_feed = host.feed
        await asyncio.sleep(2)  # the host's media flowing into Janus
        baseline_cpu, baseline_busy = await asyncio.to_thread(self.janus_cpu, args.seconds)
        say(f"host alone: Janus {baseline_cpu / args.seconds * 1000:.0f} ms CPU/s")

        # The viewers live in --receivers processes of their own (a hundred receivers in one
        # Python process fall behind the media and make the bench, not Janus, the limit).
        shares = [
            args.viewers // args.receivers + (1 if n < args.viewers % args.receivers else 0)
            for n in range(args.receivers)
        ]
        joined_at = time.monotonic()
        audiences = [Audience(room, share, host_feed, args) for share in shares if share]
        self.audiences = audiences
        first = await asyncio.gather(*(asyncio.to_thread(audience.read) for audience in audiences))
        join_wall = time.monotonic() - joined_at
        joins = [moment for answer in first for moment in answer["joins"]]
        failures = sum(answer["failures"] for answer in first)
        say(f"{len(joins)}/{args.viewers} viewers see the host ({join_wall:.1f} s for all)")

        async def ask_all(command: dict[str, Any]) -> list[dict[str, Any]]:
            return list(await asyncio.gather(*(asyncio.to_thread(a.ask, command) for a in audiences)))

        await asyncio.sleep(2)
        before = await ask_all({"cmd": "count"})
        loaded_cpu, loaded_busy = await asyncio.to_thread(self.janus_cpu, args.seconds)
        after = await ask_all({"cmd": "count"})
        per_second = max(1, len(joins)) * args.seconds

        def counted(key: str) -> float:
            total = sum(float(end[key]) - float(start[key]) for start, end in zip(before, after, strict=True))
            return total / float(per_second)

        frames_per_viewer_second = counted("video")
        kbps = {kind: counted(f"{kind}_bytes") * 8 / 1000 for kind in ("video", "audio")}
        janus_rss = rss_kib([self.janus.pid])
        say(f"{len(joins)} viewers: Janus {loaded_cpu / args.seconds * 1000:.0f} ms CPU/s, {janus_rss} KiB")

        switches: list[float] = []
        switch_steps: dict[str, list[float]] = {}  # publish → offer at the viewer, → answer sent
        switch_failures = 0
        lags: list[float] = []  # the receivers' event loop lag during the switches
        switch_cores: dict[str, list[float]] = {}  # cores busy during each switch, per group
        # As in consultation hours, one guest at a time: the host and the guest on stage, the
        # guest goes back before the next comes up (and Janus hands the m-lines the guest left
        # to the next feed). Guests who stayed would add a stream to every viewer each turn:
        # at 100 viewers, the third guest made three 1 Mbit/s streams per viewer, more than
        # Janus and the receivers can forward and decrypt on two cores.
        guest_keyframes: list[dict[str, int]] = []
        for turn in range(args.switches):
            meter = CpuMeter(
                {
                    "janus": [self.janus.pid],
                    "receivers": [a.process.pid for a in audiences],
                    "publishers": [p.process.pid for p in self.publishers],
                }
            )
            guest = await self.publisher(room, f"Guest {turn + 1}")
            answers = await ask_all({"cmd": "see", "feed": guest.feed, "since": guest.started})
            usage = meter.stop()
            seen = [moment for answer in answers for moment in answer["seen"]]
            switches.extend(moment - guest.started for moment in seen if moment is not None)
            missing = sum(1 for moment in seen if moment is None)
            switch_failures += missing
            for name in SWITCH_STEPS:
                steps = [moment - guest.started for answer in answers for moment in answer[name]]
                switch_steps.setdefault(name, []).extend(steps)
            lags.extend(late for answer in answers for late in answer["loop_lag"])
            for name in ("janus", "receivers", "publishers", "other"):
                switch_cores.setdefault(name, []).append(usage[name] / usage["wall"])
            say(f"switch {turn + 1}: a guest on stage; {len(seen) - missing}/{len(seen)} viewers see it")
            await asyncio.to_thread(guest.stop)
            guest_keyframes.append(guest.keyframes)
            await asyncio.sleep(2)  # the viewers renegotiate the guest's leaving
        host.stop()

        bench_cpu = cpu_seconds([os.getpid(), *(a.process.pid for a in audiences)]) - bench_cpu_start
        closing = await ask_all({"cmd": "close"})
        errors = sorted({error for answer in closing for error in answer["errors"]})
        await asyncio.to_thread(rooms.destroy_room, "bench", room)

        connected = len(joins)
        per_viewer = (loaded_cpu - baseline_cpu) / max(1, connected) / args.seconds
        p95_join = ms_percentile(joins, 0.95)
        return {
            "bench": "event",
            "viewers": args.viewers,
            "connected_viewers": connected,
            "failures": failures,
            "p50_join_to_first_frame_ms": ms_percentile(joins, 0.5),
            "p95_join_to_first_frame_ms": p95_join,
            "max_join_to_first_frame_ms": ms_percentile(joins, 1.0),
            "join_concurrency": args.concurrency,
            "all_joined_s": rounded(join_wall, 2),
            "stage_switches": args.switches,
            "stage_switch_p50_ms": ms_percentile(switches, 0.5),
            "stage_switch_p95_ms": ms_percentile(switches, 0.95),
            "stage_switch_failures": switch_failures,
            "stage_switch_offer_p95_ms": ms_percentile(switch_steps.get("offer_arrived", []), 0.95),
            "stage_switch_answer_p95_ms": ms_percentile(switch_steps.get("answered", []), 0.95),
            "stage_switch_steps_p95_ms": {
                name: ms_percentile(switch_steps.get(name, []), 0.95) for name in SWITCH_STEPS
            },
            "stage_switch_busy_cores": {
                name: [rounded(cores, 2) for cores in values] for name, values in switch_cores.items()
            },
            "keyframes_host": host.keyframes,  # requests that reached it, keyframes it made
            "keyframes_per_guest": guest_keyframes,
            "receiver_loop_lag_p95_ms_during_switches": ms_percentile(lags, 0.95),
            "receiver_loop_lag_max_ms_during_switches": ms_percentile(lags, 1.0),
            "frames_per_viewer_second": rounded(frames_per_viewer_second, 1),
            "video_kbps_per_viewer": rounded(kbps["video"]),
            "audio_kbps_per_viewer": rounded(kbps["audio"]),
            "janus_cpu_ms_per_s_host_only": rounded(baseline_cpu / args.seconds * 1000),
            "janus_cpu_ms_per_s_all_viewers": rounded(loaded_cpu / args.seconds * 1000),
            "janus_cpu_ms_per_viewer_second": rounded(per_viewer * 1000, 3),
            "janus_rss_kib": janus_rss,
            "bench_cpu_s_receivers_and_peers": rounded(bench_cpu, 1),
            "machine_busy_cores_host_only": rounded(baseline_busy / args.seconds, 2),
            "machine_busy_cores_all_viewers": rounded(loaded_busy / args.seconds, 2),
            "capacity_estimate_16_cores": (
                int(16 * 0.7 / per_viewer) if per_viewer > 0 else None
            ),  # viewers at 70 % of 16 cores for Janus alone
            "errors": errors,
            "targets": with_all(
                {
                    "viewers": connected >= min(args.viewers, TARGET_VIEWERS),
                    "no_failures": failures == 0 and switch_failures == 0,
                    "p95_join_to_first_frame": p95_join is not None and p95_join <= TARGET_P95_JOIN_MS,
                }
            ),
        }

    def cleanup(self) -> None:
        for audience in self.audiences:
            audience.stop()
        for publisher in self.publishers:
            publisher.stop()
        if self.janus is not None:
            self.janus.stop()
        self.environment.cleanup()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = cli.parser(__doc__)
    parser.add_argument("--viewers", type=int, default=TARGET_VIEWERS, help="viewers (default 100)")
    parser.add_argument("--concurrency", type=int, default=10, help="viewers joining at once (default 10)")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="steady-state measuring time (default 10)"
    )
    parser.add_argument(
        "--switches", type=int, default=3, help="viewers brought on stage in turn (default 3)"
    )
    parser.add_argument(
        "--timeout", type=float, default=20.0, help="seconds a viewer may take to see a picture"
    )
    parser.add_argument(
        "--video-kbps",
        type=int,
        default=800,
        help="the publishers' video bitrate (default 800, a 360p camera)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (Janus's log)")
    parser.add_argument(
        "--receivers", type=int, default=2, help="processes the viewers are spread over (default 2)"
    )
    parser.add_argument("--publish", type=int, default=0, help=argparse.SUPPRESS)  # the bench's own
    parser.add_argument("--audience", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--host-feed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--display", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.viewers < 1 or args.concurrency < 1 or args.seconds <= 0 or not 0 <= args.switches < args.viewers:
        parser.error("--viewers and --concurrency at least 1, --seconds above 0, 0 <= --switches < --viewers")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.audience:  # a viewers' process of a running bench (its environment is the bench's)
        import django

        django.setup()
        install_lean_stack()
        asyncio.run(
            watch_as_audience(args.audience, args.count, args.host_feed, args.concurrency, args.timeout)
        )
        return 0
    if args.publish:  # a publisher process of a running bench (its environment is the bench's)
        import django

        django.setup()
        logging.getLogger("aiortc").setLevel(logging.ERROR)
        install_browser_like_publisher(args.video_kbps)
        asyncio.run(publish_until_stdin_closes(args.publish, args.display, args.timeout))
        return 0
    bench = Bench(args)

    def measure() -> dict[str, Any]:
        bench.configure()
        return bench.run()

    return run_and_report(measure, bench.cleanup)


if __name__ == "__main__":
    sys.exit(main())

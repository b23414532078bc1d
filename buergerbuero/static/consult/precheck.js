// The pre-call check: camera preview, microphone level, device choice, a speaker test, and
// clear help when permission is denied or there is no device (then: chat only).

export class PreCheck {
  constructor(root, { wantVideo }) {
    this.root = root;
    this.wantVideo = wantVideo;
    this.stream = null;
    this.audioContext = null;
    this.meterFrame = null;
    this.preview = root.querySelector("[data-preview]");
    this.meter = root.querySelector("[data-meter]");
    this.message = root.querySelector("[data-precheck-message]");
    this.selects = {
      videoinput: root.querySelector("[data-device=videoinput]"),
      audioinput: root.querySelector("[data-device=audioinput]"),
      audiooutput: root.querySelector("[data-device=audiooutput]"),
    };
    for (const select of Object.values(this.selects)) {
      select?.addEventListener("change", () => (select === this.selects.audiooutput ? null : this.start()));
    }
    root.querySelector("[data-speaker-test]")?.addEventListener("click", () => this.playTestSound());
    if (!("setSinkId" in HTMLMediaElement.prototype)) {
      this.selects.audiooutput?.closest("p")?.setAttribute("hidden", "");
    }
  }

  constraints() {
    const chosen = (kind) => this.selects[kind]?.value;
    const device = (kind) => (chosen(kind) ? { deviceId: { exact: chosen(kind) } } : true);
    return { audio: device("audioinput"), video: this.wantVideo ? device("videoinput") : false };
  }

  async start() {
    this.stopStream();
    if (!navigator.mediaDevices?.getUserMedia) {
      this.explain("unsupported");
      return null;
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia(this.constraints());
    } catch (error) {
      this.explain(error.name === "NotAllowedError" ? "denied" : error.name === "NotFoundError" ? "missing" : "failed");
      return null;
    }
    this.message.textContent = "";
    this.root.dataset.precheck = "ready";
    this.preview.srcObject = this.stream;
    this.preview.hidden = !this.wantVideo;
    await this.listDevices();
    this.startMeter();
    return this.stream;
  }

  explain(reason) {
    this.root.dataset.precheck = reason;
    const texts = {
      denied: gettext("Your browser does not allow access to camera or microphone. Allow it in the address bar (camera symbol) and try again — or continue with chat only."),
      missing: gettext("No camera or microphone was found. Connect one and try again — or continue with chat only."),
      unsupported: gettext("This browser cannot make video calls. Please continue with chat only, or use a current browser."),
      failed: gettext("Camera or microphone could not be started (perhaps another program uses them). Try again — or continue with chat only."),
    };
    this.message.textContent = texts[reason];
  }

  async listDevices() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    for (const [kind, select] of Object.entries(this.selects)) {
      if (!select) continue;
      const current = select.value || this.stream?.getTracks().find((t) => `${t.kind}input` === kind)?.getSettings().deviceId;
      select.replaceChildren();
      devices.filter((device) => device.kind === kind).forEach((device, index) => {
        select.append(new Option(device.label || `${kind} ${index + 1}`, device.deviceId, false, device.deviceId === current));
      });
    }
  }

  startMeter() {
    const [track] = this.stream.getAudioTracks();
    if (!track || !this.meter) return;
    this.audioContext?.close();
    this.audioContext = new AudioContext();
    const analyser = this.audioContext.createAnalyser();
    analyser.fftSize = 512;
    this.audioContext.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    const samples = new Uint8Array(analyser.fftSize);
    const draw = () => {
      analyser.getByteTimeDomainData(samples);
      let peak = 0;
      for (const sample of samples) peak = Math.max(peak, Math.abs(sample - 128));
      this.meter.value = Math.min(100, Math.round((peak / 128) * 200));
      this.meterFrame = requestAnimationFrame(draw);
    };
    cancelAnimationFrame(this.meterFrame);
    draw();
  }

  async playTestSound() {
    const context = new AudioContext();
    const destination = context.createMediaStreamDestination();
    const oscillator = context.createOscillator();
    oscillator.frequency.value = 523.25;
    oscillator.connect(destination);
    const audio = new Audio();
    audio.srcObject = destination.stream;
    const sink = this.selects.audiooutput?.value;
    if (sink && audio.setSinkId) await audio.setSinkId(sink).catch(() => {});
    oscillator.start();
    await audio.play().catch(() => {});
    setTimeout(() => { oscillator.stop(); context.close(); }, 800);
  }

  selectedSpeaker() {
    return this.selects.audiooutput?.value || "";
  }

  // Hands the stream over to the call; the check stops measuring.
  takeStream() {
    cancelAnimationFrame(this.meterFrame);
    this.audioContext?.close();
    this.audioContext = null;
    const stream = this.stream;
    this.stream = null;
    this.preview.srcObject = null;
    return stream;
  }

  stopStream() {
    cancelAnimationFrame(this.meterFrame);
    this.audioContext?.close();
    this.audioContext = null;
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
  }
}

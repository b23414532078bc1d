// A short chime for "it's your turn" (waiting room) and "a citizen has arrived" (console).
// One AudioContext per page, not one per chime: browsers cap how many a page may hold and
// each keeps an audio thread alive. Browsers start it suspended until the user interacts, so
// it is resumed on the first gesture; until then a chime stays silent and the visual signal
// (title, live region, highlight) carries the news.

let context = null;

function audio() {
  if (!context && typeof AudioContext === "function") context = new AudioContext();
  return context;
}

function resumeOnGesture() {
  const resume = () => {
    audio()?.resume().catch(() => { /* no audio device: the visual signal remains */ });
  };
  for (const type of ["pointerdown", "keydown"]) {
    document.addEventListener(type, resume, { capture: true, passive: true });
  }
}

export function chime(frequency, seconds) {
  try {
    const shared = audio();
    if (!shared) return;
    const oscillator = shared.createOscillator();
    oscillator.frequency.value = frequency;
    oscillator.connect(shared.destination);
    oscillator.start();
    oscillator.stop(shared.currentTime + seconds);
    oscillator.addEventListener("ended", () => oscillator.disconnect());
  } catch { /* no audio available: the visual signal remains */ }
}

resumeOnGesture();

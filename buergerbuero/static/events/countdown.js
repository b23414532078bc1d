// The lobby's countdown to the start: every element with data-countdown="<ISO time>" shows the
// time left, in the page's language; at the start it says that the event begins.

const format = new Intl.RelativeTimeFormat(document.documentElement.lang || "de", { numeric: "auto" });

function left(until) {
  const seconds = Math.round((until - Date.now()) / 1000);
  if (seconds <= 0) return gettext("Starting now.");
  if (seconds < 90) return format.format(seconds, "second");
  if (seconds < 90 * 60) return format.format(Math.round(seconds / 60), "minute");
  if (seconds < 36 * 3600) return format.format(Math.round(seconds / 3600), "hour");
  return format.format(Math.round(seconds / 86400), "day");
}

export function startCountdowns(root = document) {
  const boxes = [...root.querySelectorAll("[data-countdown]")];
  const tick = () => {
    for (const box of boxes) {
      const until = Date.parse(box.dataset.countdown);
      if (Number.isFinite(until)) box.textContent = interpolate(gettext("Starts %(when)s"), { when: left(until) }, true);
    }
  };
  tick();
  // Once a second is enough for seconds; the text changes more rarely than it is written.
  return setInterval(tick, 1000);
}

if (!document.getElementById("event-live")) startCountdowns();

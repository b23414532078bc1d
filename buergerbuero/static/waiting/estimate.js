// The wait estimate as citizens see it. The server computes the wait of every position
// (buergerbuero/waiting/estimate.py, wait_ranges) and sends them with the live figures; here we
// only pick ours and word it. waitAt, shownRange and waitText mirror wait_at, shown_range and
// wait_text there; tests/waiting/test_estimate_js.py runs both on the same cases.

// [low, median, high] seconds until the call of the citizen at `position`, or null.
export function waitAt(position, estimate) {
  if (!estimate || !estimate.waits || estimate.waits.length === 0 || position < 1) return null;
  const waits = estimate.waits;
  if (position <= waits.length) return waits[position - 1];
  const extra = (position - waits.length) * estimate.step_s;
  const last = waits[waits.length - 1];
  return [last[0] + extra, last[1] + extra, last[2] + extra];
}

// Whole minutes below 10, then steps of 5, above an hour steps of 10 (as people say them).
function nice(minutes) {
  const step = minutes < 10 ? 1 : minutes < 60 ? 5 : 10;
  return Math.floor(minutes / step + 0.5) * step;
}

// The range in minutes as shown; never "0–0".
export function shownRange(lowSeconds, highSeconds) {
  let low = nice(lowSeconds / 60);
  const high = Math.max(nice(highSeconds / 60), 1);
  if (low >= high) low = Math.max(0, high - (high < 10 ? 1 : 5));
  return [low, high];
}

export function waitText(wait) {
  if (!wait) return gettext("not yet known");
  const [low, high] = shownRange(wait[0], wait[2]);
  if (low === 0) {
    return interpolate(ngettext("up to %(high)s minute", "up to %(high)s minutes", high), { high }, true);
  }
  return interpolate(
    ngettext("about %(low)s–%(high)s minute", "about %(low)s–%(high)s minutes", high), { low, high }, true);
}

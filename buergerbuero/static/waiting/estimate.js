// The wait estimate, mirrored from buergerbuero/waiting/estimate.py (estimate_seconds):
// seats are taken in rounds, so position p is called when seat (p-1) % c frees up for the
// ((p-1) // c)-th time. Keep the two in step.

export function estimateSeconds(position, estimate) {
  if (!estimate || !estimate.free_in_s || estimate.free_in_s.length === 0 || position < 1) return null;
  const seats = estimate.free_in_s.length;
  const round = Math.floor((position - 1) / seats);
  return estimate.free_in_s[(position - 1) % seats] + round * estimate.handling_s;
}

export function estimateText(seconds) {
  if (seconds === null) return gettext("not yet known");
  const minutes = Math.max(1, Math.round(seconds / 60));
  return interpolate(ngettext("about %s minute", "about %s minutes", minutes), [minutes]);
}

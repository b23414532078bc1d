// The office's seats in words — one wording for the directory, the office page and the waiting
// room (templates/waiting/room.html renders the same msgid on the server): "4 seats: 2 staffed,
// 1 of them free". The plural follows the number of seats (Arabic, Ukrainian and Russian have
// several forms); staffed counts the present staff members, free those ready for the next citizen.

export function seatsText(live) {
  const { seats, staffed, free } = live;
  return interpolate(
    ngettext(
      "%(seats)s seat: %(staffed)s staffed, %(free)s of them free",
      "%(seats)s seats: %(staffed)s staffed, %(free)s of them free",
      seats),
    { seats, staffed, free }, true);
}

// The directory's live line: seats, people waiting and the wait of a newcomer.
export function liveLine(live, wait) {
  const waiting = interpolate(
    ngettext("%(waiting)s person waiting", "%(waiting)s people waiting", live.waiting),
    { waiting: live.waiting }, true);
  return [seatsText(live), waiting, interpolate(gettext("wait: %(wait)s"), { wait }, true)].join(" · ");
}

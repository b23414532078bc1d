// Opens the consultation's socket while the page is still loading (an async module in the
// head: it does not wait for the rest of the page, its scripts or their translations), so that
// the connection is up by the time consultation.js runs; consultation.js takes it over
// (realtime/socket.js, option `first`) with the messages that arrived meanwhile.
const meta = document.querySelector("meta[name=consultation-socket]");
if (meta && !("earlyConsultationSocket" in window)) { // not if consultation.js ran first
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const early = { socket: new WebSocket(`${scheme}://${location.host}${meta.content}`), messages: [], closed: null };
  early.onMessage = (event) => early.messages.push(event);
  early.onClose = (event) => { early.closed = event; };
  early.socket.addEventListener("message", early.onMessage);
  early.socket.addEventListener("close", early.onClose);
  window.earlyConsultationSocket = early;
}

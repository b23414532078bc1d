// A WebSocket that reconnects by itself with backoff and reports its state
// ("connecting" | "open" | "reconnecting" | "closed") so that pages can show it.

const MAX_BACKOFF_MS = 15000;

// `first`: a socket to the same path opened earlier by the page (e.g. consult/early-socket.js:
// { socket, messages, closed, onMessage, onClose }), taken over for the first connection with
// the messages it received meanwhile.
export function liveSocket(path, { onMessage, onOpen, onState, stopCodes = [4403, 4404], first = null }) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let backoff = 500;
  let socket = null;
  let stopped = false;
  let early = first;

  function opened() {
    backoff = 500;
    onState?.("open");
    onOpen?.();
  }

  function received(event) {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    onMessage(message);
  }

  function closed(event) {
    if (stopped || stopCodes.includes(event.code)) {
      onState?.("closed");
      return;
    }
    onState?.("reconnecting");
    const jitter = Math.random() * 300;
    setTimeout(connect, backoff + jitter);
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }

  function connect() {
    onState?.(socket ? "reconnecting" : "connecting");
    const taken = early;
    early = null;
    socket = taken ? taken.socket : new WebSocket(`${scheme}://${location.host}${path}`);
    if (!taken) {
      socket.addEventListener("open", opened);
      socket.addEventListener("message", received);
      socket.addEventListener("close", closed);
      return;
    }
    // Taken over: events from now on come here; what happened before is replayed once the
    // caller has its socket in hand (a microtask: no socket event can come in between).
    socket.removeEventListener("message", taken.onMessage);
    socket.removeEventListener("close", taken.onClose);
    const wasOpen = socket.readyState === WebSocket.OPEN;
    if (!wasOpen && !taken.closed) socket.addEventListener("open", opened);
    queueMicrotask(() => {
      if (taken.closed) return closed(taken.closed);
      if (wasOpen) opened();
      taken.messages.forEach(received);
      socket.addEventListener("message", received);
      socket.addEventListener("close", closed);
    });
  }

  connect();
  return {
    send(message) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    },
    stop() { stopped = true; socket?.close(); },
  };
}

// Shows the connection state in an element with data-connection / data-connection-text.
export function showConnection(root, state) {
  const box = root.querySelector("[data-connection]");
  if (!box) return;
  box.dataset.connection = state;
  const texts = {
    connecting: gettext("Connecting …"),
    open: gettext("Connected"),
    reconnecting: gettext("Connection lost — reconnecting …"),
    closed: gettext("Disconnected"),
  };
  box.querySelector("[data-connection-text]").textContent = texts[state] || state;
}

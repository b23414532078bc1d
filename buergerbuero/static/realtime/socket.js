// A WebSocket that reconnects by itself with backoff and reports its state
// ("connecting" | "open" | "reconnecting" | "closed") so that pages can show it.

const MAX_BACKOFF_MS = 15000;

export function liveSocket(path, { onMessage, onOpen, onState, stopCodes = [4403, 4404] }) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let backoff = 500;
  let socket = null;
  let stopped = false;

  function connect() {
    onState?.(socket ? "reconnecting" : "connecting");
    socket = new WebSocket(`${scheme}://${location.host}${path}`);
    socket.addEventListener("open", () => {
      backoff = 500;
      onState?.("open");
      onOpen?.();
    });
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (stopped || stopCodes.includes(event.code)) {
        onState?.("closed");
        return;
      }
      onState?.("reconnecting");
      const jitter = Math.random() * 300;
      setTimeout(connect, backoff + jitter);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
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

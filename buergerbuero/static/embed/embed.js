// The snippet for other websites:
//   <script src="https://HOST/embed.js" data-org="musterstadt" data-office="bauamt" data-lang="de" async></script>
// or, for the organisation's events (consultation hours, press conferences, public events):
//   <script src="https://HOST/embed.js" data-org="musterstadt" data-page="events" async></script>
// It puts the office directory (or one office) in a frame where the script stands; the whole
// citizen flow then runs inside it. The frame isolates both sides' CSS and JavaScript, and its
// `allow` attribute lets the consultation use camera, microphone and screen sharing.
(() => {
  const script = document.currentScript;
  if (!script) return;
  const base = new URL(script.src).origin;
  const { org, office = "", lang = "", page = "" } = script.dataset;
  if (!org) {
    console.error("embed.js: data-org is missing");
    return;
  }
  const path = office ? `/embed/${encodeURIComponent(org)}/${encodeURIComponent(office)}/` : `/embed/${encodeURIComponent(org)}/`;
  const address = new URL(path, base);
  address.searchParams.set("origin", location.origin);
  if (lang) address.searchParams.set("lang", lang);
  if (page === "events" && !office) address.searchParams.set("page", "events");

  const frame = document.createElement("iframe");
  frame.src = address.href;
  frame.title = script.dataset.title || "Virtuelles Bürgerbüro";
  frame.allow = "camera; microphone; display-capture; autoplay; fullscreen; clipboard-write";
  frame.loading = "lazy";
  frame.style.cssText = "display:block;inline-size:100%;block-size:600px;border:0;";
  frame.dataset.buergerbuero = org;
  script.after(frame);

  // The pages in the frame report their height, so that the frame never scrolls by itself.
  window.addEventListener("message", (event) => {
    if (event.origin !== base || event.source !== frame.contentWindow) return;
    const { type, height } = event.data || {};
    if (type === "buergerbuero:height" && Number.isFinite(height)) frame.style.blockSize = `${Math.ceil(height)}px`;
  });
})();

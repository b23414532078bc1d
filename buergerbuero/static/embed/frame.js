// Inside an embedding website's frame: tell it our height whenever it changes (only a
// number; nothing else crosses to the other website).
if (window.parent !== window) {
  const report = () => window.parent.postMessage(
    { type: "buergerbuero:height", height: document.documentElement.scrollHeight }, "*");
  new ResizeObserver(report).observe(document.documentElement);
  window.addEventListener("load", report);
}

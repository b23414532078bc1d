// Inside an embedding website's frame: tell it our height whenever it changes (only a
// number; nothing else crosses to the other website).
if (window.parent !== window) {
  // The content's own height (scrollHeight never drops below the frame's current height,
  // so a shorter next page would keep the frame tall).
  const report = () => window.parent.postMessage(
    { type: "buergerbuero:height", height: Math.ceil(document.documentElement.getBoundingClientRect().height) }, "*");
  new ResizeObserver(report).observe(document.documentElement);
  window.addEventListener("load", report);
}

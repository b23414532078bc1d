// Admin: the office's waiting area rendered by the server as the office lead types.
document.addEventListener("DOMContentLoaded", () => {
  const preview = document.querySelector("[data-waiting-preview]");
  const form = preview?.closest("form");
  if (!preview || !form) return;
  const fields = ["waiting_area_text", "checklist", "waiting_image_alt", "full_message", "show_position"];
  let timer = null;
  async function refresh() {
    const body = new FormData();
    for (const name of fields) {
      const input = form.elements.namedItem(name);
      if (!input) continue;
      if (input.type === "checkbox") {
        if (input.checked) body.append(name, "on");
      } else {
        body.append(name, input.value);
      }
    }
    body.append("csrfmiddlewaretoken", form.elements.namedItem("csrfmiddlewaretoken").value);
    const response = await fetch(preview.dataset.waitingPreview, { method: "POST", body, credentials: "same-origin" });
    if (response.ok) preview.innerHTML = await response.text();
  }
  form.addEventListener("input", (event) => {
    if (!fields.includes(event.target.name)) return;
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
  refresh();
});

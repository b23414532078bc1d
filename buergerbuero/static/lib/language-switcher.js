// The language switcher changes the language as soon as one is picked; its button is for
// browsers without JavaScript, so it is hidden here. Arrow keys on a closed list change the
// choice step by step (and fire "change" in some browsers): a keyboard user moves through the
// languages without leaving the page and confirms with Enter (WCAG 3.2.2 On Input).
const STEP_KEYS = new Set(["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown"]);

for (const form of document.querySelectorAll("[data-language-switcher]")) {
  const select = form.querySelector("select");
  let stepping = false;
  form.querySelector("[data-language-submit]").hidden = true;
  select.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      form.requestSubmit();
    } else if (STEP_KEYS.has(event.key)) {
      stepping = true;
    }
  });
  select.addEventListener("pointerdown", () => { stepping = false; });
  select.addEventListener("change", () => {
    if (!stepping) form.requestSubmit();
  });
}

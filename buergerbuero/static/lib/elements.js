// Elements that page scripts make: one shape for all of them.

// A button with the site's classes, a label and what a click does.
export function button(label, onClick, className = "button button--small") {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = label;
  element.addEventListener("click", onClick);
  return element;
}

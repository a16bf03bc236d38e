// Keyboard shortcuts; off while the investigator types or a dialog is open.
const KEYS = { j: "down", k: "up", Enter: "open", Escape: "back", "/": "jump", e: "expand",
  f: "fraud", l: "legit", b: "benign", n: "next", "?": "help" };

function typing(event) {
  const target = event.target;
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

export function bindKeys(actions) {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    if (document.querySelector("dialog[open]")) return;  // the dialog's own keys (Esc closes it)
    const name = KEYS[event.key];
    if (!name || !actions[name]) return;
    event.preventDefault();
    actions[name]();
  });
}

// Site behaviour that would otherwise be inline handlers (the Content-Security-Policy allows
// scripts from our own origin only). Loaded without defer in <head>: the listener must exist
// before the first poster can fail.
"use strict";

// A poster that fails to load (offline machine, missing file) is removed, uncovering the
// generated placeholder underneath. "error" does not bubble, hence the capture phase.
document.addEventListener(
  "error",
  (event) => {
    const target = event.target;
    if (target instanceof HTMLImageElement && target.closest(".poster")) {
      target.remove();
    }
  },
  true,
);

// After an htmx swap, focus what the new markup asks for (data-autofocus): the toggled
// watchlist button, the Undo of a hidden recommendation, a restored card. The element that
// had focus was swapped out, and focus would otherwise fall back to <body>.
document.addEventListener("htmx:afterSettle", () => {
  const target = document.querySelector("[data-autofocus]");
  if (target) {
    target.removeAttribute("data-autofocus");
    target.focus();
  }
});

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

// Styles that only make sense with JavaScript (the star widget's "Save" button is for
// browsers without it) key off this class.
document.documentElement.classList.add("js");

// ---- The half-star widget (templates/movies/_rating_widget.html) ---------------------------
// htmx posts the form on "rating-commit" (and on submit). A pointer click on a star commits at
// once; the arrow keys only move the choice (the browser checks each radio it passes, which
// would otherwise save every step) and Enter or Space saves it.
const ARROWS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"]);

function starForm(target) {
  return target instanceof HTMLInputElement && target.type === "radio"
    ? target.closest(".rating-widget form.rating-form")
    : null;
}

function commit(form) {
  if (form.querySelector("input[type=radio]:checked")) {
    delete form.dataset.keyboardMove;
    form.dispatchEvent(new CustomEvent("rating-commit", { bubbles: true }));
  }
}

function setStatus(form, text) {
  const status = form.closest(".rating-widget")?.querySelector(".widget-status");
  if (status) status.textContent = text;
}

document.addEventListener("keydown", (event) => {
  const form = starForm(event.target);
  if (!form) return;
  if (ARROWS.has(event.key)) {
    form.dataset.keyboardMove = "1";
  } else if (event.key === "Enter" || event.key === " ") {
    event.preventDefault(); // no implicit submit, no second request
    event.target.checked = true;
    commit(form);
  }
});

document.addEventListener("pointerdown", (event) => {
  const form = event.target instanceof Element && event.target.closest(".rating-form");
  if (form) delete form.dataset.keyboardMove;
});

document.addEventListener("change", (event) => {
  const form = starForm(event.target);
  if (!form) return;
  if (form.dataset.keyboardMove) {
    setStatus(form, `${event.target.labels[0]?.title || "This score"}: press Enter to save.`);
  } else {
    commit(form);
  }
});

// ---- Focus after in-place swaps ----------------------------------------------------------
// An outerHTML swap removes the focused element; put focus back on its counterpart in the new
// content (a rating widget), on the next tile (a skipped film) or on the first new tile
// ("show more"), so keyboard and screen-reader users keep their place.
let pendingFocus = null;

document.addEventListener("htmx:beforeSwap", (event) => {
  // Only a swap that takes the focus away sets what to focus next, and only that swap's own
  // settle uses it: another swap landing meanwhile (the onboarding progress bar refreshing on
  // "movie-rated") must neither clear it nor consume it.
  const target = event.detail.target;
  const active = document.activeElement;
  if (!(target instanceof Element)) return;
  if (target.id === "onboarding-grid") {
    pendingFocus = { target, grid: target, count: target.children.length };
    return;
  }
  if (!active || !target.contains(active)) return;
  if (target.classList.contains("rating-widget")) {
    const checked = target.querySelector("input[type=radio]:checked");
    pendingFocus = { target, widgetId: target.id, value: checked ? checked.value : null };
  } else if (target.classList.contains("onboarding-tile")) {
    const next = target.nextElementSibling || target.previousElementSibling;
    pendingFocus = { target, tileId: next ? next.id : null, control: ".skip-button" };
  }
});

document.addEventListener("htmx:afterSettle", (event) => {
  const want = pendingFocus;
  if (!want || event.detail.target !== want.target) return;
  pendingFocus = null;
  let element = null;
  if (want.grid) {
    const tile = want.grid.children[want.count];
    element = tile && tile.querySelector(".card-title");
  } else if (want.widgetId) {
    const widget = document.getElementById(want.widgetId);
    if (widget) {
      element =
        widget.querySelector("input[type=radio]:checked") ||
        (want.value && widget.querySelector(`input[type=radio][value="${CSS.escape(want.value)}"]`)) ||
        widget.querySelector("input[type=radio]");
    }
  } else if (want.tileId) {
    const tile = document.getElementById(want.tileId);
    element = tile && tile.querySelector(want.control);
  } else {
    element = document.getElementById("main");
  }
  if (element) element.focus({ preventScroll: false });
});

// ---- The header's account menu (a <details>): close it on Escape or a click elsewhere ----
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const open = document.querySelector("details.account-menu[open]");
  if (open) {
    open.open = false;
    open.querySelector("summary")?.focus();
  }
});

document.addEventListener("click", (event) => {
  const open = document.querySelector("details.account-menu[open]");
  if (open && !open.contains(event.target)) open.open = false;
});

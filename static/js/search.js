// Live title suggestions under a search box: the ARIA 1.2 combobox pattern with a listbox.
// htmx fetches the options (templates/movies/_search_input.html: debounced, stale requests
// replaced); this file only handles the keyboard, the open/closed state and the announcement.
// Focus stays in the input; the active option is named by aria-activedescendant.
"use strict";

(() => {
  const combos = () => document.querySelectorAll("[data-search-combo]");

  function parts(combo) {
    return {
      input: combo.querySelector('[role="combobox"]'),
      listbox: combo.querySelector('[role="listbox"]'),
      status: combo.querySelector("[data-search-status]"),
    };
  }

  function options(listbox) {
    return Array.from(listbox.querySelectorAll('[role="option"]'));
  }

  function setActive(combo, index) {
    const { input, listbox } = parts(combo);
    const opts = options(listbox);
    opts.forEach((opt, i) => {
      const on = i === index;
      opt.setAttribute("aria-selected", on ? "true" : "false");
      opt.classList.toggle("active", on);
      if (on) opt.scrollIntoView({ block: "nearest" });
    });
    if (index >= 0 && opts[index]) {
      input.setAttribute("aria-activedescendant", opts[index].id);
    } else {
      input.removeAttribute("aria-activedescendant");
    }
    combo.dataset.active = String(index);
  }

  function open(combo, show) {
    const { input, listbox } = parts(combo);
    const visible = show && options(listbox).length > 0;
    listbox.hidden = !visible;
    input.setAttribute("aria-expanded", visible ? "true" : "false");
    if (!visible) setActive(combo, -1);
  }

  function refreshed(combo) {
    const { input, listbox, status } = parts(combo);
    const opts = options(listbox);
    opts.forEach((opt, i) => {
      opt.id = `${listbox.id}-opt-${i}`;
    });
    setActive(combo, -1);
    open(combo, document.activeElement === input);
    // The last option is "See all results"; it is not a title.
    const titles = Math.max(opts.length - 1, 0);
    if (status) {
      status.textContent = input.value.trim().length < 2 ? "" :
        titles ? `${titles} suggestion${titles === 1 ? "" : "s"}; use the up and down arrows to choose.` :
        "No suggestions.";
    }
  }

  function onKeydown(event) {
    const combo = event.target.closest("[data-search-combo]");
    if (!combo || event.target.getAttribute("role") !== "combobox") return;
    const { listbox } = parts(combo);
    const opts = options(listbox);
    const active = Number(combo.dataset.active ?? -1);
    switch (event.key) {
      case "ArrowDown":
      case "ArrowUp": {
        if (!opts.length) return;
        event.preventDefault();
        if (listbox.hidden) {
          open(combo, true);
        }
        const step = event.key === "ArrowDown" ? 1 : -1;
        // Wraps through "nothing chosen" (-1), like a native autocomplete.
        let next = active + step;
        if (next >= opts.length) next = -1;
        if (next < -1) next = opts.length - 1;
        setActive(combo, next);
        break;
      }
      case "Enter":
        if (!listbox.hidden && active >= 0 && opts[active]) {
          event.preventDefault();
          window.location.assign(opts[active].href);
        }
        break;
      case "Escape":
        if (!listbox.hidden) {
          event.preventDefault();
          open(combo, false);
        }
        break;
      default:
    }
  }

  document.addEventListener("keydown", onKeydown);

  document.addEventListener("htmx:afterSwap", (event) => {
    const combo = event.detail.target?.closest?.("[data-search-combo]");
    if (combo) refreshed(combo);
  });

  document.addEventListener("focusin", (event) => {
    const combo = event.target.closest?.("[data-search-combo]");
    if (combo && event.target.getAttribute("role") === "combobox") open(combo, true);
  });

  document.addEventListener("focusout", (event) => {
    const combo = event.target.closest?.("[data-search-combo]");
    // Clicking an option focuses it (it is inside the combo): keep the list for the click.
    if (combo && !combo.contains(event.relatedTarget)) open(combo, false);
  });

  document.addEventListener("mousemove", (event) => {
    const opt = event.target.closest?.('[data-search-combo] [role="option"]');
    if (!opt) return;
    const combo = opt.closest("[data-search-combo]");
    const index = options(parts(combo).listbox).indexOf(opt);
    if (index !== Number(combo.dataset.active ?? -1)) setActive(combo, index);
  });

  // A page restored from the back/forward cache keeps an open list: close it.
  window.addEventListener("pageshow", () => combos().forEach((combo) => open(combo, false)));
})();

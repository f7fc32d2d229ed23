// fhircrm live lists: a list marked data-live-url is refreshed every data-live-seconds by MERGING rows by id, so
// what the person is doing survives: keyboard focus, ticked checkboxes, chosen options, typed text, scroll position.
// Refresh waits while they type, have a menu (select) focused or have text selected; changes are announced politely
// in the element named by data-live-status (aria-live), never by moving focus. Without JavaScript the page still
// works: it just does not refresh itself.
(() => {
  "use strict";

  const FIELDS = "input, select, textarea, button, a[href], [tabindex]";
  const served = new WeakMap(); // row -> the server's HTML it was made from (its DOM has the person's changes)

  function busy() {
    const el = document.activeElement;
    if (el && (el.tagName === "TEXTAREA" || el.tagName === "SELECT")) return true;
    if (el && el.tagName === "INPUT" && !["checkbox", "radio", "button", "submit", "hidden"].includes(el.type)) return true;
    const selection = window.getSelection && window.getSelection();
    return Boolean(selection && !selection.isCollapsed && selection.toString().trim());
  }

  // The same control in the old and the new copy of a row: by id, else by name and value, else by position.
  function counterpart(control, oldRow, newRow) {
    if (control.id) return newRow.querySelector(`#${CSS.escape(control.id)}`);
    const all = Array.from(oldRow.querySelectorAll(FIELDS));
    if (control.name) {
      const named = Array.from(newRow.querySelectorAll(`[name="${CSS.escape(control.name)}"]`));
      const same = named.find((c) => c.value === control.value && c.tagName === control.tagName);
      if (same) return same;
    }
    return newRow.querySelectorAll(FIELDS)[all.indexOf(control)] || null;
  }

  // Carry what the person changed in the old row (state the server does not know) onto the new row.
  function carryState(oldRow, newRow) {
    for (const control of oldRow.querySelectorAll("input, select, textarea")) {
      const twin = counterpart(control, oldRow, newRow);
      if (!twin) continue;
      if (control.type === "checkbox" || control.type === "radio") twin.checked = control.checked;
      else if (control.type !== "hidden" && control.value !== control.defaultValue) twin.value = control.value;
      else if (control.tagName === "SELECT") twin.value = control.value;
    }
  }

  function merge(container, html) {
    const itemSelector = container.dataset.liveItems;
    const fresh = document.createElement("template");
    fresh.innerHTML = html;
    const focused = document.activeElement;
    const scrollY = window.scrollY;
    let focusTarget = focused;
    let changed = 0;
    let added = 0;
    let removed = 0;

    // Parts that are not rows (counts, the empty message) are matched by id and updated in place.
    for (const part of fresh.content.querySelectorAll("[data-live-text]")) {
      const mine = container.querySelector(`#${CSS.escape(part.id)}`);
      if (mine && mine.textContent !== part.textContent) mine.textContent = part.textContent;
    }

    const parent = container.querySelector(container.dataset.liveParent);
    const freshParent = fresh.content.querySelector(container.dataset.liveParent);
    if (!parent || !freshParent) return;
    const old = new Map(Array.from(parent.querySelectorAll(itemSelector)).map((row) => [row.id, row]));
    const incoming = Array.from(freshParent.querySelectorAll(itemSelector));
    const keep = new Set(incoming.map((row) => row.id));

    for (const row of old.values()) {
      if (keep.has(row.id)) continue;
      if (row.contains(focused)) focusTarget = null;
      row.remove();
      removed += 1;
    }
    // Placeholders without an id (e.g. "Nothing matches") follow the new copy.
    for (const child of Array.from(parent.children)) if (!child.id) child.remove();

    let cursor = null;
    for (const row of incoming) {
      let current = old.get(row.id);
      if (!current) {
        current = document.importNode(row, true);
        added += 1;
      } else if ((served.get(current) ?? current.outerHTML) !== row.outerHTML) {
        const replacement = document.importNode(row, true);
        carryState(current, replacement);
        if (current.contains(focused)) focusTarget = counterpart(focused, current, replacement);
        served.set(replacement, row.outerHTML);
        current.replaceWith(replacement);
        current = replacement;
        changed += 1;
      }
      const expected = cursor ? cursor.nextElementSibling : parent.firstElementChild;
      if (expected !== current) parent.insertBefore(current, expected);
      cursor = current;
    }
    if (incoming.length === 0) for (const child of freshParent.children) parent.appendChild(document.importNode(child, true));

    if (focusTarget && focusTarget !== document.activeElement && document.contains(focusTarget)) {
      focusTarget.focus({ preventScroll: true });
    }
    window.scrollTo({ top: scrollY });
    container.dataset.liveRefreshes = String(Number(container.dataset.liveRefreshes || 0) + 1);
    document.dispatchEvent(new CustomEvent("fhircrm:merged"));
    const status = document.getElementById(container.dataset.liveStatus || "");
    if (status && changed + added + removed > 0) {
      const words = [];
      if (added) words.push(`${added} new`);
      if (changed) words.push(`${changed} updated`);
      if (removed) words.push(`${removed} gone`);
      status.textContent = `List refreshed: ${words.join(", ")}.`;
    }
  }

  // The list is looked up by id on every tick: an in-place page change (inplace.js) swaps in a new copy of it, with
  // the new filter's data-live-url; a refresh that was under way for the old copy merges into a detached node.
  function watch(id) {
    const seconds = () => Math.max(0.2, Number((document.getElementById(id) || {}).dataset?.liveSeconds) || 60);
    const tick = async () => {
      const container = document.getElementById(id);
      try {
        if (container && !document.hidden && !busy()) {
          const response = await fetch(container.dataset.liveUrl, {
            headers: { "HX-Request": "true" }, credentials: "same-origin", cache: "no-store",
          });
          if (response.ok && !response.redirected && document.contains(container)) {
            merge(container, await response.text());
          }
        }
      } catch (error) {
        // offline or signed out: try again next time; the page itself stays usable
      }
      window.setTimeout(tick, seconds() * 1000);
    };
    window.setTimeout(tick, seconds() * 1000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const container of document.querySelectorAll("[data-live-url][id]")) watch(container.id);
  });
})();

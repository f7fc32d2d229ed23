// fhircrm in-place navigation: a link or GET form marked data-in-place loads its page in the background and swaps
// only the page's regions (elements with data-region and an id) instead of reloading the whole page: the worklist
// filters, the inbox's thread and Open/Closed lists. The URL is kept in step (history.pushState), so back/forward
// and bookmarks work; focus then goes to the element data-in-place names (the results, the thread heading) and the
// new page's [data-says] text is read out politely in its [data-in-place-status] live region. Without JavaScript,
// or when anything goes wrong, the link or form does an ordinary full page load.
(() => {
  "use strict";

  let shown = location.pathname + location.search; // the page the regions show now
  let pending = null;

  function settle(focusId) {
    const target = focusId && document.getElementById(focusId);
    if (target) {
      if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
      target.focus();
    }
    const status = document.querySelector("[data-in-place-status]");
    const says = document.querySelector("[data-says]");
    if (status) {
      status.textContent = "";
      // after the focus move, so a screen reader reads the heading or region first, then this
      window.setTimeout(() => { status.textContent = says ? says.textContent.trim() : "Updated."; }, 100);
    }
  }

  async function swap(url, focusId, push) {
    if (pending) pending.abort();
    pending = new AbortController();
    const regions = Array.from(document.querySelectorAll("[data-region][id]"));
    for (const region of regions) region.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, {
        credentials: "same-origin", signal: pending.signal, headers: { "X-Fhircrm-In-Place": "1" },
      });
      const type = response.headers.get("content-type") || "";
      if (!response.ok || response.redirected || !type.startsWith("text/html")) throw new Error("needs a full load");
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const incoming = regions.map((region) => fresh.getElementById(region.id));
      if (!regions.length || incoming.some((part) => !part || !part.hasAttribute("data-region"))) {
        throw new Error("another kind of page");
      }
      regions.forEach((region, n) => region.replaceWith(document.importNode(incoming[n], true)));
      document.title = fresh.title;
      if (push) history.pushState({ inPlace: focusId }, "", url);
      shown = location.pathname + location.search;
      settle(focusId);
      document.dispatchEvent(new CustomEvent("fhircrm:swapped"));
    } finally {
      for (const region of regions) region.removeAttribute("aria-busy");
    }
  }

  function go(url, focusId, push) {
    swap(url, focusId, push).catch((error) => {
      if (error.name === "AbortError") return; // a newer click replaced this one
      if (push) location.assign(url);
      else location.reload();
    });
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[data-in-place]");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.origin !== location.origin) return;
    event.preventDefault(); // a new tab or window (modifier keys) still opens the page as usual
    go(link.href, link.dataset.inPlace, true);
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.matches("form[data-in-place]") || form.method.toLowerCase() !== "get" || event.defaultPrevented) return;
    event.preventDefault();
    const query = new URLSearchParams();
    for (const [name, value] of new FormData(form, event.submitter)) {
      if (typeof value === "string" && value !== "") query.append(name, value); // "any" left out: shorter URLs
    }
    const url = new URL(form.action, location.href);
    url.search = query.toString();
    go(url.href, form.dataset.inPlace, true);
  });

  window.addEventListener("popstate", (event) => {
    if (location.pathname + location.search === shown) return; // only the #fragment changed (the skip link)
    go(location.href, event.state && event.state.inPlace, false);
  });

  // The page as first loaded: coming back to it puts focus where its own in-place links would (the results, the list).
  const first = document.querySelector("[data-in-place]");
  if (!history.state) history.replaceState({ inPlace: first ? first.dataset.inPlace : null }, "");
})();

/* fhircrm web chat widget: plain JS, no build chain, no inline script or style (CSP-friendly).
 *
 * Embed:  <script src="https://crm.example.org/ui/static/chat/widget.js" data-fhircrm-chat="https://crm.example.org"
 *                 data-title="Chat with us" defer></script>
 * The widget opens a conversation (POST /channels/webchat/conversations), keeps its signed token in localStorage,
 * posts messages with it, and follows the conversation (its own messages and staff replies) over server-sent
 * events. Nothing but the token is stored in the browser.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var root = (script.getAttribute("data-fhircrm-chat") || new URL(script.src).origin).replace(/\/+$/, "");
  var title = script.getAttribute("data-title") || "Chat with us";
  var storageKey = "fhircrm-chat-token:" + root;
  var token = null;
  var source = null;
  var shown = {};

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  var stylesheet = el("link");
  stylesheet.rel = "stylesheet";
  stylesheet.href = new URL("widget.css", script.src).href;
  document.head.appendChild(stylesheet);

  var box = el("section", "fhircrm-chat fhircrm-chat--closed");
  box.setAttribute("aria-label", title);
  var toggle = el("button", "fhircrm-chat__toggle", title);
  toggle.type = "button";
  toggle.setAttribute("aria-expanded", "false");
  var panel = el("div", "fhircrm-chat__panel");
  var log = el("ol", "fhircrm-chat__log");
  log.setAttribute("aria-live", "polite");
  var status = el("p", "fhircrm-chat__status");
  var form = el("form", "fhircrm-chat__form");
  var input = el("textarea", "fhircrm-chat__input");
  input.name = "text";
  input.rows = 2;
  input.maxLength = 4000;
  input.setAttribute("aria-label", "Your message");
  input.placeholder = "Type your message";
  var send = el("button", "fhircrm-chat__send", "Send");
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(log);
  panel.appendChild(status);
  panel.appendChild(form);
  box.appendChild(toggle);
  box.appendChild(panel);
  document.body.appendChild(box);

  function setStatus(text) { status.textContent = text || ""; }

  function show(message) {
    if (shown[message.id]) { return; }
    shown[message.id] = true;
    var item = el("li", "fhircrm-chat__message fhircrm-chat__message--" + (message.from === "staff" ? "staff" : "patient"));
    item.setAttribute("data-id", message.id);
    item.appendChild(el("span", "fhircrm-chat__text", message.text));
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function listen() {
    if (source || !token) { return; }
    source = new EventSource(root + "/channels/webchat/stream?token=" + encodeURIComponent(token));
    source.addEventListener("message", function (event) { show(JSON.parse(event.data)); });
    source.onopen = function () { setStatus(""); };
    source.onerror = function () { setStatus("Reconnecting…"); };
  }

  function conversation() {
    if (token) { return Promise.resolve(token); }
    return fetch(root + "/channels/webchat/conversations", { method: "POST" })
      .then(function (response) {
        if (!response.ok) { throw new Error("could not open a conversation"); }
        return response.json();
      })
      .then(function (body) {
        token = body.token;
        try { window.localStorage.setItem(storageKey, token); } catch (e) { /* private mode: this page only */ }
        listen();
        return token;
      });
  }

  function messageId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function post(text, id, attempt) {
    return conversation().then(function (current) {
      return fetch(root + "/channels/webchat/messages", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Authorization": "Bearer " + current },
        body: JSON.stringify({ id: id, text: text })
      });
    }).then(function (response) {
      if (response.status === 403 && attempt === 0) {  // expired token: start a new conversation, same message
        token = null;
        if (source) { source.close(); source = null; }
        return post(text, id, 1);
      }
      if (!response.ok) { throw new Error("not sent"); }
      return response;
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    send.disabled = true;
    setStatus("Sending…");
    post(text, messageId(), 0).then(function () {
      input.value = "";
      setStatus("");
    }).catch(function () {
      setStatus("Your message was not sent. Please try again.");
    }).then(function () { send.disabled = false; });
  });

  toggle.addEventListener("click", function () {
    var open = box.classList.toggle("fhircrm-chat--closed") === false;
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { listen(); input.focus(); }
  });

  try { token = window.localStorage.getItem(storageKey); } catch (e) { token = null; }
})();

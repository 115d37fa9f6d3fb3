// newsmon web: the only script of the pages (no inline script: the Content-Security-Policy forbids it).
// The live page opens one EventSource; the server pushes each alert as it is written to Redis.
"use strict";

function startLive(list) {
  const status = document.getElementById("live-status");
  const source = new EventSource(list.dataset.stream);
  const keep = 200; // alerts kept on the page
  function say(text, bad) {
    status.textContent = text;
    status.classList.toggle("bad", Boolean(bad));
  }
  source.addEventListener("open", function () { say("live: new alerts appear at the top as they are written"); });
  source.addEventListener("status", function (event) {
    if (event.data === "ok") {
      say("live: new alerts appear at the top as they are written");
    } else if (event.data !== "starting") {
      say(event.data, true);
    }
  });
  source.addEventListener("alert", function (event) {
    const empty = document.getElementById("no-alerts");
    if (empty) { empty.remove(); }
    if (event.lastEventId && list.querySelector('[data-entry="' + CSS.escape(event.lastEventId) + '"]')) {
      return; // already shown (sent again after a reconnect)
    }
    // The server escaped every text of the alert (the same template as the page).
    list.insertAdjacentHTML("afterbegin", event.data);
    const first = list.firstElementChild;
    if (first) { first.classList.add("new"); }
    while (list.children.length > keep) { list.lastElementChild.remove(); }
  });
  source.addEventListener("error", function () {
    say("the live stream is interrupted; reconnecting by itself…", true);
  });
}

function confirmForms() {
  document.querySelectorAll("form.confirm").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  const list = document.getElementById("alerts");
  if (list && list.dataset.stream && window.EventSource) { startLive(list); }
  confirmForms();
});

// A CSV delivery's page while it is built: move the progress bar every second, and
// reload the page (which the server renders) once the status changes.
// Without JavaScript the page refreshes itself instead (<noscript> meta refresh).
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box || !window.fetch) return;
  var url = box.getAttribute("data-progress-url");
  var status = box.getAttribute("data-status");
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress-text]");
  var done = text.textContent.replace(/^\s*\d+/, "");

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (p) {
        if (p.status !== status) {
          window.location.reload();
          return;
        }
        bar.value = p.progress;
        text.textContent = p.progress + done;
        window.setTimeout(poll, 1000);
      })
      .catch(function () {
        // Signed out, or the server is restarting: let the server answer a full page.
        window.setTimeout(function () { window.location.reload(); }, 5000);
      });
  }

  window.setTimeout(poll, 1000);
})();

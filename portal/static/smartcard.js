// §6 Smartcard aanmaken: poll how far the card got; on the overview, load the card list.
"use strict";
(function () {
  const cards = document.getElementById("smartcard-cards");
  if (cards) {
    fetch(cards.dataset.src, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) { if (html) { cards.innerHTML = html; } });
  }

  const box = document.getElementById("smartcard");
  if (!box) { return; }
  const status = document.getElementById("card-status");
  const error = document.getElementById("card-error");
  let poller = 0;

  function refuse(answer) {
    clearInterval(poller);
    box.dataset.state = "refused";
    document.getElementById("card-error-code").textContent = answer.code;
    document.getElementById("card-error-cause").textContent = answer.cause;
    document.getElementById("card-error-solution").textContent = answer.solution;
    document.getElementById("card-error-help").href = answer.help;
    status.textContent = "";
    error.hidden = false;
  }

  function poll() {
    fetch("/smartcard/status", { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (answer.state === "issued") {
          clearInterval(poller);
          window.location.assign(answer.next);
          return;
        }
        if (answer.state === "refused") { refuse(answer); return; }
        if (answer.state === "expired") { clearInterval(poller); }
        box.dataset.state = answer.state;
        if (status.textContent !== answer.text) { status.textContent = answer.text; }
      });
  }

  poller = setInterval(poll, 1000);
})();

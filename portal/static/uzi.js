// The UZI-pas step: poll the portal until the Desktop App proved the card, then move on.
"use strict";
(function () {
  const box = document.getElementById("uzi");
  if (!box) { return; }
  const status = document.getElementById("uzi-status");
  const error = document.getElementById("uzi-error");
  let poller = 0;

  function stop(state) {
    clearInterval(poller);
    box.dataset.state = state;
  }

  async function poll() {
    let answer;
    try {
      const reply = await fetch("/uzi/status", { credentials: "same-origin" });
      answer = await reply.json();
    } catch (e) {
      return; // the next poll tries again
    }
    if (answer.state === "verified") {
      stop("verified");
      status.textContent = document.getElementById("uzi-verified-text").innerHTML;
      window.location.assign(answer.next);
    } else if (answer.state === "refused") {
      stop("refused");
      status.textContent = "";
      document.getElementById("uzi-error-code").textContent = answer.code;
      document.getElementById("uzi-error-text").textContent = answer.text;
      error.hidden = false;
      document.getElementById("uzi-refresh").focus();
    } else if (answer.state === "expired") {
      stop("expired");
      status.textContent = document.getElementById("uzi-expired-text").innerHTML;
      document.getElementById("uzi-refresh").focus();
    }
  }

  poller = setInterval(poll, 1000);
})();

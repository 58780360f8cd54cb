// §3 "Registreren": the calendar fills the dd-mm-jjjj field, "Bevestigen" shows progress,
// and the registration QR page polls until the phone has installed the ID.
"use strict";
(function () {
  const picker = document.getElementById("birth-date-picker");
  const typed = document.getElementById("birth-date");
  if (picker && typed) {
    picker.addEventListener("change", function () {
      const parts = picker.value.split("-");
      if (parts.length === 3) { typed.value = parts[2] + "-" + parts[1] + "-" + parts[0]; }
    });
  }

  const confirmForm = document.getElementById("confirm-form");
  if (confirmForm) {
    confirmForm.addEventListener("submit", async function (event) {
      event.preventDefault();
      const button = document.getElementById("confirm");
      const processing = document.getElementById("reg-processing");
      const error = document.getElementById("reg-confirm-error");
      button.disabled = true;
      error.hidden = true;
      processing.hidden = false;
      let answer;
      try {
        const reply = await fetch(confirmForm.action, {
          method: "POST", credentials: "same-origin", headers: { "Accept": "application/json" }
        });
        answer = await reply.json();
      } catch (e) {
        confirmForm.submit(); // the page's own form post, without the script
        return;
      }
      if (answer.state === "confirmed") {
        window.location.assign(answer.next);
        return;
      }
      processing.hidden = true;
      button.disabled = false;
      document.getElementById("reg-confirm-error-code").textContent = answer.code;
      document.getElementById("reg-confirm-error-text").textContent = answer.text;
      error.hidden = false;
    });
  }

  const box = document.getElementById("reg-qr");
  if (!box) { return; }
  const status = document.getElementById("reg-status");
  const error = document.getElementById("reg-poll-error");
  let poller = 0;

  async function poll() {
    let answer;
    try {
      const reply = await fetch("/registreren/status", { credentials: "same-origin" });
      answer = await reply.json();
    } catch (e) {
      return; // the next poll tries again
    }
    if (answer.state === "redeemed") {
      clearInterval(poller);
      box.dataset.state = "redeemed";
      status.textContent = document.getElementById("reg-done-text").innerHTML;
      window.location.assign(answer.next);
    } else if (answer.state === "refused") {
      clearInterval(poller);
      error.textContent = answer.code + ": " + answer.text;
      error.hidden = false;
    } else if (answer.state === "expired" || answer.state === "cancelled") {
      clearInterval(poller);
      box.dataset.state = answer.state;
    }
  }

  poller = setInterval(poll, 1000);
})();

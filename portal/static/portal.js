// The login page: count down the QR's validity, poll the portal for the phone's answer.
"use strict";
(function () {
  const box = document.getElementById("login");
  if (!box) { return; }
  const countdown = document.getElementById("countdown");
  const status = document.getElementById("login-status");
  const error = document.getElementById("login-error");
  const button = document.getElementById("qr-button");
  const deadline = Date.now() + Number(box.dataset.remaining) * 1000;
  let timer = 0;
  let poller = 0;

  function show(seconds) {
    const m = Math.floor(seconds / 60);
    const s = seconds % 60;
    countdown.textContent = m + ":" + String(s).padStart(2, "0");
  }

  function stop() {
    clearInterval(timer);
    clearInterval(poller);
  }

  function expire() {
    stop();
    show(0);
    box.dataset.state = "expired";
    status.textContent = document.getElementById("expired-text").innerHTML;
    button.disabled = false;
    button.setAttribute("aria-label", button.dataset.label);
    button.focus();
  }

  function refuse(code, text) {
    stop();
    box.dataset.state = "refused";
    error.textContent = code + ": " + text;
    error.hidden = false;
    button.disabled = false;
    button.setAttribute("aria-label", button.dataset.label);
  }

  function tick() {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    show(left);
    if (left === 0) { expire(); }
  }

  async function poll() {
    let answer;
    try {
      const reply = await fetch("/login/status", { credentials: "same-origin" });
      answer = await reply.json();
    } catch (e) {
      return; // the next poll tries again
    }
    if (answer.state === "authenticated") {
      stop();
      window.location.assign(answer.next);
    } else if (answer.state === "expired") {
      expire();
    } else if (answer.state === "refused" || answer.state === "error") {
      refuse(answer.code, answer.text);
    }
  }

  tick();
  timer = setInterval(tick, 1000);
  poller = setInterval(poll, 1000);
})();

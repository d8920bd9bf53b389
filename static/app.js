// Small progressive enhancements only: every page works without this file.
"use strict";

// Campaign countdown ("Voting opens in 2 days 4 hours"): the server writes the text and the
// words in the reader's language; this only keeps the time current. The server's "now" is
// given too, so a visitor's wrong clock does not change what they see.
(function () {
  function plural(el, unit, n) {
    var form = n === 1 ? el.dataset[unit + "One"] : el.dataset[unit + "Other"];
    return form.replace("%(num)d", String(n));
  }
  function words(el, ms) {
    var minutes = Math.floor(ms / 60000);
    if (minutes < 1) return el.dataset.underMinute;
    var days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), mins = minutes % 60;
    if (days) return plural(el, "day", days) + (hours ? " " + plural(el, "hour", hours) : "");
    if (hours) return plural(el, "hour", hours) + (mins ? " " + plural(el, "minute", mins) : "");
    return plural(el, "minute", mins);
  }
  function start(el) {
    var target = Date.parse(el.dataset.countdownTo);
    var offset = Date.parse(el.dataset.countdownNow) - Date.now();
    var time = el.querySelector(".countdown-time");
    if (isNaN(target) || isNaN(offset) || !time) return;
    var timer = null;
    function tick() {
      var left = target - (Date.now() + offset);
      if (left <= 0) {
        el.textContent = el.dataset.reached;
        if (timer) clearInterval(timer);
        return;
      }
      time.textContent = words(el, left);
    }
    tick();
    timer = setInterval(tick, 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-countdown-to]").forEach(start);
  });
})();

// Moderation queue: keyboard shortcuts. Each key clicks (or focuses) the element carrying
// the matching data-shortcut, so the page declares what a key does and the HTML still
// works without this script. Keys are ignored while typing in a field.
(function () {
  var KEYS = { a: "approve", r: "reject", m: "merge", n: "next", p: "previous", u: "undo" };

  function isField(element) {
    return element && (element.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName));
  }

  function moderationArea() {
    return document.querySelector("[data-moderation-item]") || document.querySelector("[data-moderation]");
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    var target = event.target;
    if (isField(target)) {
      if (event.key === "Escape") {
        target.blur();
        var area = moderationArea();
        if (area) area.focus();
      } else if (event.key === "Enter" && target.tagName === "SELECT" &&
                 target.hasAttribute("data-submit-on-enter") && target.form) {
        // A select has no implicit submission: Enter sends its form (validation included).
        event.preventDefault();
        if (window.htmx) window.htmx.process(target.form);
        target.form.requestSubmit();
      }
      return;
    }
    if (!moderationArea()) return;
    if (event.key === "?") {
      var help = document.querySelector("[data-shortcut-help]");
      if (help) {
        help.open = !help.open;
        event.preventDefault();
      }
      return;
    }
    var name = KEYS[event.key];
    if (!name) return;
    var element = document.querySelector('[data-shortcut="' + name + '"]');
    if (!element) return;
    event.preventDefault();
    if (isField(element)) {
      element.focus();
      return;
    }
    // htmx wires up swapped-in content a few milliseconds after the swap; a fast key could
    // click before that and load a whole page. Wiring it now is harmless when already done.
    if (window.htmx) window.htmx.process(element.closest("form") || element);
    element.click();
  });

  // A refused decision (400, 403, 409, 429) comes back as the item with its explanation:
  // show it rather than dropping it as htmx does with error statuses by default.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 400 || status === 403 || status === 409 || status === 429) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // A new item swapped in: put focus on it, so that the next shortcut and screen readers
  // start from there. (htmx would put it back in the field of the same id, say the reason
  // list, where the next key would pick a reason instead of being a shortcut.)
  // Done on afterSwap, in the same task as the swap: a key pressed as soon as the new item
  // shows must not have its focus taken away a moment later.
  document.addEventListener("htmx:afterSwap", function (event) {
    var item = document.querySelector("[data-moderation-item]");
    var swapped = event.detail && event.detail.target;
    if (item && swapped && swapped.id === "moderation-item") {
      // Wire up the new forms and links now rather than after htmx's settle delay: a key
      // pressed in between would otherwise send a plain form and load a whole page.
      if (window.htmx) window.htmx.process(item);
      item.focus({ preventScroll: true });
      window.scrollTo(0, 0);
    }
    expireUndo();
  });

  // The undo button disappears when the server would refuse it anyway.
  function expireUndo() {
    document.querySelectorAll("[data-undo-expires-in]").forEach(function (bar) {
      if (bar.dataset.undoTimer) return;
      var seconds = parseInt(bar.dataset.undoExpiresIn, 10);
      if (!(seconds > 0)) return;
      bar.dataset.undoTimer = "1";
      window.setTimeout(function () { bar.remove(); }, seconds * 1000);
    });
  }
  document.addEventListener("DOMContentLoaded", expireUndo);
})();

// Proof of work before a risky vote counts (see docs/fraud.md): the server sends a form
// carrying the challenge; a Web Worker finds the number, and the form is posted again with the
// solution. htmx content arrives after the page loads, hence the htmx:load listener.
// A form marked data-pow-manual (the log-in of an account under attack) waits for its person
// instead: the solution is filled in, and a submit pressed before it is ready waits for it.
(function () {
  function start(form) {
    if (form.dataset.powStarted) return;
    form.dataset.powStarted = "1";
    var manual = form.hasAttribute("data-pow-manual");
    var status = form.querySelector(".pow-status");
    function failed() {
      if (status) status.textContent = status.dataset.powFailed;
    }
    if (manual) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.powSolved) return;
        event.preventDefault();
        form.dataset.powWanted = "1";
        if (status) status.textContent = status.dataset.powWorking;
      });
    }
    var task;
    try {
      task = JSON.parse(form.dataset.powChallenge);
    } catch (e) {
      failed();
      return;
    }
    if (typeof Worker === "undefined") return failed();
    var worker = new Worker("/static/js/pow-worker.js");
    worker.onerror = failed;
    worker.onmessage = function (event) {
      worker.terminate();
      if (event.data.number === null) return failed();
      var solution = {
        algorithm: task.algorithm,
        challenge: task.challenge,
        number: event.data.number,
        salt: task.salt,
        signature: task.signature,
        took: event.data.took,
      };
      form.querySelector("input[name=altcha]").value = btoa(JSON.stringify(solution));
      form.dataset.powSolved = "1";
      if (manual && !form.dataset.powWanted) {
        if (status) status.textContent = status.dataset.powDone;
        return;
      }
      if (typeof form.requestSubmit === "function") form.requestSubmit();
      else form.submit();
    };
    worker.postMessage(task);
  }
  function scan(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("form[data-pow-challenge]").forEach(start);
  }
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (event) { scan(event.target.parentNode || document); });
})();

// The ballot: at 0 votes left the other ideas' vote buttons go off, and on again once a vote
// is taken back. The server says which after each htmx vote (HX-Trigger-After-Swap); without
// this script the ballot page it sends back after a vote shows them the same way.
document.addEventListener("ballot-votes", function (event) {
  var out = Boolean(event.detail && event.detail.out);
  var why = document.getElementById("no-votes-left");
  if (why) why.hidden = !out;
  document.querySelectorAll(".entrant-vote:not(.voted) button[id^='vote-button-']").forEach(function (button) {
    button.disabled = out;
    if (out) button.setAttribute("aria-describedby", "no-votes-left");
    else button.removeAttribute("aria-describedby");
  });
});

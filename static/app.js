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

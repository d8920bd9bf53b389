// Small progressive enhancements only: every page works without this file.
"use strict";

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
    } else {
      element.click();
    }
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

  // After a swap the focused button is gone: put focus on the new item, so that the next
  // shortcut and screen readers start from there.
  document.addEventListener("htmx:afterSettle", function () {
    var item = document.querySelector("[data-moderation-item]");
    if (item && (document.activeElement === document.body || !document.activeElement)) {
      item.focus({ preventScroll: false });
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

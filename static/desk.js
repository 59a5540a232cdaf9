// The moderation desk's keyboard: j/k move, o (or Enter) opens, a approves,
// r goes to the reason, u goes back to the list, ? shows the keys. Everything
// here also has a link or a button, so the pages work without this file.
(function () {
  "use strict";

  function typing(target) {
    var tag = (target && target.tagName) || "";
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr.desk-row"));
  }

  var current = -1;

  function choose(index) {
    var list = rows();
    if (!list.length) { return; }
    index = Math.max(0, Math.min(list.length - 1, index));
    if (list[current]) { list[current].classList.remove("chosen"); list[current].removeAttribute("aria-current"); }
    current = index;
    var row = list[current];
    row.classList.add("chosen");
    row.setAttribute("aria-current", "true");
    var link = row.querySelector("a.desk-open");
    if (link) { link.focus(); }
  }

  function csrfToken() {
    var field = document.querySelector("#bulk-form input[name$='csrf_token']");
    return field ? field.value : "";
  }

  // Approve the chosen row from the list: the same POST as the item page's button.
  function approveRow(row) {
    if (!row || !row.dataset.approve) { return false; }
    var form = document.createElement("form");
    form.method = "post";
    form.action = row.dataset.approve;
    var prefix = row.dataset.prefix;
    var values = {};
    values[prefix + "-csrf_token"] = csrfToken();
    values[prefix + "-version"] = row.dataset.version;
    values[prefix + "-next"] = window.location.pathname + window.location.search;
    Object.keys(values).forEach(function (name) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = values[name];
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit();
    return true;
  }

  function toggleHelp() {
    var help = document.getElementById("keys-help");
    if (!help) { return; }
    help.open = !help.open;
    if (help.open) { help.querySelector("summary").focus(); }
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    var key = event.key;
    var list = rows();
    var handled = true;
    if (key === "?") {
      toggleHelp();
    } else if (list.length && (key === "j" || key === "k")) {
      choose(current < 0 ? 0 : current + (key === "j" ? 1 : -1));
    } else if (list.length && key === "o") {
      if (current < 0) { choose(0); }
      window.location.href = list[current].dataset.open;
    } else if (key === "a") {
      var button = document.querySelector("[data-desk='approve']");
      if (button) {
        button.click();
      } else if (list.length) {
        handled = approveRow(list[current < 0 ? 0 : current]);
      } else {
        handled = false;
      }
    } else if (key === "r") {
      var reason = document.querySelector("[data-desk='reason']");
      if (reason) { reason.focus(); } else { handled = false; }
    } else if (key === "u") {
      var back = document.querySelector("[data-desk='back']");
      if (back) { window.location.href = back.href; } else { handled = false; }
    } else {
      handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var list = rows();
    if (list.length) {
      // Keep the chosen row in step with clicks and Tab too.
      list.forEach(function (row, index) {
        row.addEventListener("focusin", function () {
          if (current !== index) {
            if (list[current]) { list[current].classList.remove("chosen"); list[current].removeAttribute("aria-current"); }
            current = index;
            row.classList.add("chosen");
          }
        });
      });
    }
  });
})();

// Small enhancements for every page; everything works without this file.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    // A form came back with errors: browsers with global `autofocus` already
    // opened the page at its summary; for the others, move the focus (and the
    // view) there, so screen readers read it and Tab continues from it.
    var summary = document.querySelector("[data-error-summary]");
    if (summary && document.activeElement !== summary) {
      summary.focus();
    }
  });
})();

// Small enhancements for every page; everything works without this file.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    // A form came back with errors: the page already opened at its summary (the
    // form's action carries the summary's fragment); move the focus there too,
    // so screen readers read it and Tab continues from it.
    var summary = document.querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
    }
  });
})();

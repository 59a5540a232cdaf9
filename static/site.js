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
    // Wide tables: the phone's "scroll sideways" line only under tables that do not fit.
    var boxes = document.querySelectorAll(".table-scroll");
    function markFits() {
      Array.prototype.forEach.call(boxes, function (box) {
        box.classList.toggle("fits", box.scrollWidth <= box.clientWidth + 1);
      });
    }
    if (boxes.length) {
      markFits();
      var pending = false;
      window.addEventListener("resize", function () {
        if (!pending) {
          pending = true;
          window.requestAnimationFrame(function () { pending = false; markFits(); });
        }
      });
    }
  });
})();

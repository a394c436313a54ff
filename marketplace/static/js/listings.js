// Listing wizard: show only the price fields of the chosen price mode (the page works without this too).
(function () {
  "use strict";
  function update() {
    var checked = document.querySelector("input[data-price-mode]:checked");
    var mode = checked ? checked.value : "";
    document.querySelectorAll("[data-for-modes]").forEach(function (el) {
      var modes = el.getAttribute("data-for-modes").split(" ");
      el.hidden = mode !== "" && modes.indexOf(mode) === -1;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-price-mode]").forEach(function (el) {
      el.addEventListener("change", update);
    });
    update();
  });
})();

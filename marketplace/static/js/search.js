// Search page: selects marked .js-autosubmit submit their form on change (the button stays as a fallback without JS).
(function () {
  "use strict";
  document.querySelectorAll("select.js-autosubmit").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
    select.form.querySelectorAll(".js-hide-when-auto").forEach(function (button) { button.hidden = true; });
  });
})();

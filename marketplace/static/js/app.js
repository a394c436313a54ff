// IP Mart: small progressive enhancements. The pages work without this file.
document.addEventListener("click", function (event) {
  var el = event.target.closest("[data-confirm]");
  if (el && !window.confirm(el.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});

// Phone width: the header's links fold into the 菜单 menu (a <details> rendered open, so the page works
// without this file) and the search page's filters into the 筛选 drawer; both are closed here on a narrow screen.
(function () {
  "use strict";
  var narrow = window.matchMedia("(max-width: 860px)");
  function fold() {
    document.querySelectorAll("details[data-phone-closed]").forEach(function (el) {
      if (narrow.matches) {
        el.removeAttribute("open");
      } else {
        el.setAttribute("open", "");
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", fold);
  } else {
    fold();
  }
  if (narrow.addEventListener) {
    narrow.addEventListener("change", fold);
  }
})();

// IP Mart: small progressive enhancements. The pages work without this file.
document.addEventListener("click", function (event) {
  var el = event.target.closest("[data-confirm]");
  if (el && !window.confirm(el.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});

// Phone width: the header's links fold into the 菜单 menu (a <details> rendered open, so the page works
// without this file) and the search page's filters into the 筛选 drawer; both are closed here on a narrow screen.
// The header's 更多 (rendered closed: a drop-down at desktop width) is opened inside the phone's 菜单.
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
    document.querySelectorAll("details[data-desktop-closed]").forEach(function (el) {
      if (narrow.matches) {
        el.setAttribute("open", "");
      } else {
        el.removeAttribute("open");
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

// Phone width: a data table becomes stacked cards (CSS: table.data.stack, below 860 px). Each cell gets its
// column's heading as data-label; tables whose cells span rows or columns label themselves in the template.
(function () {
  "use strict";
  function stack() {
    document.querySelectorAll("table.data").forEach(function (table) {
      if (table.classList.contains("no-stack") || table.querySelector("td[data-label]")) {
        table.classList.add("stack");
        return;
      }
      // a row of one cell spanning the table (暂无, a group heading) stacks too; other spans need the template's labels
      var spans = Array.prototype.some.call(table.querySelectorAll("[colspan]"), function (cell) {
        return cell.parentElement.children.length > 1;
      });
      if (spans || table.querySelector("[rowspan]")) {
        return;
      }
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      if (!heads.length) {
        return;
      }
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        Array.prototype.forEach.call(tr.children, function (cell, i) {
          // "#1" needs no "#: " before it; a cell with nothing in it (no act left) is left out of the card
          if (heads[i] && heads[i] !== "#" && !cell.hasAttribute("data-label") && !cell.hasAttribute("colspan")) {
            cell.setAttribute("data-label", heads[i]);
          }
          if (!cell.textContent.trim() && !cell.querySelector("a, button, input, select, textarea, img, svg")) {
            cell.classList.add("stack-empty");
          }
        });
      });
      table.classList.add("stack");
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", stack);
  } else {
    stack();
  }
})();

// The header's 更多 drop-down closes on a click elsewhere or on Escape (desktop width).
(function () {
  "use strict";
  function closeMore(except) {
    document.querySelectorAll("details.nav-more[open]").forEach(function (el) {
      if (el !== except && !window.matchMedia("(max-width: 860px)").matches) {
        el.removeAttribute("open");
      }
    });
  }
  document.addEventListener("click", function (event) {
    closeMore(event.target.closest("details.nav-more"));
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      closeMore(null);
    }
  });
})();

// Countdowns on cards, search rows and the buy bar: every [data-countdown="<UTC ISO>"] ticks each second
// ("2 天 03:04:05", then the data-label-ended text). The server writes the first text; this keeps it running.
(function () {
  "use strict";
  var els = Array.prototype.slice.call(document.querySelectorAll("[data-countdown]"));
  if (!els.length) {
    return;
  }
  function two(n) {
    return (n < 10 ? "0" : "") + n;
  }
  function tick() {
    var now = Date.now();
    els.forEach(function (el) {
      var ends = new Date(el.getAttribute("data-countdown")).getTime();
      var left = Math.max(0, Math.floor((ends - now) / 1000));
      var text;
      if (!left) {
        text = el.getAttribute("data-label-ended");
      } else {
        var days = Math.floor(left / 86400);
        var rest = left % 86400;
        text = (days ? days + " " + el.getAttribute("data-label-day") + " " : "") +
          two(Math.floor(rest / 3600)) + ":" + two(Math.floor((rest % 3600) / 60)) + ":" + two(rest % 60);
      }
      if (el.textContent !== text) {
        el.textContent = text;
      }
    });
  }
  tick();
  window.setInterval(tick, 1000);
})();

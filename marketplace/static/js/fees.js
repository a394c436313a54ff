// Fee and net proceeds as a price is typed (escrow.fees.quote, the same rule: half-up to the fen).
// The server renders the same line for the saved price; this only keeps it live. Works without it.
(function () {
  "use strict";
  // Mirrors marketplace.kernel.money.parse_yuan: yuan ("260,000.50") or 万元 ("26万", "26.5 万", "26万元").
  function fen(text) {
    var m = /^\s*[¥￥]?\s*([0-9][0-9,]{0,20})?(?:\.([0-9]{1,6}))?\s*(万元|万)?\s*$/.exec(text || "");
    if (!m || (!m[1] && !m[2])) { return null; }
    var whole = (m[1] || "0").replace(/,/g, "");
    var frac = (m[2] || "").replace(/0+$/, "");
    var wan = !!m[3];
    if (whole.length > (wan ? 11 : 15) || frac.length > (wan ? 6 : 2)) { return null; }
    var value = wan ? BigInt(whole) * 1000000n + BigInt(frac.padEnd(6, "0") || "0") :
      BigInt(whole) * 100n + BigInt(frac.padEnd(2, "0") || "0");
    return value > 0n ? value : null;
  }
  function money(v) {
    var yuan = (v / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var rest = (v % 100n).toString().padStart(2, "0");
    return "¥" + yuan + "." + rest;
  }
  function bind(box) {
    var input = document.querySelector('input[name="' + box.getAttribute("data-fee-input") + '"]');
    var out = box.querySelector("[data-fee-out]");
    if (!input || !out || typeof BigInt === "undefined") { return; }
    var bps = BigInt(box.getAttribute("data-fee-bps"));
    function update() {
      var price = fen(input.value);
      out.textContent = "";
      if (price === null) { return; }
      var fee = (price * bps + 5000n) / 10000n;
      [["data-label-pays", price, "fee-price"], ["data-label-fee", fee, "fee-fee"],
       ["data-label-net", price - fee, "fee-net"]].forEach(function (part, i) {
        if (i) { out.appendChild(document.createTextNode(" · ")); }
        out.appendChild(document.createTextNode(box.getAttribute(part[0]) + " "));
        var strong = document.createElement("strong");
        strong.className = part[2];
        strong.textContent = money(part[1]);
        out.appendChild(strong);
      });
    }
    input.addEventListener("input", update);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-fee-quote][data-fee-input]").forEach(bind);
  });
})();

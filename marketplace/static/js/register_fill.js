// Listing wizard: when a patent or trademark number is entered (on leaving the field, or a pause in
// typing), ask the register (GET /api/v1/rights/{kind}/{number}) and fill the row's title, classes and
// dates, and say who holds it; when another holder does, show the refusal the save would give, with its
// two ways forward. Progressive enhancement: without JavaScript the save fills the same data.
(function () {
  "use strict";
  var FIELDS = {
    patent: {number: "application_number", text: {title: "title", abstract: "abstract",
      locarno_class: "locarno_class", filing_date: "filing_date", grant_date: "grant_date",
      claims_count: "claims_count", exclusive_license_until: "exclusive_license_until"},
      lists: {ipc_codes: ["ipc_codes", ", "]}, selects: {patent_type: "patent_type", legal_status: "legal_status"},
      checks: {pledged: "pledged"}},
    trademark: {number: "registration_number", text: {mark_text: "mark_text", registration_date: "registration_date",
      exclusive_license_until: "exclusive_license_until"},
      lists: {nice_classes: ["nice_classes", ", "], similar_groups: ["similar_groups", ", "], goods: ["goods", "\n"]},
      selects: {status: "status"}, checks: {}}
  };
  var texts = null;

  function field(row, name) {
    return row.querySelector("[name='rights-" + row.getAttribute("data-right-row") + "-" + name + "']");
  }

  // Fill a field the seller left empty, or one this script filled before (a new number replaces it);
  // never what the seller typed.
  function put(el, value) {
    if (!el || value === null || value === undefined || value === "") return false;
    var ours = el.getAttribute("data-register-filled") === "1";
    if (el.type === "checkbox") {
      if (!ours && el.checked) return false;
      el.checked = !!value;
    } else if (el.tagName === "SELECT") {
      var known = Array.prototype.some.call(el.options, function (o) { return o.value === String(value); });
      if (!known || (!ours && el.value !== "" && el.selectedIndex !== 0)) return false;
      el.value = String(value);
    } else {
      if (!ours && el.value.trim() !== "") return false;
      el.value = String(value);
    }
    el.setAttribute("data-register-filled", "1");
    return true;
  }

  function fill(row, kind, data) {
    var spec = FIELDS[kind];
    var filled = 0;
    Object.keys(spec.text).forEach(function (k) { if (put(field(row, spec.text[k]), data[k])) filled++; });
    Object.keys(spec.selects).forEach(function (k) { if (put(field(row, spec.selects[k]), data[k])) filled++; });
    Object.keys(spec.checks).forEach(function (k) { if (data[k] && put(field(row, spec.checks[k]), true)) filled++; });
    Object.keys(spec.lists).forEach(function (k) {
      var v = data[k];
      if (v && v.length && put(field(row, spec.lists[k][0]), v.join(spec.lists[k][1]))) filled++;
    });
    return filled;
  }

  function line(text, cls) {
    var p = document.createElement("p");
    p.className = cls || "";
    p.textContent = text;
    return p;
  }

  function link(href, text) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  function show(row, nodes, tone) {
    var note = row.querySelector("[data-register-note]");
    note.replaceChildren.apply(note, nodes);
    note.className = "register-note" + (tone ? " register-note-" + tone : "");
    note.hidden = nodes.length === 0;
  }

  function holderNames(right) {
    return right.holders.map(function (h) { return h.name; }).join("、") || "—";
  }

  function answer(row, kind, body) {
    var right = body.right;
    var viewer = body.viewer;
    var filled = fill(row, kind, (body.listing_input || {})[kind] || {});
    if (viewer && viewer.held_by_another) {
      var conflict = viewer.held_by_another;
      var ways = document.createElement("ul");
      ways.className = "register-ways";
      var first = document.createElement("li");
      var box = document.getElementById("f-acts_for_holders");
      var authorise = link("#f-acts_for_holders", texts.getAttribute("data-authorise"));
      authorise.addEventListener("click", function (ev) {
        if (box) { ev.preventDefault(); box.focus(); box.scrollIntoView({block: "center"}); }
      });
      first.appendChild(authorise);
      var second = document.createElement("li");
      second.appendChild(link("/rights/" + right.kind + "/" + encodeURIComponent(right.number),
                              texts.getAttribute("data-page")));
      ways.appendChild(first);
      ways.appendChild(second);
      show(row, [line(conflict.message, "register-conflict"), ways], "conflict");
      return;
    }
    var nodes = [line(texts.getAttribute("data-known") + " " + holderNames(right) + "（" + right.number + "）")];
    if (filled) nodes.push(line(texts.getAttribute("data-filled"), "hint"));
    show(row, nodes, "known");
  }

  function lookUp(row, input) {
    var kind = row.getAttribute("data-kind");
    var number = input.value.trim();
    if (number === (row.getAttribute("data-looked-up") || "")) return;
    row.setAttribute("data-looked-up", number);
    if (number.length < 5 || number.length > 60) { show(row, []); return; }
    var seq = String(Number(row.getAttribute("data-seq") || "0") + 1);
    row.setAttribute("data-seq", seq);
    show(row, [line(texts.getAttribute("data-checking"), "hint")]);
    var url = texts.getAttribute("data-api").replace("KIND", kind).replace("NUMBER", encodeURIComponent(number));
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (res) {
        if (row.getAttribute("data-seq") !== seq) return null;  // a later number was entered meanwhile
        if (res.status === 404) { show(row, [line(texts.getAttribute("data-unknown"), "hint")]); return null; }
        if (!res.ok) { show(row, []); return null; }
        return res.json();
      })
      .then(function (body) {
        if (body && row.getAttribute("data-seq") === seq) answer(row, kind, body);
      })
      .catch(function () { if (row.getAttribute("data-seq") === seq) show(row, []); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    texts = document.querySelector("[data-register-texts]");
    if (!texts || !window.fetch) return;
    document.querySelectorAll("[data-right-row]").forEach(function (row) {
      var spec = FIELDS[row.getAttribute("data-kind")];
      var input = spec && field(row, spec.number);
      if (!input) return;
      var timer = null;
      input.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(function () { lookUp(row, input); }, 700);
      });
      input.addEventListener("change", function () { clearTimeout(timer); lookUp(row, input); });
      input.addEventListener("blur", function () { clearTimeout(timer); lookUp(row, input); });
      if (input.value.trim()) row.setAttribute("data-looked-up", input.value.trim());  // re-shown form: saved already
    });
  });
})();

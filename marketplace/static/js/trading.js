// IP Mart trading panel: counts the auction's time down every second and polls
// GET /api/v1/listings/<id> (every 10 s while visible) so the current price, bid count,
// minimum next bid and close time stay fresh without a full reload. The page works without it.
(function () {
  "use strict";
  var panel = document.querySelector("[data-trade-panel]");
  if (!panel || panel.getAttribute("data-mode") !== "auction") {
    return;
  }
  var POLL_MS = parseInt(panel.getAttribute("data-poll-ms"), 10) || 10000;
  var endsAt = panel.getAttribute("data-ends-at") ? new Date(panel.getAttribute("data-ends-at")) : null;
  var closed = panel.getAttribute("data-closed") === "1";
  function field(name) {
    return panel.querySelector('[data-field="' + name + '"]');
  }

  var shownCount = field("bid-count");
  var lastCount = shownCount ? parseInt(shownCount.textContent, 10) : null;

  // The panel's own fields, and the same facts elsewhere on the page (data-live="name").
  function setText(name, text) {
    var els = [field(name)].concat(Array.prototype.slice.call(
      document.querySelectorAll('[data-live="' + name + '"]')));
    els.forEach(function (el) {
      if (el && el.textContent !== text) {
        el.textContent = text;
      }
    });
  }

  // Mirrors marketplace.kernel.money.format_yuan: ¥12,345.67, and 万 from ¥10万 up.
  function yuan(fen) {
    if (fen === null || fen === undefined) {
      return "";
    }
    var sign = fen < 0 ? "-" : "";
    fen = Math.abs(fen);
    var currency = panel.getAttribute("data-currency") || "CNY";
    var symbol = currency === "CNY" ? "¥" : currency + " ";
    if (fen >= 10000000) {
      var hundredths = Math.floor((fen + 5000) / 10000);
      var whole = Math.floor(hundredths / 100);
      var frac = hundredths % 100;
      var text = whole.toLocaleString("en-US");
      if (frac) {
        text += "." + (frac < 10 ? "0" : "") + frac;
        text = text.replace(/0+$/, "");
      }
      return sign + symbol + text + "万";
    }
    var yuanPart = Math.floor(fen / 100);
    var cents = fen % 100;
    return sign + symbol + yuanPart.toLocaleString("en-US") + (cents ? "." + (cents < 10 ? "0" : "") + cents : "");
  }

  function two(n) {
    return (n < 10 ? "0" : "") + n;
  }

  // The close time as the server writes it (the "localtime" filter): Beijing time, YYYY-MM-DD HH:MM,
  // whatever the visitor's own time zone. China keeps no summer time, so UTC+8 is exact.
  function beijing(date) {
    var d = new Date(date.getTime() + 8 * 3600 * 1000);
    return d.getUTCFullYear() + "-" + two(d.getUTCMonth() + 1) + "-" + two(d.getUTCDate()) + " " +
      two(d.getUTCHours()) + ":" + two(d.getUTCMinutes());
  }

  function tick() {
    if (!endsAt) {
      return;
    }
    var left = Math.max(0, Math.floor((endsAt.getTime() - Date.now()) / 1000));
    if (closed || left === 0) {
      setText("time-left", panel.getAttribute("data-label-ended"));
      var button = panel.querySelector(".trade-form button[type=submit]");
      if (button) {
        button.disabled = true;
      }
      return;
    }
    var days = Math.floor(left / 86400);
    var rest = left % 86400;
    var text = (days ? days + " " + panel.getAttribute("data-label-day") + " " : "") +
      two(Math.floor(rest / 3600)) + ":" + two(Math.floor((rest % 3600) / 60)) + ":" + two(rest % 60);
    setText("time-left", text);
  }

  function apply(auction) {
    if (!auction) {
      return;
    }
    var price = auction.current_price !== null && auction.current_price !== undefined ?
      auction.current_price : auction.start_price;
    setText("current-price", yuan(price));
    setText("bid-count", String(auction.bid_count));
    var next = auction.current_price ? auction.current_price + auction.min_increment : auction.start_price;
    setText("minimum-next-bid", yuan(next));
    var reserve = field("reserve");
    if (reserve) {
      setText("reserve", panel.getAttribute(auction.reserve_met ? "data-label-reserve-met" : "data-label-reserve-unmet"));
    }
    if (auction.ends_at) {
      var moved = new Date(auction.ends_at);
      if (!endsAt || moved.getTime() !== endsAt.getTime()) {
        endsAt = moved;
        setText("ends-at", beijing(moved));
      }
    }
    if (auction.closed) {
      closed = true;
    }
    if (lastCount !== null && auction.bid_count !== lastCount) {
      panel.classList.add("trade-updated");
      panel.setAttribute("title", panel.getAttribute("data-label-updated"));
    }
    lastCount = auction.bid_count;
    tick();
  }

  // The signed-in viewer's state (GET /listings/<id>/auction-live): 您已被超越, the bid history, the minimum
  // next bid in the amount field and on the 加价一手 button.
  var amountInput = panel.querySelector(".trade-form:not(.raise-form) input[name=amount]");
  var typed = false;
  if (amountInput) {
    amountInput.addEventListener("input", function () { typed = true; });
  }
  function show(name, on) {
    var el = field(name);
    if (el) {
      el.hidden = !on;
    }
  }
  var minField = field("minimum-next-bid");
  var shownMin = minField ? minField.textContent : null;
  function applyLive(state) {
    var hint = panel.querySelector(".amount-field .hint");
    if (hint && shownMin && shownMin !== state.minimum_next_bid_text) {
      hint.textContent = hint.textContent.replace(shownMin, state.minimum_next_bid_text);  // "…至少 ¥54,000"
    }
    shownMin = state.minimum_next_bid_text;
    setText("current-price", state.current_price_text);
    setText("bid-count", String(state.bid_count));
    setText("minimum-next-bid", state.minimum_next_bid_text);
    setText("price-amount", state.current_price_text);
    show("leading", state.leading && !state.closed);
    show("outbid", state.outbid && !state.closed);
    var banner = field("outbid");
    if (banner && state.outbid) {
      var small = banner.querySelector("small");
      if (small) {
        small.textContent = state.price_label + " " + state.current_price_text + " · " +
          (panel.getAttribute("data-label-min") || "") + " " + state.minimum_next_bid_text;
      }
    }
    if (amountInput && (!typed || (parseFloat(amountInput.value) || 0) * 100 < state.minimum_next_bid)) {
      amountInput.value = state.minimum_next_bid_input;
      typed = false;
    }
    var raise = field("raise-amount");
    var raiseButton = field("raise-button");
    if (raise && raiseButton) {
      raise.value = state.minimum_next_bid_input;
      raiseButton.textContent = raiseButton.getAttribute("data-label").replace("{amount}", state.minimum_next_bid_text);
    }
    var history = field("bid-history");
    if (history && state.bids) {
      var items = state.bids.map(function (b) {
        var li = document.createElement("li");
        [["bidder", b.bidder], ["amount", b.amount_text], ["muted", b.at]].forEach(function (part, i) {
          var el = document.createElement(i === 2 ? "time" : "span");
          el.className = part[0];
          el.textContent = part[1];
          li.appendChild(el);
          li.appendChild(document.createTextNode(" "));
        });
        return li;
      });
      if (!items.length) {
        var none = document.createElement("li");
        none.className = "muted";
        none.textContent = history.getAttribute("data-label-none");
        items.push(none);
      }
      history.replaceChildren.apply(history, items);
    }
    if (state.ends_at) {
      var moved = new Date(state.ends_at);
      if (!endsAt || moved.getTime() !== endsAt.getTime()) {
        endsAt = moved;
        setText("ends-at", beijing(moved));
      }
    }
    if (state.closed) {
      closed = true;
    }
    if (lastCount !== null && state.bid_count !== lastCount) {
      panel.classList.add("trade-updated");
    }
    lastCount = state.bid_count;
    tick();
  }

  function poll() {
    if (document.hidden) {
      return;
    }
    var request = new XMLHttpRequest();
    var live = panel.getAttribute("data-live-api");
    if (live) {
      request.open("GET", live);
      request.setRequestHeader("Accept", "application/json");
      request.onload = function () {
        if (request.status === 200) {
          try {
            applyLive(JSON.parse(request.responseText));
          } catch (e) {
            // a bad answer leaves the panel as it was
          }
        }
      };
      request.send();
      return;
    }
    request.open("GET", panel.getAttribute("data-api"));
    request.setRequestHeader("Accept", "application/json");
    request.onload = function () {
      if (request.status === 200) {
        try {
          var body = JSON.parse(request.responseText);
          apply(body.listing && body.listing.auction);
        } catch (e) {
          // a bad answer leaves the panel as it was
        }
      }
    };
    request.send();
  }

  tick();
  window.setInterval(tick, 1000);
  window.setInterval(poll, POLL_MS);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      poll();
    }
  });
})();

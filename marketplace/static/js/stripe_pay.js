// IP Mart pay page: Stripe.js Payment Element (card, Alipay, WeChat Pay as the PaymentIntent allows).
// Settings and messages come from data-* attributes on #stripe-pay; no inline script (CSP).
// The deal is funded only by Stripe's signed webhook; this page just hands the payment to Stripe.
(function () {
  "use strict";
  var root = document.getElementById("stripe-pay");
  if (!root) {
    return;
  }
  var form = document.getElementById("payment-form");
  var submit = document.getElementById("payment-submit");
  var message = document.getElementById("payment-message");

  function show(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  if (typeof window.Stripe !== "function" || !root.dataset.publishableKey) {
    show(root.dataset.msgLoadFailed);
    return;
  }

  var stripe = window.Stripe(root.dataset.publishableKey, { locale: root.dataset.locale || "zh" });
  var elements = stripe.elements({ clientSecret: root.dataset.clientSecret, locale: root.dataset.locale || "zh" });
  var paymentElement = elements.create("payment");
  paymentElement.mount("#payment-element");
  paymentElement.on("ready", function () {
    submit.disabled = false;
  });
  paymentElement.on("loaderror", function () {
    show(root.dataset.msgLoadFailed);
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit.disabled = true;
    show("");
    submit.setAttribute("aria-busy", "true");
    stripe.confirmPayment({
      elements: elements,
      confirmParams: { return_url: root.dataset.returnUrl }
    }).then(function (result) {
      // Only reached when the payment could not be confirmed; success redirects to return_url.
      submit.disabled = false;
      submit.removeAttribute("aria-busy");
      show((result.error && result.error.message) || root.dataset.msgFailed);
    });
  });
}());

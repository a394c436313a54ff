"""Stripe behind the PaymentGateway interface: PaymentIntents, refunds, Connect transfers.

Escrow captures at payment (card authorisations expire in about 7 days; Alipay and
WeChat Pay cannot be captured later), so every PaymentIntent uses automatic capture
and the money waits in the platform balance until the deal releases it (separate
charges and transfers). One PaymentIntent per payment attempt, idempotency key
``deal:{id}:pi:{attempt}``; refunds and transfers carry the deal service's keys.

Only this module (and the fake) imports ``stripe``. ``STRIPE_API_BASE`` points the
SDK at a stand-in such as localstripe, which refuses parameters it does not know,
so the calls send only what both accept (``payment_method_types``, never
``automatic_payment_methods`` or ``description``).
"""
import json
import logging

import stripe
from flask_babel import gettext as _

from marketplace.kernel.errors import Conflict, DomainError
from marketplace.kernel.extensions import db

from ..webhook_models import StripePaymentIntent
from .base import GatewayResult, PaymentGateway

log = logging.getLogger(__name__)

WEBHOOK_TOLERANCE_SECONDS = 300  # Stripe's default: an older signature is refused (replay protection)
MAX_AMOUNT = 99_999_999  # Stripe takes at most 8 digits of minor units: ¥999,999.99 per PaymentIntent


class PaymentProviderError(DomainError):
    """The payment provider could not be reached or refused the call; the buyer may try again later."""

    status = 503
    code = "payment_provider_unavailable"


class ProviderObjectMissing(PaymentProviderError):
    """The provider has no object with that id (a reconciliation mismatch, not an outage)."""

    status = 404
    code = "payment_provider_object_missing"


class WebhookSignatureError(Exception):
    """A webhook whose signature is missing, wrong or too old."""


def verify_webhook(payload: bytes, signature_header: str | None, secret: str | None,
                   tolerance: int = WEBHOOK_TOLERANCE_SECONDS) -> dict:
    """Check ``signature_header`` against the RAW request body; return the event as a plain dict.

    Raises WebhookSignatureError for a missing secret, a bad or old signature, or a body that is not JSON.
    """
    if not secret:
        raise WebhookSignatureError("STRIPE_WEBHOOK_SECRET is not configured")
    if not signature_header:
        raise WebhookSignatureError("no Stripe-Signature header")
    try:
        stripe.Webhook.construct_event(payload, signature_header, secret, tolerance=tolerance)
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureError(str(exc)) from exc
    except ValueError as exc:  # not JSON
        raise WebhookSignatureError(f"payload is not JSON: {exc}") from exc
    event = json.loads(payload)
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise WebhookSignatureError("payload is not a Stripe event")
    return event


def _plain(obj):
    if obj is None:
        return None
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return dict(obj)


def _object_id(value):
    """``latest_charge`` and friends are an id, or (expanded, or from localstripe) the object itself."""
    if value is None or isinstance(value, str):
        return value
    return value.get("id")


def normalise_payment_intent(pi) -> dict:
    pi = _plain(pi)
    error = pi.get("last_payment_error") or {}
    return {
        "id": pi["id"],
        "amount": int(pi["amount"]),
        "currency": str(pi["currency"]).lower(),
        "status": pi.get("status"),
        "metadata": {k: str(v) for k, v in (pi.get("metadata") or {}).items()},
        "latest_charge": _object_id(pi.get("latest_charge")),
        "client_secret": pi.get("client_secret"),
        "failure_message": error.get("message") if isinstance(error, dict) else None,
    }


def normalise_refund(refund) -> dict:
    refund = _plain(refund)
    return {
        "id": refund["id"],
        "amount": int(refund["amount"]),
        "currency": str(refund["currency"]).lower(),
        "status": refund.get("status"),
        "payment_intent": _object_id(refund.get("payment_intent")),
        "charge": _object_id(refund.get("charge")),
        "metadata": {k: str(v) for k, v in (refund.get("metadata") or {}).items()},
    }


def normalise_transfer(transfer) -> dict:
    transfer = _plain(transfer)
    return {
        "id": transfer["id"],
        "amount": int(transfer["amount"]),
        "currency": str(transfer["currency"]).lower(),
        "destination": _object_id(transfer.get("destination")),
        "transfer_group": transfer.get("transfer_group"),
        "source_transaction": _object_id(transfer.get("source_transaction")),
        "reversed": bool(transfer.get("reversed")),
        "metadata": {k: str(v) for k, v in (transfer.get("metadata") or {}).items()},
    }


def refund_result(refund: dict) -> GatewayResult:
    """Stripe's refund status → the interface's result: only ``succeeded`` is final money back."""
    status = refund.get("status")
    if status == "succeeded":
        return GatewayResult(ok=True, reference=refund["id"], raw=refund)
    if status in ("pending", "requires_action"):
        return GatewayResult(ok=True, reference=refund["id"], pending=True, message=f"refund {status}", raw=refund)
    return GatewayResult(ok=False, reference=refund["id"], message=f"refund {status}", raw=refund)


def owner_metadata(payable):
    """What a PaymentIntent, refund or transfer carries to name what it pays: ``{"deal_id": "42"}`` for a deal,
    ``{"deposit_id": "7"}`` for an auction deposit (``payable.payment_owner``)."""
    return {key: str(value) for key, value in payable.payment_owner.items()}


def transfer_group(payable):
    """``deal-42`` (a deal's Connect transfers), ``deposit-7`` (a forfeited deposit's)."""
    return payable.payment_key.replace(":", "-")


def intent_for_deal(deal, gateway):
    """The deal's PaymentIntent that succeeded (the one a refund or a transfer draws on), or None.
    ``deal`` may be any payable (a Deal, an AuctionDeposit): its ``payment_owner`` names the rows.

    Normally the webhook has marked it; if not (yet), the provider is asked about the
    deal's attempts, newest first, and the answer is remembered.
    """
    rows = (db.session.query(StripePaymentIntent).filter_by(**deal.payment_owner, gateway=gateway.name)
            .order_by(StripePaymentIntent.id).all())
    for row in rows:
        if row.status == "succeeded":
            return row
    for row in reversed(rows):
        pi = gateway.fetch_payment_intent(row.payment_intent_id)
        row.status, row.charge_id = pi["status"], pi["latest_charge"]
        if pi["status"] == "succeeded":
            db.session.flush()
            return row
    return None


def remember_intent(deal, attempt, gateway_name, pi: dict):
    row = StripePaymentIntent(**deal.payment_owner, attempt=attempt, gateway=gateway_name, payment_intent_id=pi["id"],
                              amount=pi["amount"], currency=pi["currency"].upper(), status=pi["status"] or "unknown",
                              charge_id=pi.get("latest_charge"))
    db.session.add(row)
    db.session.flush()
    return row


def check_amount(deal):
    """Refuse, before calling Stripe, a price above what one PaymentIntent may carry."""
    if deal.amount_due > MAX_AMOUNT:
        raise Conflict(_("成交价超过在线支付单笔上限（¥999,999.99），请联系平台运营改用银行转账付款"),
                       maximum_amount=MAX_AMOUNT)


def payment_instructions(pi: dict, publishable_key, payment_method_types) -> dict:
    """What ``POST /deals/{id}/pay`` answers for a card / Alipay / WeChat Pay payment (docs/api.md)."""
    return {
        "gateway": "stripe",
        "payment_intent_id": pi["id"],
        "client_secret": pi["client_secret"],
        "publishable_key": publishable_key,
        "amount": pi["amount"],
        "currency": pi["currency"].upper(),
        "payment_method_types": list(payment_method_types),
    }


class StripeGateway(PaymentGateway):
    name = "stripe"

    def __init__(self, client, *, publishable_key=None, payment_method_types=("card",), test_mode=False):
        self.client = client
        self.test_mode = test_mode  # a sk_test_ key: test cards may be used from the CLI
        self.publishable_key = publishable_key
        self.payment_method_types = [t.strip() for t in payment_method_types if t and t.strip()] or ["card"]

    @classmethod
    def from_config(cls, config):
        base_addresses = {}
        if config.get("STRIPE_API_BASE"):
            base = config["STRIPE_API_BASE"].rstrip("/")
            base_addresses = {"api": base, "connect": base, "files": base}
        client = stripe.StripeClient(
            config["STRIPE_SECRET_KEY"], base_addresses=base_addresses,
            max_network_retries=config["STRIPE_MAX_NETWORK_RETRIES"],
            http_client=stripe.RequestsClient(timeout=config["STRIPE_TIMEOUT_SECONDS"]),
        )
        return cls(client, publishable_key=config.get("STRIPE_PUBLISHABLE_KEY"),
                   payment_method_types=config.get("STRIPE_PAYMENT_METHOD_TYPES") or ["card"],
                   test_mode=str(config["STRIPE_SECRET_KEY"]).startswith("sk_test_"))

    # --- the PaymentGateway interface ---------------------------------------

    def start_payment(self, deal, attempt: int) -> dict:
        """Create (or, for an attempt already made, re-read) the attempt's PaymentIntent."""
        check_amount(deal)
        row = db.session.query(StripePaymentIntent).filter_by(**deal.payment_owner, attempt=attempt).first()
        try:
            if row is not None:
                pi = normalise_payment_intent(self.client.v1.payment_intents.retrieve(row.payment_intent_id))
            else:
                params = {
                    "amount": deal.amount_due,
                    "currency": deal.currency.lower(),
                    "capture_method": "automatic",
                    "payment_method_types": self.payment_method_types,
                    "metadata": {**owner_metadata(deal), "attempt": str(attempt)},
                }
                if "wechat_pay" in self.payment_method_types:  # Stripe requires the client kind for WeChat Pay
                    params["payment_method_options"] = {"wechat_pay": {"client": "web"}}
                pi = normalise_payment_intent(self.client.v1.payment_intents.create(
                    params=params, options={"idempotency_key": f"{deal.payment_key}:pi:{attempt}"}))
        except stripe.StripeError as exc:
            log.error("stripe: creating the PaymentIntent for deal %s attempt %s failed: %s", deal.id, attempt, exc)
            raise PaymentProviderError(_("支付服务暂时不可用，请稍后重试")) from exc
        if row is None:
            remember_intent(deal, attempt, self.name, pi)
        log.info("stripe: deal %s attempt %s uses PaymentIntent %s", deal.id, attempt, pi["id"])
        return payment_instructions(pi, self.publishable_key, self.payment_method_types)

    def refund(self, deal, amount: int, idempotency_key: str) -> GatewayResult:
        try:
            row = intent_for_deal(deal, self)
        except PaymentProviderError as exc:
            return GatewayResult(ok=False, message=exc.message)
        if row is None:
            return GatewayResult(ok=False, message=f"deal {deal.id} has no succeeded PaymentIntent to refund")
        params = {"payment_intent": row.payment_intent_id, "amount": amount,
                  "metadata": {**owner_metadata(deal), "idempotency_key": idempotency_key}}
        try:
            refund = normalise_refund(self.client.v1.refunds.create(
                params=params, options={"idempotency_key": idempotency_key}))
        except stripe.StripeError as exc:
            log.error("stripe: refund of %s fen for deal %s (%s) failed: %s", amount, deal.id, idempotency_key, exc)
            return GatewayResult(ok=False, message=str(exc.user_message or exc))
        log.info("stripe: refund %s of %s fen for deal %s is %s", refund["id"], amount, deal.id, refund["status"])
        return refund_result(refund)

    def payout(self, deal, amount: int, idempotency_key: str) -> GatewayResult:
        """A Connect transfer to the seller's connected account; without one, an offline payout (pending)."""
        account = deal.organization.stripe_account_id if deal.organization else None
        if not account:
            return GatewayResult(ok=True, pending=True, message="no connected account: offline payout")
        try:
            charge_id = self._charge_for(deal)
        except PaymentProviderError as exc:
            return GatewayResult(ok=False, message=exc.message)
        params = {"amount": amount, "currency": deal.currency.lower(), "destination": account,
                  "transfer_group": transfer_group(deal),
                  "metadata": {**owner_metadata(deal), "idempotency_key": idempotency_key}}
        if charge_id:
            params["source_transaction"] = charge_id
        try:
            transfer = normalise_transfer(self.client.v1.transfers.create(
                params=params, options={"idempotency_key": idempotency_key}))
        except stripe.StripeError as exc:
            log.error("stripe: transfer of %s fen for deal %s to %s failed: %s", amount, deal.id, account, exc)
            return GatewayResult(ok=False, message=str(exc.user_message or exc))
        log.info("stripe: transfer %s of %s fen for deal %s to %s", transfer["id"], amount, deal.id, account)
        return GatewayResult(ok=True, reference=transfer["id"], raw=transfer)

    # --- provider queries (webhooks, reconciliation) --------------------------

    def fetch_payment_intent(self, payment_intent_id: str) -> dict:
        return normalise_payment_intent(self._call(self.client.v1.payment_intents.retrieve, payment_intent_id))

    def fetch_refund(self, refund_id: str) -> dict:
        return normalise_refund(self._call(self.client.v1.refunds.retrieve, refund_id))

    def list_refunds(self, payment_intent_id: str) -> list[dict]:
        params = {"payment_intent": payment_intent_id, "limit": 100}
        return self._call(lambda: [normalise_refund(r) for r in
                                   self.client.v1.refunds.list(params=params).auto_paging_iter()])

    def fetch_transfer(self, transfer_id: str) -> dict:
        return normalise_transfer(self._call(self.client.v1.transfers.retrieve, transfer_id))

    def list_transfers(self, transfer_group: str) -> list[dict]:
        params = {"transfer_group": transfer_group, "limit": 100}
        return self._call(lambda: [normalise_transfer(t) for t in
                                   self.client.v1.transfers.list(params=params).auto_paging_iter()])

    def confirm(self, payment_intent_id, payment_method="pm_card_visa") -> dict:
        """Pay with a Stripe test payment method, as Stripe.js would (test keys only; ``flask payments test-pay``)."""
        if not self.test_mode:
            raise PaymentProviderError("test cards can only be used with a sk_test_ key")
        try:
            self.client.v1.payment_intents.update(payment_intent_id, params={"payment_method": payment_method})
            self.client.v1.payment_intents.confirm(payment_intent_id)
        except stripe.CardError as exc:  # declined: the PaymentIntent's status tells the rest
            log.info("stripe: test payment of %s declined: %s", payment_intent_id, exc.user_message)
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe: {exc.user_message or exc}") from exc
        return self.fetch_payment_intent(payment_intent_id)

    def _charge_for(self, deal):
        row = intent_for_deal(deal, self)
        if row is None:
            return None
        if not row.charge_id:
            row.charge_id = self.fetch_payment_intent(row.payment_intent_id)["latest_charge"]
        return row.charge_id

    @staticmethod
    def _call(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except stripe.StripeError as exc:
            if exc.http_status == 404:
                raise ProviderObjectMissing(f"Stripe: {exc.user_message or exc}") from exc
            raise PaymentProviderError(f"Stripe: {exc.user_message or exc}") from exc

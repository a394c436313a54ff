"""An in-memory Stripe, behind the same interface as ``StripeGateway``.

Tests use it for what the local stand-in (localstripe) cannot serve: idempotency
keys (a replay returns the first answer; the same key with other parameters is
refused, as Stripe does), Connect transfers (``destination`` an ``acct_`` id,
``transfer_group``, ``source_transaction`` a succeeded charge with money left on
it), refunds that stay pending, and provider outages. It keeps Stripe's shapes
(normalised like the real gateway's) so the webhook and reconciliation code
cannot tell the two apart. ``get_gateway("fake_stripe")`` returns the one instance.
"""
import hashlib
import hmac
import itertools
import json
import secrets
import time

from flask_babel import gettext as _

from marketplace.kernel.extensions import db

from ..webhook_models import StripePaymentIntent
from .base import GatewayResult, PaymentGateway
from .stripe_gateway import (
    PaymentProviderError,
    ProviderObjectMissing,
    check_amount,
    intent_for_deal,
    owner_metadata,
    payment_instructions,
    refund_result,
    remember_intent,
    transfer_group,
)

_ids = itertools.count(1)
DECLINING_TEST_CARDS = ("pm_card_chargeDeclined", "pm_card_visa_chargeDeclined", "pm_card_chargeCustomerFail")


def _new_id(prefix):
    return f"{prefix}{next(_ids):06d}{secrets.token_hex(5)}"


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload``, made the way Stripe (and localstripe) make it."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), b"%d.%s" % (timestamp, payload), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class IdempotencyError(PaymentProviderError):
    status = 409
    code = "idempotency_key_reused"


class FakeStripeGateway(PaymentGateway):
    name = "fake_stripe"
    _instance = None

    def __init__(self, publishable_key="pk_test_fake", payment_method_types=("card",)):
        self.publishable_key = publishable_key
        self.payment_method_types = list(payment_method_types)
        self.reset()

    @classmethod
    def instance(cls) -> "FakeStripeGateway":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def reset(self):
        """Forget everything (tests call this between cases)."""
        self.intents, self.charges, self.refunds, self.transfers = {}, {}, {}, {}
        self.idempotency = {}  # key -> (operation, params, response)
        self.requests = []  # (operation, params, idempotency_key): what the app asked for, in order
        self.outage = False  # True: every call fails as if Stripe were unreachable
        self.refund_status = "succeeded"  # what new refunds start as ("pending" to test the webhook path)

    # --- the PaymentGateway interface ---------------------------------------

    def start_payment(self, deal, attempt: int) -> dict:
        check_amount(deal)
        row = db.session.query(StripePaymentIntent).filter_by(**deal.payment_owner, attempt=attempt).first()
        if row is not None:
            pi = self.fetch_payment_intent(row.payment_intent_id)
        else:
            params = {"amount": deal.amount_due, "currency": deal.currency.lower(), "capture_method": "automatic",
                      "payment_method_types": self.payment_method_types,
                      "metadata": {**owner_metadata(deal), "attempt": str(attempt)}}
            pi = self._idempotent("payment_intents.create", params, f"{deal.payment_key}:pi:{attempt}",
                                  self._create_intent)
            remember_intent(deal, attempt, self.name, pi)
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
            refund = self._idempotent("refunds.create", params, idempotency_key, self._create_refund)
        except PaymentProviderError as exc:
            return GatewayResult(ok=False, message=exc.message)
        return refund_result(refund)

    def payout(self, deal, amount: int, idempotency_key: str) -> GatewayResult:
        account = deal.organization.stripe_account_id if deal.organization else None
        if not account:
            return GatewayResult(ok=True, pending=True, message="no connected account: offline payout")
        params = {"amount": amount, "currency": deal.currency.lower(), "destination": account,
                  "transfer_group": transfer_group(deal),
                  "metadata": {**owner_metadata(deal), "idempotency_key": idempotency_key}}
        try:
            row = intent_for_deal(deal, self)
            if row is not None:
                params["source_transaction"] = row.charge_id or self.fetch_payment_intent(
                    row.payment_intent_id)["latest_charge"]
            transfer = self._idempotent("transfers.create", params, idempotency_key, self._create_transfer)
        except PaymentProviderError as exc:
            return GatewayResult(ok=False, message=exc.message)
        return GatewayResult(ok=True, reference=transfer["id"], raw=transfer)

    # --- provider queries ----------------------------------------------------

    def fetch_payment_intent(self, payment_intent_id: str) -> dict:
        return dict(self._get(self.intents, payment_intent_id))

    def fetch_refund(self, refund_id: str) -> dict:
        return dict(self._get(self.refunds, refund_id))

    def list_refunds(self, payment_intent_id: str) -> list[dict]:
        self._check_up()
        return [dict(r) for r in self.refunds.values() if r["payment_intent"] == payment_intent_id]

    def fetch_transfer(self, transfer_id: str) -> dict:
        return dict(self._get(self.transfers, transfer_id))

    def list_transfers(self, transfer_group: str) -> list[dict]:
        self._check_up()
        return [dict(t) for t in self.transfers.values() if t["transfer_group"] == transfer_group]

    # --- what a buyer's browser or Stripe itself would do (test helpers) -------

    def confirm(self, payment_intent_id, payment_method="pm_card_visa") -> dict:
        """Pay with a test card: ``pm_card_visa`` succeeds, the ``DECLINING_TEST_CARDS`` are declined."""
        pi = self._get(self.intents, payment_intent_id)
        if pi["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise PaymentProviderError(f"PaymentIntent {payment_intent_id} is {pi['status']}")
        charge = {"id": _new_id("ch_"), "amount": pi["amount"], "currency": pi["currency"],
                  "payment_intent": pi["id"], "status": "succeeded"}
        if payment_method in DECLINING_TEST_CARDS:
            charge["status"] = "failed"
            pi.update(status="requires_payment_method", failure_message="Your card was declined.")
        else:
            pi.update(status="succeeded", failure_message=None)
        self.charges[charge["id"]] = charge
        pi["latest_charge"] = charge["id"]
        return dict(pi)

    def settle_refund(self, refund_id, status="succeeded") -> dict:
        """A pending refund reaches its final status (Stripe then sends ``refund.updated``)."""
        refund = self._get(self.refunds, refund_id)
        refund["status"] = status
        return dict(refund)

    @staticmethod
    def event(event_type: str, obj: dict, event_id: str | None = None) -> dict:
        return {"id": event_id or _new_id("evt_"), "object": "event", "type": event_type,
                "created": int(time.time()), "livemode": False, "data": {"object": dict(obj)}}

    @staticmethod
    def signed(event: dict, secret: str, timestamp: int | None = None) -> tuple[bytes, str]:
        """(raw body, Stripe-Signature header) for posting ``event`` to the webhook."""
        payload = json.dumps(event).encode()
        return payload, sign_payload(payload, secret, timestamp)

    # --- internals ------------------------------------------------------------

    def _check_up(self):
        if self.outage:
            raise PaymentProviderError(_("支付服务暂时不可用，请稍后重试"))

    def _get(self, table, object_id):
        self._check_up()
        try:
            return table[object_id]
        except KeyError:
            raise ProviderObjectMissing(f"No such object: {object_id}") from None

    def _idempotent(self, operation, params, key, create):
        """Stripe's rule: a key replays the first answer; the same key with other parameters is an error."""
        self._check_up()
        self.requests.append((operation, params, key))
        if key in self.idempotency:
            first_operation, first_params, response = self.idempotency[key]
            if (first_operation, first_params) != (operation, params):
                raise IdempotencyError(f"Keys for idempotent requests can only be used with the same parameters "
                                       f"they were first used with ({key})")
            return dict(response)
        response = create(params)
        self.idempotency[key] = (operation, params, dict(response))
        return response

    def _create_intent(self, params):
        if not isinstance(params["amount"], int) or params["amount"] <= 0:
            raise PaymentProviderError("amount must be a positive integer")
        pi_id = _new_id("pi_")
        pi = {"id": pi_id, "amount": params["amount"], "currency": params["currency"],
              "status": "requires_payment_method", "metadata": dict(params["metadata"]), "latest_charge": None,
              "client_secret": f"{pi_id}_secret_{secrets.token_hex(8)}", "failure_message": None}
        self.intents[pi_id] = pi
        return dict(pi)

    def _refunded(self, charge_id):
        return sum(r["amount"] for r in self.refunds.values()
                   if r["charge"] == charge_id and r["status"] in ("succeeded", "pending"))

    def _create_refund(self, params):
        pi = self._get(self.intents, params["payment_intent"])
        if pi["status"] != "succeeded":
            raise PaymentProviderError("Cannot refund a payment that has not succeeded.")
        charge = self.charges[pi["latest_charge"]]
        if params["amount"] <= 0 or self._refunded(charge["id"]) + params["amount"] > charge["amount"]:
            raise PaymentProviderError("Refund amount is greater than the unrefunded amount on the charge.")
        refund = {"id": _new_id("re_"), "amount": params["amount"], "currency": charge["currency"],
                  "status": self.refund_status, "payment_intent": pi["id"], "charge": charge["id"],
                  "metadata": dict(params["metadata"])}
        self.refunds[refund["id"]] = refund
        return dict(refund)

    def _create_transfer(self, params):
        if not str(params["destination"]).startswith("acct_"):
            raise PaymentProviderError(f"No such destination: {params['destination']}")
        source = params.get("source_transaction")
        if source is not None:
            charge = self.charges.get(source)
            if charge is None or charge["status"] != "succeeded":
                raise PaymentProviderError(f"No such charge: {source}")
            already = sum(t["amount"] for t in self.transfers.values() if t["source_transaction"] == source)
            if already + params["amount"] > charge["amount"] - self._refunded(source):
                raise PaymentProviderError("Insufficient funds on the source transaction.")
            if params["currency"] != charge["currency"]:
                raise PaymentProviderError("The transfer currency must match the source transaction.")
        transfer = {"id": _new_id("tr_"), "amount": params["amount"], "currency": params["currency"],
                    "destination": params["destination"], "transfer_group": params["transfer_group"],
                    "source_transaction": source, "reversed": False, "metadata": dict(params["metadata"])}
        self.transfers[transfer["id"]] = transfer
        return dict(transfer)

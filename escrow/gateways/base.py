"""The payment gateway interface (Warehouse's IBillingService pattern).

Implementations: ``offline.OfflineGateway`` (bank transfer into the custodial
account; an operator confirms receipts and payouts), ``stripe_gateway.StripeGateway``
(PaymentIntents, refunds, Connect transfers) and ``fake.FakeStripeGateway`` (tests,
for the paths a local stand-in cannot serve). A test checks each matches this.

A gateway only talks to the money provider. It never changes a deal's state or
books ledger entries: the deal service does that when the gateway confirms.
"""
import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from marketplace.kernel.observability import GATEWAY_CALLS

# Calls to the provider, counted per gateway, operation and outcome in ``ipmart_gateway_calls_total``
# (docs/operations.md): every implementation's methods of these names are wrapped when the class is made.
COUNTED_OPERATIONS = ("start_payment", "refund", "payout", "fetch_payment_intent", "fetch_refund",
                      "list_refunds", "fetch_transfer", "list_transfers")


@dataclass
class GatewayResult:
    ok: bool
    reference: str | None = None  # the provider's id (refund id, transfer id, bank reference)
    pending: bool = False  # the provider accepted it but has not confirmed yet
    message: str = ""
    raw: dict = field(default_factory=dict)


class PaymentGateway(ABC):
    name: str = "abstract"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for operation in COUNTED_OPERATIONS:
            method = cls.__dict__.get(operation)
            if callable(method) and not getattr(method, "_counted", False):
                setattr(cls, operation, _counted(operation, method))

    @abstractmethod
    def start_payment(self, deal, attempt: int) -> dict:
        """Begin paying ``deal``; return the instructions for the buyer (docs/api.md /deals/{id}/pay)."""

    @abstractmethod
    def refund(self, deal, amount: int, idempotency_key: str) -> GatewayResult:
        """Return ``amount`` fen of the deal's payment to the buyer."""

    @abstractmethod
    def payout(self, deal, amount: int, idempotency_key: str) -> GatewayResult:
        """Pay ``amount`` fen to the seller (Connect transfer, or an offline instruction: pending)."""


def _counted(operation, method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            result = method(self, *args, **kwargs)
        except Exception:
            GATEWAY_CALLS.labels(self.name, operation, "error").inc()
            raise
        refused = isinstance(result, GatewayResult) and not result.ok and not result.pending
        GATEWAY_CALLS.labels(self.name, operation, "refused" if refused else "ok").inc()
        return result

    call._counted = True
    return call

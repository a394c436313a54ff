"""The payment gateway interface (Warehouse's IBillingService pattern).

Implementations: ``offline.OfflineGateway`` (bank transfer into the custodial
account; an operator confirms receipts and payouts), ``stripe_gateway.StripeGateway``
(PaymentIntents, refunds, Connect transfers) and ``fake.FakeStripeGateway`` (tests,
for the paths a local stand-in cannot serve). A test checks each matches this.

A gateway only talks to the money provider. It never changes a deal's state or
books ledger entries: the deal service does that when the gateway confirms.
"""
from abc import ABC, abstractmethod
from dataclasses import dataclass, field


@dataclass
class GatewayResult:
    ok: bool
    reference: str | None = None  # the provider's id (refund id, transfer id, bank reference)
    pending: bool = False  # the provider accepted it but has not confirmed yet
    message: str = ""
    raw: dict = field(default_factory=dict)


class PaymentGateway(ABC):
    name: str = "abstract"

    @abstractmethod
    def start_payment(self, deal, attempt: int) -> dict:
        """Begin paying ``deal``; return the instructions for the buyer (API.md /deals/{id}/pay)."""

    @abstractmethod
    def refund(self, deal, amount: int, idempotency_key: str) -> GatewayResult:
        """Return ``amount`` fen of the deal's payment to the buyer."""

    @abstractmethod
    def payout(self, deal, amount: int, idempotency_key: str) -> GatewayResult:
        """Pay ``amount`` fen to the seller (Connect transfer, or an offline instruction: pending)."""

"""Offline bank transfer into the platform's custodial account (银行存管): the default gateway.

Paying: the buyer transfers the price to ``PLATFORM_BANK`` quoting the deal's payment
reference; an operator matches the bank receipt and confirms it
(``escrow.deals.confirm_offline_payment``). Payouts are instructions: the result is
pending until an operator has paid the seller and marks it paid with the bank
reference. Refunds are instructions too: the buyer enters the account the money goes back to, an
operator has the custodial bank transfer it and records the bank's reference (``escrow.refunds``);
only then is the refund booked as reaching the buyer.
"""
from marketplace.kernel.timeutil import iso

from .base import GatewayResult, PaymentGateway


class OfflineGateway(PaymentGateway):
    name = "offline"

    def __init__(self, config):
        self.bank = dict(config["PLATFORM_BANK"])

    def start_payment(self, deal, attempt: int) -> dict:
        return {
            "gateway": self.name,
            "reference": deal.payment_reference,
            "amount": deal.amount_due,
            "currency": deal.currency,
            "bank": {"account_name": self.bank["account_name"], "bank": self.bank["bank"],
                     "account_number": self.bank["account_number"]},
            "due_at": iso(deal.payment_due_at),
            "attempt": attempt,
            "instructions": (f"请通过对公账户向平台存管专户转账 {_yuan(deal.amount_due)} 元，"
                             f"并在转账附言中填写付款参考号 {deal.payment_reference}。"
                             + ("平台核对到账后保证金进入托管，您即可出价。" if deal.payment_key.startswith("deposit:")
                                else "平台核对到账后资金进入托管，卖方随即办理转让/许可手续。")),
        }

    def refund(self, deal, amount: int, idempotency_key: str) -> GatewayResult:
        # An instruction, like a payout: pending until an operator has had the bank transfer the money back
        # to the account the buyer entered and records the bank's reference (escrow.refunds).
        return GatewayResult(ok=True, reference=None, pending=True,
                             message="待运营人员按退款指令转账后登记银行流水号", raw={"idempotency_key": idempotency_key})

    def payout(self, deal, amount: int, idempotency_key: str) -> GatewayResult:
        return GatewayResult(ok=True, reference=None, pending=True,
                             message="待运营人员向卖方银行账户付款后登记", raw={"idempotency_key": idempotency_key})


def _yuan(fen):
    """Exact yuan with two decimals, as a bank form wants it (no 万 rounding, no floats)."""
    yuan, rest = divmod(int(fen), 100)
    return f"{yuan}.{rest:02d}"

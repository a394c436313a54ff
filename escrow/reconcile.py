"""Reconciliation: the ledger against what Stripe says, deal by deal; every difference listed.

For each deal paid through Stripe (or the fake), the ledger's bookings are compared
with the provider's objects, fetched fresh:

* funding — the ``deal:{id}:fund`` entry names a PaymentIntent of this deal that has
  succeeded for the same amount and currency; every succeeded PaymentIntent of the
  deal is that one (another means a missed webhook, or the buyer paid twice);
* refunds — each booked refund (``refund``) is a succeeded Stripe refund of the same
  amount; a refund still in transit (``refund_requested``) is still pending at Stripe;
  every succeeded or pending Stripe refund on the deal's payments is in the ledger, and
  the refunded total agrees;
* transfers — a payout booked with a transfer id is that Connect transfer, same amount,
  not reversed; when the seller has a connected account, every transfer in the deal's
  transfer group (``deal-{id}``) is in the ledger.

A provider object that cannot be fetched is itself a mismatch ("unverifiable"), so
nothing is silently skipped. Read-only: it books nothing and changes no deal.
"""
from dataclasses import dataclass

from sqlalchemy import or_, select

from marketplace.kernel.extensions import db

from .gateways import get_gateway
from .gateways.stripe_gateway import PaymentProviderError, ProviderObjectMissing
from .ledger import deal_balances, deal_entries
from .models import Deal
from .webhook_models import StripePaymentIntent

STRIPE_GATEWAYS = ("stripe", "fake_stripe")


@dataclass(frozen=True)
class Mismatch:
    deal_id: int
    kind: str
    detail: str

    def __str__(self):
        return f"deal {self.deal_id}: {self.kind}: {self.detail}"


@dataclass
class Report:
    deals_checked: int
    mismatches: list

    @property
    def ok(self):
        return not self.mismatches


def deals_to_check(deal_ids=None):
    query = select(Deal).where(or_(Deal.gateway.in_(STRIPE_GATEWAYS),
                                   Deal.id.in_(select(StripePaymentIntent.deal_id)))).order_by(Deal.id)
    if deal_ids:
        query = query.where(Deal.id.in_(list(deal_ids)))
    return db.session.execute(query).scalars().all()


def reconcile(deal_ids=None) -> Report:
    """Compare every Stripe deal (or those in ``deal_ids``) with the provider; return the report."""
    deals = deals_to_check(deal_ids)
    mismatches = []
    for deal in deals:
        mismatches.extend(reconcile_deal(deal))
    return Report(len(deals), mismatches)


def _money(amount, currency):
    """Exact, as a reconciliation needs it (fen shown; no 万 rounding): ``40,000.00 CNY``."""
    sign, amount = ("-" if amount < 0 else ""), abs(int(amount))
    return f"{sign}{amount // 100:,}.{amount % 100:02d} {(currency or 'CNY').upper()}"


class _Checker:
    def __init__(self, deal):
        self.deal = deal
        self.found = []
        self.rows = (db.session.query(StripePaymentIntent).filter_by(deal_id=deal.id)
                     .order_by(StripePaymentIntent.id).all())
        names = {row.gateway for row in self.rows} or {deal.gateway if deal.gateway in STRIPE_GATEWAYS else "stripe"}
        self.gateway_name = sorted(names)[0]
        self._gateway = None
        self.entries = deal_entries(deal.id)

    @property
    def gateway(self):
        if self._gateway is None:  # only a deal with something to compare needs the provider
            self._gateway = get_gateway(self.gateway_name)
        return self._gateway

    def mismatch(self, kind, detail):
        self.found.append(Mismatch(self.deal.id, kind, detail))

    def fetch(self, what, fn, object_id):
        try:
            return fn(object_id)
        except ProviderObjectMissing:
            self.mismatch(f"{what}_missing_in_stripe", f"{object_id} is booked but Stripe has no such {what}")
        except PaymentProviderError as exc:
            self.mismatch("unverifiable", f"{what} {object_id}: {exc.message}")
        return None

    def entries_of(self, kind):
        return [e for e in self.entries if e.kind == kind]

    @staticmethod
    def amount_on(entry, account_prefix):
        return sum(p.amount for p in entry.postings if p.account.code.startswith(account_prefix))

    # --- the three comparisons ---

    def payments(self):
        deal = self.deal
        intents = {}
        for row in self.rows:
            pi = self.fetch("payment_intent", self.gateway.fetch_payment_intent, row.payment_intent_id)
            if pi is not None:
                intents[pi["id"]] = pi
        succeeded = [pi for pi in intents.values() if pi["status"] == "succeeded"]
        funds = self.entries_of("fund")
        fund_ref = funds[0].reference if funds else None
        if funds:
            booked = self.amount_on(funds[0], "escrow")
            pi = intents.get(fund_ref)
            if fund_ref not in {row.payment_intent_id for row in self.rows}:
                self.mismatch("fund_not_a_deal_payment",
                              f"the ledger's funding names {fund_ref!r}, not a PaymentIntent of this deal")
            elif pi is not None and pi["status"] != "succeeded":
                self.mismatch("fund_not_paid_in_stripe",
                              f"the ledger holds {_money(booked, deal.currency)} from {fund_ref}, "
                              f"which Stripe shows as {pi['status']}")
            elif pi is not None and (pi["amount"] != booked or pi["currency"].upper() != deal.currency):
                self.mismatch("fund_amount_differs",
                              f"{fund_ref}: Stripe {_money(pi['amount'], pi['currency'])}, "
                              f"ledger {_money(booked, deal.currency)}")
        for pi in succeeded:
            if pi["id"] != fund_ref:
                self.mismatch("payment_not_in_ledger",
                              f"{pi['id']} took {_money(pi['amount'], pi['currency'])} but the ledger "
                              + ("funded the deal from " + fund_ref if fund_ref else "has no funding"))
        return succeeded

    def refunds(self, succeeded):
        deal = self.deal
        stripe_refunds = {}
        for pi in succeeded:
            try:
                for refund in self.gateway.list_refunds(pi["id"]):
                    stripe_refunds[refund["id"]] = refund
            except PaymentProviderError as exc:
                self.mismatch("unverifiable", f"refunds of {pi['id']}: {exc.message}")
        booked = {e.reference: e for e in self.entries_of("refund")}
        in_transit = self.refunds_in_transit(stripe_refunds)
        for ref, entry in booked.items():
            refund = stripe_refunds.get(ref) or self.fetch("refund", self.gateway.fetch_refund, ref)
            if refund is None:
                continue
            amount = self.amount_on(entry, "buyer_refunds")
            if refund["status"] != "succeeded":
                self.mismatch("refund_not_succeeded", f"{ref} is booked as refunded but Stripe shows "
                                                      f"{refund['status']}")
            elif refund["amount"] != amount:
                self.mismatch("refund_amount_differs", f"{ref}: Stripe {_money(refund['amount'], refund['currency'])}"
                                                       f", ledger {_money(amount, deal.currency)}")
        for ref in set(in_transit) - set(booked):
            refund = stripe_refunds.get(ref) or self.fetch("refund", self.gateway.fetch_refund, ref)
            if refund is None:
                continue
            if refund["status"] == "succeeded":
                self.mismatch("refund_not_booked", f"{ref} has succeeded at Stripe but is still in transit in the "
                                                   "ledger (missed webhook?)")
            elif refund["status"] != "pending":
                self.mismatch("refund_failed", f"{ref} is {refund['status']} at Stripe; the ledger still has it "
                                               "in transit")
        for ref, refund in stripe_refunds.items():
            if refund["status"] in ("succeeded", "pending") and ref not in booked and ref not in in_transit:
                self.mismatch("refund_not_in_ledger",
                              f"{ref} ({_money(refund['amount'], refund['currency'])}, {refund['status']}) "
                              "is not in the ledger")
        stripe_total = sum(r["amount"] for r in stripe_refunds.values() if r["status"] == "succeeded")
        # the part of a won auction's deposit refunded with the deal went back through the deposit's own payment
        ledger_total = deal_balances(deal)["refunded"] - sum(
            self.amount_on(e, "buyer_refunds") for e in self.entries_of("deposit_refund"))
        if stripe_total != ledger_total and not any(m.kind.startswith("refund") for m in self.found):
            self.mismatch("refund_total_differs", f"Stripe refunded {_money(stripe_total, deal.currency)}, "
                                                  f"the ledger {_money(ledger_total, deal.currency)}")

    def refunds_in_transit(self, stripe_refunds):
        """``{Stripe refund id: intent entry}`` for the deal's refund still in transit in the ledger. The intent
        (escrow.gateway_calls) is booked before Stripe is asked: its refund id is the deal's
        ``refund_reference`` once Stripe answered, else the Stripe refund made under its idempotency key;
        an intent Stripe has no refund for is listed (``refund_not_sent``: the sweep sends it)."""
        deal = self.deal
        settled = {e.idempotency_key for e in self.entries_of("refund")}
        found = {}
        for entry in self.entries_of("refund_requested"):
            if entry.idempotency_key.removesuffix("_requested") in settled:
                continue
            ref = entry.reference or deal.refund_reference
            if ref is None:
                key = entry.idempotency_key.removesuffix("_requested")
                sent = [r["id"] for r in stripe_refunds.values() if (r.get("metadata") or {}).get("idempotency_key") == key]
                if not sent:
                    self.mismatch("refund_not_sent", f"{_money(self.amount_on(entry, 'refunds_in_transit'), deal.currency)} "
                                                     "is in transit in the ledger but Stripe was not asked yet "
                                                     "(flask deadlines run sends it)")
                    continue
                ref = sent[0]
            found[ref] = entry
        return found

    def transfers(self):
        deal = self.deal
        payouts = self.entries_of("payout")
        booked = {e.reference: e for e in payouts if e.reference and e.reference.startswith("tr_")}
        for ref, entry in booked.items():
            transfer = self.fetch("transfer", self.gateway.fetch_transfer, ref)
            if transfer is None:
                continue
            amount = self.amount_on(entry, "seller_payouts")
            if transfer["reversed"]:
                self.mismatch("transfer_reversed", f"{ref} was reversed at Stripe; the ledger has it paid")
            elif transfer["amount"] != amount:
                self.mismatch("transfer_amount_differs", f"{ref}: Stripe {_money(transfer['amount'], 'CNY')}, "
                                                         f"ledger {_money(amount, deal.currency)}")
            if transfer["transfer_group"] not in (None, f"deal-{deal.id}"):
                self.mismatch("transfer_group_differs", f"{ref} is in group {transfer['transfer_group']!r}")
        account = deal.organization.stripe_account_id if deal.organization else None
        if account:
            try:
                in_group = self.gateway.list_transfers(f"deal-{deal.id}")
            except PaymentProviderError as exc:
                self.mismatch("unverifiable", f"transfers of deal-{deal.id}: {exc.message}")
                return
            for transfer in in_group:
                if transfer["id"] not in booked and not transfer["reversed"]:
                    self.mismatch("transfer_not_in_ledger",
                                  f"{transfer['id']} ({_money(transfer['amount'], transfer['currency'])} to "
                                  f"{transfer['destination']}) is not in the ledger")


def reconcile_deal(deal) -> list:
    checker = _Checker(deal)
    succeeded = checker.payments()
    checker.refunds(succeeded)
    checker.transfers()
    return checker.found

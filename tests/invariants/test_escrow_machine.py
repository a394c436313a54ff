"""A Hypothesis state machine over deals and the ledger: nothing is lost, nothing appears.

Random sequences of what happens to real deals, through escrow's own service functions:
buy now, start paying (bank transfer or card through the fake Stripe), card payments that
succeed or are declined, gateway events delivered late, twice, or in another order, bank
confirmations (right and wrong amounts), filing and recording the transfer (with honest and
lying uploads), acceptance, disputes and their resolution (release, refund, split), cancels,
payouts, provider outages, pending refunds that settle later, the clock moving on and the
deadline job, and parties who try what they may not do.

After every step the machine checks, for every deal it made and for the whole ledger:

* every journal entry balances (and the database holds no unbalanced one);
* no escrow, payable or in-transit balance is negative;
* a terminal deal holds nothing in escrow and owes nothing to the seller;
* money received = released to sellers (payable + paid out) + platform fees + refunded
  (+ in transit) + still held, per deal and in total;
* each state holds exactly what it should (a funded deal holds its price, a released
  deal's seller is owed the share minus the fee, a cancelled one never received money);
* the deal's events form one unbroken chain ending in its state; milestones match the state;
* the listing follows its deal (reserved while a deal runs, sold when it completes,
  back on the market when it is cancelled or refunded) and never has two live deals;
* the fake provider's refunds and transfers agree with what the ledger booked.
"""
import io
import itertools
from datetime import timedelta
from functools import partial

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from escrow import contracts, gateway_calls, payouts, recordal, refunds, trading
from escrow import deals as deal_service
from escrow.deadlines import run_deadlines
from escrow.fees import platform_fee
from escrow.gateways.fake import FakeStripeGateway
from escrow.gateways.stripe_gateway import PaymentProviderError
from escrow.models import Deal, DealEvent, JournalEntry
from escrow.payout_models import RefundInstruction
from escrow.stripe_events import apply_stripe_event
from escrow.webhook_models import StripePaymentIntent
from marketplace.kernel.errors import DomainError, NotFound
from marketplace.kernel.extensions import db
from marketplace.kernel.models import User
from marketplace.kernel.timeutil import utcnow
from tests import factories
from tests.factories import PDF, PNG

from . import checks
from .conftest import invariant_settings

HTML_AS_PDF = b"<html><script>alert(1)</script></html>"
HELD_STATES = ("funded", "transfer_filed", "recordal_submitted", "transfer_recorded", "disputed")
_refs = itertools.count(1)


@pytest.fixture
def app_config():
    # The anti-cornering limits of issue 14 (unpaid deals per buyer, unpaid strikes restricting a
    # buyer) are off here: this machine walks the escrow with two buyers who reserve and let deals
    # lapse over and over across examples; the limits have their own tests (tests/trading/test_cornering.py).
    return {"SEARCH_SYNC_ON_COMMIT": False, "MAX_OPEN_RESERVATIONS": 10**6, "UNPAID_STRIKES": 10**6}


def _details(deal, now):
    return factories.recordal_details(deal, now)


def _upload(data, name):
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type="application/pdf")


def _in(*states):
    """Precondition: some deal of this run is in one of ``states`` (so the random walk stays productive)."""
    return lambda self: any(state in states for state in self.states.values())


class EscrowMachine(RuleBasedStateMachine):
    reached = set()  # every deal state some run reached (printed at the end)
    people = None  # set once per test: hashing passwords is slow, and every example may share the same people
    vouchers = None  # voucher batches for the sellers' fees (ids), made once with the people

    def __init__(self):
        super().__init__()
        self.fake = FakeStripeGateway.instance()
        self.fake.reset()
        self.now = utcnow()
        db.session.rollback()
        self.buyers, self.sellers, self.operator, self.stranger = (
            [db.session.get(User, i) for i in ids] if isinstance(ids, list) else db.session.get(User, ids)
            for ids in self.people)
        self.deal_ids = []
        self.batches = self.vouchers
        self.used_references = []  # bank references recorded for payouts and refunds (each used once)
        self.refund_ids = []  # deals of this run with a bank refund instruction (refreshed after every step)
        self.states = {}  # deal id -> state, refreshed after every step
        self.events = []  # provider events, kept after delivery so they can arrive again, in any order

    # --- helpers ---------------------------------------------------------------------------

    def deal(self, deal_id):
        db.session.expire_all()
        return db.session.get(Deal, deal_id)

    def pick(self, data, *states, gateway=None):
        """Draw one of this run's deals in ``states`` (any deal when none are given)."""
        ids = [i for i, state in self.states.items() if not states or state in states]
        if gateway is not None:
            ids = [i for i in ids if self.gateways[i] == gateway]
        if not ids:
            return None
        return data.draw(st.sampled_from(sorted(ids)), label="deal")

    def attempt(self, step):
        """Run one act as a request would: commit on success, roll back a refused act entirely.

        While ``self.crashing``, the process "dies" right after the commit: the gateway calls queued for
        after it (escrow.gateway_calls) are never made; the intents stay for the sweep (``deadlines``)."""
        try:
            result = step()
        except DomainError as exc:
            db.session.rollback()
            return exc
        if getattr(self, "crashing", False) and db.session.info.pop(gateway_calls.QUEUE, None):
            EscrowMachine.reached.add("gateway call lost in a crash")
        db.session.commit()
        return result

    def party(self, deal, who):
        return {"buyer": deal.buyer, "seller": deal.seller, "operator": self.operator}[who]

    def snapshot(self, deal_id):
        deal = self.deal(deal_id)
        entries = db.session.execute(select(func.count(JournalEntry.id)).where(JournalEntry.deal_id == deal_id))
        events = db.session.execute(select(func.count(DealEvent.id)).where(DealEvent.deal_id == deal_id))
        return deal.state, entries.scalar_one(), events.scalar_one(), deal.version

    def track(self, deal):
        self.deal_ids.append(deal.id)
        self.states[deal.id] = deal.state
        self.gateways[deal.id] = deal.gateway

    @property
    def gateways(self):
        if not hasattr(self, "_gateways"):
            self._gateways = {}
        return self._gateways

    # --- opening and paying ------------------------------------------------------------------

    @precondition(lambda self: len(self.deal_ids) < 4)
    @rule(price=st.integers(min_value=1, max_value=5_000_000_00), buyer=st.integers(0, 1),
          seller=st.integers(0, 1), card=st.booleans(), deal_type=st.sampled_from(["assignment", "exclusive_license"]),
          signed=st.booleans())
    def buy_now(self, price, buyer, seller, card, deal_type, signed):
        listing = factories.make_listing(self.sellers[seller], price=price,
                                         deal_types=("assignment", "exclusive_license"))
        db.session.commit()
        deal = trading.buy_now(listing.id, self.buyers[buyer], deal_type, now=self.now)
        if card:
            deal.gateway = "fake_stripe"
        if signed:  # else the parties sign later (sign_contract), or never
            factories.sign_contract(deal, now=self.now)
        db.session.commit()
        assert deal.state == "awaiting_payment" and deal.price == price and deal.fee == platform_fee(price)
        assert deal.fee_bps == app_fee_bps()
        self.track(deal)

    @precondition(lambda self: self.states)
    @rule(data=st.data(), buyer=st.integers(0, 1))
    def buy_again(self, data, buyer):
        """Buy a listing again: refused while its deal runs or after it sold, taken after a cancel or refund."""
        deal = self.deal(self.pick(data))
        result = self.attempt(lambda: trading.buy_now(deal.listing_id, self.buyers[buyer], "assignment",
                                                      now=self.now))
        if deal.state not in ("cancelled", "refunded"):
            assert isinstance(result, DomainError), f"listing {deal.listing_id} sold twice"
        if isinstance(result, Deal):
            result.gateway = deal.gateway
            db.session.commit()
            self.track(result)

    @precondition(_in("awaiting_payment"))
    @rule(data=st.data(), who=st.sampled_from(["buyer", "seller", "operator"]), right_password=st.booleans())
    def sign_contract(self, data, who, right_password):
        """A party signs (a wrong password, a second signature and a non-party are refused, nothing changes)."""
        deal = self.deal(self.pick(data, "awaiting_payment"))
        password = factories.PASSWORD if right_password else factories.PASSWORD + "x"
        before = self.snapshot(deal.id), contracts.signed_roles(deal)
        result = self.attempt(lambda: contracts.sign(deal.id, self.party(deal, who), password, "10.0.0.1",
                                                     now=self.now))
        if who == "operator" or not right_password or who in before[1]:
            assert isinstance(result, DomainError), (who, right_password, before)
        if isinstance(result, DomainError):
            assert (self.snapshot(deal.id), contracts.signed_roles(self.deal(deal.id))) == before

    @precondition(_in("awaiting_payment"))
    @rule(data=st.data())
    def start_payment(self, data):
        deal = self.deal(self.pick(data, "awaiting_payment"))
        self.attempt(lambda: deal_service.start_payment(deal.id, deal.buyer, now=self.now))

    @precondition(_in("awaiting_payment"))
    @rule(data=st.data(), decline=st.booleans())
    def card_payment(self, data, decline):
        """The buyer's browser confirms the newest PaymentIntent; Stripe queues its event (delivered later)."""
        deal_id = self.pick(data, "awaiting_payment", gateway="fake_stripe")
        if deal_id is None:
            return
        self.pay_by_card(deal_id, decline)

    def pay_by_card(self, deal_id, decline):
        row = db.session.execute(select(StripePaymentIntent).where(StripePaymentIntent.deal_id == deal_id)
                                 .order_by(StripePaymentIntent.attempt.desc())).scalars().first()
        if row is None:
            deal = self.deal(deal_id)
            self.attempt(lambda: deal_service.start_payment(deal_id, deal.buyer, now=self.now))
            return
        if self.fake.outage:
            return
        try:
            pi = self.fake.confirm(row.payment_intent_id, "pm_card_chargeDeclined" if decline else "pm_card_visa")
        except PaymentProviderError:  # already succeeded
            return
        kind = "payment_intent.payment_failed" if decline else "payment_intent.succeeded"
        self.events.append(self.fake.event(kind, pi))

    @precondition(lambda self: self.events)
    @rule(data=st.data(), fresh_id=st.booleans())
    def deliver_event(self, data, fresh_id):
        """Deliver any queued event (again): duplicates, and any order. A fresh id is Stripe re-sending
        the same news as a new event."""
        event = data.draw(st.sampled_from(self.events), label="event")
        if fresh_id:
            event = self.fake.event(event["type"], event["data"]["object"])
        try:
            apply_stripe_event(event)
        except PaymentProviderError:  # the provider is down: nothing stored, Stripe retries
            db.session.rollback()
            assert self.fake.outage
            return
        db.session.commit()

    @precondition(_in("awaiting_payment", "funded"))
    @rule(data=st.data(), right_amount=st.booleans(), right_reference=st.booleans())
    def bank_confirmation(self, data, right_amount, right_reference):
        deal_id = self.pick(data, "awaiting_payment", "funded", gateway="offline")
        if deal_id is None:
            return
        self.confirm_bank_transfer(deal_id, right_amount, right_reference)

    def confirm_bank_transfer(self, deal_id, right_amount=True, right_reference=True):
        deal = self.deal(deal_id)
        amount = deal.price if right_amount else deal.price + 1
        reference = deal.payment_reference if right_reference else "IPM0000000000"
        before = self.snapshot(deal_id)
        result = self.attempt(lambda: deal_service.confirm_offline_payment(deal_id, reference, amount,
                                                                            self.operator, now=self.now))
        if not (right_amount and right_reference):
            assert isinstance(result, DomainError)
            assert self.snapshot(deal_id) == before

    @precondition(lambda self: self.states)
    @rule(data=st.data(), right_amount=st.booleans())
    def bank_api_reports_payment(self, data, right_amount):
        """A gateway reports a payment (record_gateway_payment), perhaps again, perhaps for a closed deal."""
        deal_id = self.pick(data, gateway="offline")
        if deal_id is None:
            return
        deal = self.deal(deal_id)
        amount = deal.price if right_amount else max(1, deal.price - 1)
        try:
            deal_service.record_gateway_payment(deal_id, amount, "cny", "offline", f"BANKAPI{next(_refs)}",
                                                now=self.now)
        except deal_service.PaymentMismatch:
            pass  # the deal is flagged for an operator; nothing booked (the flag is kept, as the webhook does)
        except DomainError:
            db.session.rollback()
            return
        db.session.commit()

    # --- the transfer ---------------------------------------------------------------------------

    @precondition(_in("funded"))
    @rule(data=st.data(), honest=st.booleans())
    def file_transfer(self, data, honest):
        deal = self.deal(self.pick(data, "funded"))
        document = _upload(PDF, "受理通知书.pdf") if honest else _upload(HTML_AS_PDF, "../../evil.pdf")
        before = self.snapshot(deal.id)
        result = self.attempt(lambda: deal_service.file_transfer(deal.id, deal.seller, document, now=self.now))
        if not honest:
            assert isinstance(result, DomainError) and self.snapshot(deal.id) == before
        else:
            assert not isinstance(result, DomainError), result

    @precondition(_in("transfer_filed"))
    @rule(data=st.data())
    def record_transfer(self, data):
        deal = self.deal(self.pick(data, "transfer_filed"))
        result = self.attempt(lambda: deal_service.record_transfer(deal.id, deal.seller, _upload(PNG, "notice.png"),
                                                                   now=self.now, details=_details(deal, self.now)))
        assert not isinstance(result, DomainError), result

    @precondition(_in("recordal_submitted"))
    @rule(data=st.data(), matches=st.booleans())
    def check_recordal(self, data, matches):
        """An operator compares the details with the notice: verified (inspection starts) or returned."""
        deal = self.deal(self.pick(data, "recordal_submitted"))
        step = (partial(recordal.verify, deal.id, self.operator, now=self.now) if matches
                else partial(recordal.reject, deal.id, self.operator, "发文序号与通知书不一致", now=self.now))
        result = self.attempt(step)
        assert not isinstance(result, DomainError), result

    @precondition(_in("transfer_recorded"))
    @rule(data=st.data())
    def accept(self, data):
        deal = self.deal(self.pick(data, "transfer_recorded"))
        result = self.attempt(lambda: deal_service.accept(deal.id, deal.buyer, now=self.now))
        assert not isinstance(result, DomainError), result

    # --- disputes, cancels, payouts -----------------------------------------------------------------

    @precondition(_in("funded", "transfer_filed", "transfer_recorded"))
    @rule(data=st.data(), who=st.sampled_from(["buyer", "seller"]))
    def dispute(self, data, who):
        deal = self.deal(self.pick(data, "funded", "transfer_filed", "transfer_recorded"))
        result = self.attempt(lambda: deal_service.open_dispute(deal.id, self.party(deal, who), "对方未按约定履行义务",
                                                                now=self.now))
        assert not isinstance(result, DomainError), result

    @precondition(_in("disputed"))
    @rule(data=st.data(), outcome=st.sampled_from(["release", "refund", "split"]),
          share=st.floats(min_value=0.0, max_value=1.0))
    def resolve(self, data, outcome, share):
        deal = self.deal(self.pick(data, "disputed"))
        seller_share = int(deal.price * share) if outcome == "split" else None
        before = self.snapshot(deal.id)
        result = self.attempt(lambda: deal_service.resolve_dispute(deal.id, self.operator, outcome, seller_share,
                                                                   now=self.now))
        if isinstance(result, DomainError):  # a bad share, or the provider refused the refund
            assert self.snapshot(deal.id) == before
            assert outcome == "split" and not 0 < seller_share < deal.price or self.fake.outage \
                or result.__class__.__name__ == "Conflict", result

    @precondition(_in("awaiting_payment", "funded"))
    @rule(data=st.data(), who=st.sampled_from(["buyer", "operator", "seller"]))
    def cancel(self, data, who):
        deal = self.deal(self.pick(data, "awaiting_payment", "funded"))
        before = self.snapshot(deal.id)
        result = self.attempt(lambda: deal_service.cancel_deal(deal.id, self.party(deal, who), now=self.now))
        if who == "seller":
            assert isinstance(result, DomainError)
        if isinstance(result, DomainError):
            assert self.snapshot(deal.id) == before
        elif before[0] == "funded":
            assert self.now >= deal.transfer_due_at, "a funded deal was cancelled before the transfer deadline"

    @precondition(_in("released", "completed"))
    @rule(data=st.data(), reuse=st.booleans())
    def payout_paid(self, data, reuse):
        """An operator records a bank payout: only into the payee's verified account past any hold, and never
        under a bank reference already used (issue 15); a refusal changes nothing."""
        deal_id = self.pick(data, "released", "completed")
        deal = self.deal(deal_id)
        reference = self.used_references[0] if reuse and self.used_references else f"BOC{next(_refs):08d}"
        blocked = payouts.payout_block(deal, self.now)
        before = self.snapshot(deal_id)
        result = self.attempt(lambda: deal_service.mark_payout_paid(deal_id, reference, self.operator,
                                                                    now=self.now))
        if before[0] == "released" and not isinstance(result, DomainError):
            connect = deal.organization.stripe_account_id and deal.gateway == "fake_stripe"
            assert connect or not blocked, f"deal {deal_id} paid out although: {blocked}"
            if not connect:
                assert reference not in self.used_references, f"bank reference {reference} used twice"
                self.used_references.append(reference)
                EscrowMachine.reached.add("bank payout booked")
        if isinstance(result, DomainError):
            assert self.snapshot(deal_id) == before

    # --- payout accounts and the refund queue (issue 15) ----------------------------------------------------

    @rule(seller=st.integers(0, 1), good_name=st.booleans())
    def change_payout_account(self, seller, good_name):
        """A seller changes the payout account: verification again, bank payouts held; a wrong name changes nothing."""
        user = self.sellers[seller]
        payee = payouts.payee_of_user(user)
        before = payouts.current_account(payee)
        result = self.attempt(lambda: payouts.submit_account(
            user, "中国银行", "深圳分行", f"6222{next(_refs):012d}", payee.name if good_name else "别的公司有限公司",
            now=self.now))
        if not good_name:
            assert isinstance(result, DomainError) and payouts.current_account(payee) == before

    @rule(seller=st.integers(0, 1), how=st.sampled_from(["operator", "micro_right", "micro_wrong", "reject"]))
    def verify_payout_account(self, seller, how):
        account = payouts.current_account(payouts.payee_of_user(self.sellers[seller]))
        if account is None or account.status != "pending":
            return
        if how == "operator":
            self.attempt(lambda: payouts.verify_account(account.id, self.operator, now=self.now))
        elif how == "reject":
            self.attempt(lambda: payouts.reject_account(account.id, self.operator, "户名不符", now=self.now))
        else:
            self.attempt(lambda: payouts.send_micro_deposit(account.id, self.operator, 37, now=self.now))
            amount = 37 if how == "micro_right" else 38
            try:
                payouts.confirm_micro_deposit(self.sellers[seller], amount, now=self.now)
            except DomainError:
                db.session.rollback()
                return
            db.session.commit()

    @precondition(lambda self: self.refund_ids)
    @rule(data=st.data(), good_name=st.booleans(), reuse=st.booleans())
    def bank_refund(self, data, good_name, reuse):
        """The refund queue: the buyer enters the account (in their own name), an operator records the bank
        reference; a wrong name, a reused reference or a second booking is refused and changes nothing."""
        deal_id = data.draw(st.sampled_from(sorted(self.refund_ids)), label="refund deal")
        deal = self.deal(deal_id)
        instruction = refunds.instruction_of(deal_id)
        name = payouts.payee_of_user(deal.buyer).name if good_name else "第三方有限公司"
        before = self.snapshot(deal_id)
        result = self.attempt(lambda: refunds.enter_account(deal_id, deal.buyer, "中国银行", "北京分行",
                                                            "6222021001001234", name, now=self.now))
        if not good_name or instruction.status == "paid":
            assert isinstance(result, DomainError)
        if isinstance(result, DomainError):
            assert self.snapshot(deal_id) == before
        reference = self.used_references[0] if reuse and self.used_references else f"BOCR{next(_refs):08d}"
        before = self.snapshot(deal_id)
        was = refunds.instruction_of(deal_id).status
        result = self.attempt(lambda: refunds.mark_paid(deal_id, reference, self.operator, now=self.now))
        if was != "ready" or reference in self.used_references:
            assert isinstance(result, DomainError), f"refund of deal {deal_id} booked ({was}, {reference})"
        if isinstance(result, DomainError):
            assert self.snapshot(deal_id) == before
        else:
            self.used_references.append(reference)
            EscrowMachine.reached.add("bank refund booked")

    @precondition(lambda self: self.states)
    @rule(data=st.data(), action=st.sampled_from(["accept", "confirm", "file", "record", "cancel", "resolve",
                                                  "payout", "dispute", "pay", "lapse", "expire", "sign", "verify"]),
          who=st.sampled_from(["buyer", "seller", "operator"]))
    def anything_anytime(self, data, action, who):
        """Any act on any deal by any party, whatever its state: refused (nothing changes) or a legal step."""
        deal = self.deal(self.pick(data))
        actor = self.party(deal, who)
        before = self.snapshot(deal.id)
        result = self.attempt(self.act(deal, action, actor))
        if isinstance(result, DomainError):
            assert self.snapshot(deal.id) == before

    def act(self, deal, action, actor):
        return {
            "accept": lambda: deal_service.accept(deal.id, actor, now=self.now),
            "confirm": lambda: deal_service.confirm_offline_payment(deal.id, deal.payment_reference, deal.price,
                                                                    actor, now=self.now),
            "file": lambda: deal_service.file_transfer(deal.id, actor, _upload(PDF, "r.pdf"), now=self.now),
            "record": lambda: deal_service.record_transfer(deal.id, actor, _upload(PDF, "n.pdf"), now=self.now,
                                                           details=_details(deal, self.now)),
            "sign": lambda: contracts.sign(deal.id, actor, factories.PASSWORD, "10.0.0.2", now=self.now),
            "verify": lambda: recordal.verify(deal.id, actor, now=self.now),
            "cancel": lambda: deal_service.cancel_deal(deal.id, actor, now=self.now),
            "resolve": lambda: deal_service.resolve_dispute(deal.id, actor, "refund", now=self.now),
            "payout": lambda: deal_service.mark_payout_paid(deal.id, "X1", actor, now=self.now),
            "dispute": lambda: deal_service.open_dispute(deal.id, actor, "我想要退款退款", now=self.now),
            "pay": lambda: deal_service.start_payment(deal.id, actor, now=self.now),
            "lapse": lambda: deal_service.lapse_inspection(deal.id, now=self.now),
            "expire": lambda: deal_service.expire_unpaid(deal.id, now=self.now),
        }[action]

    @precondition(lambda self: self.states)
    @rule(data=st.data(), action=st.sampled_from(["accept", "confirm", "file", "cancel", "resolve", "payout",
                                                  "dispute", "pay", "verify"]),
          who=st.sampled_from(["stranger", "wrong_party"]))
    def intruder(self, data, action, who):
        """Someone without the right tries an act: refused, and nothing changes. A stranger learns nothing (404)."""
        deal = self.deal(self.pick(data))
        if who == "stranger":
            actor = self.stranger
        else:  # a party of the deal that does not hold the role the act needs, or another buyer
            other_buyer = self.buyers[0] if deal.buyer_id != self.buyers[0].id else self.buyers[1]
            actor = {"accept": deal.seller, "confirm": deal.buyer, "file": deal.buyer, "cancel": deal.seller,
                     "resolve": deal.buyer, "payout": deal.seller, "dispute": other_buyer, "pay": deal.seller,
                     "verify": deal.seller}[action]  # a seller never verifies its own recordal
        before = self.snapshot(deal.id)
        result = self.attempt(self.act(deal, action, actor))
        assert isinstance(result, DomainError), f"{who} could {action} deal {deal.id} in {before[0]}"
        if who == "stranger" or action == "dispute":
            assert isinstance(result, NotFound), f"{who} learned deal {deal.id} exists: {result!r}"
        assert self.snapshot(deal.id) == before

    # --- innovation vouchers on the fee (finance.deal_fees), and a claim upheld after release --------------

    @precondition(lambda self: self.states)
    @rule(data=st.data(), batch=st.sampled_from([0, 0, 0, 1, 2]), who=st.sampled_from(["seller"] * 4 + ["buyer"]),
          running=st.booleans(), within=st.booleans())
    def seller_pays_fee_with_voucher(self, data, batch, who, running, within):
        """The seller sets voucher money aside for the fee (mostly a running deal, sometimes any; any batch: one
        covers deal fees, one is single-use, one covers only valuation reviews); a refusal changes nothing."""
        from finance import deal_fees

        deal_id = self.pick(data, *deal_fees.APPLICABLE_STATES) if running else None
        deal = self.deal(deal_id or self.pick(data))
        # mostly within the fee (prices are often small), sometimes anything (over the fee, the voucher, or < 1)
        amount = data.draw(st.integers(1, max(1, deal.fee // 3)) if within else st.integers(-1, 200_000_00),
                           label="amount")
        batch_id = self.batches[batch]
        before = self.snapshot(deal.id), self.voucher_snapshot()
        result = self.attempt(lambda: deal_fees.apply(self.party(deal, who), deal.id, batch_id, amount))
        if isinstance(result, DomainError):
            assert (self.snapshot(deal.id), self.voucher_snapshot()) == before
            return
        assert who == "seller" and before[0][0] in deal_fees.APPLICABLE_STATES and batch != 2, (who, before, batch)
        EscrowMachine.reached.add("fee paid by voucher")

    def voucher_snapshot(self):
        from finance.models import ServiceCharge, VoucherRedemption

        db.session.expire_all()
        return (db.session.execute(select(func.count(VoucherRedemption.id))).scalar_one(),
                db.session.execute(select(func.coalesce(func.sum(ServiceCharge.paid_by_voucher), 0))).scalar_one())

    @precondition(_in("funded", "transfer_recorded", "released", "completed"))
    @rule(data=st.data())
    def claim_upheld(self, data):
        """An operator upheld a claim to the deal's right (issue 13): a released deal's release is held back."""
        deal_id = self.pick(data, "funded", "transfer_recorded", "released", "completed")
        if self.attempt(lambda: deal_service.on_upheld_claim(deal_id, "权属异议成立", now=self.now)) is not None:
            EscrowMachine.reached.add("claim upheld")

    # --- the world around -------------------------------------------------------------------------------

    @rule(days=st.integers(min_value=1, max_value=120))
    def time_passes(self, days):
        self.now += timedelta(days=days)

    @rule()
    def deadlines(self):
        run_deadlines(self.now)
        db.session.commit()

    @rule(down=st.booleans())
    def provider_outage(self, down):
        self.fake.outage = down

    @rule(crashing=st.booleans())
    def crash_after_commit(self, crashing):
        """Issue 15: the process may die between the commit of an intent and the gateway call."""
        self.crashing = crashing

    @rule(pending=st.booleans())
    def refunds_settle_later(self, pending):
        self.fake.refund_status = "pending" if pending else "succeeded"

    @precondition(lambda self: any(r["status"] == "pending" for r in self.fake.refunds.values()))
    @rule(data=st.data(), outcome=st.sampled_from(["succeeded", "succeeded", "failed"]))
    def pending_refund_settles(self, data, outcome):
        if self.fake.outage:
            return
        refund_id = data.draw(st.sampled_from(sorted(r["id"] for r in self.fake.refunds.values()
                                                     if r["status"] == "pending")), label="refund")
        refund = self.fake.settle_refund(refund_id, outcome)
        self.events.append(self.fake.event("refund.updated", refund))
        self.events.append(self.fake.event("charge.refunded", {"id": refund["charge"],
                                                              "payment_intent": refund["payment_intent"]}))

    @precondition(_in("awaiting_payment", "funded", "transfer_filed", "recordal_submitted", "transfer_recorded",
                      "disputed", "released", "refunded"))
    @rule(data=st.data(), outcome=st.sampled_from(["release", "refund", "split"]),
          steps=st.integers(min_value=1, max_value=6))
    def happy_path(self, data, outcome, steps):
        """Walk one deal a few steps along what its parties would normally do next (keeps runs deep)."""
        deal_id = self.pick(data, "awaiting_payment", "funded", "transfer_filed", "recordal_submitted",
                            "transfer_recorded", "disputed", "released", "refunded")
        for _ in range(steps):
            deal = self.deal(deal_id)
            buyer, seller = deal.buyer, deal.seller
            if deal.state == "awaiting_payment" and not contracts.fully_signed(deal):
                self.attempt(partial(factories.sign_contract, deal, now=self.now))
            elif deal.state == "awaiting_payment" and deal.gateway == "fake_stripe":
                self.pay_by_card(deal_id, decline=False)
                if self.events:
                    self.attempt(lambda: apply_stripe_event(self.events[-1]) and None)
            elif deal.state == "awaiting_payment":
                self.confirm_bank_transfer(deal_id)
            elif deal.state == "funded":
                self.attempt(partial(deal_service.file_transfer, deal_id, seller, _upload(PDF, "f.pdf"), now=self.now))
            elif deal.state == "transfer_filed":
                self.attempt(partial(deal_service.record_transfer, deal_id, seller, _upload(PNG, "n.png"),
                                     now=self.now, details=_details(deal, self.now)))
            elif deal.state == "recordal_submitted":
                self.attempt(partial(recordal.verify, deal_id, self.operator, now=self.now))
            elif deal.state == "transfer_recorded":
                self.attempt(partial(deal_service.accept, deal_id, buyer, now=self.now))
            elif deal.state == "disputed":
                share = deal.price // 2 if outcome == "split" and deal.price > 1 else None
                how = "refund" if outcome == "split" and share is None else outcome
                self.attempt(partial(deal_service.resolve_dispute, deal_id, self.operator, how, share, now=self.now))
            elif deal.state == "released":
                self.attempt(partial(deal_service.mark_payout_paid, deal_id, f"BOC{next(_refs):08d}", self.operator,
                                     now=self.now))
                if self.deal(deal_id).state == "released":
                    return  # no payable account yet (unverified, or held after a change)
            elif deal_id in self.refund_ids and refunds.instruction_of(deal_id).status != "paid":
                self.attempt(partial(refunds.enter_account, deal_id, buyer, "中国银行", "北京分行",
                                     "6222021001001234", payouts.payee_of_user(buyer).name, now=self.now))
                if not isinstance(self.attempt(partial(refunds.mark_paid, deal_id, f"BOCR{next(_refs):08d}",
                                                       self.operator, now=self.now)), DomainError):
                    EscrowMachine.reached.add("bank refund booked")
                return
            else:
                return

    # --- invariants -----------------------------------------------------------------------------------
    # One invariant reading everything in a few grouped queries (checking after every step must stay cheap).

    @invariant()
    def nothing_lost_nothing_created(self):
        db.session.rollback()
        db.session.expire_all()
        deals = checks.check_books(self.deal_ids)
        checks.check_vouchers()
        self.states = {deal_id: deal.state for deal_id, deal in deals.items()}
        self.refund_ids = sorted(db.session.execute(select(RefundInstruction.deal_id).where(
            RefundInstruction.deal_id.in_(self.deal_ids))).scalars()) if self.deal_ids else []
        EscrowMachine.reached.update(self.states.values())
        if deals:
            self.check_provider(deals.values(), checks.balances_of(self.deal_ids))

    def check_provider(self, deals, balances):
        """What the fake Stripe refunded and transferred is exactly what the ledger booked."""
        card_deals = [d for d in deals if d.gateway == "fake_stripe"]
        if not card_deals:
            return
        intents = {}
        for deal_id, pi_id in db.session.execute(
                select(StripePaymentIntent.deal_id, StripePaymentIntent.payment_intent_id)
                .where(StripePaymentIntent.deal_id.in_([d.id for d in card_deals]))):
            intents[pi_id] = deal_id
        for deal in card_deals:
            b = balances[deal.id]
            refunds = [r for r in self.fake.refunds.values() if intents.get(r["payment_intent"]) == deal.id]
            if any(r["status"] == "failed" for r in refunds):
                assert deal.flagged, (deal.id, "a failed refund must be flagged for an operator")
            else:
                live = sum(r["amount"] for r in refunds if r["status"] in ("succeeded", "pending"))
                # a refund intent the provider has not received yet (the call failed in an outage, or never ran:
                # escrow.gateway_calls) is in transit in the ledger and nowhere at the provider
                keys = {(r.get("metadata") or {}).get("idempotency_key") for r in refunds}
                unsent = deal.refund_amount if deal.refund_status in ("requested", "failed") \
                    and f"deal:{deal.id}:refund" not in keys else 0
                assert live + unsent == b["refunded"] + b["refund_in_transit"], (deal.id, refunds, b)
            transfers = [t for t in self.fake.transfers.values() if t["transfer_group"] == f"deal-{deal.id}"]
            if deal.organization.stripe_account_id:  # paid by Connect transfer
                assert sum(t["amount"] for t in transfers) == b["paid_out"], (deal.id, transfers, b)
            else:  # no connected account: an operator pays by bank and records it
                assert transfers == [], (deal.id, transfers)


def app_fee_bps():
    from escrow.fees import current_bps

    return current_bps()


def make_people():
    """Two buyers, two sellers (the second with a Stripe Connect account), an operator and a stranger."""
    buyers = [factories.make_user("buyer"), factories.make_user("buyer")]
    sellers = [factories.make_user("seller"), factories.make_user("seller")]
    sellers[1].organization.stripe_account_id = "acct_1InvariantSeller"
    operator = factories.make_user("operator")
    stranger = factories.make_user("buyer", "seller")
    db.session.commit()
    return [u.id for u in buyers], [u.id for u in sellers], operator.id, stranger.id


def make_batches():
    """A programme's voucher batches for the sellers (Shenzhen): deal fees (large), deal fees single-use, and
    valuation reviews only (never usable on a deal's fee)."""
    from finance import vouchers

    issuer = factories.make_user("voucher_issuer", org=factories.make_org(name="深圳市创新券项目", region="guangzhou"))
    ids = []
    for services, face, single in ((["deal_fee"], 10**10, False), (["platform_fee"], 5_000_00, True),
                                   (["valuation_review"], 10**9, False)):
        ids.append(vouchers.create_batch(issuer, {
            "programme": f"创新券{len(ids)}", "face_value": face, "valid_from": "2026-01-01",
            "valid_until": "2099-12-31", "services": services, "regions": ["shenzhen"], "single_use": single}).id)
    db.session.commit()
    return ids


def _no_fsync_on_sqlite():
    """The machine commits after every step; on a throw-away SQLite file, waiting for fsync buys nothing."""
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @sa_event.listens_for(engine, "connect")
    def _fast(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    db.session.remove()
    engine.dispose()


def test_deals_and_ledger_never_lose_money(app):
    """Run the machine (bounded on SQLite; HYPOTHESIS_PROFILE=ci runs more on PostgreSQL in .ci/extra)."""
    _no_fsync_on_sqlite()
    EscrowMachine.people = make_people()
    EscrowMachine.vouchers = make_batches()
    try:
        run_state_machine_as_test(EscrowMachine, settings=invariant_settings())
    finally:
        FakeStripeGateway.instance().reset()
    print("states reached:", sorted(EscrowMachine.reached))

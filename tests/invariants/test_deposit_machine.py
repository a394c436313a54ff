"""A Hypothesis state machine over auction deposits (保证金): paid, held, applied, returned, forfeited — once.

Random sequences of what happens around auctions that ask for a deposit, through the services themselves:
bidders ask to pay (by bank transfer or by card through the fake Stripe), operators confirm bank receipts
(right and wrong), card payments succeed and their events arrive late, twice or after the close, bids with
and without a held deposit, the seller trying to pay a deposit on its own auction, withdrawals, the clock and
the deadline job (closes, returns, forfeits, payouts), winners who pay the balance (by bank or card) or walk
away, refunds of won deals, operators recording offline returns and compensation paid to sellers, provider
outages and refunds that settle later.

After every step: the deals' books (``checks.check_books``, the deposit applied to a deal counting as received)
and every deposit (``checks.check_deposits``): its money is where its status says, it was applied, returned
or forfeited exactly once, and ``auction_deposits`` holds exactly the deposits not yet settled. A refused act
changes nothing.
"""
import itertools
from datetime import timedelta

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import func, select

from escrow import deals, deposits, trading
from escrow.deadlines import run_deadlines
from escrow.gateways.fake import FakeStripeGateway
from escrow.gateways.stripe_gateway import PaymentProviderError
from escrow.models import Deal, JournalEntry
from escrow.stripe_events import apply_stripe_event
from listings import bidding, lifecycle
from listings.models import Auction, AuctionDeposit, Bid, Listing
from marketplace.kernel.errors import DomainError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import User
from marketplace.kernel.timeutil import utcnow
from tests import factories

from . import checks
from .conftest import invariant_settings
from .test_escrow_machine import _no_fsync_on_sqlite

_refs = itertools.count(1)


@pytest.fixture
def app_config():
    return {"SEARCH_SYNC_ON_COMMIT": False, "MAX_OPEN_RESERVATIONS": 10**6, "UNPAID_STRIKES": 10**6}


class DepositMachine(RuleBasedStateMachine):
    people = None
    reached = set()

    def __init__(self):
        super().__init__()
        self.fake = FakeStripeGateway.instance()
        self.fake.reset()
        self.now = utcnow()
        db.session.rollback()
        buyers, sellers, operator = self.people
        self.buyers = [db.session.get(User, i) for i in buyers]
        self.sellers = [db.session.get(User, i) for i in sellers]
        self.operator = db.session.get(User, operator)
        self.listing_ids = []
        self.events = []

    # --- helpers ----------------------------------------------------------------------------------

    def attempt(self, step):
        try:
            result = step()
        except DomainError as exc:
            db.session.rollback()
            return exc
        db.session.commit()
        return result

    def snapshot(self):
        db.session.expire_all()
        return (db.session.execute(select(func.count(JournalEntry.id))).scalar_one(),
                db.session.execute(select(func.count(Bid.id))).scalar_one(),
                db.session.execute(select(AuctionDeposit.id, AuctionDeposit.status, AuctionDeposit.version)
                                   .order_by(AuctionDeposit.id)).all())

    def deposits_in(self, *statuses, gateway=None):
        query = (select(AuctionDeposit.id).join(Auction, Auction.id == AuctionDeposit.auction_id)
                 .where(AuctionDeposit.status.in_(statuses), Auction.listing_id.in_(self.listing_ids or [0]))
                 .order_by(AuctionDeposit.id))
        if gateway == "offline":
            query = query.where(AuctionDeposit.gateway == "offline")
        elif gateway:
            query = query.where(AuctionDeposit.gateway != "offline")
        return db.session.execute(query).scalars().all()

    def deals_in(self, *states):
        return db.session.execute(select(Deal.id).where(Deal.state.in_(states), Deal.listing_id.in_(
            self.listing_ids or [0])).order_by(Deal.id)).scalars().all()

    # --- auctions and deposits -----------------------------------------------------------------------

    @precondition(lambda self: len(self.listing_ids) < 3)
    @rule(seller=st.integers(0, 1), start=st.integers(100_00, 2_000_000_00), share=st.integers(1, 2_000))
    def new_auction(self, seller, start, share):
        deposit = max(1, start * share // 10_000)
        listing = factories.make_listing(self.sellers[seller], price_mode="auction", auction={
            "start_price": start, "min_increment": max(1, start // 20), "deposit_amount": deposit,
            "ends_at": self.now + timedelta(hours=30)})
        db.session.commit()
        self.listing_ids.append(listing.id)

    @precondition(lambda self: self.listing_ids)
    @rule(data=st.data(), buyer=st.integers(0, 2), card=st.booleans())
    def ask_to_pay(self, data, buyer, card):
        listing_id = data.draw(st.sampled_from(self.listing_ids))
        before = self.snapshot()
        result = self.attempt(lambda: deposits.open_deposit(listing_id, self.buyers[buyer], now=self.now))
        if isinstance(result, DomainError):
            assert self.snapshot() == before
        elif card and result.status == "awaiting_payment" and result.gateway == "offline":
            result.gateway = "fake_stripe"
            db.session.commit()

    @precondition(lambda self: self.listing_ids)
    @rule(data=st.data(), seller=st.integers(0, 1))
    def seller_pays_own(self, data, seller):
        listing_id = data.draw(st.sampled_from(self.listing_ids))
        listing = db.session.get(Listing, listing_id)
        before = self.snapshot()
        result = self.attempt(lambda: deposits.open_deposit(listing_id, listing.seller, now=self.now))
        assert isinstance(result, DomainError) and self.snapshot() == before

    @rule(data=st.data(), decline=st.booleans())
    def pay_by_card(self, data, decline):
        ids = self.deposits_in("awaiting_payment", "lapsed", gateway="card")
        if not ids or self.fake.outage:
            return
        deposit = db.session.get(AuctionDeposit, data.draw(st.sampled_from(ids)))
        try:
            instructions = deposits.payment_instructions(deposit)
            db.session.commit()
            pi = self.fake.confirm(instructions["payment_intent_id"], "pm_card_chargeDeclined" if decline
                                   else "pm_card_visa")
        except PaymentProviderError:
            db.session.rollback()
            return
        self.events.append(self.fake.event("payment_intent.payment_failed" if decline
                                           else "payment_intent.succeeded", pi))

    @precondition(lambda self: self.events)
    @rule(data=st.data(), fresh_id=st.booleans())
    def deliver_event(self, data, fresh_id):
        event = data.draw(st.sampled_from(self.events))
        if fresh_id:
            event = self.fake.event(event["type"], event["data"]["object"])
        try:
            apply_stripe_event(event)
        except PaymentProviderError:
            db.session.rollback()
            assert self.fake.outage
            return
        db.session.commit()

    @rule(data=st.data(), right_amount=st.booleans(), right_reference=st.booleans())
    def confirm_bank_transfer(self, data, right_amount, right_reference):
        ids = self.deposits_in("awaiting_payment", "held", gateway="offline")
        if not ids:
            return
        deposit = db.session.get(AuctionDeposit, data.draw(st.sampled_from(ids)))
        amount = deposit.amount if right_amount else deposit.amount + 1
        reference = deposit.payment_reference if right_reference else "IPD0000000000"
        before = self.snapshot()
        result = self.attempt(lambda: deposits.confirm_offline_deposit(deposit.id, reference, amount, self.operator,
                                                                       now=self.now))
        if isinstance(result, DomainError):
            assert self.snapshot() == before
        else:
            assert right_amount and right_reference

    @precondition(lambda self: self.listing_ids)
    @rule(data=st.data(), buyer=st.integers(0, 2), over=st.integers(0, 3))
    def bid(self, data, buyer, over):
        listing = db.session.get(Listing, data.draw(st.sampled_from(self.listing_ids)))
        auction = listing.auction
        bidder = self.buyers[buyer]
        amount = bidding.minimum_next_bid(auction) + over * auction.min_increment
        held = deposits.deposit_of(auction, bidder)
        before = self.snapshot()
        result = self.attempt(lambda: trading.place_bid(listing.id, bidder, amount, now=self.now))
        if isinstance(result, DomainError):
            assert self.snapshot() == before
        else:
            assert held is not None and held.status == "held", "a bid without a held deposit was taken"

    @precondition(lambda self: self.listing_ids)
    @rule(data=st.data())
    def withdraw(self, data):
        listing = db.session.get(Listing, data.draw(st.sampled_from(self.listing_ids)))
        self.attempt(lambda: lifecycle.withdraw_listing(listing.seller, listing.id, now=self.now))

    @precondition(lambda self: self.listing_ids)
    @rule(data=st.data(), buyer=st.integers(0, 2), card=st.booleans())
    def bidder_takes_part(self, data, buyer, card):
        """What a keen bidder does (keeps runs deep): pay the deposit as asked, then bid the minimum."""
        listing_id = data.draw(st.sampled_from(self.listing_ids))
        bidder = self.buyers[buyer]
        deposit = self.attempt(lambda: deposits.open_deposit(listing_id, bidder, now=self.now))
        if not isinstance(deposit, DomainError):
            if card and not self.fake.outage:
                deposit.gateway = "fake_stripe"
                db.session.commit()
                instructions = deposits.payment_instructions(deposit)
                db.session.commit()
                event = self.fake.event("payment_intent.succeeded", self.fake.confirm(instructions["payment_intent_id"]))
                self.events.append(event)
                apply_stripe_event(event)
                db.session.commit()
            elif deposit.gateway == "offline":
                self.attempt(lambda: deposits.confirm_offline_deposit(
                    deposit.id, deposit.payment_reference, deposit.amount, self.operator, now=self.now))
        auction = db.session.get(Listing, listing_id).auction
        self.attempt(lambda: trading.place_bid(listing_id, bidder, bidding.minimum_next_bid(auction), now=self.now))

    @precondition(lambda self: self.listing_ids)
    @rule(data=st.data(), cards=st.tuples(st.booleans(), st.booleans()), pays=st.sampled_from(["bank", "card", "no"]))
    def auction_runs_its_course(self, data, cards, pays):
        """Two bidders take part, the auction closes, the winner pays the balance or not, deadlines run (deep runs)."""
        first, second = data.draw(st.sampled_from([(0, 1), (1, 2), (2, 0)]))
        self.bidder_takes_part(data, first, cards[0])
        self.bidder_takes_part(data, second, cards[1])
        self.deadlines(True)
        if pays != "no":
            self.winner_pays(data, pays == "card", True)
            if self.events:
                last = self.events[-1]
                self.attempt(lambda: apply_stripe_event(last) and None)
        self.deadlines(False)

    # --- the won deals --------------------------------------------------------------------------------

    @rule(data=st.data(), card=st.booleans(), right_amount=st.booleans())
    def winner_pays(self, data, card, right_amount):
        ids = self.deals_in("awaiting_payment")
        if not ids:
            return
        deal = db.session.get(Deal, data.draw(st.sampled_from(ids)))
        if card and deal.gateway == "offline" and not self.fake.outage:
            deal.gateway = "fake_stripe"
            db.session.commit()
        if deal.gateway != "offline":
            try:
                pay = deals.start_payment(deal.id, deal.buyer, now=self.now)
                db.session.commit()
                pi = self.fake.confirm(pay["payment_intent_id"])
            except (DomainError, PaymentProviderError):
                db.session.rollback()
                return
            assert pay["amount"] == deal.amount_due
            self.events.append(self.fake.event("payment_intent.succeeded", pi))
            return
        amount = deal.amount_due if right_amount else deal.price
        before = self.snapshot()
        result = self.attempt(lambda: deals.confirm_offline_payment(deal.id, deal.payment_reference, amount,
                                                                    self.operator, now=self.now))
        if isinstance(result, DomainError):
            assert self.snapshot() == before
        else:
            assert amount == deal.amount_due

    @rule(data=st.data(), who=st.sampled_from(["buyer", "operator"]))
    def cancel_deal(self, data, who):
        ids = self.deals_in("awaiting_payment", "funded")
        if not ids:
            return
        deal = db.session.get(Deal, data.draw(st.sampled_from(ids)))
        self.attempt(lambda: deals.cancel_deal(deal.id, deal.buyer if who == "buyer" else self.operator,
                                               now=self.now))

    @rule(data=st.data(), outcome=st.sampled_from(["refund", "split", "release"]))
    def dispute(self, data, outcome):
        ids = self.deals_in("funded")
        if not ids:
            return
        deal = db.session.get(Deal, data.draw(st.sampled_from(ids)))
        self.attempt(lambda: deals.open_dispute(deal.id, deal.buyer, "卖方未按约定办理变更", now=self.now))
        share = deal.price // 10 if outcome == "split" else None
        self.attempt(lambda: deals.resolve_dispute(deal.id, self.operator, outcome, share, now=self.now))

    # --- operators ---------------------------------------------------------------------------------------

    @rule(data=st.data())
    def record_offline_return(self, data):
        ids = self.deposits_in("returning", gateway="offline")
        if ids:
            deposit_id = data.draw(st.sampled_from(ids))
            result = self.attempt(lambda: deposits.record_offline_return(deposit_id, f"BOC{next(_refs):08d}",
                                                                         self.operator, now=self.now))
            assert not isinstance(result, DomainError), result

    @rule(data=st.data())
    def record_forfeit_payout(self, data):
        ids = self.deposits_in("forfeited")
        if ids:
            deposit_id = data.draw(st.sampled_from(ids))
            before = self.snapshot()
            result = self.attempt(lambda: deposits.record_forfeit_payout(deposit_id, f"ICBC{next(_refs):08d}",
                                                                         self.operator, now=self.now))
            if isinstance(result, DomainError):
                assert self.snapshot() == before

    # --- the world around ------------------------------------------------------------------------------------

    @rule(hours=st.sampled_from([1, 5, 24, 24 * 8, 24 * 100]))
    def time_passes(self, hours):
        self.now += timedelta(hours=hours)

    @rule(past_close=st.booleans())
    def deadlines(self, past_close):
        """The deadline job (with ``past_close``: after the next auction's close, so closes happen often)."""
        if past_close:
            ends = db.session.execute(select(func.min(Auction.ends_at)).where(
                Auction.listing_id.in_(self.listing_ids or [0]), Auction.closed_at.is_(None))).scalar()
            if ends is not None:
                self.now = max(self.now, ends + timedelta(minutes=1))
        run_deadlines(self.now)
        db.session.commit()

    @rule(down=st.booleans())
    def provider_outage(self, down):
        self.fake.outage = down

    @rule(pending=st.booleans())
    def refunds_settle_later(self, pending):
        self.fake.refund_status = "pending" if pending else "succeeded"

    @precondition(lambda self: any(r["status"] == "pending" for r in self.fake.refunds.values()))
    @rule(data=st.data())
    def pending_refund_settles(self, data):
        if self.fake.outage:
            return
        refund_id = data.draw(st.sampled_from(sorted(r["id"] for r in self.fake.refunds.values()
                                                     if r["status"] == "pending")))
        self.events.append(self.fake.event("refund.updated", self.fake.settle_refund(refund_id)))

    # --- invariants --------------------------------------------------------------------------------------------

    @invariant()
    def every_fen_accounted_for(self):
        db.session.rollback()
        db.session.expire_all()
        deal_ids = db.session.execute(select(Deal.id).where(Deal.listing_id.in_(self.listing_ids or [0]))).scalars()
        checks.check_books(list(deal_ids))
        found = checks.check_deposits()
        DepositMachine.reached.update(d.status for d in found.values())
        for deposit in found.values():  # what the fake provider refunded for a deposit is what the ledger says
            # (this run's deposits only: the fake provider starts empty with every example, the database does not)
            if deposit.auction.listing_id not in self.listing_ids:
                continue
            if deposit.status == "returned" and deposit.gateway != "offline":
                refund = self.fake.refunds.get(deposit.return_reference)
                assert refund is not None and refund["amount"] == deposit.amount, deposit.id


def make_people():
    buyers = [factories.make_user("buyer") for _ in range(3)]
    sellers = [factories.make_user("seller"), factories.make_user("seller")]
    sellers[1].organization.stripe_account_id = "acct_1DepositMachine"
    operator = factories.make_user("operator")
    db.session.commit()
    return [u.id for u in buyers], [u.id for u in sellers], operator.id


def test_deposits_are_applied_returned_or_forfeited_exactly_once(app):
    _no_fsync_on_sqlite()
    DepositMachine.people = make_people()
    try:
        run_state_machine_as_test(DepositMachine, settings=invariant_settings())
    finally:
        FakeStripeGateway.instance().reset()
    print("deposit statuses reached:", sorted(DepositMachine.reached))

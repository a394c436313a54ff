"""Auction deposits paid by card (FakeStripeGateway behind the same interface, events signed by the test):
the webhook holds the deposit, the close returns the losers' deposits by Stripe refund (automatic, also when
the refund settles later), a forfeited deposit is paid to the seller's connected account, a payment arriving
after the close goes straight back, and a wrong amount is flagged with nothing booked."""
from datetime import timedelta

import pytest

from escrow import contracts, deals, deposits, ledger, payouts, trading
from escrow.deadlines import run_deadlines
from escrow.models import Deal
from listings.models import AuctionDeposit
from marketplace.kernel.errors import Conflict
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow
from tests import factories
from tests.invariants.checks import check_books, check_deposits

from .conftest import WEBHOOK_SECRET

WEBHOOK = "/api/v1/webhooks/stripe"
DEPOSIT = 500_00


@pytest.fixture
def app_config():
    return {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


@pytest.fixture
def deliver(client, fake_stripe):
    def _deliver(event_type, obj):
        body, signature = fake_stripe.signed(fake_stripe.event(event_type, obj), WEBHOOK_SECRET)
        r = client.post(WEBHOOK, data=body, headers={"Stripe-Signature": signature}, content_type="application/json")
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.get_json()["outcome"]

    return _deliver


@pytest.fixture
def auction(app):
    seller = factories.make_user("seller")
    seller.organization.stripe_account_id = "acct_1DepositSeller"
    now = utcnow()
    listing = factories.make_listing(seller, price_mode="auction", auction={
        "start_price": 5_000_00, "min_increment": 500_00, "deposit_amount": DEPOSIT,
        "ends_at": now + timedelta(hours=1)})
    db.session.commit()
    return listing


def _card_deposit(listing, bidder, fake, deliver, amount_ok=True):
    deposit = deposits.open_deposit(listing.id, bidder)
    deposit.gateway = "fake_stripe"
    db.session.commit()
    instructions = deposits.payment_instructions(deposit)
    db.session.commit()
    assert instructions["amount"] == DEPOSIT and instructions["deposit_id"] == deposit.id
    pi = fake.confirm(instructions["payment_intent_id"])
    if not amount_ok:
        pi = dict(pi, amount=DEPOSIT - 1)
        fake.intents[pi["id"]]["amount"] = DEPOSIT - 1
    return deposit, deliver("payment_intent.succeeded", pi)


def _fresh(deposit):
    db.session.expire_all()
    return db.session.get(AuctionDeposit, deposit.id)


def test_webhook_holds_a_card_deposit_once(auction, fake_stripe, deliver):
    bidder = factories.make_user("buyer")
    db.session.commit()
    deposit, outcome = _card_deposit(auction, bidder, fake_stripe, deliver)
    assert outcome == "deposit held" and _fresh(deposit).status == "held"
    pi_id = fake_stripe.requests[0][1]["metadata"]
    assert pi_id == {"deposit_id": str(deposit.id), "attempt": "1"}
    assert fake_stripe.requests[0][2] == f"deposit:{deposit.id}:pi:1"
    intent = next(iter(fake_stripe.intents.values()))
    assert deliver("payment_intent.succeeded", intent) == "already held"  # the same news again: nothing twice
    assert ledger.account_balances()["auction_deposits"]["CNY"] == DEPOSIT
    check_deposits()


def test_a_wrong_amount_is_flagged_and_nothing_booked(auction, fake_stripe, deliver):
    bidder = factories.make_user("buyer")
    db.session.commit()
    deposit, outcome = _card_deposit(auction, bidder, fake_stripe, deliver, amount_ok=False)
    assert outcome.startswith("flagged")
    deposit = _fresh(deposit)
    assert deposit.status == "awaiting_payment" and deposit.flagged
    assert "auction_deposits" not in ledger.account_balances()


def test_close_refunds_the_loser_by_stripe_and_the_defaulting_winner_pays_the_seller(auction, fake_stripe, deliver):
    loser, winner = factories.make_user("buyer"), factories.make_user("buyer")
    db.session.commit()
    mine, _ = _card_deposit(auction, loser, fake_stripe, deliver)
    theirs, _ = _card_deposit(auction, winner, fake_stripe, deliver)
    trading.place_bid(auction.id, loser, 5_000_00)
    trading.place_bid(auction.id, winner, 5_500_00)
    db.session.commit()
    fake_stripe.refund_status = "pending"  # the loser's refund settles later, by webhook
    report = run_deadlines(utcnow() + timedelta(hours=2))
    assert report["auctions_sold"] == 1 and report["deposits_returned"] == 1
    mine = _fresh(mine)
    assert mine.status == "returning" and mine.return_reference
    refund = fake_stripe.settle_refund(mine.return_reference)
    assert deliver("refund.updated", refund) == "deposit returned"
    assert _fresh(mine).status == "returned"
    assert refund["amount"] == DEPOSIT and refund["metadata"]["idempotency_key"] == f"deposit:{mine.id}:return"
    # The winner never pays the balance: the deposit is forfeited and transferred to the seller's account.
    deal = db.session.query(Deal).filter_by(listing_id=auction.id).one()
    contracts.sign(deal.id, deal.seller, factories.PASSWORD, "127.0.0.1")  # the winner alone fails to act
    db.session.commit()
    report = run_deadlines(deal.payment_due_at + timedelta(minutes=1))
    assert report["deals_cancelled_unpaid"] == 1 and report["deposit_forfeits_paid"] == 1
    theirs = _fresh(theirs)
    assert theirs.status == "forfeited" and theirs.payout_status == "paid"
    transfer = fake_stripe.fetch_transfer(theirs.payout_reference)
    assert transfer["amount"] == theirs.payout_amount and transfer["transfer_group"] == f"deposit-{theirs.id}"
    assert run_deadlines(deal.payment_due_at + timedelta(days=1))["deposit_forfeits_paid"] == 0  # never twice
    check_books([deal.id])
    check_deposits()


def test_winner_pays_the_balance_by_card_and_a_refund_returns_both_payments(auction, fake_stripe, deliver):
    winner = factories.make_user("buyer")
    db.session.commit()
    theirs, _ = _card_deposit(auction, winner, fake_stripe, deliver)
    trading.place_bid(auction.id, winner, 5_000_00)
    db.session.commit()
    run_deadlines(utcnow() + timedelta(hours=2))
    deal = db.session.query(Deal).filter_by(listing_id=auction.id).one()
    deal.gateway = "fake_stripe"
    factories.sign_contract(deal)
    db.session.commit()
    pay = deals.start_payment(deal.id, winner)
    db.session.commit()
    assert pay["amount"] == 5_000_00 - DEPOSIT  # the balance only
    assert deliver("payment_intent.succeeded", fake_stripe.confirm(pay["payment_intent_id"])) == "funded"
    deal = db.session.get(Deal, deal.id)
    assert ledger.deal_balances(deal)["escrow"] == deal.price and _fresh(theirs).status == "applied"
    operator = factories.make_user("operator")
    db.session.commit()
    deals.open_dispute(deal.id, winner, "权利存在未披露的质押")
    deals.resolve_dispute(deal.id, operator, "refund")
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    assert deal.state == "refunded"
    refunded = sorted(r["amount"] for r in fake_stripe.refunds.values())
    assert refunded == sorted([deal.amount_due, DEPOSIT])  # each payment back through itself
    from escrow.reconcile import reconcile_deal

    assert reconcile_deal(deal) == []  # the deal's own payment and refund agree with Stripe
    check_books([deal.id])
    check_deposits()


def test_a_card_deposit_paid_after_the_close_goes_straight_back(auction, fake_stripe, deliver):
    bidder = factories.make_user("buyer")
    db.session.commit()
    deposit = deposits.open_deposit(auction.id, bidder)
    deposit.gateway = "fake_stripe"
    db.session.commit()
    instructions = deposits.payment_instructions(deposit)
    db.session.commit()
    run_deadlines(utcnow() + timedelta(hours=2))  # closes unsold: the unpaid deposit lapses
    assert _fresh(deposit).status == "lapsed"
    pi = fake_stripe.confirm(instructions["payment_intent_id"])
    assert deliver("payment_intent.succeeded", pi).startswith("deposit held and returned")
    assert _fresh(deposit).status == "returning"
    run_deadlines(utcnow() + timedelta(hours=3))
    assert _fresh(deposit).status == "returned"
    check_deposits()


def test_deposit_by_bank_balance_by_card_each_part_returns_through_its_own_way(auction, fake_stripe, deliver):
    """Issue 15, the mixed case: the deposit was paid by bank transfer and the balance by card. A refund sends
    the card part back through Stripe and the deposit part through the operators' refund queue (the same queue
    as a deal's bank refund); nothing stays in transit once the operator records the bank's reference."""
    from escrow import refunds
    from escrow.payout_models import RefundInstruction

    winner = factories.make_user("buyer")
    operator = factories.make_user("operator")
    db.session.commit()
    deposit = deposits.open_deposit(auction.id, winner)
    db.session.commit()
    assert deposit.gateway == "offline"
    deposits.confirm_offline_deposit(deposit.id, deposit.payment_reference, DEPOSIT, operator)
    db.session.commit()
    trading.place_bid(auction.id, winner, 5_000_00)
    db.session.commit()
    run_deadlines(utcnow() + timedelta(hours=2))
    deal = db.session.query(Deal).filter_by(listing_id=auction.id).one()
    deal.gateway = "fake_stripe"
    factories.sign_contract(deal)
    db.session.commit()
    pay = deals.start_payment(deal.id, winner)
    db.session.commit()
    assert deliver("payment_intent.succeeded", fake_stripe.confirm(pay["payment_intent_id"])) == "funded"
    deals.open_dispute(deal.id, winner, "权利存在未披露的质押")
    deals.resolve_dispute(deal.id, operator, "refund")
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    balances = ledger.deal_balances(deal)
    assert deal.state == "refunded" and deal.refund_status == "refunded"
    assert [r["amount"] for r in fake_stripe.refunds.values()] == [deal.amount_due]  # the card part by Stripe
    instruction = refunds.instruction_of(deal.id)  # the deposit part: in the refund queue, visible on the deal
    assert instruction.amount == DEPOSIT and refunds.is_deposit_part(instruction)
    assert instruction in refunds.queue() and refunds.serialize(instruction)["part"] == "deposit"
    assert balances["refund_in_transit"] == DEPOSIT and balances["refunded"] == deal.amount_due
    check_books([deal.id])
    # the operator cannot book it before the buyer's account is in; then books it with the bank's reference
    with pytest.raises(Conflict):
        refunds.mark_paid(deal.id, "BOCR20261205001", operator)
    db.session.rollback()
    refunds.enter_account(deal.id, winner, "中国银行", "北京分行", "6222021001001234",
                          payouts.payee_of_user(winner).name)
    refunds.mark_paid(deal.id, "BOCR20261205001", operator)
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    balances = ledger.deal_balances(deal)
    assert balances["refund_in_transit"] == 0 and balances["refunded"] == deal.price
    assert db.session.query(RefundInstruction).filter_by(deal_id=deal.id).one().status == "paid"
    check_books([deal.id])
    check_deposits()


def test_the_bidder_pays_a_card_deposit_on_the_payment_element_in_either_language(
        client, as_user, auction, fake_stripe):
    bidder = factories.make_user("buyer")
    db.session.commit()
    deposit = deposits.open_deposit(auction.id, bidder)
    deposit.gateway = "fake_stripe"
    db.session.commit()
    as_user(bidder)
    page = client.get(f"/deposits/{deposit.id}")
    assert page.status_code == 200 and "payment-element" not in page.get_data(as_text=True)

    page = client.post(f"/deposits/{deposit.id}/pay/card")
    html = page.get_data(as_text=True)
    intent = next(iter(fake_stripe.intents.values()))
    assert page.status_code == 200 and intent["amount"] == DEPOSIT
    assert f'data-client-secret="{intent["client_secret"]}"' in html and 'data-locale="zh"' in html
    assert "确认支付 ¥500.00" in html or "确认支付 ¥500" in html
    assert f'data-return-url="http://localhost/deposits/{deposit.id}"' in html

    html = client.post(f"/deposits/{deposit.id}/pay/card?lang=en").get_data(as_text=True)
    assert 'data-locale="en"' in html and "Pay ¥500" in html

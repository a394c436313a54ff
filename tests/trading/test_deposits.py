"""Auction deposits (保证金): each rule allowed and refused; a refusal changes nothing and moves no money.

The rule (docs/trading.md "Auction deposits"): at most 20 % of the start price; paid before the first bid;
the winner's deposit counts towards the price, the others return at the close; a winner who does not pay in
time forfeits it (the seller gets it minus the platform fee); a failed or withdrawn auction returns them all.
"""
from datetime import timedelta

import pytest

from escrow import contracts, deals, deposits, ledger, refunds, trading
from escrow.deadlines import run_deadlines
from escrow.fees import platform_fee
from escrow.models import Deal, JournalEntry
from listings import bidding, lifecycle
from listings.models import AuctionDeposit, Bid
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from tests import factories
from tests.invariants.checks import check_books, check_deposits

DEPOSIT = 100_00  # ¥100 on a ¥1,000 start price (10 %)


@pytest.fixture
def deposit_auction(seller, now):
    """A published auction asking a ¥100 deposit: start ¥1,000, increment ¥100, reserve ¥2,000, closing in an hour."""
    listing = factories.make_listing(seller, price_mode="auction", auction={
        "start_price": 1_000_00, "min_increment": 100_00, "reserve_price": 2_000_00, "deposit_amount": DEPOSIT,
        "ends_at": now + timedelta(hours=1)})
    db.session.commit()
    return listing


def _money_state():
    """Everything a refusal must leave as it was: deposits, ledger entries, bids."""
    db.session.expire_all()
    return (db.session.query(AuctionDeposit.id, AuctionDeposit.status, AuctionDeposit.version).order_by(
                AuctionDeposit.id).all(),
            db.session.query(JournalEntry).count(), db.session.query(Bid).count())


def _pay(listing, bidder, operator, now):
    """Open and confirm (bank transfer) ``bidder``'s deposit; returns it held."""
    deposit = deposits.open_deposit(listing.id, bidder, now=now)
    db.session.commit()
    deposits.confirm_offline_deposit(deposit.id, deposit.payment_reference, deposit.amount, operator, now=now)
    db.session.commit()
    return deposit


def _balance(code):
    return ledger.account_balances().get(code, {}).get("CNY", 0)


# --- the seller sets it ---------------------------------------------------------------------------

def test_deposit_is_bounded_by_a_fifth_of_the_start_price(app):
    from listings.validation import _parse_auction
    from marketplace.kernel.timeutil import utcnow

    ends = (utcnow() + timedelta(days=2)).isoformat()
    fields = {}
    values = _parse_auction({"start_price": 1_000_00, "min_increment": 100, "ends_at": ends,
                             "deposit_amount": 200_00}, fields, utcnow())
    assert fields == {} and values["deposit_amount"] == 200_00
    fields = {}
    _parse_auction({"start_price": 1_000_00, "min_increment": 100, "ends_at": ends, "deposit_amount": 200_01},
                   fields, utcnow())
    assert "auction.deposit_amount" in fields
    for bad in (0, -5, "abc", 1.5, 10**14):
        fields = {}
        _parse_auction({"start_price": 1_000_00, "min_increment": 100, "ends_at": ends, "deposit_amount": bad},
                       fields, utcnow())
        assert "auction.deposit_amount" in fields, bad


def test_the_rule_is_shown_on_the_auction_page_and_in_the_api(client, deposit_auction):
    page = client.get(f"/listings/{deposit_auction.id}").get_data(as_text=True)
    assert "保证金规则" in page and "¥100" in page
    to_seller, fee = deposits.forfeit_split(DEPOSIT)
    assert fee == platform_fee(DEPOSIT) and to_seller == DEPOSIT - fee
    body = client.get(f"/api/v1/listings/{deposit_auction.id}").get_json()
    auction = body.get("auction") or body["listing"]["auction"]
    assert auction["deposit_amount"] == DEPOSIT
    assert auction["deposit_forfeit"] == {"to_seller": to_seller, "platform_fee": fee}


# --- bids need a held deposit -----------------------------------------------------------------------

def test_a_bid_without_a_held_deposit_is_refused_and_nothing_changes(deposit_auction, buyers, now):
    before = _money_state()
    with pytest.raises(bidding.DepositRequired) as exc:
        trading.place_bid(deposit_auction.id, buyers[0], 1_000_00, now=now)
    assert exc.value.status == 409 and exc.value.code == "deposit_required"
    assert exc.value.extra["deposit_amount"] == DEPOSIT
    db.session.rollback()
    deposits.open_deposit(deposit_auction.id, buyers[0], now=now)  # asked for, not paid: still refused
    db.session.commit()
    with pytest.raises(bidding.DepositRequired):
        trading.place_bid(deposit_auction.id, buyers[0], 1_000_00, now=now)
    db.session.rollback()
    assert _money_state()[1:] == before[1:]


def test_a_held_deposit_lets_the_bidder_bid(deposit_auction, buyers, operator, now):
    _pay(deposit_auction, buyers[0], operator, now)
    bid = trading.place_bid(deposit_auction.id, buyers[0], 1_000_00, now=now)
    assert bid.amount == 1_000_00
    assert _balance("auction_deposits") == DEPOSIT


def test_an_auction_without_a_deposit_takes_bids_as_before(auction_listing, buyers, now):
    assert trading.place_bid(auction_listing.id, buyers[0], 1_000_00, now=now).amount == 1_000_00


def test_api_bid_without_deposit_is_a_409_deposit_required(client, deposit_auction, buyers):
    from tests.trading.conftest import api

    before = _money_state()
    r = api(client, buyers[0], "post", f"/api/v1/listings/{deposit_auction.id}/bids", {"amount": 1_000_00})
    assert r.status_code == 409
    assert r.get_json()["error"]["code"] == "deposit_required"
    assert r.get_json()["error"]["deposit_amount"] == DEPOSIT
    assert _money_state() == before


def test_html_bid_without_deposit_is_refused_clearly(client, deposit_auction, buyers):
    from tests.conftest import login

    login(client, buyers[0])
    before = _money_state()
    r = client.post(f"/listings/{deposit_auction.id}/bid", data={"amount": "1000"}, follow_redirects=True)
    text = r.get_data(as_text=True)
    assert "须先交纳保证金" in text
    assert _money_state() == before
    assert "交纳保证金" in client.get(f"/listings/{deposit_auction.id}").get_data(as_text=True)


# --- paying it: refused cases ------------------------------------------------------------------------

def test_paying_twice_is_refused(deposit_auction, buyers, operator, now):
    _pay(deposit_auction, buyers[0], operator, now)
    before = _money_state()
    with pytest.raises(deposits.DepositError) as exc:
        deposits.open_deposit(deposit_auction.id, buyers[0], now=now)
    assert exc.value.status == 409
    db.session.rollback()
    assert _money_state() == before


def test_a_deposit_on_an_auction_that_needs_none_is_refused(auction_listing, buyers, now):
    before = _money_state()
    with pytest.raises(deposits.DepositError):
        deposits.open_deposit(auction_listing.id, buyers[0], now=now)
    db.session.rollback()
    assert _money_state() == before


def test_a_deposit_on_an_ended_auction_is_refused(deposit_auction, buyers, now):
    before = _money_state()
    with pytest.raises(deposits.DepositError):
        deposits.open_deposit(deposit_auction.id, buyers[0], now=now + timedelta(hours=2))
    db.session.rollback()
    assert _money_state() == before


def test_the_seller_side_cannot_pay_a_deposit_on_its_own_auction(deposit_auction, seller, now):
    colleague = factories.make_user("buyer", "seller", org=seller.organization)
    db.session.commit()
    before = _money_state()
    for who in (seller, colleague):
        with pytest.raises(PermissionDenied):
            deposits.open_deposit(deposit_auction.id, who, now=now)
        db.session.rollback()
    assert _money_state() == before


@pytest.mark.parametrize("wrong", ["reference", "amount", "not_operator", "after_close"])
def test_operator_confirmation_is_checked_and_a_refusal_changes_nothing(deposit_auction, buyers, operator, now, wrong):
    deposit = deposits.open_deposit(deposit_auction.id, buyers[0], now=now)
    db.session.commit()
    before = _money_state()
    reference, amount, actor, when = deposit.payment_reference, DEPOSIT, operator, now
    if wrong == "reference":
        reference = "IPD0000000000"
    elif wrong == "amount":
        amount = DEPOSIT - 1
    elif wrong == "not_operator":
        actor = buyers[1]
    else:
        when = now + timedelta(hours=2)
    with pytest.raises((ValidationError, PermissionDenied, Conflict)):
        deposits.confirm_offline_deposit(deposit.id, reference, amount, actor, now=when)
    db.session.rollback()
    assert _money_state() == before


def test_a_repeated_confirmation_books_nothing_twice(deposit_auction, buyers, operator, now):
    deposit = _pay(deposit_auction, buyers[0], operator, now)
    before = _money_state()
    deposits.confirm_offline_deposit(deposit.id, deposit.payment_reference, DEPOSIT, operator, now=now)
    db.session.commit()
    assert _money_state()[1] == before[1]


# --- the close ---------------------------------------------------------------------------------------

def _won(listing, buyers, operator, now, sign="seller"):
    """Two bidders pay deposits and bid; buyers[1] wins at ¥2,000. Returns the deal, its contract signed by
    ``sign``: "seller" (the default: only the winner's own steps are left), "both", or None."""
    for b in buyers[:2]:
        _pay(listing, b, operator, now)
    trading.place_bid(listing.id, buyers[0], 1_000_00, now=now)
    trading.place_bid(listing.id, buyers[1], 2_000_00, now=now)
    db.session.commit()
    trading.close_auction(listing.id, now + timedelta(hours=2))
    db.session.commit()
    deal = db.session.query(Deal).filter_by(listing_id=listing.id).one()
    if sign == "both":
        factories.sign_contract(deal)
    elif sign == "seller":
        contracts.sign(deal.id, deal.seller, factories.PASSWORD, "127.0.0.1")
    db.session.commit()
    return deal


def test_the_winners_deposit_counts_towards_the_price_and_the_loser_gets_theirs_back(
        deposit_auction, buyers, operator, now):
    deal = _won(deposit_auction, buyers, operator, now, sign="both")
    assert deal.buyer_id == buyers[1].id and deal.price == 2_000_00
    assert deal.deposit_credit == DEPOSIT and deal.amount_due == 2_000_00 - DEPOSIT
    mine, theirs = (deposits.deposit_of(deposit_auction.auction, b) for b in buyers[:2])
    assert theirs.status == "held" and theirs.deal_id == deal.id
    assert mine.status == "returning"  # a bank deposit: an instruction for an operator
    assert mine in deposits.operator_queue()["to_return"]
    # issue 15: one refund queue: the return is an instruction there, beside the deals' bank refunds
    from escrow import refunds
    from marketplace.web.operator import queue_counts

    instruction = refunds.instruction_of_deposit(mine.id)
    assert instruction in refunds.queue() and instruction.amount == DEPOSIT and instruction.status == "ready"
    assert queue_counts()["refunds"] == 1 and queue_counts()["deposits"] == 0  # the console counts it once
    with pytest.raises(ValidationError):  # a return needs the bank's reference
        deposits.record_offline_return(mine.id, " ", operator)
    db.session.rollback()
    deposits.record_offline_return(mine.id, "BOC20261204001", operator)
    db.session.commit()
    assert mine.status == "returned"
    instruction = refunds.instruction_of_deposit(mine.id)
    assert instruction.status == "paid" and instruction.bank_reference == "BOC20261204001"
    assert instruction not in refunds.queue()
    with pytest.raises(Conflict):  # returned once
        deposits.record_offline_return(mine.id, "BOC20261204002", operator)
    db.session.rollback()
    # The winner pays the balance, not the price: the deposit joins it in the deal's escrow.
    with pytest.raises(ValidationError):
        deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, operator)
    db.session.rollback()
    deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.amount_due, operator)
    db.session.commit()
    db.session.refresh(theirs)
    assert theirs.status == "applied"
    assert ledger.deal_balances(deal)["escrow"] == deal.price
    assert ledger.deal_balances(deal)["received"] == deal.price
    assert _balance("auction_deposits") == 0
    check_books([deal.id])
    check_deposits()


def test_a_winner_who_does_not_pay_in_time_forfeits_the_deposit_to_the_seller(
        deposit_auction, buyers, operator, now):
    deal = _won(deposit_auction, buyers, operator, now)
    report = run_deadlines(deal.payment_due_at + timedelta(minutes=1))
    assert report["deals_cancelled_unpaid"] == 1
    db.session.expire_all()
    deal = db.session.get(Deal, deal.id)
    theirs = deposits.deposit_of(deposit_auction.auction, buyers[1])
    assert deal.state == "cancelled"
    assert theirs.status == "forfeited"
    to_seller, fee = deposits.forfeit_split(DEPOSIT)
    assert (theirs.payout_amount, theirs.forfeit_fee) == (to_seller, fee)
    assert _balance("seller_payable") == to_seller and _balance("platform_revenue") == fee
    check_books([deal.id])
    check_deposits()
    # Paid out to the seller by an operator, once.
    assert theirs in deposits.operator_queue()["to_pay"]
    deposits.record_forfeit_payout(theirs.id, "ICBC20261211007", operator)
    db.session.commit()
    assert theirs.payout_status == "paid" and _balance("seller_payouts") == to_seller
    with pytest.raises(Conflict):
        deposits.record_forfeit_payout(theirs.id, "ICBC20261211008", operator)
    db.session.rollback()
    check_deposits()


def test_a_lapse_the_seller_caused_returns_the_deposit(deposit_auction, buyers, operator, now):
    """The seller never signed the contract, so the winner could not pay: not the winner's default."""
    deal = _won(deposit_auction, buyers, operator, now, sign=None)
    run_deadlines(deal.payment_due_at + timedelta(minutes=1))
    db.session.expire_all()
    theirs = deposits.deposit_of(deposit_auction.auction, buyers[1])
    assert db.session.get(Deal, deal.id).state == "cancelled"
    assert theirs.status == "returning" and _balance("seller_payable") == 0 and _balance("platform_revenue") == 0
    check_deposits()


def test_an_operator_cancelling_the_unpaid_deal_returns_the_deposit(deposit_auction, buyers, operator, now):
    deal = _won(deposit_auction, buyers, operator, now)
    deals.cancel_deal(deal.id, operator, "卖方申请撤销")
    db.session.commit()
    assert deposits.deposit_of(deposit_auction.auction, buyers[1]).status == "returning"
    check_deposits()


def test_the_winner_cancelling_the_unpaid_deal_forfeits_the_deposit(deposit_auction, buyers, operator, now):
    deal = _won(deposit_auction, buyers, operator, now)
    deals.cancel_deal(deal.id, buyers[1])
    db.session.commit()
    assert deposits.deposit_of(deposit_auction.auction, buyers[1]).status == "forfeited"
    check_deposits()


def test_an_unsold_auction_returns_every_deposit(deposit_auction, buyers, operator, now):
    for b in buyers[:2]:
        _pay(deposit_auction, b, operator, now)
    trading.place_bid(deposit_auction.id, buyers[0], 1_000_00, now=now)  # below the reserve
    deposits.open_deposit(deposit_auction.id, buyers[2], now=now)  # never paid
    db.session.commit()
    assert trading.close_auction(deposit_auction.id, now + timedelta(hours=2)) == "unsold"
    db.session.commit()
    statuses = sorted(deposits.deposit_of(deposit_auction.auction, b).status for b in buyers)
    assert statuses == ["lapsed", "returning", "returning"]
    check_deposits()


def test_a_withdrawn_auction_returns_every_deposit(deposit_auction, seller, buyers, operator, now):
    _pay(deposit_auction, buyers[0], operator, now)
    lifecycle.withdraw_listing(seller, deposit_auction.id, now=now)
    db.session.commit()
    assert deposits.deposit_of(deposit_auction.auction, buyers[0]).status == "returning"
    with pytest.raises(Conflict):  # and no one pays a deposit on it any more
        deposits.open_deposit(deposit_auction.id, buyers[1], now=now)
    db.session.rollback()
    check_deposits()


def test_a_refund_of_the_won_deal_returns_the_deposit_part_through_its_own_payment(
        deposit_auction, buyers, operator, now):
    deal = _won(deposit_auction, buyers, operator, now, sign="both")
    deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.amount_due, operator, now=now)
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    deals.cancel_deal(deal.id, buyers[1], now=deal.transfer_due_at + timedelta(days=1))  # the seller missed the deadline
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    theirs = deposits.deposit_of(deposit_auction.auction, buyers[1])
    # Both paid by bank transfer: one refund instruction for the whole price (deposit and balance).
    assert deal.state == "refunded" and deal.refund_amount == deal.price
    assert theirs.status == "applied" and not theirs.refunded_with_deal
    assert ledger.deal_balances(deal)["refund_in_transit"] == deal.price
    refunds.enter_account(deal.id, buyers[1], "中国银行", "深圳分行", "6222020200112233", buyers[1].name)
    refunds.mark_paid(deal.id, "BOC20261211099", operator)
    db.session.commit()
    assert ledger.deal_balances(deal)["refunded"] == deal.price
    check_books([deal.id])
    check_deposits()


def test_strangers_see_no_deposit(client, deposit_auction, buyers, operator, now):
    from tests.conftest import login

    deposit = _pay(deposit_auction, buyers[0], operator, now)
    with pytest.raises(NotFound):
        deposits.get_deposit_for(deposit.id, buyers[1])
    login(client, buyers[1])
    hidden = client.get(f"/deposits/{deposit.id}")
    assert hidden.status_code == 404 and "<h1>竞拍保证金" not in hidden.get_data(as_text=True)
    login(client, buyers[0])  # the payer sees it
    assert "<h1>竞拍保证金" in client.get(f"/deposits/{deposit.id}").get_data(as_text=True)


def test_api_pays_a_deposit_then_bids_and_refuses_a_second_payment(client, deposit_auction, buyers, operator):
    from tests.trading.conftest import api

    r = api(client, buyers[0], "post", f"/api/v1/listings/{deposit_auction.id}/deposit")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["deposit"]["status"] == "awaiting_payment" and body["deposit"]["amount"] == DEPOSIT
    assert body["payment"]["gateway"] == "offline" and body["payment"]["reference"].startswith("IPD")
    assert body["payment"]["amount"] == DEPOSIT
    deposit_id = body["deposit"]["id"]
    deposits.confirm_offline_deposit(deposit_id, body["payment"]["reference"], DEPOSIT, operator)
    db.session.commit()
    r = api(client, buyers[0], "get", f"/api/v1/listings/{deposit_auction.id}/deposit")
    assert r.get_json()["deposit"]["status"] == "held"
    before = _money_state()
    r = api(client, buyers[0], "post", f"/api/v1/listings/{deposit_auction.id}/deposit")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "deposit_conflict"
    assert _money_state() == before
    r = api(client, buyers[0], "post", f"/api/v1/listings/{deposit_auction.id}/bids", {"amount": 1_000_00})
    assert r.status_code == 201
    assert api(client, buyers[1], "get", f"/api/v1/listings/{deposit_auction.id}/deposit").status_code == 404

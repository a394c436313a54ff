"""Upholding a claim stops the deals on that right (issue 13): unpaid deals are cancelled, paid ones go to
``disputed`` so the escrow holds the money until an operator decides, the listings offering the right
come off the market, and buyers, sellers and bidders are told. Money stays put: the ledger is unchanged."""
from datetime import timedelta

import pytest

from escrow import deals, ledger, trading
from escrow.models import Deal, DealEvent, JournalEntry
from listings import register
from listings.models import Listing, RightClaim
from marketplace.kernel.errors import DomainError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import Notification
from marketplace.kernel.timeutil import utcnow
from tests import factories
from tests.escrow.conftest import Parties, drive
from tests.invariants import checks
from tests.operator.conftest import file_storage

RUNNING = ("awaiting_payment", "funded", "transfer_filed", "transfer_recorded", "transfer_back", "disputed")


@pytest.fixture
def parties(app):
    p = Parties(factories.make_user("buyer"), factories.make_user("seller"), factories.make_user("operator"))
    db.session.commit()
    return p


def _deal_in(state, parties, deal_type="assignment"):
    listing = factories.make_listing(parties.seller, deal_types=("assignment", "non_exclusive_license"))
    deal = deals.open_deal(listing, parties.buyer, listing.price, deal_type, "purchase")
    db.session.commit()
    return drive(deal.id, state, parties)


def _claim(right):
    claimant = factories.make_user("seller")
    db.session.commit()
    claim = register.file_claim(claimant, right, file_storage(), "专利证书上的专利权人是我方")
    db.session.commit()
    return claimant, claim


def _money(deal_id):
    db.session.expire_all()
    deal = db.session.get(Deal, deal_id)
    return ledger.deal_balances(deal), db.session.query(JournalEntry).filter_by(deal_id=deal_id).count()


def _told(user_id):
    return [n.title for n in db.session.query(Notification).filter_by(user_id=user_id).order_by(Notification.id)]


@pytest.mark.parametrize("state", RUNNING)
def test_upholding_a_claim_stops_the_deal_and_the_money_stays_in_escrow(app, parties, state):
    deal = _deal_in(state, parties)
    right = deal.listing.rights[0]
    _claimant, claim = _claim(right)
    money = _money(deal.id)
    told_before = {u: len(_told(u)) for u in (parties.buyer.id, parties.seller.id)}

    register.decide_claim(parties.operator, claim.id, "uphold", "核对专利证书与国家知识产权局登记")
    db.session.commit()

    db.session.expire_all()
    deal = db.session.get(Deal, deal.id)
    assert deal.state == ("cancelled" if state == "awaiting_payment" else "disputed")
    assert _money(deal.id) == money  # nothing booked: held money stays held, unpaid stays unpaid
    checks.check_ledger()
    balances = checks.balances_of([deal.id])[deal.id]
    checks.check_money(deal, balances)
    events = db.session.query(DealEvent).filter_by(deal_id=deal.id).order_by(DealEvent.id).all()
    checks.check_history(deal, events)
    assert events[-1].action == "claim_upheld" and events[-1].actor_id is None
    if state == "disputed":  # already before an operator: the dispute keeps its reason, the event notes the claim
        assert deal.dispute_reason == "卖方迟迟不提交变更申请" and "权属异议" in events[-1].note
    elif state != "awaiting_payment":
        assert "权属异议" in deal.dispute_reason and deal.disputed_from == state
    for user_id in (parties.buyer.id, parties.seller.id):
        assert len(_told(user_id)) > told_before[user_id]
    assert db.session.get(RightClaim, claim.id).status == "upheld"
    # the listing is never back on sale while the register gives the right to the claimant
    assert db.session.get(Listing, deal.listing_id).status in ("withdrawn", "reserved")


def test_a_disputed_deal_refunded_after_an_upheld_claim_does_not_put_the_listing_back_on_sale(app, parties):
    deal = _deal_in("funded", parties)
    right = deal.listing.rights[0]
    _claimant, claim = _claim(right)
    register.decide_claim(parties.operator, claim.id, "uphold", "核对专利证书")
    db.session.commit()
    assert db.session.get(Listing, deal.listing_id).status == "reserved"  # the escrow still holds the money
    deals.resolve_dispute(deal.id, parties.operator, "refund", note="权利人已变更，全额退款")
    db.session.commit()
    db.session.expire_all()
    deal = db.session.get(Deal, deal.id)
    assert deal.state == "refunded" and ledger.deal_balances(deal)["refunded"] + ledger.deal_balances(deal)[
        "refund_in_transit"] == deal.price
    assert db.session.get(Listing, deal.listing_id).status == "withdrawn"


def test_other_listings_of_the_right_come_off_the_market_and_bidders_are_told(app, parties):
    auction = factories.make_listing(parties.seller, price_mode="auction", deal_types=("assignment",))
    right = auction.rights[0]
    licence = factories.make_listing(parties.seller, number=right.number, deal_types=("non_exclusive_license",))
    bidder = factories.make_user("buyer")
    db.session.commit()
    trading.place_bid(auction.id, bidder, auction.auction.start_price)
    db.session.commit()
    unpaid = trading.buy_now(licence.id, parties.buyer, "non_exclusive_license")  # a licence leaves it on sale
    db.session.commit()
    _claimant, claim = _claim(right)

    register.decide_claim(parties.operator, claim.id, "uphold", "核对专利证书")
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Listing, auction.id).status == "withdrawn"
    assert db.session.get(Listing, licence.id).status == "withdrawn"
    assert db.session.get(Deal, unpaid.id).state == "cancelled"
    assert any("已下架" in t for t in _told(bidder.id))
    assert any("已下架" in t for t in _told(parties.seller.id))
    assert any("交易中止" in t or "交易已取消" in t for t in _told(parties.buyer.id))


def test_a_released_deal_not_yet_paid_out_is_held_for_an_operator(app, parties):
    """Issue 15: released, but the seller not paid yet: the release is reversed into escrow, the deal is
    disputed and no payout can be recorded until an operator decides; releasing again pays the seller once."""
    released = _deal_in("released", parties)
    assert released.payout_status == "pending"
    right = released.listing.rights[0]
    _claimant, claim = _claim(right)
    register.decide_claim(parties.operator, claim.id, "uphold", "核对专利证书")
    db.session.commit()
    db.session.expire_all()
    deal = db.session.get(Deal, released.id)
    balances = ledger.deal_balances(deal)
    assert deal.state == "disputed" and deal.disputed_from == "released" and deal.payout_status is None
    assert balances["escrow"] == deal.price and balances["seller_payable"] == 0 and balances["platform_fee"] == 0
    checks.check_money(deal, checks.balances_of([deal.id])[deal.id])
    checks.check_history(deal, db.session.query(DealEvent).filter_by(deal_id=deal.id).order_by(DealEvent.id).all())
    with pytest.raises(DomainError) as exc:  # the payout is blocked
        deals.mark_payout_paid(deal.id, "BOC20261205099", parties.operator)
    assert exc.value.status == 409
    db.session.rollback()
    assert ledger.deal_balances(db.session.get(Deal, deal.id)) == balances
    deals.resolve_dispute(deal.id, parties.operator, "release", note="异议人同意本次转让")
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    balances = ledger.deal_balances(deal)
    assert deal.state == "released" and deal.payout_status == "pending"
    assert balances["escrow"] == 0 and balances["seller_payable"] == deal.payout_amount
    assert balances["platform_fee"] == deal.fee
    checks.check_money(deal, checks.balances_of([deal.id])[deal.id])


def test_a_completed_deal_is_flagged_to_operators_and_its_money_stays(app, parties):
    completed = _deal_in("completed", parties)
    right = completed.listing.rights[0]
    _claimant, claim = _claim(right)
    money = _money(completed.id)
    register.decide_claim(parties.operator, claim.id, "uphold", "核对专利证书")
    db.session.commit()
    db.session.expire_all()
    deal = db.session.get(Deal, completed.id)
    assert deal.state == "completed" and "权属异议成立" in deal.flagged
    assert _money(completed.id) == money  # the seller was paid: nothing to book
    events = db.session.query(DealEvent).filter_by(deal_id=deal.id).order_by(DealEvent.id).all()
    assert events[-1].action == "claim_upheld" and events[-1].to_state == "completed"
    checks.check_history(deal, events)
    assert any("权属异议成立" in t for t in _told(parties.operator.id))


def _snapshot(deal_id, listing_id, claim_id):
    db.session.expire_all()
    deal = db.session.get(Deal, deal_id)
    return (deal.state, deal.version, _money(deal_id), db.session.get(Listing, listing_id).status,
            db.session.get(RightClaim, claim_id).status, db.session.query(DealEvent).count())


def test_dismissing_a_claim_changes_no_deal(app, parties):
    deal = _deal_in("funded", parties)
    _claimant, claim = _claim(deal.listing.rights[0])
    before = _snapshot(deal.id, deal.listing_id, claim.id)
    register.decide_claim(parties.operator, claim.id, "dismiss", "证据不足")
    db.session.commit()
    after = _snapshot(deal.id, deal.listing_id, claim.id)
    assert after[:4] == before[:4] and after[4] == "dismissed"


def test_only_an_operator_upholds_and_only_once_nothing_changes_otherwise(app, parties):
    deal = _deal_in("funded", parties)
    _claimant, claim = _claim(deal.listing.rights[0])
    before = _snapshot(deal.id, deal.listing_id, claim.id)
    for actor in (parties.buyer, parties.seller):
        with pytest.raises(DomainError) as exc:
            register.decide_claim(actor, claim.id, "uphold", "我认为成立")
        assert exc.value.status == 403
        db.session.rollback()
    assert _snapshot(deal.id, deal.listing_id, claim.id) == before
    register.decide_claim(parties.operator, claim.id, "uphold", "核对专利证书")
    db.session.commit()
    once = _snapshot(deal.id, deal.listing_id, claim.id)
    with pytest.raises(DomainError) as exc:
        register.decide_claim(parties.operator, claim.id, "uphold", "再来一次")
    assert exc.value.status == 409
    db.session.rollback()
    assert _snapshot(deal.id, deal.listing_id, claim.id) == once


def test_people_cannot_take_the_claim_step_themselves(app, parties):
    deal = _deal_in("funded", parties)
    from escrow import machine

    for user in (parties.buyer, parties.seller, parties.operator):
        with pytest.raises(DomainError) as exc:
            machine.check(deal.state, "claim_upheld", deals.roles_of(deal, user))
        assert exc.value.status == 403
    for state in ("cancelled", "refunded"):  # a deal whose money went back is not stopped again
        with pytest.raises(DomainError) as exc:
            machine.check(state, "claim_upheld", {"system"})
        assert exc.value.status == 409


def test_an_unpaid_deal_stopped_by_a_claim_is_no_strike_against_the_buyer(app, parties):
    from marketplace.kernel.credit_models import CreditRecord

    deal = _deal_in("awaiting_payment", parties)
    _claimant, claim = _claim(deal.listing.rights[0])
    register.decide_claim(parties.operator, claim.id, "uphold", "核对专利证书", now=utcnow() + timedelta(minutes=1))
    db.session.commit()
    assert db.session.query(CreditRecord).filter_by(user_id=parties.buyer.id).count() == 0


def test_the_claimants_own_listing_goes_on(app, parties):
    from listings import service
    from tests.listings.conftest import patent_payload

    deal = _deal_in("funded", parties)
    right = deal.listing.rights[0]
    claimant = factories.make_user("seller")
    db.session.commit()
    body = patent_payload(acts_for_holders=True, deal_types=["non_exclusive_license"],
                          patent={"application_number": right.number})
    own, _warnings = service.create_listing(claimant, body)
    db.session.commit()
    claim = register.file_claim(claimant, right, file_storage(), "专利证书上的专利权人是我方")
    db.session.commit()
    register.decide_claim(parties.operator, claim.id, "uphold", "核对专利证书")
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Listing, own.id).status == "draft"
    assert db.session.get(Deal, deal.id).state == "disputed"

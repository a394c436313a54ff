"""No cornering (issue 14): caps on unpaid reservations and open offers, and a floor that is never told.

Each limit: the allowed case, the refused case, and a refusal that changes nothing.
"""
from datetime import timedelta

import pytest

from escrow import trading
from escrow.models import Deal
from listings.models import Offer
from marketplace.kernel.errors import Conflict, PermissionDenied
from marketplace.kernel.extensions import db
from tests import factories

from .conftest import api


def _fixed(seller, n):
    listings = [factories.make_listing(seller, price_mode="fixed", price=10_000_00) for _ in range(n)]
    db.session.commit()
    return listings


def _negotiable(seller, n, floor=None):
    listings = [factories.make_listing(seller, price_mode="negotiable", price=None, offer_floor=floor)
                for _ in range(n)]
    db.session.commit()
    return listings


# --- unpaid reservations per buyer -------------------------------------------------------------

@pytest.mark.parametrize("app_config", [{"MAX_OPEN_RESERVATIONS": 2}])
def test_a_buyer_holds_at_most_max_open_reservations(seller, buyers):
    a, b, c = _fixed(seller, 3)
    trading.buy_now(a.id, buyers[0], "assignment")
    trading.buy_now(b.id, buyers[0], "assignment")
    db.session.commit()
    with pytest.raises(Conflict) as exc:
        trading.buy_now(c.id, buyers[0], "assignment")
    assert exc.value.extra["limit"] == 2 and "2" in exc.value.message
    db.session.rollback()
    assert c.status == "published"
    assert db.session.query(Deal).filter_by(buyer_id=buyers[0].id).count() == 2
    # another buyer is not affected
    assert trading.buy_now(c.id, buyers[1], "assignment").state == "awaiting_payment"


@pytest.mark.parametrize("app_config", [{"MAX_OPEN_RESERVATIONS": 1}])
def test_a_paid_or_cancelled_deal_frees_its_place(seller, buyers, operator):
    from escrow import deals

    a, b, c = _fixed(seller, 3)
    first = trading.buy_now(a.id, buyers[0], "assignment")
    db.session.commit()
    with pytest.raises(Conflict):
        trading.buy_now(b.id, buyers[0], "assignment")
    db.session.rollback()
    factories.sign_contract(first)
    deals.confirm_offline_payment(first.id, first.payment_reference, first.price, operator)
    db.session.commit()
    second = trading.buy_now(b.id, buyers[0], "assignment")  # the paid deal no longer counts
    db.session.commit()
    deals.cancel_deal(second.id, buyers[0], "不需要了")
    db.session.commit()
    assert trading.buy_now(c.id, buyers[0], "assignment").state == "awaiting_payment"


@pytest.mark.parametrize("app_config", [{"MAX_OPEN_RESERVATIONS": 1}])
def test_the_reservation_cap_over_the_api_is_a_409_naming_the_limit(app, client, seller, buyers):
    from tests.trading.test_api import documented

    a, b = _fixed(seller, 2)
    assert api(client, buyers[0], "post", f"/api/v1/listings/{a.id}/purchase",
               {"deal_type": "assignment"}).status_code == 201
    r = api(client, buyers[0], "post", f"/api/v1/listings/{b.id}/purchase", {"deal_type": "assignment"})
    assert r.status_code == 409
    error = documented(app, "/api/v1/listings/{listing_id}/purchase", "post", r)["error"]
    assert error["limit"] == 1 and error["open_reservations"] == 1 and "1" in error["message"]
    db.session.expire_all()
    assert b.status == "published" and db.session.query(Deal).count() == 1


# --- open offers per buyer ---------------------------------------------------------------------

@pytest.mark.parametrize("app_config", [{"MAX_OPEN_OFFERS": 2}])
def test_a_buyer_has_at_most_max_open_offers(seller, buyers):
    a, b, c = _negotiable(seller, 3)
    trading.make_offer(a.id, buyers[0], 1_000_00, "assignment")
    trading.make_offer(b.id, buyers[0], 1_000_00, "assignment")
    db.session.commit()
    with pytest.raises(Conflict) as exc:
        trading.make_offer(c.id, buyers[0], 1_000_00, "assignment")
    assert exc.value.extra["limit"] == 2
    db.session.rollback()
    assert db.session.query(Offer).filter_by(buyer_id=buyers[0].id).count() == 2
    # a new offer on a listing already in negotiation replaces the open one: allowed
    again = trading.make_offer(a.id, buyers[0], 2_000_00, "assignment")
    assert again.status == "open"
    # another buyer is not affected
    assert trading.make_offer(c.id, buyers[1], 1_000_00, "assignment").status == "open"


@pytest.mark.parametrize("app_config", [{"MAX_OPEN_OFFERS": 1}])
def test_a_declined_offer_frees_its_place(seller, buyers):
    a, b = _negotiable(seller, 2)
    offer = trading.make_offer(a.id, buyers[0], 1_000_00, "assignment")
    db.session.commit()
    with pytest.raises(Conflict):
        trading.make_offer(b.id, buyers[0], 1_000_00, "assignment")
    db.session.rollback()
    trading.decline_offer(offer.id, seller)
    db.session.commit()
    assert trading.make_offer(b.id, buyers[0], 1_000_00, "assignment").status == "open"


# --- the floor is never told -------------------------------------------------------------------

def test_an_offer_below_the_floor_is_declined_without_naming_the_floor(app, client, negotiable_listing, buyers):
    r = api(client, buyers[0], "post", f"/api/v1/listings/{negotiable_listing.id}/offers",
            {"amount": 5_000_00, "deal_type": "assignment"})
    assert r.status_code == 409
    body = r.get_data(as_text=True)
    error = r.get_json()["error"]
    assert "minimum_amount" not in error
    for leak in ("10,000", "10000", "1000000", "最低报价"):
        assert leak not in body
    assert db.session.query(Offer).count() == 0
    # a malformed amount does not carry the floor either
    r = api(client, buyers[0], "post", f"/api/v1/listings/{negotiable_listing.id}/offers",
            {"amount": "abc", "deal_type": "assignment"})
    assert r.status_code == 422 and "minimum_amount" not in r.get_json()["error"]
    assert "1000000" not in r.get_data(as_text=True)


def test_the_listing_json_shows_the_floor_to_nobody(app, client, negotiable_listing, buyers, seller):
    for user in (None, buyers[0], seller):
        headers = factories.auth_header(user) if user is not None else {}
        db.session.commit()
        body = client.get(f"/api/v1/listings/{negotiable_listing.id}", headers=headers).get_data(as_text=True)
        assert "offer_floor" not in body and "1000000" not in body


def test_the_listing_page_does_not_show_the_floor_to_buyers(client, as_user, negotiable_listing, buyers):
    as_user(buyers[0])
    client.post(f"/listings/{negotiable_listing.id}/offer",
                data={"amount": "9000", "deal_type": "assignment", "message": ""})
    html = client.get(f"/listings/{negotiable_listing.id}").get_data(as_text=True)
    assert "卖家未接受这个报价金额" in html
    assert "10,000" not in html and "10000" not in html
    assert db.session.query(Offer).count() == 0


@pytest.mark.parametrize("app_config", [{"MAX_OPEN_RESERVATIONS": 1}])
def test_accepting_a_counter_counts_as_a_reservation_but_a_seller_accepting_does_not(seller, buyers):
    fixed, = _fixed(seller, 1)
    a, b = _negotiable(seller, 2)
    trading.buy_now(fixed.id, buyers[0], "assignment")
    offer_a = trading.make_offer(a.id, buyers[0], 1_000_00, "assignment")
    offer_b = trading.make_offer(b.id, buyers[0], 1_000_00, "assignment")
    counter = trading.counter_offer(offer_a.id, seller, 2_000_00)
    db.session.commit()
    with pytest.raises(Conflict) as exc:
        trading.accept_offer(counter.id, buyers[0])  # the buyer's own act: capped
    assert exc.value.extra["limit"] == 1
    db.session.rollback()
    assert counter.status == "open" and a.status == "published"
    # the seller accepting the buyer's standing offer is the seller's act: not refused by the cap
    assert trading.accept_offer(offer_b.id, seller).buyer_id == buyers[0].id


# --- unpaid reservations count against the buyer ---------------------------------------------

def _lapse(deal, now):
    from escrow import deals

    deals.expire_unpaid(deal.id, now=deal.payment_due_at + timedelta(minutes=1) if now is None else now)
    db.session.commit()


def _unpaid_deal(seller, buyer, now):
    listing, = _fixed(seller, 1)
    deal = trading.buy_now(listing.id, buyer, "assignment", now=now)
    factories.sign_contract(deal, now=now)  # signed: only the buyer stood between the deal and payment
    db.session.commit()
    return deal


def test_unpaid_strikes_restrict_the_buyer_through_a_credit_record(seller, buyers, now):
    from escrow import deals
    from marketplace.kernel.credit_models import CreditRecord
    from marketplace.kernel.models import AuditLog, Notification

    buyer = buyers[0]
    first = _unpaid_deal(seller, buyer, now)
    _lapse(first, first.payment_due_at + timedelta(minutes=1))
    second = _unpaid_deal(seller, buyer, now + timedelta(days=8))
    deals.cancel_deal(second.id, buyer, "不想要了", now=now + timedelta(days=8, hours=1))
    db.session.commit()
    # two strikes: warned by a notice, nothing restricted yet
    assert buyer.credit_level == "good" and db.session.query(CreditRecord).count() == 0
    notices = db.session.query(Notification).filter_by(user_id=buyer.id, kind="credit").order_by(Notification.id).all()
    assert len(notices) == 2 and "第 2 笔" in notices[-1].body
    later = now + timedelta(days=20)
    third = _unpaid_deal(seller, buyer, later)
    _lapse(third, third.payment_due_at + timedelta(minutes=1))
    rec = db.session.query(CreditRecord).one()
    assert (rec.user_id, rec.violation, rec.level, rec.previous_level, rec.operator_id, rec.deal_id) == (
        buyer.id, "non_performance", "restricted", "good", None, third.id)
    assert buyer.credit_level == "restricted"
    row = db.session.query(AuditLog).filter_by(action="credit.record", object_id=buyer.id).one()
    assert row.actor_id is None and row.after["system"] is True
    # the restriction bites: no purchase, nothing changes
    listing, = _fixed(seller, 1)
    with pytest.raises(PermissionDenied):
        trading.buy_now(listing.id, buyer, "assignment")
    db.session.rollback()
    assert listing.status == "published"


def test_an_operator_cancel_and_old_strikes_do_not_count(seller, buyers, operator, now):
    from escrow import deals
    from marketplace.kernel.credit_models import CreditRecord

    buyer = buyers[0]
    old = _unpaid_deal(seller, buyer, now - timedelta(days=200))
    _lapse(old, old.payment_due_at + timedelta(minutes=1))  # outside the 180-day window by now
    by_operator = _unpaid_deal(seller, buyer, now)
    deals.cancel_deal(by_operator.id, operator, "运营取消", now=now + timedelta(hours=1))
    db.session.commit()
    recent = _unpaid_deal(seller, buyer, now)
    _lapse(recent, recent.payment_due_at + timedelta(minutes=1))
    from escrow.strikes import unpaid_strikes

    assert unpaid_strikes(buyer, recent.payment_due_at + timedelta(minutes=2)) == 1
    assert buyer.credit_level == "good" and db.session.query(CreditRecord).count() == 0


@pytest.mark.parametrize("app_config", [{"UNPAID_STRIKES": 1}])
def test_a_revoked_strike_record_starts_the_count_afresh(seller, buyers, operator, now):
    from marketplace.kernel.credit import decide_appeal, file_appeal
    from marketplace.kernel.credit_models import CreditRecord

    buyer = buyers[0]
    deal = _unpaid_deal(seller, buyer, now)
    _lapse(deal, deal.payment_due_at + timedelta(minutes=1))
    rec = db.session.query(CreditRecord).one()
    assert buyer.credit_level == "restricted"
    file_appeal(buyer, rec.id, "银行系统故障导致未能按时付款，附银行说明。")
    decide_appeal(operator, rec.id, "revoked", "情况属实，撤销。")
    db.session.commit()
    assert buyer.credit_level == "good"
    # the next unpaid reservation is a fresh strike: with UNPAID_STRIKES=1 it restricts again
    again = _unpaid_deal(seller, buyer, now + timedelta(days=10))
    _lapse(again, again.payment_due_at + timedelta(minutes=1))
    assert buyer.credit_level == "restricted" and db.session.query(CreditRecord).count() == 2


@pytest.mark.parametrize("app_config", [{"UNPAID_STRIKES": 1}])
def test_a_strike_never_lowers_a_worse_level(seller, buyers, operator, now):
    from marketplace.kernel.credit_models import CreditRecord

    buyer = buyers[0]
    deal = _unpaid_deal(seller, buyer, now)
    buyer.credit_level = "blacklisted"  # set by an operator after the purchase
    db.session.commit()
    _lapse(deal, deal.payment_due_at + timedelta(minutes=1))
    assert buyer.credit_level == "blacklisted" and db.session.query(CreditRecord).count() == 0


def test_the_system_record_shows_on_the_buyers_credit_page_and_the_operator_pages(
        app, client, as_user, seller, buyers, operator, now):
    from marketplace.kernel.credit_models import CreditRecord

    app.config["UNPAID_STRIKES"] = 1
    deal = _unpaid_deal(seller, buyers[0], now)
    _lapse(deal, deal.payment_due_at + timedelta(minutes=1))
    rec = db.session.query(CreditRecord).one()
    as_user(buyers[0])
    r = client.get("/account/credit")
    assert r.status_code == 200 and f"交易 #{deal.id}" in r.get_data(as_text=True)
    as_user(operator)
    assert client.get("/operator/credit").status_code == 200
    assert client.get(f"/operator/credit/{rec.id}").status_code == 200

"""State that cannot go stale (issue 14): offers die with their terms, accepting re-checks the listing,
and nobody trades with a blacklisted seller. Each rule: allowed, refused, and a refusal changes nothing."""
from datetime import timedelta

import pytest

from escrow import trading
from escrow.models import Deal
from listings import service
from listings.models import Offer
from marketplace.kernel.errors import Conflict, PermissionDenied
from marketplace.kernel.extensions import db
from marketplace.kernel.models import Notification
from tests import factories


def _notices(user, kind="offer"):
    return db.session.query(Notification).filter_by(user_id=user.id, kind=kind).count()


# --- withdrawing or editing voids open offers ------------------------------------------------

def test_withdrawing_voids_open_offers_and_counters_and_tells_both_sides(negotiable_listing, buyers, seller):
    plain = trading.make_offer(negotiable_listing.id, buyers[0], 12_000_00, "assignment")
    other = trading.make_offer(negotiable_listing.id, buyers[1], 13_000_00, "assignment")
    counter = trading.counter_offer(other.id, seller, 15_000_00)
    db.session.commit()
    before = {u.id: _notices(u) for u in (buyers[0], buyers[1], seller)}
    service.withdraw_listing(seller, negotiable_listing.id)
    db.session.commit()
    assert (plain.status, other.status, counter.status) == ("withdrawn", "countered", "withdrawn")
    assert plain.decided_at is not None and counter.decided_at is not None
    for user in (buyers[0], buyers[1], seller):
        assert _notices(user) == before[user.id] + 1
    # a voided offer cannot be accepted later
    service.reopen_listing(seller, negotiable_listing.id)
    db.session.commit()
    with pytest.raises(Conflict):
        trading.accept_offer(plain.id, seller)
    db.session.rollback()
    assert db.session.query(Deal).count() == 0


def test_a_refused_withdrawal_voids_nothing(auction_listing, buyers, seller, now):
    trading.place_bid(auction_listing.id, buyers[0], 1_000_00)
    db.session.commit()
    with pytest.raises(Conflict):
        service.withdraw_listing(seller, auction_listing.id)
    db.session.rollback()
    assert auction_listing.status == "published"


def test_editing_voids_any_open_offer(negotiable_listing, buyers, seller):
    offer = trading.make_offer(negotiable_listing.id, buyers[0], 12_000_00, "assignment")
    db.session.commit()
    # Simulate an offer left open on a draft (older data, or any path that skipped the withdrawal).
    negotiable_listing.status = "draft"
    db.session.commit()
    service.update_listing(seller, negotiable_listing.id, {"offer_floor": 20_000_00})
    db.session.commit()
    assert offer.status == "withdrawn" and _notices(buyers[0]) >= 1


def test_editing_a_draft_without_offers_tells_nobody(seller):
    draft = factories.make_listing(seller, status="draft", price_mode="negotiable", price=None)
    db.session.commit()
    service.update_listing(seller, draft.id, {"title": "新的标题：一种电池材料"})
    db.session.commit()
    assert _notices(seller) == 0


# --- accepting re-checks the current terms ---------------------------------------------------

def test_accepting_refuses_when_the_deal_type_is_no_longer_offered(negotiable_listing, buyers, seller):
    offer = trading.make_offer(negotiable_listing.id, buyers[0], 12_000_00, "non_exclusive_license")
    db.session.commit()
    negotiable_listing.deal_types = ["assignment"]  # changed behind the offer's back
    db.session.commit()
    with pytest.raises(Conflict) as exc:
        trading.accept_offer(offer.id, seller)
    assert exc.value.extra["deal_type"] == "non_exclusive_license"
    db.session.rollback()
    assert offer.status == "open" and negotiable_listing.status == "published"
    assert db.session.query(Deal).count() == 0


def test_accepting_refuses_when_the_price_mode_changed(negotiable_listing, buyers, seller):
    offer = trading.make_offer(negotiable_listing.id, buyers[0], 12_000_00, "assignment")
    db.session.commit()
    negotiable_listing.price_mode = "fixed"
    negotiable_listing.price = 50_000_00
    db.session.commit()
    with pytest.raises(Conflict):
        trading.accept_offer(offer.id, seller)
    db.session.rollback()
    assert offer.status == "open" and db.session.query(Deal).count() == 0


def test_accepting_refuses_when_the_listing_is_no_longer_published(negotiable_listing, buyers, seller):
    offer = trading.make_offer(negotiable_listing.id, buyers[0], 12_000_00, "assignment")
    db.session.commit()
    negotiable_listing.status = "expired"
    db.session.commit()
    with pytest.raises(Conflict):
        trading.accept_offer(offer.id, seller)
    db.session.rollback()
    assert offer.status == "open" and db.session.query(Deal).count() == 0


def test_accepting_on_current_terms_opens_the_deal_through_the_rule_book(negotiable_listing, buyers, seller,
                                                                         monkeypatch):
    from listings import rules

    seen = []
    real = rules.enforce
    monkeypatch.setattr(rules, "enforce", lambda listing, stage, **kw: seen.append((stage, kw.get("deal_type")))
                        or real(listing, stage, **kw))
    offer = trading.make_offer(negotiable_listing.id, buyers[0], 12_000_00, "assignment")
    deal = trading.accept_offer(offer.id, seller)
    assert deal.price == 12_000_00 and ("deal", "assignment") in seen


# --- a blacklisted seller ----------------------------------------------------------------------

def _blacklist(subject):
    subject.credit_level = "blacklisted"
    db.session.commit()


@pytest.mark.parametrize("who", ["user", "organisation"])
def test_nobody_buys_from_a_blacklisted_seller(fixed_listing, buyers, seller, who):
    _blacklist(seller if who == "user" else seller.organization)
    with pytest.raises(Conflict) as exc:
        trading.buy_now(fixed_listing.id, buyers[0], "assignment")
    assert exc.value.extra["seller_blocked"] is True and "黑名单" not in exc.value.message
    db.session.rollback()
    assert fixed_listing.status == "published" and db.session.query(Deal).count() == 0


@pytest.mark.parametrize("who", ["user", "organisation"])
def test_a_blacklisted_seller_answers_no_offer(negotiable_listing, buyers, seller, who):
    offer = trading.make_offer(negotiable_listing.id, buyers[0], 12_000_00, "assignment")
    db.session.commit()
    _blacklist(seller if who == "user" else seller.organization)
    for act in (lambda: trading.accept_offer(offer.id, seller), lambda: trading.decline_offer(offer.id, seller),
                lambda: trading.counter_offer(offer.id, seller, 15_000_00)):
        with pytest.raises(PermissionDenied):
            act()
        db.session.rollback()
    assert offer.status == "open" and db.session.query(Offer).count() == 1
    assert db.session.query(Deal).count() == 0


def test_a_buyer_cannot_accept_a_blacklisted_sellers_counter(negotiable_listing, buyers, seller):
    offer = trading.make_offer(negotiable_listing.id, buyers[0], 12_000_00, "assignment")
    counter = trading.counter_offer(offer.id, seller, 15_000_00)
    db.session.commit()
    _blacklist(seller.organization)
    with pytest.raises(Conflict):
        trading.accept_offer(counter.id, buyers[0])
    db.session.rollback()
    assert counter.status == "open" and db.session.query(Deal).count() == 0


def test_a_good_seller_still_sells(fixed_listing, buyers, seller):
    seller.credit_level = "warned"
    db.session.commit()
    assert trading.buy_now(fixed_listing.id, buyers[0], "assignment").state == "awaiting_payment"


def test_a_won_auction_of_a_blacklisted_seller_closes_without_a_deal(auction_listing, buyers, seller, now):
    trading.place_bid(auction_listing.id, buyers[0], 2_500_00, now=now)
    db.session.commit()
    _blacklist(seller)
    assert trading.close_auction(auction_listing.id, now + timedelta(hours=2)) == "cancelled"
    db.session.commit()
    assert db.session.query(Deal).count() == 0
    assert auction_listing.status == "expired" and auction_listing.auction.outcome == "cancelled"
    assert _notices(buyers[0], "auction_end") == 1
    # closing again changes nothing
    assert trading.close_auction(auction_listing.id, now + timedelta(hours=3)) is None


def test_a_blacklisted_seller_cannot_list(seller):
    _blacklist(seller.organization)
    with pytest.raises(PermissionDenied):
        service.require_seller(seller)

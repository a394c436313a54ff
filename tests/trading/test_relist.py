"""Relisting: an expired listing is copied into a new draft (the expired one stays as history),
and a won auction whose deal falls through leaves its listing expired, not published."""
import re
from datetime import date, timedelta

import pytest

from escrow import deals, trading
from escrow.models import Deal
from listings import service
from listings.models import Auction, Bid, Listing
from marketplace.kernel.errors import Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditLog, Notification
from marketplace.kernel.timeutil import utcnow
from tests import factories
from tests.escrow.conftest import Parties, drive
from tests.invariants import checks
from tests.trading.conftest import api


def _fresh(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def _unsold(seller, **kw):
    """An auction listing that closed without a sale (no bid): expired."""
    listing = factories.make_listing(seller, price_mode="auction", auction={
        "start_price": 1_000_00, "min_increment": 100_00, "reserve_price": 2_000_00,
        "ends_at": utcnow() + timedelta(hours=2)}, **kw)
    db.session.commit()
    assert trading.close_auction(listing.id, listing.auction.ends_at) == "unsold"
    db.session.commit()
    assert _fresh(Listing, listing.id).status == "expired"
    return listing


def _won(auction_listing, buyers):
    """Close ``auction_listing`` with ``buyers[1]`` winning at ¥2,000 (the reserve): the deal."""
    trading.place_bid(auction_listing.id, buyers[0], 1_000_00)
    trading.place_bid(auction_listing.id, buyers[1], 2_000_00)
    db.session.commit()
    assert trading.close_auction(auction_listing.id, auction_listing.auction.ends_at) == "sold"
    db.session.commit()
    return db.session.query(Deal).filter_by(listing_id=auction_listing.id).one()


# --- the service -------------------------------------------------------------------------------

def test_owner_relists_an_expired_listing_as_a_new_draft(seller):
    old = factories.make_listing(seller, status="expired", price_mode="negotiable", price=300_000_00,
                                 offer_floor=200_000_00, deal_types=("assignment", "exclusive_license"),
                                 license_territory="广东省", license_years=5)
    old.region = "shenzhen"
    db.session.commit()
    now = utcnow()
    draft, warnings = service.relist_listing(seller, old.id, now=now)
    db.session.commit()
    assert warnings == []
    draft, old = _fresh(Listing, draft.id), _fresh(Listing, old.id)
    assert draft.id != old.id and draft.status == "draft" and old.status == "expired"
    assert (draft.organization_id, draft.seller_id) == (old.organization_id, seller.id)
    for key in ("kind", "title", "description", "deal_types", "price_mode", "price", "offer_floor", "region",
                "license_territory", "license_years", "currency"):
        assert getattr(draft, key) == getattr(old, key), key
    assert [r.id for r in draft.rights] == [r.id for r in old.rights]  # the same register entries, in order
    assert [(r.kind, r.number, r.title, r.filing_date, r.legal_status) for r in draft.rights] == \
        [(r.kind, r.number, r.title, r.filing_date, r.legal_status) for r in old.rights]
    assert draft.published_at is None and draft.grade is None and draft.auction is None
    link = db.session.query(AuditLog).filter_by(action="listing.relist", object_id=old.id).one()
    assert link.actor_id == seller.id and link.after == {"new_listing_id": draft.id}
    assert service.relisted_as(old).id == draft.id
    # the draft is an ordinary draft: it can be edited
    service.update_listing(seller, draft.id, {"price": 250_000_00})
    assert draft.price == 250_000_00


def test_a_colleague_seller_may_relist(seller):
    colleague = factories.make_user("seller", org=seller.organization)
    old = factories.make_listing(seller, status="expired")
    db.session.commit()
    draft, _ = service.relist_listing(colleague, old.id)
    assert draft.seller_id == colleague.id and draft.organization_id == seller.organization_id


def test_relist_is_refused_to_anyone_but_the_owners_organisation(seller, buyers, operator):
    old = factories.make_listing(seller, status="expired")
    other_seller = factories.make_user("seller")
    same_org_buyer = factories.make_user("buyer", org=seller.organization)
    db.session.commit()
    with pytest.raises(NotFound):  # an expired listing is not public: another organisation cannot see it
        service.relist_listing(other_seller, old.id)
    with pytest.raises(NotFound):
        service.relist_listing(buyers[0], old.id)
    for user in (same_org_buyer, operator):  # may see it, may not act for it
        with pytest.raises(PermissionDenied):
            service.relist_listing(user, old.id)
    with pytest.raises(NotFound):
        service.relist_listing(seller, 999_999)
    db.session.rollback()
    assert db.session.query(Listing).count() == 1


@pytest.mark.parametrize("status", ["draft", "pending_review", "published", "reserved", "sold", "rejected",
                                    "withdrawn"])
def test_only_an_expired_listing_is_relisted(seller, status):
    listing = factories.make_listing(seller, status=status)
    db.session.commit()
    with pytest.raises(IllegalTransition) as info:
        service.relist_listing(seller, listing.id)
    assert info.value.status == 409 and info.value.extra["status"] == status
    db.session.rollback()
    assert db.session.query(Listing).count() == 1 and _fresh(Listing, listing.id).status == status


def test_an_expired_listing_is_relisted_once(seller):
    old = factories.make_listing(seller, status="expired")
    db.session.commit()
    draft, _ = service.relist_listing(seller, old.id)
    db.session.commit()
    with pytest.raises(Conflict) as info:
        service.relist_listing(seller, old.id)
    assert info.value.extra["listing_id"] == draft.id and f"#{draft.id}" in info.value.message
    db.session.rollback()
    assert db.session.query(Listing).count() == 2


def test_a_right_whose_term_ended_is_relisted_but_cannot_be_submitted(seller):
    """Relisting copies whatever expired; submitting validates the rights as usual."""
    old = factories.make_listing(seller, status="expired")
    old.rights[0].filing_date = date(2000, 1, 5)  # an invention: its 20-year term ended in 2020
    old.rights[0].grant_date = date(2003, 1, 5)
    db.session.commit()
    draft, _ = service.relist_listing(seller, old.id)
    db.session.commit()
    with pytest.raises(ValidationError) as info:
        service.submit_listing(seller, draft.id)
    assert any("届满" in reason for reason in info.value.fields.values())
    db.session.rollback()
    assert _fresh(Listing, draft.id).status == "draft"


# --- unsold auction → relist → submit → approve ----------------------------------------------

def test_unsold_auction_relisted_submitted_approved_and_bid_on(client, seller, operator, buyers):
    old = _unsold(seller)
    old_auction_id = old.auction.id
    r = api(client, seller, "post", f"/api/v1/listings/{old.id}/relist")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    new_id = body["listing"]["id"]
    assert body["relisted_from"] == old.id and body["listing"]["status"] == "draft"
    assert body["listing"]["rights"][0]["number"] == old.rights[0].number

    new = _fresh(Listing, new_id)
    auction = new.auction
    assert auction.id != old_auction_id
    assert (auction.start_price, auction.reserve_price, auction.min_increment) == (1_000_00, 2_000_00, 100_00)
    assert auction.closed_at is None and auction.outcome is None and auction.bid_count == 0
    assert auction.current_price is None and auction.leader_id is None and auction.starts_at is None
    default_close = utcnow() + timedelta(days=service.RELIST_AUCTION_DAYS)
    assert abs((auction.ends_at - default_close).total_seconds()) < 120

    # the seller may move the close, then submits; the operator approves
    ends = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    r = api(client, seller, "patch", f"/api/v1/listings/{new_id}",
            json={"auction": {"start_price": 800_00, "min_increment": 100_00, "reserve_price": 1_500_00,
                              "ends_at": ends.isoformat() + "+00:00"}})
    assert r.status_code == 200, r.get_json()
    r = api(client, seller, "post", f"/api/v1/listings/{new_id}/submit")
    assert r.status_code == 200 and r.get_json()["listing"]["status"] == "pending_review"
    r = api(client, operator, "post", f"/api/v1/listings/{new_id}/review", json={"decision": "approve"})
    assert r.status_code == 200 and r.get_json()["listing"]["status"] == "published"

    trading.place_bid(new_id, buyers[0], 800_00)
    db.session.commit()
    new, old = _fresh(Listing, new_id), _fresh(Listing, old.id)
    assert new.auction.current_price == 800_00 and new.auction.starts_at is not None
    # the old listing and its auction are untouched history
    assert old.status == "expired" and old.auction.id == old_auction_id
    assert old.auction.outcome == "unsold" and old.auction.closed_at is not None
    assert db.session.query(Bid).filter_by(auction_id=old_auction_id).count() == 0
    assert db.session.query(Auction).count() == 2


def test_unsold_auction_tells_the_seller_they_may_relist(auction_listing, seller):
    trading.close_auction(auction_listing.id, auction_listing.auction.ends_at)
    note = db.session.query(Notification).filter_by(user_id=seller.id, kind="auction_end").one()
    assert "重新发布" in note.body


def test_relist_api_refusals(client, seller, buyers):
    expired = factories.make_listing(seller, status="expired")
    published = factories.make_listing(seller, status="published")
    other = factories.make_user("seller")
    db.session.commit()
    assert api(client, other, "post", f"/api/v1/listings/{expired.id}/relist").status_code == 404
    r = api(client, seller, "post", f"/api/v1/listings/{published.id}/relist")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "illegal_transition"
    assert client.post(f"/api/v1/listings/{expired.id}/relist").status_code == 401
    first = api(client, seller, "post", f"/api/v1/listings/{expired.id}/relist")
    assert first.status_code == 201
    again = api(client, seller, "post", f"/api/v1/listings/{expired.id}/relist")
    assert again.status_code == 409 and again.get_json()["error"]["listing_id"] == first.get_json()["listing"]["id"]
    assert db.session.query(Listing).count() == 3


# --- a won auction whose deal falls through -------------------------------------------------------

def test_won_auction_unpaid_deal_expires_the_listing_and_it_can_be_relisted(auction_listing, buyers, seller):
    deal = _won(auction_listing, buyers)
    assert _fresh(Listing, auction_listing.id).status == "reserved"
    report = deals.enforce_deal_deadlines(deal.payment_due_at)
    assert report["deals_cancelled_unpaid"] == 1
    deal, listing = _fresh(Deal, deal.id), _fresh(Listing, auction_listing.id)
    assert deal.state == "cancelled"
    assert listing.status == "expired"  # not published: its auction is closed, nobody could bid or buy
    assert listing.auction.outcome == "sold" and listing.auction.closed_at is not None  # kept as history
    assert deal.source == "auction" and deal.source_id == listing.auction.id
    note = db.session.query(Notification).filter_by(user_id=seller.id, kind="listing").one()
    assert "重新发布" in note.body and note.link == f"/listings/{listing.id}"
    checks.check_books([deal.id])  # the invariant "the listing follows its deal" agrees

    draft, _ = service.relist_listing(seller, listing.id)
    db.session.commit()
    assert draft.status == "draft" and draft.auction.start_price == listing.auction.start_price
    service.submit_listing(seller, draft.id)
    db.session.commit()
    assert _fresh(Listing, draft.id).status == "pending_review"
    assert _fresh(Listing, listing.id).status == "expired"


@pytest.mark.parametrize("state", ["cancelled", "refunded"])
def test_won_auction_deal_cancelled_or_refunded_expires_the_listing(auction_listing, buyers, seller, operator,
                                                                     state):
    deal = _won(auction_listing, buyers)
    drive(deal.id, state, Parties(buyers[1], seller, operator))
    listing = _fresh(Listing, auction_listing.id)
    assert listing.status == "expired"
    assert db.session.query(Notification).filter_by(user_id=seller.id, kind="listing").count() == 1
    checks.check_books([deal.id])
    with pytest.raises(Conflict):  # and nobody can bid on the closed auction
        trading.place_bid(listing.id, buyers[0], 10_000_00)


def test_fixed_price_listing_whose_deal_is_cancelled_goes_back_to_published(fixed_listing, buyers, seller):
    deal = trading.buy_now(fixed_listing.id, buyers[0], "assignment")
    db.session.commit()
    assert _fresh(Listing, fixed_listing.id).status == "reserved"
    deals.cancel_deal(deal.id, buyers[0], reason="改变主意")
    db.session.commit()
    assert _fresh(Listing, fixed_listing.id).status == "published"
    assert db.session.query(Notification).filter_by(user_id=seller.id, kind="listing").count() == 0
    checks.check_books([deal.id])
    with pytest.raises(IllegalTransition):
        service.relist_listing(seller, fixed_listing.id)


# --- pages ----------------------------------------------------------------------------------------

def test_relist_button_on_my_listings_and_the_listing_page(client, as_user, seller):
    expired = factories.make_listing(seller, status="expired")
    published = factories.make_listing(seller, status="published")
    db.session.commit()
    as_user(seller)
    html = client.get("/my/listings").get_data(as_text=True)
    assert f'action="/listings/{expired.id}/relist"' in html
    assert f'action="/listings/{published.id}/relist"' not in html
    html = client.get(f"/listings/{expired.id}").get_data(as_text=True)
    assert f'action="/listings/{expired.id}/relist"' in html and "重新发布" in html
    assert f'action="/listings/{published.id}/relist"' not in client.get(
        f"/listings/{published.id}").get_data(as_text=True)


def test_relist_form_post_opens_the_new_draft_in_the_wizard(client, as_user, seller):
    old = _unsold(seller)
    as_user(seller)
    r = client.post(f"/listings/{old.id}/relist", data={"back": "detail"})
    assert r.status_code == 302
    new = db.session.query(Listing).filter(Listing.id != old.id).one()
    assert r.headers["Location"].endswith(f"/listings/{new.id}/edit?relisted_from={old.id}")
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert f"#{new.id}" in html and f"挂牌 #{old.id} 的重新发布草稿" in html
    assert "拍卖结束时间已默认设为" in html and "重新发布时默认为 7 天后" in html
    ends = re.search(r'name="auction-ends_at" value="([^"]+)"', html).group(1)
    assert ends.startswith((utcnow() + timedelta(days=7, hours=8)).strftime("%Y-%m-%d"))
    # the old listing's page links to the copy instead of offering a second relist
    html = client.get(f"/listings/{old.id}").get_data(as_text=True)
    assert "已重新发布为" in html and f'href="/listings/{new.id}"' in html
    assert f'action="/listings/{old.id}/relist"' not in html
    # a second post is refused with a message, nothing created
    r = client.post(f"/listings/{old.id}/relist", data={"back": "detail"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/listings/{old.id}")
    assert db.session.query(Listing).count() == 2


def test_relist_form_post_by_another_organisation_is_404(client, as_user, seller):
    old = factories.make_listing(seller, status="expired")
    other = factories.make_user("seller")
    db.session.commit()
    as_user(other)
    assert client.post(f"/listings/{old.id}/relist").status_code == 404
    assert db.session.query(Listing).count() == 1


def test_relist_page_in_english(client, as_user, seller):
    old = factories.make_listing(seller, status="expired")
    db.session.commit()
    as_user(seller)
    client.get("/lang/en")
    assert "Relist" in client.get(f"/listings/{old.id}").get_data(as_text=True)

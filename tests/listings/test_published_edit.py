"""Editing a published listing (issue 17): the price, the description and the image at once (the price logged,
the cached pages new at once); the rights and terms back to review; refusals change nothing."""
import io

import pytest
from sqlalchemy import func, select

from escrow import trading
from listings.models import Listing, Offer
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditLog
from marketplace.kernel.money import format_yuan
from tests import factories
from tests.conftest import login

NEW_PRICE = 1_234_567_00


@pytest.fixture
def app_config():
    return {"PAGE_CACHE": True, "CACHE_TYPE": "SimpleCache"}


@pytest.fixture
def seller(app):
    user = factories.make_user("seller")
    db.session.commit()
    return user


def _patch(client, user, listing_id, body):
    headers = factories.auth_header(user)
    db.session.commit()
    return client.patch(f"/api/v1/listings/{listing_id}", json=body, headers=headers)


def _state(listing_id):
    db.session.expire_all()
    row = db.session.get(Listing, listing_id)
    return (row.status, row.price, row.description, row.title, [r.number for r in row.rights], row.version,
            db.session.scalar(select(func.count()).select_from(AuditLog)))


def test_a_new_price_applies_at_once_is_logged_and_the_cached_page_shows_it(app, client, seller):
    listing = factories.make_listing(seller)
    db.session.commit()
    anonymous = app.test_client()
    old = listing.price
    assert format_yuan(old) in anonymous.get(f"/listings/{listing.id}").get_data(as_text=True)  # now cached
    response = _patch(client, seller, listing.id, {"price": NEW_PRICE})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["listing"]["status"] == "published"
    page = anonymous.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert format_yuan(NEW_PRICE) in page and format_yuan(old) not in page
    log = db.session.scalars(select(AuditLog).where(AuditLog.action == "listing.price_change")).one()
    assert (log.actor_id, log.object_id, log.before, log.after) == (seller.id, listing.id, {"price": old},
                                                                     {"price": NEW_PRICE})


def test_a_new_price_voids_the_open_offers(app, client, seller):
    listing = factories.make_listing(seller, price_mode="negotiable", price=50_000_00)
    buyer = factories.make_user("buyer")
    db.session.commit()
    offer = trading.make_offer(listing.id, buyer, 40_000_00, "assignment", "诚意购买")
    db.session.commit()
    assert _patch(client, seller, listing.id, {"price": 45_000_00}).status_code == 200
    db.session.expire_all()
    assert db.session.get(Offer, offer.id).status == "withdrawn"


def test_a_new_description_applies_at_once(app, client, seller):
    listing = factories.make_listing(seller)
    db.session.commit()
    response = _patch(client, seller, listing.id, {"description": "**新的**技术说明：已完成中试。"})
    assert response.status_code == 200
    status, _price, description, *_rest = _state(listing.id)
    assert status == "published" and description.startswith("**新的**")
    assert "已完成中试" in app.test_client().get(f"/listings/{listing.id}").get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "listing.description_change")) == 1


def test_changing_the_rights_or_terms_sends_the_listing_back_to_review(app, client, seller):
    listing = factories.make_listing(seller)
    operator = factories.make_user("operator")
    db.session.commit()
    response = _patch(client, seller, listing.id, {"title": "一种锂电池正极材料（含工艺包）", "price": NEW_PRICE})
    assert response.status_code == 200, response.get_json()
    status, price, *_rest = _state(listing.id)
    assert status == "pending_review" and price == NEW_PRICE
    assert app.test_client().get(f"/listings/{listing.id}").status_code == 404  # off the market until approved
    log = db.session.scalars(select(AuditLog).where(AuditLog.action == "listing.revise")).one()
    assert "title" in log.after["changed"]
    # the operator approves it again as any submission
    from listings.lifecycle import review_listing

    review_listing(operator, listing.id, "approve")
    db.session.commit()
    assert _state(listing.id)[0] == "published"


def test_an_unchanged_save_changes_nothing(app, client, seller):
    listing = factories.make_listing(seller)
    db.session.commit()
    before = _state(listing.id)
    assert _patch(client, seller, listing.id, {"price": listing.price}).status_code == 200
    assert _state(listing.id) == before


@pytest.mark.parametrize("body, field", [({"price": -5}, "price"), ({"price": "很多"}, "price"),
                                         ({"description": "x" * 20001}, "description"), ({"nope": 1}, "nope")])
def test_bad_input_is_refused_with_nothing_changed(app, client, seller, body, field):
    listing = factories.make_listing(seller)
    db.session.commit()
    before = _state(listing.id)
    response = _patch(client, seller, listing.id, body)
    assert response.status_code == 422 and field in response.get_json()["error"]["fields"]
    assert _state(listing.id) == before


def test_a_reserved_listing_and_an_auction_with_bids_cannot_be_edited(app, client, seller):
    reserved = factories.make_listing(seller, status="reserved")
    auction = factories.make_listing(seller, price_mode="auction")
    buyer = factories.make_user("buyer")
    db.session.commit()
    trading.place_bid(auction.id, buyer, auction.auction.start_price)
    db.session.commit()
    for listing, body in ((reserved, {"price": NEW_PRICE}), (auction, {"description": "改一下"})):
        before = _state(listing.id)
        assert _patch(client, seller, listing.id, body).status_code == 409
        assert _state(listing.id) == before


def test_only_the_seller_side_edits(app, client, seller):
    listing = factories.make_listing(seller)
    other = factories.make_user("seller")
    buyer = factories.make_user("buyer")
    db.session.commit()
    before = _state(listing.id)
    assert _patch(client, other, listing.id, {"price": 1_00}).status_code == 403
    assert _patch(client, buyer, listing.id, {"price": 1_00}).status_code == 403
    assert _state(listing.id) == before


def test_the_wizard_edits_a_published_listings_price_at_once(app, seller):
    listing = factories.make_listing(seller)
    db.session.commit()
    client = login(app.test_client(), seller)
    page = client.get(f"/listings/{listing.id}/edit")
    assert page.status_code == 200 and "挂牌在售中" in page.get_data(as_text=True)
    from listings.views import _values_from_listing

    with app.test_request_context():
        values = _values_from_listing(listing)
    form = {k: v for k, v in values.items() if v is not None and v is not False}  # an unticked box is not sent
    form["price"] = "123.4567万"
    form["action"] = "save"
    response = client.post(f"/listings/{listing.id}/edit", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    status, price, *_rest = _state(listing.id)
    assert (status, price) == ("published", NEW_PRICE)


def test_a_published_trademark_gets_a_new_image_at_once(app, seller):
    from tests.factories import PNG

    listing = factories.make_listing(seller, kind="trademark", price_mode="negotiable", price=None,
                                     deal_types=("assignment",))
    db.session.commit()
    client = app.test_client()
    headers = factories.auth_header(seller)
    db.session.commit()
    from werkzeug.datastructures import FileStorage

    from listings import service

    service.attach_image(seller, listing.id, FileStorage(io.BytesIO(PNG), "mark.png"))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Listing, listing.id).image and db.session.get(Listing, listing.id).status == "published"
    assert client.get(f"/listings/{listing.id}/image", headers=headers).status_code == 200


def test_a_price_per_deal_type_is_edited_at_once_and_logged(app, client, seller):
    """A listing offered for assignment and a licence: a new licence price applies at once, like the price."""
    listing = factories.make_listing(seller)
    db.session.commit()
    response = _patch(client, seller, listing.id, {"deal_prices": {"non_exclusive_license": 86_000_00}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["listing"]["status"] == "published"
    db.session.expire_all()
    row = db.session.get(Listing, listing.id)
    assert row.status == "published" and row.deal_prices == {"non_exclusive_license": 86_000_00}
    log = db.session.scalars(select(AuditLog).where(AuditLog.action == "listing.price_change")).one()
    assert log.before == {"price": listing.price, "deal_prices": {}}
    assert log.after == {"price": listing.price, "deal_prices": {"non_exclusive_license": 86_000_00}}


def test_a_price_for_a_deal_type_not_offered_is_refused_and_changes_nothing(app, client, seller):
    listing = factories.make_listing(seller, deal_types=("assignment",))
    db.session.commit()
    before = _state(listing.id)
    response = _patch(client, seller, listing.id, {"deal_prices": {"non_exclusive_license": 86_000_00}})
    assert response.status_code == 422
    assert "deal_prices.non_exclusive_license" in response.get_json()["error"]["fields"]
    assert _state(listing.id) == before and db.session.get(Listing, listing.id).deal_prices is None

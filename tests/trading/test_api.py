"""The trading JSON API: shapes match the OpenAPI document, errors carry minimum_amount, rate limits."""
import jsonschema
import pytest

from escrow.models import Deal
from listings.models import Bid, Offer
from marketplace.kernel.extensions import db
from marketplace.web.openapi import build_document
from tests import factories
from tests.probes import nothing_changes
from tests.schema_check import json_schema as _json_schema
from tests.trading.conftest import api

ROUTES = {
    ("/api/v1/listings/{listing_id}/purchase", "post"), ("/api/v1/listings/{listing_id}/offers", "post"),
    ("/api/v1/offers/{offer_id}/accept", "post"), ("/api/v1/offers/{offer_id}/decline", "post"),
    ("/api/v1/offers/{offer_id}/counter", "post"), ("/api/v1/listings/{listing_id}/bids", "post"),
    ("/api/v1/listings/{listing_id}/bids", "get"),
}


def documented(app, path, method, response):
    """Validate ``response`` against the schema the OpenAPI document gives for its status."""
    document = build_document(app)
    op = document["paths"][path][method]
    spec = op["responses"][str(response.status_code)]
    schema = spec["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"]["Error"]
    jsonschema.validate(response.get_json(), _json_schema(schema))
    return response.get_json()


def test_every_trading_route_is_documented(app):
    document = build_document(app)
    for path, method in ROUTES:
        op = document["paths"][path][method]
        assert "x-undocumented" not in op, path
        assert op["responses"]


def test_purchase(app, client, fixed_listing, buyers):
    path = "/api/v1/listings/{listing_id}/purchase"
    url = f"/api/v1/listings/{fixed_listing.id}/purchase"
    assert client.post(url, json={"deal_type": "assignment"}).status_code == 401
    r = api(client, buyers[0], "post", url, {"deal_type": "assignment"})
    assert r.status_code == 201
    deal = documented(app, path, "post", r)["deal"]
    assert (deal["state"], deal["price"], deal["deal_type"], deal["currency"]) == (
        "awaiting_payment", 50_000_00, "assignment", "CNY")
    r = api(client, buyers[1], "post", url, {"deal_type": "assignment"})
    assert r.status_code == 409 and documented(app, path, "post", r)["error"]["code"] == "conflict"
    r = api(client, buyers[1], "post", url, "not an object")
    assert r.status_code == 422
    assert db.session.query(Deal).count() == 1


def test_purchase_bad_deal_type_is_422(client, fixed_listing, buyers):
    r = api(client, buyers[0], "post", f"/api/v1/listings/{fixed_listing.id}/purchase", {"deal_type": "lease"})
    assert r.status_code == 422 and "deal_type" in r.get_json()["error"]["fields"]


def test_offer_counter_accept_flow(app, client, negotiable_listing, buyers, seller):
    r = api(client, buyers[0], "post", f"/api/v1/listings/{negotiable_listing.id}/offers",
            {"amount": 12_000_00, "deal_type": "assignment", "message": "可否包含技术指导"})
    assert r.status_code == 201
    offer = documented(app, "/api/v1/listings/{listing_id}/offers", "post", r)["offer"]
    assert (offer["status"], offer["made_by"], offer["amount"], offer["buyer"]) == (
        "open", "buyer", 12_000_00, buyers[0].masked_name)
    # a stranger cannot see it; the buyer cannot accept their own offer
    assert api(client, buyers[1], "post", f"/api/v1/offers/{offer['id']}/accept").status_code == 404
    r = api(client, buyers[0], "post", f"/api/v1/offers/{offer['id']}/accept")
    assert r.status_code == 403
    r = api(client, seller, "post", f"/api/v1/offers/{offer['id']}/counter", {"amount": 14_000_00})
    assert r.status_code == 201
    counter = documented(app, "/api/v1/offers/{offer_id}/counter", "post", r)["offer"]
    assert (counter["parent_id"], counter["made_by"], counter["status"]) == (offer["id"], "seller", "open")
    r = api(client, buyers[0], "post", f"/api/v1/offers/{counter['id']}/accept")
    assert r.status_code == 200
    deal = documented(app, "/api/v1/offers/{offer_id}/accept", "post", r)["deal"]
    assert deal["price"] == 14_000_00
    r = api(client, seller, "post", f"/api/v1/offers/{counter['id']}/decline")
    assert r.status_code == 403


def test_offer_below_floor_409_without_the_floor(app, client, negotiable_listing, buyers):
    # Issue 14 changed this: the floor (最低报价) is the seller's secret, so the 409 no longer
    # carries it as minimum_amount (it did before); see tests/trading/test_cornering.py.
    r = api(client, buyers[0], "post", f"/api/v1/listings/{negotiable_listing.id}/offers",
            {"amount": 5_000_00, "deal_type": "assignment"})
    assert r.status_code == 409
    error = documented(app, "/api/v1/listings/{listing_id}/offers", "post", r)["error"]
    assert "minimum_amount" not in error and "amount" in error["fields"]
    assert db.session.query(Offer).count() == 0


def test_decline(app, client, negotiable_listing, buyers, seller):
    r = api(client, buyers[0], "post", f"/api/v1/listings/{negotiable_listing.id}/offers",
            {"amount": 12_000_00, "deal_type": "assignment"})
    offer_id = r.get_json()["offer"]["id"]
    r = api(client, seller, "post", f"/api/v1/offers/{offer_id}/decline")
    assert r.status_code == 200
    assert documented(app, "/api/v1/offers/{offer_id}/decline", "post", r)["offer"]["status"] == "declined"
    assert api(client, seller, "post", f"/api/v1/offers/{offer_id}/decline").status_code == 409


def test_bid_and_history(app, client, auction_listing, buyers):
    url = f"/api/v1/listings/{auction_listing.id}/bids"
    r = api(client, buyers[0], "post", url, {"amount": 1_000_00})
    assert r.status_code == 201
    body = documented(app, "/api/v1/listings/{listing_id}/bids", "post", r)
    assert body["auction"]["current_price"] == 1_000_00 and body["auction"]["ends_at"].endswith("+00:00")
    assert body["auction"]["minimum_next_bid"] == 1_100_00 and body["auction"]["reserve_met"] is False
    r = client.get(url)
    bids = documented(app, "/api/v1/listings/{listing_id}/bids", "get", r)["bids"]
    assert [(b["amount"], b["bidder"]) for b in bids] == [(1_000_00, buyers[0].masked_name)]


@pytest.mark.parametrize("amount,status", [(1_050_00, 409), (100_000.5, 422), (0, 422), (-5, 422), ("1100", 422)])
def test_bad_bids_change_nothing_and_name_the_minimum(app, client, auction_listing, buyers, amount, status):
    url = f"/api/v1/listings/{auction_listing.id}/bids"
    api(client, buyers[0], "post", url, {"amount": 1_000_00})
    r = api(client, buyers[1], "post", url, {"amount": amount})
    assert r.status_code == status
    error = documented(app, "/api/v1/listings/{listing_id}/bids", "post", r)["error"]
    assert error["minimum_amount"] == 1_100_00
    db.session.expire_all()
    assert auction_listing.auction.current_price == 1_000_00 and auction_listing.auction.bid_count == 1
    assert db.session.query(Bid).count() == 1


def test_bid_on_reserved_listing_is_409_without_minimum(client, seller, buyers):
    listing = factories.make_listing(seller, status="reserved", price_mode="auction")
    r = api(client, buyers[0], "post", f"/api/v1/listings/{listing.id}/bids", {"amount": 10**9})
    assert r.status_code == 409 and "minimum_amount" not in r.get_json()["error"]


def test_seller_cannot_bid_403(client, auction_listing, seller):
    seller.roles = ["seller", "buyer"]
    with nothing_changes():  # no bid, the auction's price and count as they were
        r = api(client, seller, "post", f"/api/v1/listings/{auction_listing.id}/bids", {"amount": 5_000_00})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "RATELIMIT_BID": "2/minute",
                                         "RATELIMIT_OFFER": "1/minute"}])
def test_rate_limits_per_user(client, auction_listing, negotiable_listing, buyers):
    url = f"/api/v1/listings/{auction_listing.id}/bids"
    assert api(client, buyers[0], "post", url, {"amount": 1_000_00}).status_code == 201
    assert api(client, buyers[0], "post", url, {"amount": 1_000_00}).status_code == 409
    r = api(client, buyers[0], "post", url, {"amount": 2_000_00})
    assert r.status_code == 429 and r.get_json()["error"]["code"] == "rate_limited"
    assert api(client, buyers[1], "post", url, {"amount": 2_000_00}).status_code == 201  # another user: own budget
    offers = f"/api/v1/listings/{negotiable_listing.id}/offers"
    body = {"amount": 12_000_00, "deal_type": "assignment"}
    assert api(client, buyers[2], "post", offers, body).status_code == 201
    assert api(client, buyers[2], "post", offers, body).status_code == 429


@pytest.mark.parametrize("url,method", [("/api/v1/listings/2147483648/bids", "get"),
                                        ("/api/v1/listings/99999999999999999999/bids", "post"),
                                        ("/api/v1/listings/2147483648/purchase", "post"),
                                        ("/api/v1/listings/2147483648/offers", "post"),
                                        ("/api/v1/offers/2147483648/accept", "post"),
                                        ("/api/v1/offers/2147483648/decline", "post"),
                                        ("/api/v1/offers/2147483648/counter", "post")])
def test_ids_beyond_the_column_range_are_404(client, buyers, url, method):
    r = api(client, buyers[0], method, url, {"amount": 100, "deal_type": "assignment"} if method == "post" else None)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"

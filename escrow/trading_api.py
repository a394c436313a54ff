"""JSON API for purchases, offers and bids (docs/api.md "Offers, purchases, auctions").

Thin: parse the body, call ``escrow.trading``, commit once, answer. Bids, offers
and purchases are rate-limited per signed-in user (``RATELIMIT_BID``, ``RATELIMIT_OFFER``,
``RATELIMIT_BUY``).
"""
from flask import Blueprint, current_app, jsonify
from flask_limiter.util import get_remote_address

from listings import bidding
from marketplace.kernel.apiutil import API_PREFIX, commit_after, doc, json_body, require_user, token_user
from marketplace.kernel.extensions import limiter
from marketplace.kernel.timeutil import iso

from . import trading
from . import trading_json as tj
from .trading_json import AMOUNT_ERROR_SCHEMA, bid_json, deal_json, offer_json

bp = Blueprint("trading_api", __name__, url_prefix=API_PREFIX)


def _bid_limit():
    return current_app.config["RATELIMIT_BID"]


def _offer_limit():
    return current_app.config["RATELIMIT_OFFER"]


def _buy_limit():
    return current_app.config["RATELIMIT_BUY"]


def rate_key():
    """Per user when a valid token is sent (many bidders share one office IP), else per address."""
    user = token_user()
    return f"user:{user.id}" if user is not None else get_remote_address()


def _auction_state(auction):
    return {"current_price": auction.current_price, "ends_at": iso(auction.ends_at), "bid_count": auction.bid_count,
            "minimum_next_bid": bidding.minimum_next_bid(auction), "reserve_met": auction.reserve_met}


# --- routes ----------------------------------------------------------------------------------

@bp.post("/listings/<int:listing_id>/purchase")
@limiter.limit(_buy_limit, key_func=rate_key)
@doc("Buy a fixed-price listing now (opens a deal, reserves the listing)", tags=["trading"], request_schema=tj.PurchaseInput,
    responses={"201": tj.DealAnswer,
               "403": None, "404": None, "409": None, "422": None, "429": None})
@commit_after
def purchase(listing_id):
    buyer = require_user()
    data = json_body()
    deal = trading.buy_now(listing_id, buyer, data.get("deal_type"))
    return jsonify({"deal": deal_json(deal)}), 201


@bp.post("/listings/<int:listing_id>/offers")
@limiter.limit(_offer_limit, key_func=rate_key)
@doc("Make an offer on a negotiable (面议) listing", tags=["trading"], request_schema=tj.OfferInput,
    responses={"201": tj.OfferAnswer,
               "403": None, "404": None, "409": AMOUNT_ERROR_SCHEMA, "422": AMOUNT_ERROR_SCHEMA, "429": None})
@commit_after
def make_offer(listing_id):
    buyer = require_user()
    data = json_body()
    offer = trading.make_offer(listing_id, buyer, data.get("amount"), data.get("deal_type"), data.get("message"))
    return jsonify({"offer": offer_json(offer)}), 201


@bp.post("/offers/<int:offer_id>/accept")
@doc("Accept an offer (seller: a buyer's offer; buyer: the seller's counter) and open the deal",
     tags=["trading"], responses={"200": tj.DealAnswer, "403": None, "404": None, "409": None})
@commit_after
def accept_offer(offer_id):
    deal = trading.accept_offer(offer_id, require_user())
    return jsonify({"deal": deal_json(deal)})


@bp.post("/offers/<int:offer_id>/decline")
@doc("Decline an open offer (the side that did not make it)", tags=["trading"],
     responses={"200": tj.OfferAnswer,
                "403": None, "404": None, "409": None})
@commit_after
def decline_offer(offer_id):
    offer = trading.decline_offer(offer_id, require_user())
    return jsonify({"offer": offer_json(offer)})


@bp.post("/offers/<int:offer_id>/counter")
@limiter.limit(_offer_limit, key_func=rate_key)
@doc("Counter an open offer with another amount (a new offer pointing at this one)", tags=["trading"],
     request_schema=tj.CounterInput,
     responses={"201": tj.OfferAnswer,
                "403": None, "404": None, "409": AMOUNT_ERROR_SCHEMA, "422": AMOUNT_ERROR_SCHEMA, "429": None})
@commit_after
def counter_offer(offer_id):
    actor = require_user()
    data = json_body()
    offer = trading.counter_offer(offer_id, actor, data.get("amount"), data.get("message"))
    return jsonify({"offer": offer_json(offer)}), 201


@bp.post("/listings/<int:listing_id>/bids")
@limiter.limit(_bid_limit, key_func=rate_key)
@doc("Bid on a timed auction; a losing bid is a 409 carrying minimum_amount", tags=["trading"],
     request_schema=tj.BidInput,
     responses={"201": tj.BidAnswer,
                "403": None, "404": None, "409": AMOUNT_ERROR_SCHEMA, "422": AMOUNT_ERROR_SCHEMA, "429": None})
@commit_after
def place_bid(listing_id):
    bidder = require_user()
    data = json_body()
    bid = trading.place_bid(listing_id, bidder, data.get("amount"))
    return jsonify({"bid": bid_json(bid), "auction": _auction_state(bid.auction)}), 201


@bp.get("/listings/<int:listing_id>/bids")
@doc("Accepted bids, newest first, bidders masked (public)", auth=False, tags=["trading"],
     responses={"200": tj.BidList, "404": None})
@commit_after
def list_bids(listing_id):
    bids = bidding.accepted_bids(listing_id, token_user())
    return jsonify({"bids": [bid_json(b) for b in bids]})

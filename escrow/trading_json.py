"""JSON shapes of offers and bids for the trading API, with their schemas, and the schemas of its request
bodies (deals come from ``escrow.serializers``)."""
from marshmallow import fields

from listings.models import DEAL_TYPES
from marketplace.kernel import schemas as s
from marketplace.kernel.apiutil import ERROR_SCHEMA
from marketplace.kernel.timeutil import iso

from .serializers import DealAnswer, deal_json  # noqa: F401  (the one shape of a deal)


def offer_json(offer):
    return {
        "id": offer.id, "listing_id": offer.listing_id, "parent_id": offer.parent_id, "made_by": offer.made_by,
        "amount": offer.amount, "currency": offer.listing.currency, "deal_type": offer.deal_type,
        "message": offer.message, "status": offer.status, "expires_at": iso(offer.expires_at),
        "created_at": iso(offer.created_at), "decided_at": iso(offer.decided_at),
        "buyer": offer.buyer.masked_name,
    }


def bid_json(bid):
    """A bid as the public sees it: the bidder masked (买家***3)."""
    return {"id": bid.id, "amount": bid.amount, "currency": bid.auction.listing.currency,
            "bidder": bid.bidder.masked_name, "created_at": iso(bid.created_at)}


# --- request bodies ------------------------------------------------------------------------------

def _amount(**kwargs):
    """An amount: its type and range are checked by ``escrow.trading`` (``marketplace.kernel.numbers``), whose
    refusal names the lowest amount it would take (``minimum_amount``), which a schema cannot know."""
    return s.Raw(metadata={"type": "integer", "minimum": 1, "description": "fen (integer minor units); a refused "
                           "amount is answered with minimum_amount"}, **kwargs)


_DEAL_TYPE = s.OneOf(list(DEAL_TYPES))


class PurchaseInput(s.Body):
    deal_type = s.String(required=True, validate=_DEAL_TYPE)


class OfferInput(s.Body):
    amount = _amount(required=True)
    deal_type = s.String(required=True, validate=_DEAL_TYPE)
    message = s.String(validate=s.Length(max=2000))


class CounterInput(s.Body):
    amount = _amount(required=True)
    message = s.String(validate=s.Length(max=2000))


class BidInput(s.Body):
    amount = _amount(required=True)


# --- answers -----------------------------------------------------------------------------------------

_n = s.nullable


class OfferOut(s.Out):
    id = fields.Integer(required=True)
    listing_id = fields.Integer(required=True)
    parent_id = fields.Integer(required=True, allow_none=True)
    made_by = fields.String(required=True, validate=s.OneOf(["buyer", "seller"]))
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    deal_type = fields.String(required=True)
    message = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, validate=s.OneOf(["open", "countered", "accepted", "declined", "expired",
                                                            "withdrawn"]))
    expires_at = fields.DateTime(required=True)
    created_at = fields.DateTime(required=True)
    decided_at = fields.DateTime(required=True, allow_none=True)
    buyer = fields.String(required=True, metadata={"description": "masked buyer, e.g. 买家***3"})


class BidOut(s.Out):
    id = fields.Integer(required=True)
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    bidder = fields.String(required=True, metadata={"description": "masked bidder, e.g. 买家***3"})
    created_at = fields.DateTime(required=True)


class AuctionStateOut(s.Out):
    current_price = fields.Integer(required=True, allow_none=True)
    ends_at = fields.DateTime(required=True)
    bid_count = fields.Integer(required=True)
    minimum_next_bid = fields.Integer(required=True)
    reserve_met = fields.Boolean(required=True)


class OfferAnswer(s.Out):
    offer = fields.Nested(OfferOut, required=True)


class BidAnswer(s.Out):
    bid = fields.Nested(BidOut, required=True)
    auction = fields.Nested(AuctionStateOut, required=True)


class BidList(s.Out):
    bids = fields.List(fields.Nested(BidOut), required=True)


# a refused amount: the error shape with what would have been taken
AMOUNT_ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {**ERROR_SCHEMA["properties"]["error"]["properties"],
                       "minimum_amount": {"type": "integer", "description": "the lowest amount that would be taken"},
                       "deposit_amount": {"type": "integer", "description": "code deposit_required: the auction's "
                                                                            "deposit (fen) to pay before bidding"},
                       "deposit_status": {"type": "string", "nullable": True, "description": "code deposit_required: "
                                          "the bidder's deposit, if any"}},
    }},
}

"""JSON shapes of offers, bids and (until ``escrow.serializers`` exists) deals for the trading API."""
from marketplace.timeutil import iso

DEAL_SCHEMA = {
    "type": "object",
    "required": ["id", "state", "deal_type", "price", "fee", "currency"],
    "properties": {
        "id": {"type": "integer"}, "state": {"type": "string"}, "deal_type": {"type": "string"},
        "price": {"type": "integer"}, "fee": {"type": "integer"}, "currency": {"type": "string"},
    },
}

try:  # the escrow issue's serializer is the one shape of a deal; this module only falls back
    from .serializers import deal_json  # noqa: F401
except ImportError:
    def deal_json(deal):
        """Minimal deal JSON (API.md "Deals"), used until ``escrow.serializers.deal_json`` exists."""
        return {
            "id": deal.id, "state": deal.state, "deal_type": deal.deal_type, "price": deal.price, "fee": deal.fee,
            "currency": deal.currency, "listing_id": deal.listing_id, "source": deal.source,
            "payment_due_at": iso(deal.payment_due_at),
            "events": [{"action": e.action, "from_state": e.from_state, "to_state": e.to_state,
                        "created_at": iso(e.created_at)} for e in deal.events],
        }


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

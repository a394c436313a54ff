"""JSON shapes of offers and bids for the trading API (deals come from ``escrow.serializers``)."""
from marketplace.timeutil import iso

from .serializers import DEAL_SCHEMA, deal_json  # noqa: F401  (the one shape of a deal)


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

"""Listings' tables. One module per concern; import from here."""
# ruff: noqa: I001  (the outbox hook must be imported after the models it watches)
from .listing import (  # noqa: F401
    DEAL_TYPES, KINDS, LISTING_STATUSES, PATENT_TYPES, PRICE_MODES, Auction, Listing, Right,
)
from .grade import GradeAssessment  # noqa: F401
from .bidding import Bid, Offer  # noqa: F401

from .. import outbox  # noqa: E402,F401  (registers the outbox hook)

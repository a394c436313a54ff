"""Listings' tables. One module per concern; import from here."""
# ruff: noqa: I001  (the outbox hook must be imported after the models it watches)
from sqlalchemy.orm import selectinload

from .register import (  # noqa: F401
    ENCUMBRANCE_KINDS, HOLDER_TYPES, LICENCE_TYPES, Encumbrance, ListingRight, Right, RightClaim, RightEvent,
    RightHolder,
)
from .listing import (  # noqa: F401
    DEAL_TYPES, KINDS, LISTING_STATUSES, PATENT_TYPES, PRICE_MODES, Auction, Listing,
)
from .grade import GradeAssessment  # noqa: F401
from .bidding import DEPOSIT_STATUSES, AuctionDeposit, Bid, Offer  # noqa: F401
from .open_licence import OPEN_LICENCE_STATUSES, OpenLicence  # noqa: F401  (issue 16)



def for_listing_page():
    """Loader options for one listing shown in full (page, API): its rights (holders, encumbrances), auction,
    organisation and seller, each in one query whatever the number of rights in a bundle."""
    return [with_rights(), selectinload(Listing.auction), selectinload(Listing.organization),
            selectinload(Listing.seller)]


def with_rights():
    """Loader option: a listing's register entries with their holders and encumbrances, in a few queries."""
    return selectinload(Listing.items).selectinload(ListingRight.right).options(
        selectinload(Right.holders), selectinload(Right.encumbrances))


from .. import outbox  # noqa: E402,F401  (registers the outbox hook)

"""Offers (面议 negotiation) and auction bids."""
from sqlalchemy import CheckConstraint

from marketplace.extensions import db
from marketplace.timeutil import utcnow

OFFER_STATUSES = ("open", "countered", "accepted", "declined", "expired", "withdrawn")


class Offer(db.Model):
    """A buyer's offer; a counter-offer is a new row pointing at the one it answers."""

    __tablename__ = "offers"
    __table_args__ = (CheckConstraint("amount > 0", name="offer_amount_positive"),)
    id = db.Column(db.Integer, primary_key=True)
    listing_id = db.Column(db.Integer, db.ForeignKey("listings.id"), nullable=False, index=True)
    buyer_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    parent_id = db.Column(db.Integer, db.ForeignKey("offers.id"))
    made_by = db.Column(db.String(10), nullable=False, default="buyer")  # buyer | seller (a counter)
    amount = db.Column(db.BigInteger, nullable=False)
    deal_type = db.Column(db.String(30), nullable=False)
    message = db.Column(db.Text)
    status = db.Column(db.String(20), nullable=False, default="open")
    expires_at = db.Column(db.DateTime, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    decided_at = db.Column(db.DateTime)

    listing = db.relationship("Listing")
    buyer = db.relationship("User")
    parent = db.relationship("Offer", remote_side=[id])


class Bid(db.Model):
    __tablename__ = "bids"
    __table_args__ = (CheckConstraint("amount > 0", name="bid_amount_positive"),)
    id = db.Column(db.Integer, primary_key=True)
    auction_id = db.Column(db.Integer, db.ForeignKey("auctions.id"), nullable=False, index=True)
    bidder_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    amount = db.Column(db.BigInteger, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    bidder = db.relationship("User")
    auction = db.relationship("Auction")

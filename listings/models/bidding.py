"""Offers (面议 negotiation) and auction bids."""
from sqlalchemy import CheckConstraint, UniqueConstraint

from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow

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


# An auction deposit (保证金) runs awaiting_payment → held → applied | returning → returned | forfeited,
# or lapses unpaid (``escrow.deposits`` moves it; each of applied / returned / forfeited happens once).
DEPOSIT_STATUSES = ("awaiting_payment", "held", "applied", "returning", "returned", "forfeited", "lapsed")


class AuctionDeposit(db.Model):
    """A bidder's deposit on one auction (at most one per bidder and auction), paid into escrow before bidding.

    The money itself is in the ledger (account ``auction_deposits``, entries ``deposit:{id}:…``);
    this row says where the deposit stands and carries what the payment gateways read
    (``amount_due``, ``payment_reference``, ``payment_key``): a deposit is paid like a deal.
    """

    __tablename__ = "auction_deposits"
    __table_args__ = (
        UniqueConstraint("auction_id", "bidder_id", name="uq_auction_deposit_bidder"),
        CheckConstraint("amount > 0", name="auction_deposit_amount_positive"),
    )
    id = db.Column(db.Integer, primary_key=True)
    auction_id = db.Column(db.Integer, db.ForeignKey("auctions.id"), nullable=False, index=True)
    bidder_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    amount = db.Column(db.BigInteger, nullable=False)  # fen, the auction's deposit when it was asked for
    currency = db.Column(db.String(3), nullable=False, default="CNY")
    status = db.Column(db.String(20), nullable=False, default="awaiting_payment", index=True)
    gateway = db.Column(db.String(20), nullable=False, default="offline")
    payment_reference = db.Column(db.String(40), unique=True)  # IPD…: the bank transfer's memo
    paid_at = db.Column(db.DateTime)
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"), index=True)  # the won auction's deal
    settled_at = db.Column(db.DateTime)  # applied, returned or forfeited
    return_reference = db.Column(db.String(100))  # the provider's refund id or the bank's reference
    refunded_with_deal = db.Column(db.BigInteger)  # part of an applied deposit refunded with its deal
    forfeit_fee = db.Column(db.BigInteger)  # the platform's fee out of a forfeited deposit
    payout_amount = db.Column(db.BigInteger)  # what a forfeited deposit pays the seller
    payout_status = db.Column(db.String(20))  # pending | paid | failed
    payout_reference = db.Column(db.String(100))
    flagged = db.Column(db.String(200))  # why an operator should look (a payment that cannot be booked)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    version = db.Column(db.Integer, nullable=False, default=1)

    auction = db.relationship("Auction")
    bidder = db.relationship("User")
    deal = db.relationship("Deal")

    __mapper_args__ = {"version_id_col": version}

    # --- what the payment gateways read (the same names a Deal has) ---
    @property
    def amount_due(self):
        return self.amount

    @property
    def payment_key(self):
        return f"deposit:{self.id}"

    @property
    def payment_owner(self):
        return {"deposit_id": self.id}

    @property
    def payment_due_at(self):
        return self.auction.ends_at

    @property
    def organization(self):
        return self.auction.listing.organization

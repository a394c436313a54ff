"""Deals and their append-only events. (The ledger's tables live in escrow.ledger's models below.)"""
from sqlalchemy import CheckConstraint

from marketplace.extensions import db
from marketplace.timeutil import utcnow

DEAL_STATES = ("awaiting_payment", "funded", "transfer_filed", "transfer_recorded", "released", "completed",
               "disputed", "cancelled", "refunded")


class Deal(db.Model):
    __tablename__ = "deals"
    __table_args__ = (CheckConstraint("price > 0 AND fee >= 0 AND fee <= price", name="deal_amounts"),)
    id = db.Column(db.Integer, primary_key=True)
    listing_id = db.Column(db.Integer, db.ForeignKey("listings.id"), nullable=False, index=True)
    buyer_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    seller_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), nullable=False)
    deal_type = db.Column(db.String(30), nullable=False)
    source = db.Column(db.String(20), nullable=False)  # purchase | offer | auction
    source_id = db.Column(db.Integer)  # offer or auction id
    price = db.Column(db.BigInteger, nullable=False)  # fen
    fee = db.Column(db.BigInteger, nullable=False)  # platform fee in fen, paid out of the seller's share
    currency = db.Column(db.String(3), nullable=False, default="CNY")
    state = db.Column(db.String(30), nullable=False, default="awaiting_payment", index=True)
    gateway = db.Column(db.String(20), nullable=False, default="offline")
    payment_reference = db.Column(db.String(40), unique=True)
    payment_due_at = db.Column(db.DateTime)
    transfer_due_at = db.Column(db.DateTime)
    inspection_ends_at = db.Column(db.DateTime)
    # licence terms, recorded when the deal opens
    license_territory = db.Column(db.String(100))
    license_field = db.Column(db.String(200))
    license_start = db.Column(db.Date)
    license_end = db.Column(db.Date)
    flagged = db.Column(db.String(200))  # why an operator should look (e.g. amount mismatch)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    version = db.Column(db.Integer, nullable=False, default=1)

    listing = db.relationship("Listing")
    buyer = db.relationship("User", foreign_keys=[buyer_id])
    seller = db.relationship("User", foreign_keys=[seller_id])
    organization = db.relationship("Organization")
    events = db.relationship("DealEvent", back_populates="deal", order_by="DealEvent.id")

    __mapper_args__ = {"version_id_col": version}


class DealEvent(db.Model):
    """Append-only history of a deal: every transition, who did it, with what document."""

    __tablename__ = "deal_events"
    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"), nullable=False, index=True)
    actor_id = db.Column(db.Integer, db.ForeignKey("users.id"))  # None for the system (deadlines, webhooks)
    action = db.Column(db.String(40), nullable=False)
    from_state = db.Column(db.String(30))
    to_state = db.Column(db.String(30), nullable=False)
    note = db.Column(db.Text)
    document_id = db.Column(db.Integer)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    deal = db.relationship("Deal", back_populates="events")
    actor = db.relationship("User")

"""Listings (one or more register entries offered as one deal) and auction terms."""
from sqlalchemy import JSON, CheckConstraint, UniqueConstraint
from sqlalchemy.ext.associationproxy import association_proxy
from sqlalchemy.ext.orderinglist import ordering_list

from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow

from .register import ListingRight

KINDS = ("patent", "trademark")
PATENT_TYPES = ("invention", "utility_model", "design")
LISTING_STATUSES = ("draft", "pending_review", "published", "reserved", "sold", "rejected", "withdrawn", "expired")
PRICE_MODES = ("fixed", "negotiable", "auction")
DEAL_TYPES = ("assignment", "exclusive_license", "sole_license", "non_exclusive_license")


def prices_by_deal_type(price_mode, deal_types, deal_prices, price):
    """``[(deal_type, fen or None)]``: each deal type offered at its price, when they are not all one price (else
    ``[]``: the one ``price`` says it all). From plain values, so a search row (which has no Listing) says the same."""
    if price_mode == "auction" or not deal_prices:
        return []
    pairs = [(d, deal_prices.get(d) or price) for d in deal_types or []]
    return pairs if len({p for _, p in pairs}) > 1 else []


class Listing(db.Model):
    __tablename__ = "listings"
    __table_args__ = (
        CheckConstraint("price IS NULL OR price > 0", name="price_positive"),
    )

    id = db.Column(db.Integer, primary_key=True)
    kind = db.Column(db.String(20), nullable=False)  # patent | trademark
    title = db.Column(db.String(200), nullable=False)
    description = db.Column(db.Text, nullable=False, default="")  # Markdown, rendered through nh3
    status = db.Column(db.String(20), nullable=False, default="draft", index=True)
    rejection_reason = db.Column(db.Text)
    seller_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    # None: a natural person offers the listing (the seller is the seller side, see listings.register)
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), index=True)
    deal_types = db.Column(JSON, nullable=False, default=list)
    price_mode = db.Column(db.String(20), nullable=False, default="fixed")
    price = db.Column(db.BigInteger)  # fen; None for 面议 without a price
    # {deal_type: fen}: a price of its own for a deal type (a listing offered for assignment and licences: 转让
    # ¥26万, 普通许可 ¥5万); a deal type not named here costs ``price``. Fixed and negotiable listings only (an
    # auction sells its first deal type). ``price_for`` reads it; listings.validation.parse_listing writes it.
    deal_prices = db.Column(JSON)
    offer_floor = db.Column(db.BigInteger)  # fen; offers below are refused (negotiable)
    currency = db.Column(db.String(3), nullable=False, default="CNY")
    region = db.Column(db.String(20), nullable=False, default="other")
    image = db.Column(db.String(100))  # trademark image, stored upload name
    pledge_consent = db.Column(db.String(100))  # pledgee's consent document, stored upload name
    license_territory = db.Column(db.String(100))
    license_field = db.Column(db.String(200))
    license_years = db.Column(db.Integer)
    license_cap = db.Column(db.Integer)  # at most this many non-exclusive licences; None: no cap
    authorization_doc = db.Column(db.String(100))  # the holders' 委托书, when the seller is not a holder
    co_owner_consent = db.Column(db.String(100))  # co-owners' written consent (assignment, exclusive/sole licence)
    # a rejection that asks for a document names it (listings.service.DOCUMENTS); ``supporting_doc`` is the
    # "other supporting document" the seller uploads for it (issue 17)
    requested_document = db.Column(db.String(30))
    supporting_doc = db.Column(db.String(100))
    co_owner_consents = db.Column(JSON)  # [{"organization_id", "user_id", "at"}]: co-owners who clicked consent
    acts_for_holders = db.Column(db.Boolean, nullable=False, default=False)  # the seller lists under a 委托书
    grade = db.Column(db.String(1))  # A-D, from the latest assessment
    grade_score = db.Column(db.Float)
    grade_needs_review = db.Column(db.Boolean, nullable=False, default=False)  # 待复核
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    submitted_at = db.Column(db.DateTime)
    published_at = db.Column(db.DateTime, index=True)
    version = db.Column(db.Integer, nullable=False, default=1)

    seller = db.relationship("User")
    organization = db.relationship("Organization")
    # The rights offered, in order: links to register entries (``listings.models.register``).
    items = db.relationship("ListingRight", back_populates="listing", order_by="ListingRight.position",
                            collection_class=ordering_list("position"), cascade="all, delete-orphan")
    rights = association_proxy("items", "right", creator=lambda right: ListingRight(right=right))
    auction = db.relationship("Auction", back_populates="listing", uselist=False, cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}

    def price_for(self, deal_type):
        """The price (fen, or None: 面议) of ``deal_type`` on this listing: its own price, else ``price``."""
        own = (self.deal_prices or {}).get(deal_type) if self.price_mode != "auction" else None
        return own if own else self.price

    @property
    def prices_by_deal_type(self):
        """``[(deal_type, fen or None)]`` for each deal type offered, when they are not all one price; else []."""
        return prices_by_deal_type(self.price_mode, self.deal_types, self.deal_prices, self.price)

    @property
    def is_public(self):
        return self.status in ("published", "reserved", "sold")

    @property
    def by_person(self):
        """Offered by a natural person (a seller without an organisation), not an organisation."""
        return self.organization_id is None

    @property
    def seller_name(self):
        """The seller side's public name: the organisation, or the natural person."""
        if self.organization is not None:
            return self.organization.name
        return self.seller.name if self.seller is not None else ""

    @property
    def seller_verified(self):
        """The platform checked the seller side (organisation KYC; natural persons have no KYC yet)."""
        return bool(self.organization is not None and self.organization.verified)


class Auction(db.Model):
    """Timed auction terms and running state. The reserve is never shown, only whether it is met."""

    __tablename__ = "auctions"
    __table_args__ = (
        UniqueConstraint("listing_id"),
        CheckConstraint("start_price > 0 AND min_increment > 0", name="auction_amounts_positive"),
    )
    id = db.Column(db.Integer, primary_key=True)
    listing_id = db.Column(db.Integer, db.ForeignKey("listings.id"), nullable=False)
    start_price = db.Column(db.BigInteger, nullable=False)
    reserve_price = db.Column(db.BigInteger)
    min_increment = db.Column(db.BigInteger, nullable=False)
    # fen a bidder pays into escrow before bidding (保证金), None: no deposit; at most DEPOSIT_MAX_BPS of the start
    deposit_amount = db.Column(db.BigInteger)
    starts_at = db.Column(db.DateTime)
    ends_at = db.Column(db.DateTime, nullable=False)
    current_price = db.Column(db.BigInteger)  # highest accepted bid
    leader_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    bid_count = db.Column(db.Integer, nullable=False, default=0)
    closed_at = db.Column(db.DateTime)
    outcome = db.Column(db.String(20))  # sold | unsold

    listing = db.relationship("Listing", back_populates="auction")
    leader = db.relationship("User")

    @property
    def reserve_met(self):
        if self.current_price is None:
            return False
        return self.reserve_price is None or self.current_price >= self.reserve_price

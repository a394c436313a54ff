"""Tables of the demand side: wanted ads, their matches and answers, and each listing's data room."""
from sqlalchemy import JSON

from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow

WANTED_STATUSES = ("pending_review", "published", "rejected", "closed")
ACCESS_STATUSES = ("requested", "granted", "revoked")
FILE_CATEGORIES = ("claims", "file_history", "test_report", "licence", "other")


class WantedAd(db.Model):
    """A buyer's need (求购): what kind of right, which field or classes, on what terms, until when."""

    __tablename__ = "wanted_ads"
    id = db.Column(db.Integer, primary_key=True)
    buyer_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), index=True)
    kind = db.Column(db.String(20), nullable=False)  # patent | trademark
    title = db.Column(db.String(120), nullable=False)
    description = db.Column(db.Text, nullable=False, default="")  # plain text, shown escaped
    keywords = db.Column(JSON, nullable=False, default=list)  # up to MAX_KEYWORDS words
    ipc = db.Column(db.String(12))  # an IPC section ("H") or subclass ("H01M") of the scheme
    nice_classes = db.Column(JSON, nullable=False, default=list)  # [9, 42]
    deal_types = db.Column(JSON, nullable=False, default=list)
    budget_min = db.Column(db.BigInteger)  # fen
    budget_max = db.Column(db.BigInteger)  # fen; both None: 面议
    region = db.Column(db.String(20), nullable=False, default="other")
    hide_name = db.Column(db.Boolean, nullable=False, default=False)
    status = db.Column(db.String(20), nullable=False, default="pending_review", index=True)
    rejection_reason = db.Column(db.String(500))
    expires_at = db.Column(db.DateTime, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    published_at = db.Column(db.DateTime)
    reviewed_by = db.Column(db.Integer, db.ForeignKey("users.id"))
    # The matching queue (an outbox of its own): set when the ad is published or changed, cleared by the
    # drain that matched it against the published listings (demand.matching.match_pending_ads).
    match_pending = db.Column(db.Boolean, nullable=False, default=False, index=True)
    matched_at = db.Column(db.DateTime)

    buyer = db.relationship("User", foreign_keys=[buyer_id])
    organization = db.relationship("Organization")


class DemandMatch(db.Model):
    """A listing found for a wanted ad, once per pair, with why (shared words, class)."""

    __tablename__ = "demand_matches"
    __table_args__ = (db.UniqueConstraint("wanted_id", "listing_id"),)
    id = db.Column(db.Integer, primary_key=True)
    wanted_id = db.Column(db.Integer, db.ForeignKey("wanted_ads.id", ondelete="CASCADE"), nullable=False, index=True)
    listing_id = db.Column(db.Integer, db.ForeignKey("listings.id", ondelete="CASCADE"), nullable=False, index=True)
    score = db.Column(db.Float, nullable=False, default=0.0)
    reasons = db.Column(JSON, nullable=False, default=dict)  # {"words": [...], "classes": [...], "deal_types": [...]}
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    notified_at = db.Column(db.DateTime)

    wanted = db.relationship("WantedAd")
    listing = db.relationship("Listing")


class WantedAnswer(db.Model):
    """A seller's answer to a wanted ad with one of its listings: a message thread between the two sides."""

    __tablename__ = "wanted_answers"
    __table_args__ = (db.UniqueConstraint("wanted_id", "listing_id"),)
    id = db.Column(db.Integer, primary_key=True)
    wanted_id = db.Column(db.Integer, db.ForeignKey("wanted_ads.id", ondelete="CASCADE"), nullable=False, index=True)
    listing_id = db.Column(db.Integer, db.ForeignKey("listings.id"), nullable=False, index=True)
    seller_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    wanted = db.relationship("WantedAd")
    listing = db.relationship("Listing")
    seller = db.relationship("User")
    messages = db.relationship("DemandMessage", back_populates="answer", order_by="DemandMessage.id",
                               cascade="all, delete-orphan")


class DemandMessage(db.Model):
    __tablename__ = "demand_messages"
    id = db.Column(db.Integer, primary_key=True)
    answer_id = db.Column(db.Integer, db.ForeignKey("wanted_answers.id", ondelete="CASCADE"), nullable=False,
                          index=True)
    author_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    body = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    answer = db.relationship("WantedAnswer", back_populates="messages")
    author = db.relationship("User")


class DataRoom(db.Model):
    """A listing's due-diligence room: its NDA template and whether operators may grant access."""

    __tablename__ = "data_rooms"
    id = db.Column(db.Integer, primary_key=True)
    listing_id = db.Column(db.Integer, db.ForeignKey("listings.id"), nullable=False, unique=True)
    nda_text = db.Column(db.Text, nullable=False)
    operator_may_grant = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    listing = db.relationship("Listing")


class DataRoomFile(db.Model):
    __tablename__ = "data_room_files"
    id = db.Column(db.Integer, primary_key=True)
    listing_id = db.Column(db.Integer, db.ForeignKey("listings.id"), nullable=False, index=True)
    category = db.Column(db.String(20), nullable=False, default="other")
    stored_name = db.Column(db.String(100), nullable=False)
    file_kind = db.Column(db.String(10), nullable=False)  # pdf | png | jpeg
    size = db.Column(db.Integer, nullable=False)
    original_name = db.Column(db.String(200), nullable=False, default="")
    uploaded_by = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    removed_at = db.Column(db.DateTime)


class DataRoomAccess(db.Model):
    """A buyer's access to a data room: asked for with the NDA signed (password re-entered; signer, time, IP and
    the NDA's SHA-256 kept with the frozen text), then granted, and perhaps revoked."""

    __tablename__ = "data_room_access"
    __table_args__ = (db.UniqueConstraint("listing_id", "user_id"),)
    id = db.Column(db.Integer, primary_key=True)
    listing_id = db.Column(db.Integer, db.ForeignKey("listings.id"), nullable=False, index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    status = db.Column(db.String(20), nullable=False, default="requested")
    nda_text = db.Column(db.Text, nullable=False)
    nda_sha256 = db.Column(db.String(64), nullable=False)
    signer_name = db.Column(db.String(100), nullable=False)
    organization_name = db.Column(db.String(200))
    signed_ip = db.Column(db.String(45), nullable=False, default="")
    signed_at = db.Column(db.DateTime, nullable=False)
    granted_at = db.Column(db.DateTime)
    granted_by = db.Column(db.Integer, db.ForeignKey("users.id"))
    revoked_at = db.Column(db.DateTime)
    revoked_by = db.Column(db.Integer, db.ForeignKey("users.id"))

    user = db.relationship("User", foreign_keys=[user_id])
    listing = db.relationship("Listing")


class DataRoomLog(db.Model):
    """Who saw what and when, and every refused attempt."""

    __tablename__ = "data_room_log"
    id = db.Column(db.Integer, primary_key=True)
    listing_id = db.Column(db.Integer, db.ForeignKey("listings.id"), nullable=False, index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), index=True)
    file_id = db.Column(db.Integer, db.ForeignKey("data_room_files.id"))
    event = db.Column(db.String(20), nullable=False)  # download | refused | request_refused
    detail = db.Column(db.String(300), nullable=False, default="")
    ip_address = db.Column(db.String(45), nullable=False, default="")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    user = db.relationship("User")
    file = db.relationship("DataRoomFile")

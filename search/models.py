"""Saved searches. (The outbox table is the kernel's ``OutboxEvent``.)"""
from sqlalchemy import JSON

from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow


class SavedSearch(db.Model):
    __tablename__ = "saved_searches"
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    q = db.Column(db.String(200), nullable=False, default="")
    filters = db.Column(JSON, nullable=False, default=dict)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_notified_listing_id = db.Column(db.Integer)


class SavedSearchNotice(db.Model):
    """One row per (saved search, listing) the owner was told about, so a re-applied outbox row
    (or a second host's index) never notifies twice."""

    __tablename__ = "saved_search_notices"
    __table_args__ = (db.UniqueConstraint("saved_search_id", "listing_id"),)
    id = db.Column(db.Integer, primary_key=True)
    saved_search_id = db.Column(db.Integer, db.ForeignKey("saved_searches.id", ondelete="CASCADE"),
                                nullable=False, index=True)
    listing_id = db.Column(db.Integer, db.ForeignKey("listings.id", ondelete="CASCADE"), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # Delivery, one notice at a time (search.saved.deliver_pending): the in-app notification, then the e-mail
    # (marked done at once when SMTP is not set). A failure counts an attempt; the notice is retried by the next
    # drain until NOTIFY_MAX_ATTEMPTS, and never holds up another notice.
    notified_at = db.Column(db.DateTime)
    mailed_at = db.Column(db.DateTime)
    attempts = db.Column(db.Integer, nullable=False, default=0)

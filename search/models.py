"""Saved searches. (The outbox table is the kernel's ``OutboxEvent``.)"""
from sqlalchemy import JSON

from marketplace.extensions import db
from marketplace.timeutil import utcnow


class SavedSearch(db.Model):
    __tablename__ = "saved_searches"
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    q = db.Column(db.String(200), nullable=False, default="")
    filters = db.Column(JSON, nullable=False, default=dict)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_notified_listing_id = db.Column(db.Integer)

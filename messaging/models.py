"""Message threads and their messages.

A thread is either about a listing (``kind == "listing"``: one per listing and prospective buyer; the other party
is the listing's seller side) or about a deal (``kind == "deal"``: one per deal; its buyer and its seller).
``key`` makes each unique on every database: ``listing:<listing id>:<buyer id>`` or ``deal:<deal id>``.
"""
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow

THREAD_KINDS = ("listing", "deal")


class MessageThread(db.Model):
    __tablename__ = "message_threads"
    id = db.Column(db.Integer, primary_key=True)
    key = db.Column(db.String(60), nullable=False, unique=True)
    kind = db.Column(db.String(10), nullable=False)  # listing | deal
    listing_id = db.Column(db.Integer, db.ForeignKey("listings.id"), nullable=False, index=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"), index=True)
    buyer_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    # The other party: the listing's seller (told of new messages) and, for a listing thread of an
    # organisation's listing, that organisation (its sellers share the listing and so the thread).
    seller_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    seller_org_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), index=True)
    # the last message each side has read (an id; unread = later messages by the other side)
    buyer_read_id = db.Column(db.Integer, nullable=False, default=0)
    seller_read_id = db.Column(db.Integer, nullable=False, default=0)
    # the disputed deal a party named this listing thread in (operators may then read it)
    disclosed_deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"))
    disclosed_at = db.Column(db.DateTime)
    message_count = db.Column(db.Integer, nullable=False, default=0)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_message_at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)

    listing = db.relationship("Listing")
    deal = db.relationship("Deal", foreign_keys=[deal_id])
    disclosed_deal = db.relationship("Deal", foreign_keys=[disclosed_deal_id])
    buyer = db.relationship("User", foreign_keys=[buyer_id])
    seller = db.relationship("User", foreign_keys=[seller_id])
    messages = db.relationship("Message", back_populates="thread", order_by="Message.id")


class Message(db.Model):
    __tablename__ = "messages"
    id = db.Column(db.Integer, primary_key=True)
    thread_id = db.Column(db.Integer, db.ForeignKey("message_threads.id"), nullable=False, index=True)
    author_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    body = db.Column(db.Text, nullable=False)  # plain text, shown escaped (never markup)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    thread = db.relationship("MessageThread", back_populates="messages")
    author = db.relationship("User")

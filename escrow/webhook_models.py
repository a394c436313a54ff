"""Tables of the Stripe side of escrow: the PaymentIntents we created, and webhook events applied once.

``StripePaymentIntent`` maps each PaymentIntent the app created (one per payment
attempt) to its deal, so a webhook can tell "ours" from "belongs to no deal" and a
refund or a Connect transfer knows which charge it draws on. It mirrors what the
provider last said; the provider stays the source of truth and is re-fetched
before acting. ``ProcessedWebhookEvent`` records every event id once: a replayed
delivery finds its row and changes nothing.
"""
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow


class StripePaymentIntent(db.Model):
    __tablename__ = "stripe_payment_intents"
    __table_args__ = (db.UniqueConstraint("deal_id", "attempt", name="uq_stripe_pi_deal_attempt"),)
    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"), index=True)  # a deal's payment, or
    deposit_id = db.Column(db.Integer, db.ForeignKey("auction_deposits.id"), index=True)  # an auction deposit's
    attempt = db.Column(db.Integer, nullable=False)
    gateway = db.Column(db.String(20), nullable=False)  # stripe | fake_stripe: who to re-fetch it from
    payment_intent_id = db.Column(db.String(255), nullable=False, unique=True)
    amount = db.Column(db.BigInteger, nullable=False)  # fen, as requested
    currency = db.Column(db.String(3), nullable=False)  # upper case, like Deal.currency
    status = db.Column(db.String(40), nullable=False, default="requires_payment_method")  # Stripe's, last seen
    charge_id = db.Column(db.String(255))  # latest_charge once it succeeded (Connect source_transaction)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    deal = db.relationship("Deal")
    deposit = db.relationship("AuctionDeposit")


class ProcessedWebhookEvent(db.Model):
    """One row per provider event id; the unique constraint makes a concurrent replay fail, not apply twice."""

    __tablename__ = "processed_webhook_events"
    __table_args__ = (db.UniqueConstraint("provider", "event_id", name="uq_webhook_provider_event"),)
    id = db.Column(db.Integer, primary_key=True)
    provider = db.Column(db.String(20), nullable=False, default="stripe")
    event_id = db.Column(db.String(255), nullable=False)
    event_type = db.Column(db.String(100), nullable=False)
    object_id = db.Column(db.String(255))  # the PaymentIntent / refund / charge the event was about
    deal_id = db.Column(db.Integer, index=True)  # no foreign key: an event may name a deal that does not exist
    outcome = db.Column(db.String(200), nullable=False)  # funded, ignored: unknown type, no deal, flagged: …
    received_at = db.Column(db.DateTime, nullable=False, default=utcnow)

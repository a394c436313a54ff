"""Licences as products (issue 16): a licence deal's life (dates, territory, field, sublicensing, the CNIPA
licence recordal) and its royalty periods, each paid through escrow. See ``escrow.royalties``."""
from datetime import datetime, time

from sqlalchemy import CheckConstraint, UniqueConstraint

from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow

LICENCE_STATUSES = ("pending", "active", "ended", "void")
PERIOD_KINDS = ("running", "instalment")  # a running royalty on reported sales | a fixed instalment
PERIOD_STATUSES = ("open", "awaiting_payment", "held", "released", "paid_out", "settled")


class Licence(db.Model):
    __tablename__ = "licences"
    __table_args__ = (
        CheckConstraint("royalty_bps IS NULL OR (royalty_bps > 0 AND royalty_bps <= 10000)", name="licence_bps"),
        CheckConstraint("yearly_minimum IS NULL OR yearly_minimum > 0", name="licence_minimum"),
    )
    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"), nullable=False, unique=True)
    open_licence_id = db.Column(db.Integer, db.ForeignKey("open_licences.id"), index=True)
    licensor_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    licensee_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    licence_type = db.Column(db.String(20), nullable=False)  # exclusive | sole | non_exclusive
    starts_on = db.Column(db.Date, nullable=False)
    ends_on = db.Column(db.Date, nullable=False)
    territory = db.Column(db.String(100))
    field = db.Column(db.String(200))
    sublicensing = db.Column(db.Boolean, nullable=False, default=False)
    upfront_fee = db.Column(db.BigInteger, nullable=False)  # 入门费 = the deal's price, paid as the deal
    advance_credit = db.Column(db.Boolean, nullable=False, default=False)  # the upfront fee counts against year 1
    royalty_bps = db.Column(db.Integer)  # running royalty (提成) on reported net sales
    period = db.Column(db.String(10))  # quarter | year
    yearly_minimum = db.Column(db.BigInteger)
    instalments = db.Column(db.JSON)  # [{"due_on": "YYYY-MM-DD", "amount": fen}]
    status = db.Column(db.String(12), nullable=False, default="pending", index=True)
    recordal_due_on = db.Column(db.Date, nullable=False)  # CNIPA licence recordal (备案): 3 months from the contract
    recordal_reminded_at = db.Column(db.DateTime)
    recordal_overdue_at = db.Column(db.DateTime)
    activated_at = db.Column(db.DateTime)
    ended_at = db.Column(db.DateTime)
    ended_reason = db.Column(db.String(200))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    deal = db.relationship("Deal")
    open_licence = db.relationship("OpenLicence")
    periods = db.relationship("RoyaltyPeriod", back_populates="licence", order_by="RoyaltyPeriod.seq")


class RoyaltyPeriod(db.Model):
    """One payment of a licence after its upfront fee: a running-royalty period (the licensee reports net
    sales, the amount is computed) or an instalment (a fixed amount on a date). Paid into escrow, held,
    released to the licensor less the deal's fee, paid out: ``escrow.royalties``."""

    __tablename__ = "royalty_periods"
    __table_args__ = (
        UniqueConstraint("licence_id", "seq", name="uq_royalty_period_seq"),
        CheckConstraint("net_sales IS NULL OR net_sales >= 0", name="royalty_net_sales"),
        CheckConstraint("amount IS NULL OR (amount >= 0 AND fee >= 0 AND fee <= amount)", name="royalty_amounts"),
    )
    id = db.Column(db.Integer, primary_key=True)
    licence_id = db.Column(db.Integer, db.ForeignKey("licences.id"), nullable=False, index=True)
    seq = db.Column(db.Integer, nullable=False)
    kind = db.Column(db.String(12), nullable=False)  # running | instalment
    starts_on = db.Column(db.Date, nullable=False)
    ends_on = db.Column(db.Date, nullable=False)  # inclusive
    due_on = db.Column(db.Date, nullable=False)  # the report (running) or the payment (instalment) is due
    licence_year = db.Column(db.Integer, nullable=False)  # 1, 2, … (the yearly minimum's year)
    net_sales = db.Column(db.BigInteger)  # fen, as reported
    report_file = db.Column(db.String(100))  # stored upload name (marketplace.kernel.uploads)
    report_note = db.Column(db.String(500))
    reported_at = db.Column(db.DateTime)
    reported_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    amount = db.Column(db.BigInteger)  # fen due for the period (computed at the report; set for instalments)
    fee = db.Column(db.BigInteger)  # the platform fee at the deal's fee_bps
    currency = db.Column(db.String(3), nullable=False, default="CNY")
    status = db.Column(db.String(20), nullable=False, default="open", index=True)
    payment_reference = db.Column(db.String(40), unique=True)
    payment_due_on = db.Column(db.Date)
    paid_at = db.Column(db.DateTime)
    released_at = db.Column(db.DateTime)
    payout_reference = db.Column(db.String(100))
    payout_paid_at = db.Column(db.DateTime)
    reminded_at = db.Column(db.DateTime)  # the late report / payment reminder
    credit_recorded_at = db.Column(db.DateTime)  # the credit record after the grace period
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    licence = db.relationship("Licence", back_populates="periods")

    # --- what the payment gateways read (as a Deal and an AuctionDeposit) ---
    @property
    def amount_due(self):
        return self.amount or 0

    @property
    def payment_key(self):
        return f"royalty:{self.id}"

    @property
    def payment_owner(self):
        return {"royalty_period_id": self.id}

    @property
    def payment_due_at(self):
        return datetime.combine(self.payment_due_on, time(15, 59)) if self.payment_due_on else None

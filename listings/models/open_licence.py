"""Open licences (专利开放许可, 专利法第五十条至第五十二条): a holder's published offer to license a patent
listing to anyone at fixed terms. See docs/trading.md "Open licences" and ``listings.open_licence``."""
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow

OPEN_LICENCE_STATUSES = ("open", "withdrawn", "lapsed")
ROYALTY_KINDS = ("fixed", "percent")  # a fixed fee per year | a percentage of net sales with a yearly minimum
PERIODS = ("quarter", "year")


class OpenLicence(db.Model):
    __tablename__ = "open_licences"
    __table_args__ = (
        db.CheckConstraint("royalty_bps IS NULL OR (royalty_bps > 0 AND royalty_bps <= 10000)",
                           name="open_licence_bps"),
        db.CheckConstraint("term_years >= 1 AND term_years <= 20", name="open_licence_term"),
    )
    id = db.Column(db.Integer, primary_key=True)
    listing_id = db.Column(db.Integer, db.ForeignKey("listings.id"), nullable=False, index=True)
    declared_by_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"))  # the holder's side (None: a person)
    royalty_kind = db.Column(db.String(10), nullable=False)  # fixed | percent
    annual_fee = db.Column(db.BigInteger)  # fen per licence year (fixed)
    royalty_bps = db.Column(db.Integer)  # percent of net sales in basis points (percent)
    yearly_minimum = db.Column(db.BigInteger)  # fen per licence year (percent)
    period = db.Column(db.String(10), nullable=False, default="year")  # quarter | year: reports (percent)
    term_years = db.Column(db.Integer, nullable=False)
    status = db.Column(db.String(12), nullable=False, default="open", index=True)
    declared_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    withdrawn_at = db.Column(db.DateTime)
    withdraw_reason = db.Column(db.String(300))
    lapsed_at = db.Column(db.DateTime)
    lapsed_reason = db.Column(db.String(300))

    listing = db.relationship("Listing")
    declared_by = db.relationship("User")

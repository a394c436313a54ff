"""Credit records (失信惩戒): a violation found by an operator, the level it sets, and the party's appeal."""
from sqlalchemy import CheckConstraint

from .extensions import db
from .timeutil import utcnow

VIOLATIONS = ("infringement", "counterfeiting", "fraud", "non_performance", "restored")
APPEAL_STATUSES = ("open", "upheld", "revoked")


class CreditRecord(db.Model):
    """One finding against exactly one organisation or one user, by an operator or (``operator_id``
    None) by the system: repeated unpaid reservations (``escrow.strikes``).

    The subject's ``credit_level`` is the level of its latest record that was not
    revoked on appeal (``good`` when there is none). ``restored`` records lift a
    penalty (信用修复).
    """

    __tablename__ = "credit_records"
    __table_args__ = (
        CheckConstraint("(organization_id IS NULL) <> (user_id IS NULL)", name="credit_one_subject"),
        CheckConstraint("level IN ('good', 'warned', 'restricted', 'blacklisted')", name="credit_level_known"),
    )
    id = db.Column(db.Integer, primary_key=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), index=True)
    violation = db.Column(db.String(30), nullable=False)
    level = db.Column(db.String(20), nullable=False)
    previous_level = db.Column(db.String(20), nullable=False)
    description = db.Column(db.Text, nullable=False)
    deal_id = db.Column(db.Integer)  # the deal concerned, for non-performance (no FK: the kernel knows no escrow)
    evidence = db.Column(db.String(100))  # stored upload name (area "credit")
    evidence_name = db.Column(db.String(200))
    # the operator who recorded it; None for a record the system wrote (a buyer's unpaid reservations)
    operator_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    appeal_note = db.Column(db.Text)
    appeal_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    appealed_at = db.Column(db.DateTime)
    appeal_status = db.Column(db.String(20))  # None, open, upheld, revoked
    appeal_reply = db.Column(db.Text)
    appeal_decided_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    appeal_decided_at = db.Column(db.DateTime)

    organization = db.relationship("Organization")
    user = db.relationship("User", foreign_keys=[user_id])
    operator = db.relationship("User", foreign_keys=[operator_id])
    appeal_by = db.relationship("User", foreign_keys=[appeal_by_id])
    appeal_decided_by = db.relationship("User", foreign_keys=[appeal_decided_by_id])

    @property
    def subject(self):
        return self.organization if self.organization_id else self.user

    @property
    def subject_type(self):
        return "organization" if self.organization_id else "user"

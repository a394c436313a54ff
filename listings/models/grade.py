"""Quality assessments. Every one is kept; the latest is the listing's grade."""
from sqlalchemy import JSON

from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow


class GradeAssessment(db.Model):
    __tablename__ = "grade_assessments"
    id = db.Column(db.Integer, primary_key=True)
    listing_id = db.Column(db.Integer, db.ForeignKey("listings.id"), nullable=False, index=True)
    operator_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    scores = db.Column(JSON, nullable=False)  # {indicator key: 0..10}
    proposal = db.Column(JSON)  # the system's pre-score at the time, for calibration
    dimensions = db.Column(JSON, nullable=False)  # {dimension: 0..100}
    score = db.Column(db.Float, nullable=False)  # 0..100
    grade = db.Column(db.String(1), nullable=False)
    rationale = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    listing = db.relationship("Listing")
    operator = db.relationship("User")

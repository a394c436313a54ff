"""Finance desk tables: valuations, loan applications with banks' offers and the pledge they lead to,
voucher batches, vouchers, service charges and voucher redemptions. Money is integer fen."""
from sqlalchemy import JSON, CheckConstraint, UniqueConstraint

from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow

VALUATION_STATUSES = ("self_assessment", "review_requested", "signed_off")
APPLICATION_STATUSES = ("open", "accepted", "registration_submitted", "pledged", "release_pending",
                        "release_submitted", "released", "withdrawn")
OFFER_KINDS = ("offer", "decline")
OFFER_STATUSES = ("open", "accepted", "superseded", "declined", "withdrawn")
SERVICES = ("valuation_review", "platform_fee", "deal_fee")
CHARGE_STATUSES = ("due", "paid", "cancelled")  # cancelled: a deal fee whose deal ended unsold
REDEMPTION_STATUSES = ("booked", "held", "returned")


class Valuation(db.Model):
    """An income-method valuation of one right or a portfolio, owned by the holder's side (its
    organisation, or a natural person), private to it unless attached."""

    __tablename__ = "finance_valuations"
    __table_args__ = (CheckConstraint("value >= 0", name="valuation_value_nonnegative"),)
    id = db.Column(db.Integer, primary_key=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), index=True)
    owner_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)  # who entered it
    valuation_date = db.Column(db.Date, nullable=False)
    revenues = db.Column(JSON, nullable=False)  # [fen per year], year 1 first
    royalty_rate = db.Column(db.String(12), nullable=False)  # percent, Decimal as text ("12.5")
    discount_rate = db.Column(db.String(12), nullable=False)  # percent, Decimal as text
    life_years = db.Column(db.Integer, nullable=False)
    value = db.Column(db.BigInteger, nullable=False)  # fen
    sensitivity = db.Column(JSON, nullable=False)
    comparables = db.Column(JSON, nullable=False)
    note = db.Column(db.Text)
    status = db.Column(db.String(20), nullable=False, default="self_assessment")
    signed_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    signer_role = db.Column(db.String(20))  # operator | valuer
    signed_at = db.Column(db.DateTime)
    sign_note = db.Column(db.Text)
    listing_id = db.Column(db.Integer, db.ForeignKey("listings.id"), index=True)  # attached to a listing
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    rights = db.relationship("ValuationRight", order_by="ValuationRight.position", cascade="all, delete-orphan")
    owner = db.relationship("User", foreign_keys=[owner_id])
    signed_by = db.relationship("User", foreign_keys=[signed_by_id])
    organization = db.relationship("Organization")
    listing = db.relationship("Listing")


class ValuationRight(db.Model):
    __tablename__ = "finance_valuation_rights"
    __table_args__ = (UniqueConstraint("valuation_id", "right_id", name="uq_finance_valuation_right"),)
    id = db.Column(db.Integer, primary_key=True)
    valuation_id = db.Column(db.Integer, db.ForeignKey("finance_valuations.id"), nullable=False, index=True)
    right_id = db.Column(db.Integer, db.ForeignKey("rights.id"), nullable=False, index=True)
    position = db.Column(db.Integer, nullable=False, default=0)

    right = db.relationship("Right")


class LoanApplication(db.Model):
    """An SME's application for a loan secured by a pledge of its rights (质押融资)."""

    __tablename__ = "finance_loan_applications"
    __table_args__ = (CheckConstraint("amount > 0", name="loan_amount_positive"),)
    id = db.Column(db.Integer, primary_key=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), nullable=False, index=True)
    applicant_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    amount = db.Column(db.BigInteger, nullable=False)  # fen
    term_months = db.Column(db.Integer, nullable=False)
    purpose = db.Column(db.Text, nullable=False)
    valuation_id = db.Column(db.Integer, db.ForeignKey("finance_valuations.id"))
    statements = db.Column(db.String(100))  # financial statements, stored upload name
    listed = db.Column(db.Boolean, nullable=False, default=False)  # in the project database (项目库)
    status = db.Column(db.String(30), nullable=False, default="open", index=True)
    accepted_offer_id = db.Column(db.Integer)  # a LoanOffer of this application (no FK: the tables refer to each other)
    # the CNIPA pledge registration (专利权质押登记 / 商标专用权质押登记) and its release (注销)
    pledge_number = db.Column(db.String(60))
    pledge_date = db.Column(db.Date)
    pledge_verified_at = db.Column(db.DateTime)
    release_number = db.Column(db.String(60))
    release_date = db.Column(db.Date)
    repaid_at = db.Column(db.DateTime)
    released_at = db.Column(db.DateTime)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    version = db.Column(db.Integer, nullable=False, default=1)

    rights = db.relationship("LoanRight", order_by="LoanRight.position", cascade="all, delete-orphan")
    banks = db.relationship("LoanBank", cascade="all, delete-orphan")
    offers = db.relationship("LoanOffer", foreign_keys="LoanOffer.application_id", order_by="LoanOffer.id",
                             back_populates="application")
    messages = db.relationship("LoanMessage", order_by="LoanMessage.id", cascade="all, delete-orphan")
    organization = db.relationship("Organization")
    applicant = db.relationship("User")
    valuation = db.relationship("Valuation")
    accepted_offer = db.relationship("LoanOffer", primaryjoin="foreign(LoanApplication.accepted_offer_id) == LoanOffer.id",
                                     viewonly=True)

    __mapper_args__ = {"version_id_col": version}


class LoanRight(db.Model):
    __tablename__ = "finance_loan_rights"
    __table_args__ = (UniqueConstraint("application_id", "right_id", name="uq_finance_loan_right"),)
    id = db.Column(db.Integer, primary_key=True)
    application_id = db.Column(db.Integer, db.ForeignKey("finance_loan_applications.id"), nullable=False, index=True)
    right_id = db.Column(db.Integer, db.ForeignKey("rights.id"), nullable=False, index=True)
    position = db.Column(db.Integer, nullable=False, default=0)
    encumbrance_id = db.Column(db.Integer, db.ForeignKey("right_encumbrances.id"))  # the pledge once registered

    right = db.relationship("Right")


class LoanBank(db.Model):
    """A bank organisation the SME sent its application to."""

    __tablename__ = "finance_loan_banks"
    __table_args__ = (UniqueConstraint("application_id", "organization_id", name="uq_finance_loan_bank"),)
    id = db.Column(db.Integer, primary_key=True)
    application_id = db.Column(db.Integer, db.ForeignKey("finance_loan_applications.id"), nullable=False, index=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), nullable=False, index=True)

    organization = db.relationship("Organization")


class LoanOffer(db.Model):
    """A bank's answer to an application: an offer (amount, rate, term, conditions) or a decline."""

    __tablename__ = "finance_loan_offers"
    id = db.Column(db.Integer, primary_key=True)
    application_id = db.Column(db.Integer, db.ForeignKey("finance_loan_applications.id"), nullable=False, index=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), nullable=False, index=True)
    made_by_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    kind = db.Column(db.String(10), nullable=False, default="offer")
    amount = db.Column(db.BigInteger)
    rate_bps = db.Column(db.Integer)  # annual interest rate in basis points (385 = 3.85 %)
    term_months = db.Column(db.Integer)
    conditions = db.Column(db.Text)
    status = db.Column(db.String(20), nullable=False, default="open")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    decided_at = db.Column(db.DateTime)

    application = db.relationship("LoanApplication", foreign_keys=[application_id], back_populates="offers")
    organization = db.relationship("Organization")


class LoanMessage(db.Model):
    """A bank's question, or the SME's answer, in the thread between the SME and one bank."""

    __tablename__ = "finance_loan_messages"
    id = db.Column(db.Integer, primary_key=True)
    application_id = db.Column(db.Integer, db.ForeignKey("finance_loan_applications.id"), nullable=False, index=True)
    bank_organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), nullable=False)
    author_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    from_bank = db.Column(db.Boolean, nullable=False)
    body = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    author = db.relationship("User")


class VoucherBatch(db.Model):
    """A programme's batch of innovation vouchers (创新券)."""

    __tablename__ = "finance_voucher_batches"
    __table_args__ = (CheckConstraint("face_value > 0", name="voucher_face_positive"),)
    id = db.Column(db.Integer, primary_key=True)
    issuer_organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), nullable=False, index=True)
    created_by_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    programme = db.Column(db.String(200), nullable=False)
    face_value = db.Column(db.BigInteger, nullable=False)  # fen, per SME
    valid_from = db.Column(db.Date, nullable=False)
    valid_until = db.Column(db.Date, nullable=False)
    services = db.Column(JSON, nullable=False)  # subset of SERVICES
    regions = db.Column(JSON, nullable=False, default=list)  # eligible regions; empty with organisations named
    organization_ids = db.Column(JSON, nullable=False, default=list)  # named eligible organisations
    single_use = db.Column(db.Boolean, nullable=False, default=False)  # one use only (what is left lapses)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    issuer = db.relationship("Organization")


class Voucher(db.Model):
    """One SME's voucher of a batch: its face value, less what its redemptions used."""

    __tablename__ = "finance_vouchers"
    __table_args__ = (UniqueConstraint("batch_id", "organization_id", name="uq_finance_voucher_holder"),
                      CheckConstraint("used >= 0", name="voucher_used_nonnegative"))
    id = db.Column(db.Integer, primary_key=True)
    batch_id = db.Column(db.Integer, db.ForeignKey("finance_voucher_batches.id"), nullable=False, index=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), nullable=False, index=True)
    used = db.Column(db.BigInteger, nullable=False, default=0)
    closed = db.Column(db.Boolean, nullable=False, default=False)  # a single-use voucher after its use
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    version = db.Column(db.Integer, nullable=False, default=1)

    batch = db.relationship("VoucherBatch")
    organization = db.relationship("Organization")

    __mapper_args__ = {"version_id_col": version}


class ServiceCharge(db.Model):
    """A fee the platform charges an SME for a service (a valuation's review, …), paid by vouchers and
    by bank transfer confirmed by an operator; or a deal's platform fee (``deal_id``, service ``deal_fee``),
    paid by vouchers and, at the deal's release, out of the escrow (``paid_from_escrow``)."""

    __tablename__ = "finance_service_charges"
    __table_args__ = (CheckConstraint("amount > 0", name="charge_amount_positive"),)
    id = db.Column(db.Integer, primary_key=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), nullable=False, index=True)
    service = db.Column(db.String(30), nullable=False)
    valuation_id = db.Column(db.Integer, db.ForeignKey("finance_valuations.id"), index=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"), unique=True)  # a deal's platform fee
    amount = db.Column(db.BigInteger, nullable=False)
    paid_from_escrow = db.Column(db.BigInteger, nullable=False, default=0)  # a deal fee's rest, at release
    paid_by_voucher = db.Column(db.BigInteger, nullable=False, default=0)
    paid_by_transfer = db.Column(db.BigInteger, nullable=False, default=0)
    transfer_reference = db.Column(db.String(100), unique=True)
    status = db.Column(db.String(10), nullable=False, default="due")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    paid_at = db.Column(db.DateTime)
    version = db.Column(db.Integer, nullable=False, default=1)

    organization = db.relationship("Organization")
    deal = db.relationship("Deal")

    __mapper_args__ = {"version_id_col": version}

    @property
    def outstanding(self):
        return self.amount - self.paid_by_voucher - self.paid_by_transfer - (self.paid_from_escrow or 0)


class VoucherRedemption(db.Model):
    """One use of a voucher against a service charge; booked in the ledger as the programme's money.

    ``status``: ``booked`` (in the ledger); ``held`` (on a deal's fee: the voucher's amount is set aside until the
    deal is released, when it is booked, or ends unsold, when it is ``returned`` to the voucher)."""

    __tablename__ = "finance_voucher_redemptions"
    __table_args__ = (CheckConstraint("amount > 0", name="redemption_amount_positive"),)
    id = db.Column(db.Integer, primary_key=True)
    voucher_id = db.Column(db.Integer, db.ForeignKey("finance_vouchers.id"), nullable=False, index=True)
    charge_id = db.Column(db.Integer, db.ForeignKey("finance_service_charges.id"), nullable=False, index=True)
    amount = db.Column(db.BigInteger, nullable=False)
    service = db.Column(db.String(30), nullable=False)
    status = db.Column(db.String(10), nullable=False, default="booked", server_default="booked", index=True)
    used_by_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    settled_at = db.Column(db.DateTime)  # the programme reimbursed it (兑付)
    settlement_reference = db.Column(db.String(100))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    voucher = db.relationship("Voucher")
    charge = db.relationship("ServiceCharge")

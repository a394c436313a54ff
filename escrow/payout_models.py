"""Where money leaves the platform by bank transfer: the seller's payout account and the refund instruction.

``PayoutAccount``: the bank account of a deal's payee (the selling organisation, or the seller
as a natural person, ``escrow.payouts.payee_of``). One is current per payee (``replaced_at``
null); a change keeps the old row (history) and starts verification again. See
``escrow.payouts`` and docs/payments.md "Payout accounts".

``RefundInstruction``: an offline refund waiting for the bank (``escrow.refunds``): the amount,
the buyer's account, the reason; the operator records the bank's reference once the money has
gone, and only then is the refund booked to ``buyer_refunds``. See docs/payments.md "Refunds".
"""
from sqlalchemy import CheckConstraint

from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow

ACCOUNT_STATUSES = ("pending", "verified", "rejected")
REFUND_STATUSES = ("awaiting_account", "ready", "paid")


class PayoutAccount(db.Model):
    __tablename__ = "payout_accounts"
    __table_args__ = (
        CheckConstraint("(organization_id IS NULL AND user_id IS NOT NULL) "
                        "OR (organization_id IS NOT NULL AND user_id IS NULL)", name="payout_account_one_payee"),
        CheckConstraint("micro_attempts >= 0", name="payout_account_attempts"),
    )
    id = db.Column(db.Integer, primary_key=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), index=True)  # a selling organisation
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), index=True)  # or a seller without an organisation
    bank = db.Column(db.String(60), nullable=False)  # 开户银行
    branch = db.Column(db.String(100), nullable=False)  # 开户支行
    account_number = db.Column(db.String(32), nullable=False)  # digits only
    account_name = db.Column(db.String(200), nullable=False)  # 户名: must be the payee's name
    status = db.Column(db.String(20), nullable=False, default="pending")  # pending | verified | rejected
    method = db.Column(db.String(20))  # how it was verified: operator | micro_deposit
    micro_amount = db.Column(db.Integer)  # fen the operator sent for the small-amount check (1–99)
    micro_sent_at = db.Column(db.DateTime)
    micro_attempts = db.Column(db.Integer, nullable=False, default=0)  # wrong amounts entered back
    note = db.Column(db.String(300))  # why it was rejected
    submitted_by_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    verified_at = db.Column(db.DateTime)
    verified_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    hold_until = db.Column(db.DateTime)  # a changed account: no payout into it before this
    replaced_at = db.Column(db.DateTime)  # no longer current (a newer account was entered)

    organization = db.relationship("Organization")
    user = db.relationship("User", foreign_keys=[user_id])
    submitted_by = db.relationship("User", foreign_keys=[submitted_by_id])
    verified_by = db.relationship("User", foreign_keys=[verified_by_id])

    @property
    def masked_number(self):
        """The account number as anyone but an operator sees it: only the last 4 digits."""
        return "•••• " + self.account_number[-4:]

    @property
    def is_verified(self):
        return self.status == "verified" and self.replaced_at is None


class RefundInstruction(db.Model):
    __tablename__ = "refund_instructions"
    __table_args__ = (CheckConstraint("amount > 0", name="refund_instruction_amount"),
                      CheckConstraint("(deal_id IS NULL) <> (deposit_id IS NULL)", name="refund_instruction_owner"))
    id = db.Column(db.Integer, primary_key=True)
    # one refund per deal; or, for an auction deposit paid by bank transfer and returned (issue 15: one refund
    # queue for deals and deposits), the deposit, with no deal
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"), unique=True)
    deposit_id = db.Column(db.Integer, db.ForeignKey("auction_deposits.id"), unique=True)
    amount = db.Column(db.BigInteger, nullable=False)  # fen
    currency = db.Column(db.String(3), nullable=False, default="CNY")
    reason = db.Column(db.String(300), nullable=False)
    status = db.Column(db.String(20), nullable=False, default="awaiting_account")  # awaiting_account | ready | paid
    # where the money goes back: entered by the buyer
    bank = db.Column(db.String(60))
    branch = db.Column(db.String(100))
    account_number = db.Column(db.String(32))
    account_name = db.Column(db.String(200))
    account_entered_at = db.Column(db.DateTime)
    bank_reference = db.Column(db.String(100), unique=True)  # the bank's reference of the transfer; never reused
    paid_at = db.Column(db.DateTime)
    paid_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    deal = db.relationship("Deal")
    deposit = db.relationship("AuctionDeposit")
    paid_by = db.relationship("User")

    @property
    def masked_number(self):
        return "•••• " + self.account_number[-4:] if self.account_number else ""

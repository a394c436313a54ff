"""Deals, their append-only events and documents, and the double-entry ledger's tables.

The ledger (see ``escrow.ledger``) is append-only: ``JournalEntry`` rows carry a unique
idempotency key, ``Posting`` rows are never edited, and the database itself refuses an
entry whose postings do not sum to zero per currency (``escrow.ledger_guards``).
"""
from sqlalchemy import JSON, CheckConstraint, UniqueConstraint

from marketplace.kernel.extensions import db
from marketplace.kernel.messages import render
from marketplace.kernel.timeutil import utcnow

DEAL_STATES = ("awaiting_payment", "funded", "transfer_filed", "transfer_recorded", "released", "completed",
               "disputed", "transfer_back", "cancelled", "refunded",
               "recordal_submitted")  # issue 15: recordal details waiting for an operator's check
TERMINAL_STATES = ("completed", "cancelled", "refunded")


class Deal(db.Model):
    __tablename__ = "deals"
    __table_args__ = (CheckConstraint("price > 0 AND fee >= 0 AND fee <= price", name="deal_amounts"),)
    id = db.Column(db.Integer, primary_key=True)
    listing_id = db.Column(db.Integer, db.ForeignKey("listings.id"), nullable=False, index=True)
    buyer_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    seller_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"))  # None: a natural person sells
    deal_type = db.Column(db.String(30), nullable=False)
    source = db.Column(db.String(20), nullable=False)  # purchase | offer | auction
    source_id = db.Column(db.Integer)  # offer or auction id
    price = db.Column(db.BigInteger, nullable=False)  # fen
    fee = db.Column(db.BigInteger, nullable=False)  # platform fee in fen, paid out of the seller's share
    fee_bps = db.Column(db.Integer, nullable=False)  # the fee rate fixed when the deal opened (escrow.fees)
    currency = db.Column(db.String(3), nullable=False, default="CNY")
    state = db.Column(db.String(30), nullable=False, default="awaiting_payment", index=True)
    gateway = db.Column(db.String(20), nullable=False, default="offline")
    payment_reference = db.Column(db.String(40), unique=True)
    payment_due_at = db.Column(db.DateTime)
    transfer_due_at = db.Column(db.DateTime)
    inspection_ends_at = db.Column(db.DateTime)
    # licence terms, recorded when the deal opens
    license_territory = db.Column(db.String(100))
    licences_acknowledged_at = db.Column(db.DateTime)  # an assignment's buyer acknowledged the surviving licences
    split_share = db.Column(db.BigInteger)  # a split decided after recordal waits for the transfer-back
    license_field = db.Column(db.String(200))
    license_start = db.Column(db.Date)
    license_end = db.Column(db.Date)
    flagged = db.Column(db.String(200))  # why an operator should look (e.g. amount mismatch)
    # milestones (naive UTC)
    funded_at = db.Column(db.DateTime)
    filed_at = db.Column(db.DateTime)
    recorded_at = db.Column(db.DateTime)
    released_at = db.Column(db.DateTime)
    closed_at = db.Column(db.DateTime)  # completed, cancelled or refunded
    transfer_overdue_notified_at = db.Column(db.DateTime)
    # disputes
    dispute_reason = db.Column(db.Text)
    disputed_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    disputed_from = db.Column(db.String(30))  # the state the dispute interrupted
    resolution = db.Column(db.String(20))  # release | refund | split
    # money leaving escrow (the ledger is the record; these say what is still to do)
    payout_amount = db.Column(db.BigInteger)  # fen due to the seller after the fee
    payout_status = db.Column(db.String(20))  # pending | paid | failed
    payout_reference = db.Column(db.String(100))  # bank reference or provider transfer id
    payout_paid_at = db.Column(db.DateTime)
    payout_account_id = db.Column(db.Integer, db.ForeignKey("payout_accounts.id"))  # the bank account paid into
    refund_amount = db.Column(db.BigInteger)
    refund_status = db.Column(db.String(20))  # pending | refunded | failed
    refund_reference = db.Column(db.String(100))
    deposit_credit = db.Column(db.BigInteger)  # a won auction's deposit, counted towards the price (escrow.deposits)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    version = db.Column(db.Integer, nullable=False, default=1)

    listing = db.relationship("Listing")
    buyer = db.relationship("User", foreign_keys=[buyer_id])
    seller = db.relationship("User", foreign_keys=[seller_id])
    organization = db.relationship("Organization")
    disputed_by = db.relationship("User", foreign_keys=[disputed_by_id])
    events = db.relationship("DealEvent", back_populates="deal", order_by="DealEvent.id")
    documents = db.relationship("Document", back_populates="deal", order_by="Document.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def seller_name(self):
        """The seller side's name: the organisation, or the seller as a natural person (issue 13)."""
        return self.organization.name if self.organization is not None else self.seller.name

    @property
    def is_license(self):
        return self.deal_type != "assignment"

    @property
    def is_terminal(self):
        return self.state in TERMINAL_STATES

    # --- what the payment gateways read (an AuctionDeposit has the same names) ---
    @property
    def amount_due(self):
        """What the buyer pays in: the price, less a won auction's deposit already held in escrow."""
        return self.price - (self.deposit_credit or 0)

    @property
    def payment_key(self):
        return f"deal:{self.id}"

    @property
    def payment_owner(self):
        return {"deal_id": self.id}


class DealEvent(db.Model):
    """Append-only history of a deal: every transition, who did it, with what document."""

    __tablename__ = "deal_events"
    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"), nullable=False, index=True)
    actor_id = db.Column(db.Integer, db.ForeignKey("users.id"))  # None for the system (deadlines, webhooks)
    action = db.Column(db.String(40), nullable=False)
    from_state = db.Column(db.String(30))
    to_state = db.Column(db.String(30), nullable=False)
    note = db.Column(db.Text)  # the Chinese text, as written (or a person's own words)
    note_msg = db.Column(JSON)  # the message key and parameters (marketplace.kernel.messages); None: ``note`` as it is
    document_id = db.Column(db.Integer)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    deal = db.relationship("Deal", back_populates="events")
    actor = db.relationship("User")

    @property
    def note_text(self):
        """The note in the reader's language."""
        return render(self.note_msg, self.note)


class Document(db.Model):
    """A file a party uploaded to a deal (CNIPA filing receipt, approval notice).

    Stored outside static files under a random name (``marketplace.kernel.uploads``); served
    only to the deal's buyer, seller and operators.
    """

    __tablename__ = "deal_documents"
    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"), nullable=False, index=True)
    kind = db.Column(db.String(30), nullable=False)  # filing_receipt | approval_notice
    stored_name = db.Column(db.String(100), nullable=False, unique=True)
    file_type = db.Column(db.String(10), nullable=False)  # pdf | png | jpeg, sniffed from the content
    size = db.Column(db.Integer, nullable=False)
    original_name = db.Column(db.String(200), nullable=False, default="")
    uploaded_by_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    deal = db.relationship("Deal", back_populates="documents")
    uploaded_by = db.relationship("User")


# --- ledger ------------------------------------------------------------------

class LedgerAccount(db.Model):
    """The chart of accounts (``escrow.ledger.ACCOUNTS``); rows are created on first use."""

    __tablename__ = "ledger_accounts"
    id = db.Column(db.Integer, primary_key=True)
    code = db.Column(db.String(60), nullable=False, unique=True)  # escrow, gateway_clearing:offline, …
    name = db.Column(db.String(100), nullable=False)
    kind = db.Column(db.String(20), nullable=False)  # internal (the platform holds it) | external (outside world)


class JournalEntry(db.Model):
    """One booking: a set of postings that sum to zero per currency. Never edited or deleted."""

    __tablename__ = "ledger_entries"
    id = db.Column(db.Integer, primary_key=True)
    idempotency_key = db.Column(db.String(120), nullable=False, unique=True)  # deal:42:fund
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"), index=True)
    kind = db.Column(db.String(30), nullable=False)  # fund | release | payout | refund | refund_requested
    memo = db.Column(db.String(300), nullable=False, default="")  # the Chinese text, as written
    memo_msg = db.Column(JSON)  # the message key and parameters (marketplace.kernel.messages); None: ``memo`` as it is
    reference = db.Column(db.String(100))  # bank reference / provider id behind the booking
    actor_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    postings = db.relationship("Posting", back_populates="entry", order_by="Posting.id")
    actor = db.relationship("User")

    @property
    def memo_text(self):
        """The memo in the reader's language."""
        return render(self.memo_msg, self.memo, old_msgid=True)  # old memos were stored as msgids


class Posting(db.Model):
    """One signed amount on one account: positive = value into the account. Immutable."""

    __tablename__ = "ledger_postings"
    __table_args__ = (CheckConstraint("amount <> 0", name="posting_amount_nonzero"),)
    id = db.Column(db.Integer, primary_key=True)
    entry_id = db.Column(db.Integer, db.ForeignKey("ledger_entries.id"), nullable=False, index=True)
    account_id = db.Column(db.Integer, db.ForeignKey("ledger_accounts.id"), nullable=False, index=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"), index=True)  # the entry's deal, for balances
    amount = db.Column(db.BigInteger, nullable=False)  # fen, signed
    currency = db.Column(db.String(3), nullable=False)

    entry = db.relationship("JournalEntry", back_populates="postings")
    account = db.relationship("LedgerAccount")


class LedgerBalanceGuard(db.Model):
    """Always empty. On SQLite a row of ``ledger_unbalanced`` points here, so COMMIT fails while one exists."""

    __tablename__ = "ledger_balance_guard"
    id = db.Column(db.Integer, primary_key=True)


class LedgerImbalance(db.Model):
    """SQLite's commit-time balance check (PostgreSQL uses a deferred constraint trigger instead).

    A trigger on ``ledger_postings`` keeps one row per (entry, currency) whose postings
    do not yet sum to zero. Its foreign key to the always-empty guard table is
    DEFERRABLE INITIALLY DEFERRED, so SQLite checks it at COMMIT: an entry still out
    of balance then makes the commit fail. See ``escrow.ledger_guards``.
    """

    __tablename__ = "ledger_unbalanced"
    __table_args__ = (UniqueConstraint("entry_id", "currency", name="uq_ledger_unbalanced"),)
    id = db.Column(db.Integer, primary_key=True)
    entry_id = db.Column(db.Integer, nullable=False)
    currency = db.Column(db.String(3), nullable=False)
    amount = db.Column(db.BigInteger, nullable=False, default=0)
    guard = db.Column(db.Integer, db.ForeignKey("ledger_balance_guard.id", deferrable=True, initially="DEFERRED"),
                      nullable=False, default=1)


from . import ledger_guards  # noqa: E402,F401  (installs the ledger's triggers with the tables)
from .paper_models import ContractSignature, DealContract, InvoiceRequest, RecordalDetails  # noqa: E402,F401
from .payout_models import PayoutAccount, RefundInstruction  # noqa: E402,F401
from .royalty_models import Licence, RoyaltyPeriod  # noqa: E402,F401  (issue 16)
from .webhook_models import ProcessedWebhookEvent, StripePaymentIntent  # noqa: E402,F401

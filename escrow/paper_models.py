"""The deal's paperwork (issue 15): the contract and its signatures, the CNIPA recordal details an
operator checks, and the invoice requests. Services: ``escrow.contracts``, ``escrow.recordal``,
``escrow.invoices``.
"""
from sqlalchemy import CheckConstraint, UniqueConstraint

from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow


class DealContract(db.Model):
    """The contract generated from the deal's terms when the deal opens, frozen: ``text`` is the
    canonical text (the rendered document without markup, whitespace collapsed) and ``sha256`` its
    hash, so the same terms give the same hash and every signature is on exactly this text."""

    __tablename__ = "deal_contracts"
    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"), nullable=False, unique=True)
    kind = db.Column(db.String(20), nullable=False)  # assignment | license
    template_version = db.Column(db.String(20), nullable=False)
    html = db.Column(db.Text, nullable=False)  # the document body as rendered (for review and the PDF)
    text = db.Column(db.Text, nullable=False)  # canonical text, the one the hash is of
    sha256 = db.Column(db.String(64), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # 技术合同登记 (patent deals): the registration number the seller (or an operator) records
    tech_registration_number = db.Column(db.String(40))
    tech_registered_at = db.Column(db.DateTime)
    tech_registered_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))

    deal = db.relationship("Deal", backref=db.backref("contract", uselist=False))
    signatures = db.relationship("ContractSignature", back_populates="contract", order_by="ContractSignature.id")


class ContractSignature(db.Model):
    """One party's signature on the platform: who, when, from where, on which text (its SHA-256)."""

    __tablename__ = "contract_signatures"
    __table_args__ = (UniqueConstraint("deal_id", "role", name="uq_contract_signature_role"),
                      CheckConstraint("role IN ('buyer', 'seller')", name="contract_signature_role"))
    id = db.Column(db.Integer, primary_key=True)
    contract_id = db.Column(db.Integer, db.ForeignKey("deal_contracts.id"), nullable=False, index=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"), nullable=False, index=True)
    role = db.Column(db.String(10), nullable=False)  # buyer | seller
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    signer_name = db.Column(db.String(100), nullable=False)
    party_name = db.Column(db.String(200), nullable=False)  # the organisation (or the natural person) bound
    party_id_text = db.Column(db.String(60), nullable=False, default="")  # USCC, or a masked ID number
    sha256 = db.Column(db.String(64), nullable=False)
    ip_address = db.Column(db.String(45), nullable=False, default="")
    signed_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    contract = db.relationship("DealContract", back_populates="signatures")
    user = db.relationship("User")


class RecordalDetails(db.Model):
    """What the seller read off CNIPA's notice when uploading it, and the operator's check of it.

    Patents: the notice's 发文序号 and 发文日 (and, optionally, the gazette issue 公告期号).
    Trademarks: the 商标公告 issue (期号) and page of the 核准转让公告 (or the licence recordal notice).
    A rejected submission stays as history; the seller submits again.
    """

    __tablename__ = "deal_recordals"
    __table_args__ = (CheckConstraint("status IN ('submitted', 'verified', 'rejected')", name="recordal_status"),)
    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"), nullable=False, index=True)
    document_id = db.Column(db.Integer, db.ForeignKey("deal_documents.id"), nullable=False)
    kind = db.Column(db.String(20), nullable=False)  # patent | trademark
    notice_number = db.Column(db.String(20))  # patents: 发文序号
    notice_date = db.Column(db.Date)  # patents: 发文日; trademarks: the gazette's date when given
    gazette_issue = db.Column(db.String(20))  # trademarks: 商标公告期号; patents: 专利公报 issue, optional
    gazette_page = db.Column(db.Integer)  # trademarks: page of the 商标公告
    status = db.Column(db.String(20), nullable=False, default="submitted")
    submitted_by_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    submitted_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    decided_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    decided_at = db.Column(db.DateTime)
    reject_reason = db.Column(db.String(1000))

    document = db.relationship("Document")
    submitted_by = db.relationship("User", foreign_keys=[submitted_by_id])
    decided_by = db.relationship("User", foreign_keys=[decided_by_id])


class InvoiceRequest(db.Model):
    """A request for a 发票 on a deal, tracked from requested to issued.

    ``issuer``: ``seller`` invoices the price (to the buyer), ``platform`` invoices its fee (to whoever
    bears the fee, ``escrow.invoices.FEE_PAYER``). The issuer records the invoice number.
    """

    __tablename__ = "invoice_requests"
    __table_args__ = (UniqueConstraint("deal_id", "issuer", name="uq_invoice_request_issuer"),
                      CheckConstraint("issuer IN ('seller', 'platform')", name="invoice_issuer"),
                      CheckConstraint("invoice_type IN ('normal', 'special')", name="invoice_type"),
                      CheckConstraint("status IN ('requested', 'issued')", name="invoice_status"),
                      CheckConstraint("amount > 0", name="invoice_amount"))
    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"), nullable=False, index=True)
    issuer = db.Column(db.String(10), nullable=False)
    amount = db.Column(db.BigInteger, nullable=False)  # fen
    currency = db.Column(db.String(3), nullable=False, default="CNY")
    title = db.Column(db.String(100), nullable=False)  # 发票抬头
    taxpayer_id = db.Column(db.String(18))  # 纳税人识别号 (USCC); empty only for a natural person's 普通发票
    invoice_type = db.Column(db.String(10), nullable=False)  # normal 普通发票 | special 增值税专用发票
    status = db.Column(db.String(10), nullable=False, default="requested")
    invoice_number = db.Column(db.String(20))
    # 专用发票: the buyer's registered address and phone, bank and account (地址、电话；开户行及账号), as the
    # invoice prints them; optional on a 普通发票 (escrow.invoices.clean_special_details)
    address = db.Column(db.String(200))
    phone = db.Column(db.String(30))
    bank = db.Column(db.String(60))
    bank_account = db.Column(db.String(30))
    requested_by_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    requested_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    issued_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    issued_at = db.Column(db.DateTime)

    requested_by = db.relationship("User", foreign_keys=[requested_by_id])
    issued_by = db.relationship("User", foreign_keys=[issued_by_id])

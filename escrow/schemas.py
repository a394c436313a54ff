"""The deals API's request bodies as marshmallow schemas (``marketplace.kernel.schemas``): each validates the
body of its route and is that route's OpenAPI description. The deal's state, the caller's part in it and
rules that need the deal (a payment reference of this deal, a split below the price) stay in
``escrow.deals``, which runs after the schema.
"""
from marshmallow import fields

from marketplace.kernel import schemas as s

from .deals import RESOLUTIONS
from .payouts import ACCOUNT_NUMBER_MAX, LIMITS, MICRO_MAX, MICRO_MIN, REJECT_NOTE

MAX_NOTE = 1000
MAX_REFERENCE = 100  # the message below says it


class ConfirmPayment(s.Body):
    reference = s.String(required=True, validate=s.Length(max=40), metadata={
        "description": "the payment reference on the bank's receipt (IPM…)"})
    amount = s.Integer(required=True, validate=s.Range(min=1), metadata={"description": "fen received"})


class Dispute(s.Body):
    reason = s.String(required=True, validate=s.Length(min=5, max=2000, too_short=s.N_("至少 5 个字"),
                                                       too_long=s.N_("不超过 2000 个字")))


class Resolve(s.Body):
    outcome = s.String(required=True, validate=s.OneOf(list(RESOLUTIONS), message=s.N_("可选：%(options)s")))
    seller_share = s.Integer(validate=s.Range(min=1), metadata={
        "description": "split: fen of the price to the seller (above 0, below the price)"})
    note = s.String(validate=s.Length(max=MAX_NOTE))


class Note(s.Body):
    note = s.String(validate=s.Length(max=MAX_NOTE))


class Cancel(s.Body):
    reason = s.String(validate=s.Length(max=MAX_NOTE))


class PayoutPaid(s.Body):
    reference = s.String(required=True, validate=s.Length(min=1, max=MAX_REFERENCE,
                                                           too_long=s.N_("不超过 100 个字符")))


class Upload(s.Body):
    document = fields.Raw(required=True, metadata={
        "type": "string", "format": "binary", "description": "PDF, PNG or JPEG, at most 10 MB (type checked by content)"})
    note = s.String(validate=s.Length(max=MAX_NOTE))


class RecordalUpload(Upload):
    notice_number = s.String(validate=s.Length(max=20), metadata={
        "description": "patents: the notice's 发文序号 (10-20 digits)"})
    notice_date = s.Date(metadata={"description": "patents: 发文日 (required); trademarks: optional"})
    gazette_issue = s.String(validate=s.Length(max=20), metadata={"description": "trademarks: 商标公告期号 (required)"})
    gazette_page = s.String(validate=s.Length(max=6), metadata={"description": "trademarks: page of the 公告 (required)"})


# --- payout and refund accounts (escrow.payout_views): the bounds are the services' own
# (``escrow.payouts.clean_bank_fields`` and the micro-deposit and rejection checks, which the HTML forms share and
# which give the domain's wording); the schemas check the shape and document those bounds from the same constants.

class BankAccount(s.Body):
    bank = s.String(required=True, metadata={"minLength": 2, "maxLength": LIMITS["bank"]})
    branch = s.String(required=True, metadata={"minLength": 2, "maxLength": LIMITS["branch"]})
    account_number = s.String(required=True, metadata={
        "maxLength": ACCOUNT_NUMBER_MAX, "description": "8–30 digits (spaces and hyphens ignored)"})
    account_name = s.String(required=True, metadata={
        "minLength": 2, "maxLength": LIMITS["account_name"],
        "description": "must be the payee's (organisation's or person's) name"})


class MicroDeposit(s.Body):
    amount = s.Integer(required=True, metadata={"minimum": MICRO_MIN, "maximum": MICRO_MAX,
                                                "description": "fen (0.01–0.99 yuan)"})


class RejectAccount(s.Body):
    note = s.String(required=True, metadata={"minLength": REJECT_NOTE[0], "maxLength": REJECT_NOTE[1]})


class RefundPaid(s.Body):
    reference = s.String(required=True, metadata={
        "minLength": 4, "maxLength": MAX_REFERENCE,
        "description": "the bank's reference of the transfer: letters, digits, - _ / . (escrow.refunds.REFERENCE)"})


class FeeQuoteQuery(s.Query):
    price = s.Integer(required=True, validate=s.Range(min=1, max=10**13), metadata={"description": "fen"})

# --- the deal's paperwork (escrow/paper_api.py): the contract, the recordal check, invoices, tax ------------
# The bounds are the services' constants (contracts, recordal, invoices), which the HTML forms go through too;
# what needs the deal or the register (the password, a USCC's check digit, an invoice number's form, the
# details a 专用发票 requires) stays there.

from . import contracts as _contracts  # noqa: E402
from . import invoices as _invoices  # noqa: E402
from . import recordal as _recordal  # noqa: E402
from .serializers import DealOut  # noqa: E402


class Sign(s.Body):
    password = s.String(required=True, validate=s.Length(min=1, max=_contracts.MAX_PASSWORD,
                                                         too_long=s.N_("请输入您的登录密码")),
                        metadata={"description": "the signer's account password (confirms the signature)"})


class RejectRecordal(s.Body):
    reason = s.String(required=True, validate=s.Length(min=5, max=_recordal.MAX_REASON,
                                                       too_short=s.N_("至少 5 个字"),
                                                       too_long=s.N_("不超过 1000 个字")))


class InvoiceRequestInput(s.Body):
    issuer = s.String(required=True, validate=s.OneOf(list(_invoices.ISSUERS), message=s.N_("可选：%(options)s")))
    title = s.String(required=True, validate=s.Length(*_invoices.TITLE_LENGTH,
                                                      too_short=s.N_("发票抬头为 2 至 100 个字"),
                                                      too_long=s.N_("发票抬头为 2 至 100 个字")))
    taxpayer_id = s.String(validate=s.Length(max=_invoices.MAX_TAXPAYER_ID), metadata={
        "description": "纳税人识别号 (a USCC, 18 characters; required for a 专用发票 and for an organisation)"})
    invoice_type = s.String(required=True, validate=s.OneOf(list(_invoices.TYPE_MSGIDS),
                                                            message=s.N_("可选：%(options)s")))
    # 专用发票: required (the buyer's 地址、电话、开户行及账号); 普通发票: optional, checked when given
    address = s.String(validate=s.Length(max=_invoices.ADDRESS_LENGTH[1]), metadata={
        "description": f"{_invoices.ADDRESS_LENGTH[0]}–{_invoices.ADDRESS_LENGTH[1]} characters; "
                       "required for a 专用发票"})
    phone = s.String(validate=s.Length(max=_invoices.MAX_PHONE), metadata={"description": "required for a 专用发票"})
    bank = s.String(validate=s.Length(max=_invoices.BANK_LENGTH[1]), metadata={
        "description": f"{_invoices.BANK_LENGTH[0]}–{_invoices.BANK_LENGTH[1]} characters; required for a 专用发票"})
    bank_account = s.String(validate=s.Length(max=_invoices.MAX_BANK_ACCOUNT), metadata={
        "description": "8–30 digits (spaces allowed); required for a 专用发票"})


class InvoiceIssued(s.Body):
    invoice_number = s.String(required=True, validate=s.Length(max=30), metadata={
        "description": "8 digits, or the 20 digits of a 数电发票"})


class TechContract(s.Body):
    registration_number = s.String(required=True, validate=s.Length(max=41), metadata={
        "description": "6–40 letters, digits or hyphens"})


_n = s.nullable


class _Signature(s.Out):
    role = fields.String(validate=s.OneOf(list(_contracts.SIGNING_ROLES)))
    signer = _n(fields.String)
    party = _n(fields.String)
    party_id = _n(fields.String)
    signed_at = _n(fields.DateTime)
    ip_address = _n(fields.String)
    sha256 = _n(fields.String)


class ContractOut(s.Out):
    deal_id = fields.Integer()
    kind = fields.String(validate=s.OneOf(["assignment", "license"]))
    template_version = fields.String()
    sha256 = fields.String(required=True, metadata={"description": "SHA-256 of `text` (UTF-8)"})
    text = fields.String(metadata={"description": "the canonical contract text that is signed"})
    html = fields.String()
    created_at = _n(fields.DateTime)
    fully_signed = fields.Boolean(required=True)
    signatures = fields.List(fields.Nested(_Signature), required=True)
    pdf_url = fields.String()


class ContractAnswer(s.Out):
    contract = fields.Nested(ContractOut, required=True)


class SignedAnswer(s.Out):
    deal = fields.Nested(DealOut, required=True)
    contract = fields.Nested(ContractOut, required=True)


class _Recordal(s.Out):
    id = fields.Integer()
    kind = fields.String()
    status = fields.String(validate=s.OneOf(["submitted", "verified", "rejected"]))
    notice_number = _n(fields.String)
    notice_date = _n(fields.Date)
    gazette_issue = _n(fields.String)
    gazette_page = _n(fields.String)
    document_url = fields.String()
    submitted_at = _n(fields.DateTime)
    decided_at = _n(fields.DateTime)
    reject_reason = _n(fields.String)


class RecordalsAnswer(s.Out):
    recordals = fields.List(fields.Nested(_Recordal), required=True)
    joint_filing = fields.Boolean()
    filing_confirmed = fields.Boolean()


class InvoiceOut(s.Out):
    issuer = fields.String(required=True, validate=s.OneOf(list(_invoices.ISSUERS)))
    amount = fields.Integer(required=True)
    currency = fields.String()
    title = fields.String()
    taxpayer_id = _n(fields.String)
    invoice_type = fields.String(validate=s.OneOf(list(_invoices.TYPE_MSGIDS)))
    status = fields.String(required=True, validate=s.OneOf(list(_invoices.STATUS_LABELS)))
    invoice_number = _n(fields.String)
    requested_at = _n(fields.DateTime)
    issued_at = _n(fields.DateTime)
    address = _n(fields.String)
    phone = _n(fields.String)
    bank = _n(fields.String)
    bank_account = _n(fields.String)


class InvoiceAnswer(s.Out):
    invoice = fields.Nested(InvoiceOut, required=True)


class InvoiceList(s.Out):
    invoices = fields.List(fields.Nested(InvoiceOut), required=True)


class _Note(s.Out):
    title = fields.String()
    text = fields.String()


class _TechRow(s.Out):
    field = fields.String()
    value = fields.String()


class TaxAnswer(s.Out):
    notes = fields.List(fields.Nested(_Note), required=True)
    tech_contract = _n(fields.List, fields.Nested(_TechRow), metadata={"description": "patent deals only"})
    tech_registration_number = _n(fields.String)

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

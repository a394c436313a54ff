"""The finance desk's API bodies and answers (docs/finance.md "API") as marshmallow schemas
(``marketplace.kernel.schemas``): each validates its route's body and is that route's OpenAPI description.

The bounds are the services' constants (``finance.valuation``, ``lending``, ``vouchers``), which the finance pages
go through too; what needs the register, the calendar or several fields together (the caller holds the right, a
life within the rights' remaining term, as many revenues as years, a rate's decimals, a date not in the future,
a bank that asked) stays there, after the schema.
"""
from flask_babel import lazy_gettext as _l
from marshmallow import fields

from marketplace.kernel import schemas as s
from marketplace.kernel.regions import REGIONS

from . import lending, valuation, vouchers
from .access import FINANCE_ROLES
from .models import CHARGE_STATUSES, SERVICES

_n = s.nullable


def _id(description=None, **kwargs):
    return s.Integer(validate=s.Range(min=1), metadata={"description": description} if description else {}, **kwargs)


def _text(low, high, **kwargs):
    return s.String(validate=s.Length(min=low, max=high), **kwargs)


# --- requests -------------------------------------------------------------------------------------------

class RightRef(s.Body):
    kind = s.String(required=True, validate=s.OneOf(["patent", "trademark"]))
    number = s.String(required=True, validate=s.Length(min=1, max=valuation.MAX_NUMBER), metadata={
        "description": "the application (patent) or registration (trademark) number; the caller's side holds it"})


def _rights(too_short):
    return s.List(s.Nested(RightRef), required=True,
                  validate=s.Length(min=1, max=valuation.MAX_RIGHTS, too_short=too_short))


class ValuationInput(s.Body):
    rights = _rights(s.N_("至少选择一项权利"))
    revenues = s.List(s.Integer(validate=s.Range(min=0, max=valuation.MAX_REVENUE)), required=True,
                      validate=s.Length(min=1, max=valuation.MAX_LIFE), metadata={
                          "description": "expected revenue attributable to the IP, fen per year, year 1 first; "
                                         "as many years as life_years"})
    royalty_rate = s.String(required=True, validate=s.Length(min=1, max=valuation.MAX_RATE_TEXT), metadata={
        "description": "percent as text, > 0 and ≤ 100, at most 4 decimals, e.g. \"12.5\""})
    discount_rate = s.String(required=True, validate=s.Length(min=1, max=valuation.MAX_RATE_TEXT), metadata={
        "description": "percent as text, > 0 and < 100"})
    life_years = s.Integer(required=True, validate=s.Range(min=1, max=valuation.MAX_LIFE), metadata={
        "description": "remaining economic life; at most the rights' remaining term"})
    note = s.String(validate=s.Length(max=valuation.MAX_NOTE))


class Attach(s.Body):
    listing_id = s.Integer(required=True, allow_none=True, validate=s.Range(min=1),
                           error_messages={"required": _l("必填（null 表示取消附加）")},
                           metadata={"description": "one of the holder's listings; null detaches"})


class SignOff(s.Body):
    note = _text(2, valuation.MAX_NOTE, required=True)


class ApplicationInput(s.Body):
    rights = _rights(s.N_("至少选择一项出质的权利"))
    amount = s.Integer(required=True, validate=s.Range(min=1, max=lending.MAX_AMOUNT), metadata={"description": "fen"})
    term_months = s.Integer(required=True, validate=s.Range(min=1, max=lending.MAX_TERM))
    purpose = _text(5, lending.MAX_TEXT, required=True)
    valuation_id = _id("one of the organisation's valuation reports")
    banks = s.List(s.Integer(validate=s.Range(min=1)), validate=s.Length(max=lending.MAX_BANKS), metadata={
        "description": "verified bank organisations' ids (GET /finance/banks); none: listed must be true"})
    listed = s.Boolean(metadata={"description": "list the application in the project database (项目库)"})


class Question(s.Body):
    body = _text(2, lending.MAX_TEXT, required=True)


class Answer(s.Body):
    bank_organization_id = _id("the bank that asked", required=True)
    body = _text(2, lending.MAX_TEXT, required=True)


class LoanOffer(s.Body):
    amount = s.Integer(required=True, validate=s.Range(min=1, max=lending.MAX_AMOUNT), metadata={"description": "fen"})
    rate_bps = s.Integer(required=True, validate=s.Range(min=1, max=lending.MAX_RATE_BPS), metadata={
        "description": "annual rate in basis points (at most 36 %)"})
    term_months = s.Integer(required=True, validate=s.Range(min=1, max=lending.MAX_TERM))
    conditions = s.String(validate=s.Length(max=lending.MAX_TEXT))


class Decline(s.Body):
    reason = _text(2, lending.MAX_TEXT, required=True)


class Registration(s.Body):
    number = _text(5, lending.MAX_REG_NUMBER, required=True, metadata={
        "description": "CNIPA's registration number: letters, digits, hyphens, brackets"})
    date = s.Date(required=True, metadata={"description": "not in the future, not before the application"})


class Statements(s.Body):
    document = s.File("the financial statements: PDF, PNG or JPEG (type checked by content)", required=True)


class BatchInput(s.Body):
    programme = _text(*vouchers.PROGRAMME_LENGTH, required=True)
    face_value = s.Integer(required=True, validate=s.Range(min=1, max=vouchers.MAX_FACE), metadata={"description": "fen"})
    valid_from = s.Date(required=True)
    valid_until = s.Date(required=True, metadata={"description": "not before valid_from, not past"})
    services = s.List(s.String(validate=s.OneOf(list(SERVICES))), required=True, whole=True,
                      validate=s.Length(min=1))
    regions = s.List(s.String(validate=s.OneOf(list(REGIONS))), whole=True, metadata={
        "description": "SMEs of these regions are eligible (regions or organization_ids, or both)"})
    organization_ids = s.List(s.Integer(validate=s.Range(min=1)), validate=s.Length(max=vouchers.MAX_NAMED))
    single_use = s.Boolean()


class VoucherPayment(s.Body):
    batch_id = _id("the voucher's batch", required=True)
    amount = s.Integer(required=True, validate=s.Range(min=1, max=vouchers.MAX_FACE), metadata={"description": "fen"})


class Transfer(s.Body):
    reference = _text(*vouchers.REFERENCE_LENGTH, required=True)
    amount = s.Integer(required=True, metadata={"description": "fen received: the charge's outstanding amount"})


class Settlement(s.Body):
    issuer_organization_id = _id("the voucher programme's organisation", required=True)
    reference = _text(*vouchers.REFERENCE_LENGTH, required=True)


class Role(s.Body):
    user_id = _id(required=True)
    role = s.String(required=True, validate=s.OneOf(list(FINANCE_ROLES)))
    grant = s.Boolean(required=True, metadata={"description": "true grants, false removes"})


class Period(s.Query):
    from_ = s.Date(data_key="from", metadata={"description": "first day (Beijing time)"})
    to = s.Date(metadata={"description": "last day (Beijing time)"})


# --- answers --------------------------------------------------------------------------------------------

class _RightOut(s.Out):
    kind = fields.String()
    number = fields.String()
    title = _n(fields.String)


class ValuationOut(s.Out):
    id = fields.Integer(required=True)
    valuation_date = fields.Date()
    rights = fields.List(fields.Nested(_RightOut))
    revenues = fields.List(fields.Integer())
    royalty_rate = fields.String()
    discount_rate = fields.String()
    life_years = fields.Integer()
    value = fields.Integer(required=True, metadata={"description": "fen"})
    currency = fields.String()
    rounding = fields.String()
    formula = fields.String()
    sensitivity = fields.Dict()
    comparables = fields.Dict()
    status = fields.String(required=True, validate=s.OneOf(["self_assessment", "review_requested", "signed_off"]))
    self_assessment = fields.Boolean(required=True)
    signer_role = _n(fields.String)
    signed_at = _n(fields.DateTime)
    sign_note = _n(fields.String)
    listing_id = _n(fields.Integer)
    note = _n(fields.String)
    created_at = _n(fields.DateTime)
    pdf_url = fields.String()


class ValuationAnswer(s.Out):
    valuation = fields.Nested(ValuationOut, required=True)


class ValuationList(s.Out):
    valuations = fields.List(fields.Nested(ValuationOut), required=True)


class _Bank(s.Out):
    id = fields.Integer()
    name = fields.String()


class BankList(s.Out):
    banks = fields.List(fields.Nested(_Bank), required=True)


class _Pledge(s.Out):
    pledgee = _n(fields.String)
    registration_number = _n(fields.String)


class _LicenceInForce(s.Out):
    type = _n(fields.String)
    licensee = _n(fields.String)
    ends_on = _n(fields.Date)


class _PledgedRight(s.Out):
    kind = fields.String()
    number = fields.String()
    title = _n(fields.String)
    holders = fields.Raw(metadata={"description": "the register's holders"})
    term_end = _n(fields.Date)
    pledges = fields.List(fields.Nested(_Pledge))
    licences = fields.List(fields.Nested(_LicenceInForce))
    grade = _n(fields.String)
    ipc_codes = fields.List(fields.String())
    nice_classes = fields.List(fields.Integer())


class _ValuationRef(s.Out):
    id = fields.Integer()
    value = fields.Integer()
    self_assessment = fields.Boolean()


class _OfferOut(s.Out):
    id = fields.Integer()
    bank = fields.String()
    bank_organization_id = fields.Integer()
    kind = fields.String(validate=s.OneOf(["offer", "decline"]))
    amount = _n(fields.Integer)
    rate_bps = _n(fields.Integer)
    term_months = _n(fields.Integer)
    conditions = _n(fields.String)
    status = fields.String()
    created_at = _n(fields.DateTime)


class _MessageOut(s.Out):
    bank_organization_id = fields.Integer()
    from_bank = fields.Boolean()
    body = fields.String()
    created_at = _n(fields.DateTime)


class _PledgeState(s.Out):
    number = _n(fields.String)
    date = _n(fields.Date)
    verified_at = _n(fields.DateTime)
    release_number = _n(fields.String)
    release_date = _n(fields.Date)
    released_at = _n(fields.DateTime)


class ApplicationOut(s.Out):
    id = fields.Integer(required=True)
    organization = fields.String()
    amount = fields.Integer(required=True)
    currency = fields.String()
    term_months = fields.Integer()
    purpose = fields.String()
    status = fields.String(required=True)
    listed = fields.Boolean()
    rights = fields.List(fields.Nested(_PledgedRight), required=True)
    valuation = _n(fields.Nested, _ValuationRef)
    statements = fields.Boolean()
    banks = _n(fields.List, fields.Integer(), metadata={"description": "the applicant's and operators' view only"})
    offers = fields.List(fields.Nested(_OfferOut))
    messages = fields.List(fields.Nested(_MessageOut))
    pledge = fields.Nested(_PledgeState)
    created_at = _n(fields.DateTime)


class ApplicationAnswer(s.Out):
    application = fields.Nested(ApplicationOut, required=True)


class ApplicationList(s.Out):
    applications = fields.List(fields.Nested(ApplicationOut), required=True)


class FinanceStats(s.Out):
    applications = fields.Integer(required=True)
    loans_granted = fields.Integer(required=True)
    amount_granted = _n(fields.Integer, required=True, metadata={
        "description": "fen; null while fewer than min_cell loans (one SME's loan is not shown)"})
    min_cell = fields.Integer()
    pledged_rights_by_field = fields.Dict(keys=fields.String(), values=fields.Integer())


class BatchOut(s.Out):
    id = fields.Integer(required=True)
    programme = fields.String()
    face_value = fields.Integer()
    valid_from = fields.Date()
    valid_until = fields.Date()
    services = fields.List(fields.String())
    regions = fields.List(fields.String())
    organization_ids = fields.List(fields.Integer())
    single_use = fields.Boolean()


class BatchAnswer(s.Out):
    batch = fields.Nested(BatchOut, required=True)


class BatchList(s.Out):
    batches = fields.List(fields.Nested(BatchOut), required=True)


class VoucherOut(s.Out):
    batch_id = fields.Integer(required=True)
    programme = fields.String()
    face_value = fields.Integer()
    used = fields.Integer()
    remaining = fields.Integer()
    valid_from = fields.Date()
    valid_until = fields.Date()
    services = fields.List(fields.String())
    single_use = fields.Boolean()


class VoucherList(s.Out):
    vouchers = fields.List(fields.Nested(VoucherOut), required=True)


class ChargeOut(s.Out):
    id = fields.Integer(required=True)
    service = fields.String(validate=s.OneOf(list(SERVICES)))
    amount = fields.Integer(required=True)
    paid_by_voucher = fields.Integer()
    paid_by_transfer = fields.Integer()
    outstanding = fields.Integer()
    status = fields.String(required=True, validate=s.OneOf(list(CHARGE_STATUSES)))
    valuation_id = _n(fields.Integer)
    deal_id = _n(fields.Integer, metadata={"description": "a deal's platform fee (service deal_fee)"})
    paid_from_escrow = _n(fields.Integer, metadata={"description": "a deal fee's rest, deducted from the escrow at release"})
    held_by_voucher = fields.Integer(metadata={"description": "voucher money set aside for a deal's fee until release"})
    created_at = _n(fields.DateTime)
    paid_at = _n(fields.DateTime)


class ChargeAnswer(s.Out):
    charge = fields.Nested(ChargeOut, required=True)


class ChargeList(s.Out):
    charges = fields.List(fields.Nested(ChargeOut), required=True)


class Settled(s.Out):
    amount = fields.Integer(required=True, metadata={"description": "fen reimbursed"})
    count = fields.Integer(required=True)


class VoucherReport(s.Out):
    total = fields.Integer(required=True)
    settled = fields.Integer()
    held = fields.Integer(metadata={"description": "set aside on deals still running"})
    per_sme = fields.Dict(keys=fields.String(), values=fields.Integer())
    per_service = fields.Dict(keys=fields.String(), values=fields.Integer())
    per_month = fields.Dict(keys=fields.String(), values=fields.Integer())
    count = fields.Integer()


class Roles(s.Out):
    roles = fields.List(fields.String(), required=True)

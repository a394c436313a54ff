"""The licensing API's bodies and answers (open licences, licences and their royalty periods; docs/trading.md
"Open licences and royalties") as marshmallow schemas (``marketplace.kernel.schemas``): each validates the body
of its route and is that route's OpenAPI description.

The bounds are the services' constants (``listings.open_licence``, ``escrow.royalties``), which the HTML forms
go through too; what needs several fields together (a fixed fee without a rate, a rate with its period and
yearly minimum), the licence's state or the period's reference and amount stays there, after the schema.
"""
from marshmallow import fields

from listings import open_licence as ol
from listings.vocab import MAX_PRICE
from marketplace.kernel import schemas as s

from . import royalties

_n = s.nullable
_PERIOD = s.OneOf(list(ol.PERIODS), message=s.N_("应为以下之一：%(options)s"))


def _fen(description, low=1, **kwargs):
    return s.Integer(validate=s.Range(min=low, max=MAX_PRICE), metadata={"description": description}, **kwargs)


# --- requests -------------------------------------------------------------------------------------------

class Declare(s.Body):
    royalty_kind = s.String(required=True, validate=s.OneOf(list(ol.ROYALTY_KIND_LABELS)), metadata={
        "description": "fixed: a yearly fee (annual_fee); percent: royalty_bps of net sales with yearly_minimum "
                       "and period"})
    annual_fee = _fen("fixed: fen per licence year")
    royalty_bps = s.Integer(validate=s.Range(min=1, max=ol.MAX_BPS), metadata={
        "description": "percent: basis points of net sales (1–10000)"})
    yearly_minimum = _fen("percent: fen per licence year, the first year paid when the licence is taken")
    period = s.String(validate=_PERIOD, metadata={"description": "percent: how often sales are reported (fixed: year)"})
    term_years = s.Integer(required=True, validate=s.Range(min=1, max=ol.MAX_TERM_YEARS))


class Withdraw(s.Body):
    reason = s.String(validate=s.Length(max=ol.MAX_WITHDRAW_REASON))


class _Instalment(s.Body):
    due_on = s.Date(required=True)
    amount = _fen("fen", required=True)


class RoyaltyTerms(s.Body):
    royalty_bps = s.Integer(validate=s.Range(min=1, max=ol.MAX_BPS), metadata={
        "description": "basis points of the licensee's net sales (1–10000); with period"})
    period = s.String(validate=_PERIOD, metadata={"description": "required with royalty_bps"})
    yearly_minimum = _fen("fen per licence year (with royalty_bps)")
    sublicensing = s.Boolean()
    instalments = s.List(s.Nested(_Instalment), validate=s.Length(max=royalties.MAX_INSTALMENTS))


class Report(s.Body):
    net_sales = _fen("fen: the period's net sales", low=0, required=True)
    note = s.String(validate=s.Length(max=royalties.MAX_REPORT_NOTE))
    attachment = s.File("multipart only: the sales report (PDF, PNG or JPEG, type checked by content)")


class ConfirmRoyalty(s.Body):
    reference = s.String(required=True, validate=s.Length(max=royalties.REFERENCE_LENGTH[1]),
                         metadata={"description": "the period's payment reference (IPR…)"})
    amount = s.Integer(required=True, validate=s.Range(min=1), metadata={"description": "fen received"})


class RoyaltyPayout(s.Body):
    reference = s.String(required=True, validate=s.Length(*royalties.REFERENCE_LENGTH, too_short=s.N_("4–100 个字符"),
                                                          too_long=s.N_("4–100 个字符")),
                         metadata={"description": "the bank transfer's reference (流水号)"})


# --- answers --------------------------------------------------------------------------------------------

class DeclarationOut(s.Out):
    id = fields.Integer(required=True)
    listing_id = fields.Integer(required=True)
    status = fields.String(required=True, validate=s.OneOf(list(ol.STATUS_LABELS)))
    royalty_kind = fields.String(required=True, validate=s.OneOf(list(ol.ROYALTY_KIND_LABELS)))
    annual_fee = _n(fields.Integer, metadata={"description": "fen per licence year (fixed)"})
    royalty_bps = _n(fields.Integer, metadata={"description": "1–10000 basis points of net sales (percent)"})
    royalty_percent = _n(fields.String)
    yearly_minimum = _n(fields.Integer, metadata={"description": "fen per licence year (percent)"})
    period = _n(fields.String, validate=s.OneOf(list(ol.PERIODS)))
    term_years = fields.Integer()
    price_at_take = _n(fields.Integer, metadata={"description": "fen paid when taking the licence"})
    territory = fields.String()
    licence_type = fields.String()
    declared_at = _n(fields.DateTime)
    withdrawn_at = _n(fields.DateTime)
    lapsed_at = _n(fields.DateTime)
    listing_title = _n(fields.String)
    numbers = fields.List(fields.String())


class DeclarationAnswer(s.Out):
    open_licence = fields.Nested(DeclarationOut, required=True)


class Catalogue(s.Out):
    open_licences = fields.List(fields.Nested(DeclarationOut), required=True)


class PeriodOut(s.Out):
    id = fields.Integer(required=True)
    seq = fields.Integer()
    kind = fields.String(validate=s.OneOf(["running", "instalment"]))
    starts_on = fields.Date()
    ends_on = fields.Date()
    due_on = fields.Date()
    licence_year = _n(fields.Integer)
    net_sales = _n(fields.Integer)
    amount = _n(fields.Integer)
    fee = _n(fields.Integer)
    status = fields.String(required=True, validate=s.OneOf(list(royalties.STATUS_LABELS)))
    payment_reference = _n(fields.String, metadata={"description": "while awaiting payment"})
    payment_due_on = _n(fields.Date)
    reported_at = _n(fields.DateTime)
    paid_at = _n(fields.DateTime)
    released_at = _n(fields.DateTime)
    payout_paid_at = _n(fields.DateTime)
    has_attachment = fields.Boolean()


class PeriodAnswer(s.Out):
    period = fields.Nested(PeriodOut, required=True)


class _InstalmentOut(s.Out):
    due_on = fields.Date()
    amount = fields.Integer()


class _Recordal(s.Out):
    due_on = _n(fields.Date)
    recorded_at = _n(fields.DateTime)


class LicenceOut(s.Out):
    id = fields.Integer(required=True)
    deal_id = fields.Integer(required=True)
    status = fields.String(required=True, validate=s.OneOf(list(royalties.LICENCE_STATUS_LABELS)))
    open_licence_id = _n(fields.Integer)
    licence_type = _n(fields.String)
    licensor = _n(fields.String)
    licensee = _n(fields.String)
    starts_on = _n(fields.Date)
    ends_on = _n(fields.Date)
    territory = _n(fields.String)
    field = _n(fields.String)
    sublicensing = _n(fields.Boolean)
    upfront_fee = _n(fields.Integer)
    advance_credit = _n(fields.Boolean)
    royalty_bps = _n(fields.Integer)
    period = _n(fields.String)
    yearly_minimum = _n(fields.Integer)
    instalments = fields.List(fields.Nested(_InstalmentOut))
    currency = fields.String()
    fee_bps = _n(fields.Integer)
    terms = fields.String(metadata={"description": "the royalty terms in words, in the reader's language"})
    recordal = fields.Nested(_Recordal)
    ended_at = _n(fields.DateTime)
    ended_reason = _n(fields.String)
    periods = fields.List(fields.Nested(PeriodOut), required=True)


class LicenceAnswer(s.Out):
    licence = fields.Nested(LicenceOut, required=True)


class LicenceList(s.Out):
    licences = fields.List(fields.Nested(LicenceOut), required=True)


class Taken(s.Out):
    deal_id = fields.Integer(required=True)
    licence = fields.Nested(LicenceOut, required=True)


class _Bank(s.Out):
    account_name = fields.String()
    bank = fields.String()
    account_number = fields.String()


class _Payment(s.Out):
    gateway = fields.String()
    reference = fields.String(required=True, metadata={"description": "IPR…: the transfer's 附言"})
    amount = fields.Integer(required=True)
    currency = fields.String()
    due_on = _n(fields.Date)
    bank = fields.Nested(_Bank)
    instructions = fields.String()


class PaymentAnswer(s.Out):
    payment = fields.Nested(_Payment, required=True)


class Stats(s.Out):
    open_licences_declared = fields.Integer(required=True)
    open_licences_open = fields.Integer(required=True)
    open_licences_taken = fields.Integer(required=True, metadata={"description": "open licences whose deal was paid"})
    licences_in_force = fields.Integer(required=True)
    royalty_periods_paid = fields.Integer(required=True)
    royalty_licences_paying = fields.Integer(required=True)
    royalty_volume = _n(fields.Integer, required=True, metadata={
        "description": "fen paid into escrow for royalty periods; null while fewer than min_cell licences make it "
                       "up (one licensee's royalties are not shown)"})
    currency = fields.String()
    min_cell = fields.Integer()

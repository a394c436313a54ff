"""The listings API's bodies and answers as marshmallow schemas (``marketplace.kernel.schemas``): each one
validates the body of its route and is that route's OpenAPI description.

The fields' bounds are the ones ``listings.validation`` applies to the same input from the HTML
forms and CSV imports (the constants in ``listings.vocab``); what needs the register, the calendar
or several fields at once (check digits, dates against today, a design patent without IPC codes,
prices against the price mode) is ``validation.parse_listing``'s, after the schema.
"""
from flask_babel import gettext as _
from marshmallow import fields

from marketplace.kernel import schemas as s
from marketplace.kernel.regions import REGIONS

from . import identifiers as ids
from .models import DEAL_TYPES, KINDS, PRICE_MODES
from .validation import kind_mismatch
from .vocab import (
    LEGAL_STATUSES,
    MAX_ABSTRACT,
    MAX_CLAIMS,
    MAX_DESCRIPTION,
    MAX_DISPUTES,
    MAX_LICENSE_CAP,
    MAX_LICENSE_FIELD,
    MAX_LICENSE_TERRITORY,
    MAX_LICENSE_YEARS,
    MAX_MARK_TEXT,
    MAX_PRICE,
    MAX_RIGHT_TITLE,
    MAX_RIGHTS,
    MAX_TITLE,
    PATENT_TYPE_LABELS,
    STATUS_LABELS,
    TM_STATUSES,
)

OTHER_KIND = {"patent": "trademark", "trademark": "patent"}
_ONE_TO_MAX = s.Range(min=1, max=MAX_PRICE)


def money(description="fen (1 yuan = 100)", **kwargs):
    return s.Integer(validate=_ONE_TO_MAX, metadata={"description": description}, **kwargs)


def date(**kwargs):
    return s.Date(**kwargs)


# --- requests -------------------------------------------------------------------------------------------

# what a right needs besides its number, unless the register knows the number (then its data fill the rest)
_FILLED = "required unless the register knows the number (its data fill what is left out)"


class PatentInput(s.Body):
    application_number = s.String(required=True, validate=s.Length(max=60),
                                  metadata={"example": "201710601862.3"})
    patent_type = s.String(validate=s.OneOf(list(PATENT_TYPE_LABELS)),
                           metadata={"description": "follows from the application number; if given, must agree"})
    title = s.String(validate=s.Length(max=MAX_RIGHT_TITLE), metadata={"description": _FILLED})
    abstract = s.String(validate=s.Length(max=MAX_ABSTRACT))
    ipc_codes = s.List(s.String(validate=s.Length(max=40), metadata={"example": "H04L 9/32"}))
    locarno_class = s.String(validate=s.Length(max=20), metadata={"example": "14-02"})
    filing_date = date(metadata={"description": _FILLED})
    grant_date = date()
    claims_count = s.Integer(validate=s.Range(min=1, max=MAX_CLAIMS))
    legal_status = s.String(validate=s.OneOf(list(LEGAL_STATUSES)), metadata={"description": _FILLED})
    pledged = s.Boolean()
    annuity_paid_until = date()
    exclusive_license_until = date()
    family_countries = s.List(s.String(validate=s.Length(max=10), metadata={"example": "US"}))


class TrademarkInput(s.Body):
    registration_number = s.String(required=True, validate=s.Length(max=60), metadata={"example": "12345678"})
    mark_text = s.String(validate=s.Length(max=MAX_MARK_TEXT), metadata={"description": _FILLED})
    nice_classes = s.List(s.Integer(validate=s.Check(ids.normalize_nice_class, ids.InvalidIdentifier),
                                    metadata={"minimum": 1, "maximum": 45}),
                          metadata={"description": _FILLED})
    similar_groups = s.List(s.String(validate=s.Regexp(r"^[0-9]{4}$", "类似群应为4位数字（如 0901）")))
    goods = s.List(s.String())
    registration_date = date()
    status = s.String(validate=s.OneOf(list(TM_STATUSES)), metadata={"description": _FILLED})
    exclusive_license_until = date()
    pledged = s.Boolean()
    use_evidence = s.Boolean()
    disputes = s.Integer(validate=s.Range(min=0, max=MAX_DISPUTES))


class RegisterRef(s.Body):
    kind = s.String(required=True, validate=s.OneOf(list(KINDS)))
    number = s.String(required=True, validate=s.Length(max=60))


class RightInput(s.Body):
    patent = s.Nested(PatentInput)
    trademark = s.Nested(TrademarkInput)
    register = s.Nested(RegisterRef, metadata={
        "description": "a right the register knows, by its number: the register's data fill the rest"})

    @s.validates_schema
    def _one(self, data, **kwargs):
        given = [key for key in ("patent", "trademark", "register") if data.get(key) is not None]
        if len(given) != 1:
            raise s.SchemaError(_('应为 {"patent": {…}} 或 {"trademark": {…}}'))


class AuctionInput(s.Body):
    start_price = money(required=True)
    reserve_price = money()
    min_increment = money(required=True)
    deposit_amount = money("保证金 (fen) a bidder pays into escrow before bidding; at most 20 % of start_price; "
                           "omitted or null: no deposit")
    ends_at = s.DateTime(required=True, metadata={"description": "ISO 8601 with offset; 1 hour to 90 days ahead"})


class _DealPricesBase(s.Body):
    @s.validates_schema(pass_original=True, skip_on_field_errors=False)
    def _deal_types_only(self, data, original, **kwargs):
        if isinstance(original, dict) and set(original) - set(DEAL_TYPES):
            raise s.SchemaError(_("只能是 %(options)s", options="、".join(DEAL_TYPES)))


DealPrices = _DealPricesBase.from_dict({deal_type: money() for deal_type in DEAL_TYPES}, name="DealPrices")


class ListingInput(s.Body):
    """``POST /listings`` (every required key) and ``PATCH /listings/{id}`` (only the keys that change)."""

    kind = s.String(required=True, validate=s.OneOf(list(KINDS)))
    title = s.String(required=True, validate=s.Length(max=MAX_TITLE))
    description = s.String(validate=s.Length(max=MAX_DESCRIPTION), metadata={
        "description": "Markdown; sanitised when shown"})
    deal_types = s.List(s.String(validate=s.OneOf(list(DEAL_TYPES), message=s.N_("只能是 %(options)s"))), whole=True,
                        required=True, validate=s.Length(min=1, too_short=s.N_("至少选择一种交易方式")))
    price_mode = s.String(required=True, validate=s.OneOf(list(PRICE_MODES)))
    price = money("fen: the price of every deal type without a price of its own in deal_prices")
    deal_prices = s.Nested(DealPrices, metadata={
        "description": "fen per deal type, for a listing offered for assignment and licences at different prices "
                       "({\"assignment\": 26000000, \"non_exclusive_license\": 5000000}); only deal types in "
                       "deal_types; not for auctions"})
    offer_floor = money("fen: offers below it are refused (negotiable listings)")
    auction = s.Nested(AuctionInput)
    region = s.String(validate=s.OneOf(list(REGIONS), message=s.N_("未知地区：应为广东省21个地级市之一或 other")))
    license_territory = s.String(validate=s.Length(max=MAX_LICENSE_TERRITORY))
    license_field = s.String(validate=s.Length(max=MAX_LICENSE_FIELD))
    license_years = s.Integer(validate=s.Range(min=1, max=MAX_LICENSE_YEARS))
    license_cap = s.Integer(validate=s.Range(min=1, max=MAX_LICENSE_CAP), metadata={
        "description": "how many non-exclusive licences may be sold"})
    acts_for_holders = s.Boolean(metadata={"description": "the seller acts for the rights' holders (authorised)"})
    rights = s.List(s.Nested(RightInput), required=True, validate=s.Length(
        min=1, max=MAX_RIGHTS, too_short=s.N_("至少填写一项专利或商标"), too_long=s.N_("一个挂牌最多包含 %(n)s 项权利")))

    @s.validates_schema(skip_on_field_errors=False)
    def _rights_of_the_kind(self, data, **kwargs):
        """A patent listing holds patents, a trademark listing trademarks (a PATCH without ``kind`` is
        checked by the service against the listing's kind)."""
        kind, rights = data.get("kind"), data.get("rights")
        if kind not in KINDS or not isinstance(rights, list):
            return
        wrong = {i: [kind_mismatch(kind)] for i, right in enumerate(rights)
                 if isinstance(right, dict) and right.get(OTHER_KIND[kind]) is not None}
        if wrong:
            raise s.SchemaError({"rights": wrong})


# PATCH: every top-level key optional; a right or an auction given is whole, as on POST
LISTING_PATCH = ListingInput(partial=tuple(ListingInput._declared_fields))


class ReviewInput(s.Body):
    decision = s.String(required=True, validate=s.OneOf(["approve", "reject"]))
    reason = s.String(validate=s.Length(max=2000))
    requested_document = s.String(
        validate=s.OneOf(["pledge_consent", "authorization_doc", "co_owner_consent", "supporting_doc"]),
        metadata={"description": "a rejection may ask the seller to upload this document"})


class Upload(s.Body):
    document = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class MineQuery(s.Query):
    status = s.String(validate=s.OneOf(list(STATUS_LABELS)))


# --- answers ---------------------------------------------------------------------------------------------

_n = s.nullable




class RightOut(s.Out):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=s.OneOf(list(KINDS)))
    number = fields.String(required=True)
    title = fields.String(required=True)
    expires_on = _n(fields.Date, required=True)
    remaining_days = _n(fields.Integer)
    # patents
    application_number = fields.String()
    patent_type = _n(fields.String, validate=s.OneOf(list(PATENT_TYPE_LABELS)))
    abstract = _n(fields.String)
    ipc_codes = fields.List(fields.String())
    locarno_class = _n(fields.String)
    filing_date = _n(fields.Date)
    grant_date = _n(fields.Date)
    claims_count = _n(fields.Integer)
    legal_status = _n(fields.String)
    pledged = fields.Boolean()
    family_countries = fields.List(fields.String())
    exclusive_license_until = _n(fields.Date)
    # trademarks
    registration_number = fields.String()
    mark_text = fields.String()
    nice_classes = fields.List(fields.Integer())
    similar_groups = fields.List(fields.String())
    goods = fields.List(fields.String())
    registration_date = _n(fields.Date)
    status = _n(fields.String)


class AuctionOut(s.Out):
    start_price = fields.Integer(required=True)
    min_increment = fields.Integer(required=True)
    ends_at = fields.DateTime(required=True)
    current_price = _n(fields.Integer, required=True)
    reserve_met = fields.Boolean(required=True)
    bid_count = fields.Integer(required=True)
    closed = fields.Boolean()
    deposit_amount = _n(fields.Integer, metadata={
        "description": "保证金 (fen) to pay before bidding; null: none (docs/trading.md)"})
    deposit_forfeit = _n(fields.Dict, metadata={
        "description": "the published rule for a winner who does not pay: the seller gets to_seller, the platform "
                       "keeps platform_fee"})


class FeesOut(s.Out):
    price = fields.Integer()
    fee_bps = fields.Integer()
    fee = fields.Integer()
    seller_net = fields.Integer()


class PriceOut(s.Out):
    deal_type = fields.String(required=True)
    price = _n(fields.Integer, required=True)
    fees = _n(fields.Dict, required=True)


class SellerOut(s.Out):
    type = fields.String(required=True, validate=s.OneOf(["organization", "person"]))
    name = fields.String(required=True)
    organization = fields.String(required=True)
    verified = fields.Boolean(required=True)


class ListingOut(s.Out):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=s.OneOf(list(KINDS)))
    title = fields.String(required=True)
    description = fields.String(required=True)
    description_html = fields.String()
    status = fields.String(required=True, validate=s.OneOf(list(STATUS_LABELS)))
    price = _n(fields.Integer, required=True)
    fees = _n(fields.Nested, FeesOut, metadata={
        "description": "escrow.fees.quote of the price (null without one): the buyer pays price, the seller "
                       "receives seller_net = price - fee"})
    deal_prices = _n(fields.Dict, metadata={
        "description": "fen per deal type priced apart from price (as given); prices lists every deal type's price"})
    prices = fields.List(fields.Nested(PriceOut), metadata={
        "description": "each deal type offered with its price (fen; null: 面议) and the fee quote of that price; "
                       "empty for an auction"})
    currency = fields.String(required=True)
    price_mode = fields.String(required=True, validate=s.OneOf(list(PRICE_MODES)))
    deal_types = fields.List(fields.String(validate=s.OneOf(list(DEAL_TYPES))), required=True)
    grade = _n(fields.String, required=True, validate=s.OneOf(["A", "B", "C", "D"]))
    grade_score = _n(fields.Float, required=True)
    region = fields.String(required=True)
    rights = fields.List(fields.Nested(RightOut), required=True)
    seller = fields.Nested(SellerOut, required=True)
    auction = fields.Nested(AuctionOut)
    expires_on = _n(fields.Date)
    image_url = _n(fields.String)
    url = fields.String()
    license_territory = _n(fields.String)
    license_field = _n(fields.String)
    license_years = _n(fields.Integer)
    created_at = fields.DateTime()
    published_at = _n(fields.DateTime)
    rejection_reason = _n(fields.String)
    pledge_consent_uploaded = fields.Boolean()
    requested_document = _n(fields.String, metadata={
        "description": "the document the rejection asked for (owner and operators)"})
    requested_document_uploaded = fields.Boolean()


class WarningOut(s.Out):
    code = fields.String(required=True)
    message = fields.String(required=True)
    listing_ids = fields.List(fields.Integer(), required=True)


class ListingAnswer(s.Out):
    listing = fields.Nested(ListingOut, required=True)


class ListingWithWarnings(ListingAnswer):
    warnings = fields.List(fields.Nested(WarningOut), required=True)


class Relisted(ListingWithWarnings):
    relisted_from = fields.Integer(required=True, metadata={"description": "the expired listing's id"})


class ListingList(s.Out):
    listings = fields.List(fields.Nested(ListingOut), required=True)

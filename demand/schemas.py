"""The demand API's bodies, query and answers as marshmallow schemas (``marketplace.kernel.schemas``): each
validates the input of its route and is that route's OpenAPI description.

The bounds are the services' constants (``wanted``, ``answers``, ``dataroom``), which the HTML forms meet through
the same services. What needs the database, today's date or several fields together (an IPC class that exists,
a budget's order, an expiry after today, a patent ad without Nice classes) stays with ``wanted.clean``. Browsing
(``GET /wanted`` and the page ``/wanted``) reads its filters with ``WantedQuery`` alone (``wanted.parse_browse``).
"""
from marshmallow import fields

from escrow.contracts import MAX_PASSWORD
from listings.models import DEAL_TYPES, KINDS
from marketplace.kernel import schemas as s
from marketplace.kernel.regions import REGIONS

from . import answers, dataroom, wanted
from .models import FILE_CATEGORIES

_n = s.nullable
_CHOICE = s.N_("未知取值，可选：%(options)s")
IPC_SECTIONS = tuple("ABCDEFGH")


def _message(**kwargs):
    return s.String(required=True, validate=s.Length(min=1, max=answers.MAX_MESSAGE), **kwargs)


# --- requests -------------------------------------------------------------------------------------------

class WantedInput(s.Body):
    kind = s.String(required=True, validate=s.OneOf(list(KINDS)))
    title = s.String(required=True, validate=s.Length(min=wanted.MIN_TITLE, max=wanted.MAX_TITLE))
    description = s.String(validate=s.Length(max=wanted.MAX_DESCRIPTION), metadata={
        "description": "plain text (shown escaped)"})
    keywords = s.List(s.String(validate=s.Length(max=wanted.MAX_KEYWORD_CHARS,
                                                 too_long=s.N_("每个关键词最多 %(n)s 个字符"))), whole=True,
                      validate=s.Length(max=wanted.MAX_KEYWORDS, too_long=s.N_("最多 %(n)s 个关键词")))
    ipc = s.String(validate=s.Length(max=20), metadata={
        "description": "IPC section (H) or subclass (H01M) of the scheme; patents only"})
    nice_classes = s.List(s.Integer(validate=s.Range(min=1, max=45)), whole=True,
                          validate=s.Length(max=wanted.MAX_NICE, too_long=s.N_("最多 %(n)s 个尼斯分类")),
                          metadata={"description": "trademarks only"})
    deal_types = s.List(s.String(validate=s.OneOf(list(DEAL_TYPES))), whole=True, required=True,
                        validate=s.Length(min=1, too_short=s.N_("至少选择一种交易方式")))
    budget_min = s.Integer(validate=s.Range(min=1, max=wanted.MAX_BUDGET), metadata={"description": "fen"})
    budget_max = s.Integer(validate=s.Range(min=1, max=wanted.MAX_BUDGET), metadata={
        "description": "fen; at least budget_min"})
    negotiable = s.Boolean(metadata={"description": "面议: no budget"})
    region = s.String(validate=s.OneOf(list(REGIONS), message=s.N_("未知地区")))
    hide_name = s.Boolean()
    expires_at = s.Date(required=True, metadata={
        "description": f"YYYY-MM-DD: after today, at most {wanted.MAX_EXPIRY_DAYS} days ahead"})


class ReviewInput(s.Body):
    decision = s.String(required=True, validate=s.OneOf(["approve", "reject"]))
    reason = s.String(validate=s.Length(max=wanted.MAX_REASON), metadata={"description": "required to reject"})


class AnswerInput(s.Body):
    listing_id = s.Integer(required=True, validate=s.Range(min=1), metadata={
        "description": "a published listing of the caller's side, of the ad's kind"})
    message = _message()


class MessageInput(s.Body):
    message = _message()


class NdaInput(s.Body):
    nda_text = s.String(required=True, validate=s.Length(min=dataroom.MIN_NDA, max=dataroom.MAX_NDA))
    operator_may_grant = s.Boolean()


class AccessInput(s.Body):
    password = s.String(required=True, validate=s.Length(min=1, max=MAX_PASSWORD), metadata={
        "description": "the buyer's login password: signing the NDA"})


class WantedQuery(s.Query):
    q = s.String(validate=s.Length(max=wanted.MAX_QUERY, too_long=s.N_("搜索词最长 %(n)s 个字符")))
    kind = s.String(validate=s.OneOf(list(KINDS), message=_CHOICE))
    ipc_section = s.String(validate=s.OneOf(list(IPC_SECTIONS), message=_CHOICE))
    nice_class = s.Integer(validate=s.Range(min=1, max=45))
    deal_type = s.String(validate=s.OneOf(list(DEAL_TYPES), message=_CHOICE))
    region = s.String(validate=s.OneOf(list(REGIONS), message=_CHOICE))
    page = s.Integer(validate=s.Range(min=1, max=wanted.MAX_BROWSE_PAGE))


# --- answers ---------------------------------------------------------------------------------------------

class WantedOut(s.Out):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=s.OneOf(list(KINDS)))
    title = fields.String(required=True)
    description = _n(fields.String)
    keywords = fields.List(fields.String())
    ipc = _n(fields.String)
    nice_classes = fields.List(fields.Integer())
    deal_types = fields.List(fields.String(validate=s.OneOf(list(DEAL_TYPES))))
    budget_min = _n(fields.Integer, metadata={"description": "fen"})
    budget_max = _n(fields.Integer, metadata={"description": "fen"})
    negotiable = fields.Boolean()
    region = fields.String()
    buyer = fields.String()
    status = fields.String(validate=s.OneOf(["pending_review", "published", "rejected", "closed"]))
    open = fields.Boolean()
    expires_at = fields.DateTime()
    published_at = _n(fields.DateTime)
    hide_name = fields.Boolean(metadata={"description": "the owner and operators"})
    rejection_reason = _n(fields.String, metadata={"description": "the owner and operators"})
    match_count = fields.Integer(metadata={"description": "the owner and operators"})


def _counts():
    return fields.Dict(keys=fields.String(), values=fields.Integer(validate=s.Range(min=0)))


class _Facets(s.Out):
    kind = _counts()
    ipc_section = _counts()
    nice_class = _counts()
    deal_type = _counts()
    region = _counts()


class Browse(s.Out):
    total = fields.Integer(required=True)
    page = fields.Integer()
    per_page = fields.Integer()
    results = fields.List(fields.Nested(WantedOut), required=True)
    facets = fields.Nested(_Facets)


class _Reasons(s.Out):
    words = fields.List(fields.String())
    classes = fields.List(fields.String())
    deal_types = fields.List(fields.String())
    in_budget = fields.Boolean()
    same_region = fields.Boolean()


class MatchOut(s.Out):
    id = fields.Integer(required=True)
    wanted_id = fields.Integer(required=True)
    listing_id = fields.Integer(required=True)
    score = fields.Float()
    reasons = _n(fields.Nested, _Reasons)
    created_at = _n(fields.DateTime)
    listing_title = fields.String()
    wanted_title = fields.String(metadata={"description": "the seller's view"})


class Matches(s.Out):
    results = fields.List(fields.Nested(MatchOut), required=True)


class _DemandMessage(s.Out):
    id = fields.Integer(required=True)
    author_id = _n(fields.Integer)
    body = fields.String(required=True)
    created_at = fields.DateTime()


class AnswerOut(s.Out):
    id = fields.Integer(required=True)
    wanted_id = fields.Integer(required=True)
    listing_id = fields.Integer(required=True)
    listing_title = fields.String()
    created_at = fields.DateTime()
    messages = fields.List(fields.Nested(_DemandMessage))


class Answers(s.Out):
    results = fields.List(fields.Nested(AnswerOut), required=True)


class AccessOut(s.Out):
    id = fields.Integer(required=True)
    listing_id = fields.Integer(required=True)
    user_id = fields.Integer()
    status = fields.String(required=True, validate=s.OneOf(["requested", "granted", "revoked"]))
    signer = fields.String()
    organization = _n(fields.String)
    nda_sha256 = fields.String()
    signed_at = fields.DateTime()
    signed_ip = fields.String()
    granted_at = _n(fields.DateTime)
    revoked_at = _n(fields.DateTime)


class Accesses(s.Out):
    results = fields.List(fields.Nested(AccessOut), required=True)


class FileOut(s.Out):
    id = fields.Integer(required=True)
    category = fields.String(validate=s.OneOf(list(FILE_CATEGORIES)))
    name = fields.String()
    type = fields.String(validate=s.OneOf(["pdf", "png", "jpeg"]))
    size = fields.Integer()
    created_at = fields.DateTime()
    url = fields.String()


class Room(s.Out):
    listing_id = fields.Integer(required=True)
    nda_text = fields.String(required=True)
    nda_sha256 = fields.String(required=True)
    access = _n(fields.Nested, AccessOut, required=True)
    manage = fields.Boolean(required=True)
    files = fields.List(fields.Nested(FileOut), metadata={"description": "the seller's side and granted buyers"})
    operator_may_grant = fields.Boolean(metadata={"description": "the seller's side"})


class _LogOut(s.Out):
    id = fields.Integer(required=True)
    user_id = _n(fields.Integer)
    user = _n(fields.String)
    organization = _n(fields.String)
    file_id = _n(fields.Integer)
    event = fields.String()
    detail = _n(fields.String)
    ip_address = _n(fields.String)
    at = fields.DateTime()


class Log(s.Out):
    results = fields.List(fields.Nested(_LogOut), required=True)


class RoomUpload(s.Body):
    """``POST /listings/{id}/dataroom/files`` (multipart)."""

    document = s.File("PDF, PNG or JPEG (type checked by content; size and page bounds in docs/security.md)",
                      required=True)
    category = s.String(validate=s.OneOf(list(FILE_CATEGORIES)), metadata={"description": "left out: other"})

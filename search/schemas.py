"""The search API's query, saved-search body and answers as marshmallow schemas (``marketplace.kernel.schemas``).

``SearchQuery`` is the one reading of a search's arguments: ``service.parse_params`` loads it for the API
(``GET /search``), the page (``/search``, which drops what it refuses and says so), saved searches and their
matching; the OpenAPI document describes the same schema. The search syntax (words, quoted phrases, numbers)
is the query text's, read later by ``service.parse_query``; the schema bounds the text's length only.
"""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import fields, pre_load

from listings.models import DEAL_TYPES, KINDS, PATENT_TYPES, PRICE_MODES
from marketplace.kernel import schemas as s
from marketplace.kernel.regions import REGIONS

from .index import GRADES, SORTS, normalise_ipc
from .service import DEFAULT_PER_PAGE, FILTER_KEYS, MAX_PAGE, MAX_PER_PAGE, MAX_PRICE_FILTER, MAX_QUERY_CHARS

_n = s.nullable
_CHOICE = s.N_("未知取值，可选：%(options)s")


class Within(s.Range):
    """A bound with the search's own reason (``message``, with ``%(n)s`` the maximum); apispec reads the bounds."""

    def __init__(self, min, max, message):  # noqa: A002
        super().__init__(min=min, max=max)
        self.message = message

    def __call__(self, value):
        if not self.min <= value <= self.max:
            raise s.SchemaError(_(self.message, n=self.max))
        return value


class Grades(s.String):
    """``A`` or ``A,B`` (case and spaces aside) → ``("A", "B")``; a list of letters is taken too (saved filters)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            value = ",".join(value)
        text = super()._deserialize(value, attr, data, **kwargs)
        grades = tuple(dict.fromkeys(g.strip().upper() for g in text.split(",") if g.strip()))
        if not grades or any(g not in GRADES for g in grades):
            raise s.SchemaError(_("未知等级，可选：A, B, C, D（可用逗号分隔多个）"))
        return grades


class Ipc(s.String):
    """An IPC section, class, subclass or group in any spacing (``h01m 4/36``), normalised for the index."""

    def _deserialize(self, value, attr, data, **kwargs):
        code = normalise_ipc(super()._deserialize(value, attr, data, **kwargs))
        if code is None:
            raise s.SchemaError(_("IPC 分类格式不对，例如 H、H01、H01M 或 H01M 4/36"))
        return code


class Blank:
    """Values as a form or a query string sends them: surrounding white space goes, an empty value is "not given"."""

    @pre_load
    def _blank_is_not_given(self, data, **kwargs):
        if not hasattr(data, "items"):
            return data
        return {key: value.strip() if isinstance(value, str) else value for key, value in data.items()
                if value is not None and not (isinstance(value, str) and not value.strip())}


def _filters():
    """The filters of a search (``service.FILTER_KEYS``), each with its documentation."""
    return {
        "kind": s.String(validate=s.OneOf(list(KINDS), message=_CHOICE), metadata={"description": "patent or trademark"}),
        "grade": Grades(metadata={"pattern": "^[A-Da-d](,[A-Da-d])*$", "description": "quality grade(s), e.g. A or A,B"}),
        "patent_type": s.String(validate=s.OneOf(list(PATENT_TYPES), message=_CHOICE), metadata={
            "description": "patent type"}),
        "ipc": Ipc(validate=s.Length(max=40), metadata={
            "description": "IPC section, class, subclass or group: H, H01, H01M, H01M 4/36"}),
        "nice_class": s.Integer(validate=Within(1, 45, s.N_("尼斯分类为 1–45")), metadata={
            "description": "Nice class"}),
        "deal_type": s.String(validate=s.OneOf(list(DEAL_TYPES), message=_CHOICE), metadata={
            "description": "offered deal type"}),
        "price_mode": s.String(validate=s.OneOf(list(PRICE_MODES), message=_CHOICE), metadata={
            "description": "price mode"}),
        "open_licence": s.String(validate=s.OneOf(["1"], message=_CHOICE), metadata={
            "description": "1: only listings under an open licence (专利开放许可)"}),
        "price_min": s.Integer(validate=Within(0, MAX_PRICE_FILTER, s.N_("价格（分）超出范围")), metadata={
            "description": "lowest price in fen (with deal_type: that deal type's price)"}),
        "price_max": s.Integer(validate=Within(0, MAX_PRICE_FILTER, s.N_("价格（分）超出范围")), metadata={
            "description": "highest price in fen (with deal_type: that deal type's price); at least price_min"}),
        "region": s.String(validate=s.OneOf(list(REGIONS), message=_CHOICE), metadata={"description": "seller's region"}),
    }


def _price_order(data):
    low, high = data.get("price_min"), data.get("price_max")
    if low is not None and high is not None and low > high:
        raise s.SchemaError({"price_max": [_("最高价不能低于最低价")]})


class _SearchQuery(Blank, s.Query):
    @s.validates_schema
    def _prices(self, data, **kwargs):
        _price_order(data)


SearchQuery = _SearchQuery.from_dict({
    "q": s.String(validate=s.Length(max=MAX_QUERY_CHARS, too_long=s.N_("搜索词最长 %(n)s 个字符")), metadata={
        "description": 'Words (all must match; synonyms and zh/en translations count too), "quoted phrases" '
                       '(never expanded), application/registration numbers in any spelling'}),
    **_filters(),
    "sort": s.String(load_default="relevance", validate=s.OneOf(list(SORTS), message=s.N_("未知排序，可选：%(options)s")),
                     metadata={"description": "order of results"}),
    "page": s.Integer(load_default=1, validate=Within(1, MAX_PAGE, s.N_("页码为 1–%(n)s")), metadata={
        "description": "page number"}),
    "per_page": s.Integer(load_default=DEFAULT_PER_PAGE, validate=Within(
        1, MAX_PER_PAGE, s.N_("每页条数为 1–%(n)s")), metadata={"description": "results per page"}),
}, name="SearchQuery")
assert set(FILTER_KEYS) <= set(SearchQuery._declared_fields)


class _SavedFilters(Blank, s.Body):
    error_messages = {"unknown": _l("未知筛选条件"), "type": _l("应为对象")}

    @s.validates_schema
    def _prices(self, data, **kwargs):
        _price_order(data)


SavedFilters = _SavedFilters.from_dict(_filters(), name="SavedFilters")


class SavedSearchInput(s.Body):
    q = s.String(validate=s.Length(max=MAX_QUERY_CHARS, too_long=s.N_("搜索词最长 %(n)s 个字符")))
    filters = s.Nested(SavedFilters, metadata={"description": "the filters of GET /search"})


class NotificationsQuery(Blank, s.Query):
    unread = s.String(validate=s.OneOf(["0", "1"]), metadata={"description": "1: unread only"})
    page = s.Integer(load_default=1, validate=Within(1, MAX_PAGE, s.N_("页码为 1–%(n)s")), metadata={
        "description": "page number (50 a page)"})


# --- answers ---------------------------------------------------------------------------------------------

class _Price(s.Out):
    deal_type = fields.String(required=True)
    price = _n(fields.Integer, required=True)


class ResultOut(s.Out):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    kind = fields.String(required=True, validate=s.OneOf(list(KINDS)))
    grade = _n(fields.String, required=True, validate=s.OneOf(list(GRADES)))
    price = _n(fields.Integer, required=True, metadata={"description": "fen"})
    currency = fields.String()
    price_mode = fields.String(required=True, validate=s.OneOf(list(PRICE_MODES)))
    prices = fields.List(fields.Nested(_Price), metadata={
        "description": "each deal type at its own price when they differ; [] when price says it all"})
    region = fields.String()
    highlight = fields.String(required=True, metadata={
        "description": "the title, HTML-escaped, matches wrapped in <mark>"})
    snippet = fields.String(metadata={"description": "a matching excerpt of the description (HTML, may be empty)"})
    holders = fields.List(fields.String(), metadata={"description": "权利人: the registered holders of the listing's "
                                                                    "rights"})
    open_licence = fields.Boolean(metadata={"description": "an open licence (专利开放许可) is declared on it"})
    url = fields.String()
    number = fields.String(metadata={"description": "the first right's number"})
    right_status = _n(fields.String)
    patent_type = _n(fields.String)
    ipc = _n(fields.String)
    locarno = _n(fields.String)
    nice_classes = fields.List(fields.Integer())
    term_end = _n(fields.String)
    rights_count = fields.Integer()
    bid_count = fields.Integer()
    ends_at = _n(fields.String)
    auction_closed = fields.Boolean()


def _counts():
    return fields.Dict(keys=fields.String(), values=fields.Integer(validate=s.Range(min=0)), required=True)


class _Facets(s.Out):
    kind = _counts()
    grade = _counts()
    nice_class = _counts()
    ipc_section = _counts()
    deal_type = _counts()


class SearchPage(s.Out):
    total = fields.Integer(required=True, validate=s.Range(min=0))
    page = fields.Integer(required=True, validate=s.Range(min=1))
    per_page = fields.Integer(validate=s.Range(min=1))
    results = fields.List(fields.Nested(ResultOut), required=True)
    also_searched = fields.List(fields.String(), metadata={
        "description": "synonyms, abbreviations and translations the query was expanded with (也搜索了); exact "
                       "matches rank first"})
    partial = fields.Boolean(metadata={
        "description": "true: no listing matched every word; these are the best partial matches (部分匹配), those "
                       "matching more words first"})
    notice = _n(fields.String, metadata={"description": "a message for the person, e.g. when the query holds only "
                                                        "stop words"})
    facets = fields.Nested(_Facets, required=True)


class SavedSearchOut(s.Out):
    id = fields.Integer(required=True)
    q = fields.String(required=True)
    filters = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    created_at = fields.DateTime(required=True)


class SavedSearchAnswer(s.Out):
    saved_search = fields.Nested(SavedSearchOut, required=True)


class SavedSearches(s.Out):
    saved_searches = fields.List(fields.Nested(SavedSearchOut), required=True)


class Deleted(s.Out):
    deleted = fields.Boolean(required=True)


class NotificationOut(s.Out):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    title = fields.String(required=True)
    body = fields.String(required=True)
    link = _n(fields.String, required=True)
    created_at = fields.DateTime(required=True)
    unread = fields.Boolean(required=True)


class Notifications(s.Out):
    notifications = fields.List(fields.Nested(NotificationOut), required=True)
    unread_count = fields.Integer(required=True)
    page = fields.Integer(required=True)
    total = fields.Integer(required=True)

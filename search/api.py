"""JSON API of `search` under /api/v1 (thin: parse, call a service, map errors)."""
from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import func, select

from listings.models import DEAL_TYPES, KINDS, PATENT_TYPES, PRICE_MODES
from marketplace.kernel.apiutil import API_PREFIX, commit_after, doc, json_body, require_user
from marketplace.kernel.errors import ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import Notification
from marketplace.kernel.numbers import NumberError, parse_int
from marketplace.kernel.pagecache import cached_page
from marketplace.kernel.regions import REGIONS
from marketplace.kernel.timeutil import iso

from . import service
from .index import GRADES, SORTS
from .outbox import search_page_vary

bp = Blueprint("search_api", __name__, url_prefix=API_PREFIX)


def _param(name, schema, description):
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


SEARCH_PARAMETERS = [
    _param("q", {"type": "string", "maxLength": service.MAX_QUERY_CHARS},
           'Words (all must match; synonyms and zh/en translations count too), "quoted phrases" (never expanded), '
           'application/registration numbers in any spelling'),
    _param("kind", {"type": "string", "enum": list(KINDS)}, "patent or trademark"),
    _param("grade", {"type": "string", "pattern": "^[A-Da-d](,[A-Da-d])*$"}, "quality grade(s), e.g. A or A,B"),
    _param("patent_type", {"type": "string", "enum": list(PATENT_TYPES)}, "patent type"),
    _param("ipc", {"type": "string"}, "IPC section, class, subclass or group: H, H01, H01M, H01M 4/36"),
    _param("nice_class", {"type": "integer", "minimum": 1, "maximum": 45}, "Nice class"),
    _param("deal_type", {"type": "string", "enum": list(DEAL_TYPES)}, "offered deal type"),
    _param("price_mode", {"type": "string", "enum": list(PRICE_MODES)}, "price mode"),
    _param("open_licence", {"type": "string", "enum": ["1"]}, "1: only listings under an open licence (专利开放许可)"),
    _param("price_min", {"type": "integer", "minimum": 0}, "lowest price in fen (with deal_type: that deal type's price)"),
    _param("price_max", {"type": "integer", "minimum": 0}, "highest price in fen (with deal_type: that deal type's price)"),
    _param("region", {"type": "string", "enum": list(REGIONS)}, "seller's region"),
    _param("sort", {"type": "string", "enum": list(SORTS), "default": "relevance"}, "order of results"),
    _param("page", {"type": "integer", "minimum": 1, "maximum": service.MAX_PAGE, "default": 1}, "page number"),
    _param("per_page", {"type": "integer", "minimum": 1, "maximum": service.MAX_PER_PAGE,
                        "default": service.DEFAULT_PER_PAGE}, "results per page"),
]

_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
RESULT_SCHEMA = {
    "type": "object",
    "required": ["id", "title", "kind", "grade", "price", "price_mode", "highlight"],
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "kind": {"type": "string", "enum": list(KINDS)},
        "grade": {"type": "string", "enum": list(GRADES), "nullable": True},
        "price": {"type": "integer", "nullable": True, "description": "fen"},
        "currency": {"type": "string"},
        "price_mode": {"type": "string", "enum": list(PRICE_MODES)},
        "region": {"type": "string"},
        "highlight": {"type": "string", "description": "the title, HTML-escaped, matches wrapped in <mark>"},
        "snippet": {"type": "string", "description": "a matching excerpt of the description (HTML, may be empty)"},
        "holders": {"type": "array", "items": {"type": "string"},
                    "description": "权利人: the registered holders of the listing's rights"},
        "open_licence": {"type": "boolean", "description": "an open licence (专利开放许可) is declared on it"},
        "url": {"type": "string"},
    },
}
SEARCH_SCHEMA = {
    "type": "object",
    "required": ["total", "page", "results", "facets"],
    "properties": {
        "total": {"type": "integer", "minimum": 0},
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1},
        "results": {"type": "array", "items": RESULT_SCHEMA},
        "also_searched": {"type": "array", "items": {"type": "string"},
                          "description": "synonyms, abbreviations and translations the query was expanded with "
                                         "(也搜索了); exact matches rank first"},
        "partial": {"type": "boolean",
                    "description": "true: no listing matched every word; these are the best partial matches "
                                   "(部分匹配), those matching more words first"},
        "notice": {"type": "string", "nullable": True,
                   "description": "a message for the person, e.g. when the query holds only stop words"},
        "facets": {
            "type": "object",
            "required": ["kind", "grade", "nice_class", "ipc_section", "deal_type"],
            "properties": {name: _COUNTS for name in ("kind", "grade", "nice_class", "ipc_section", "deal_type")},
        },
    },
}
SAVED_SCHEMA = {
    "type": "object",
    "required": ["id", "q", "filters", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        "q": {"type": "string"},
        "filters": {"type": "object", "additionalProperties": {"type": "string"}},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
NOTIFICATION_SCHEMA = {
    "type": "object",
    "required": ["id", "kind", "title", "body", "link", "created_at", "unread"],
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string"},
        "title": {"type": "string"},
        "body": {"type": "string"},
        "link": {"type": "string", "nullable": True},
        "created_at": {"type": "string", "format": "date-time"},
        "unread": {"type": "boolean"},
    },
}


@bp.get("/search")
@doc("Search published listings (full text, filters, facets, sorting, paging)", auth=False, tags=["search"],
     parameters=SEARCH_PARAMETERS, responses={"200": SEARCH_SCHEMA, "422": None})
@cached_page(vary=search_page_vary)
def api_search():
    params = service.parse_params(request.args)
    return jsonify(service.page_json(service.search(params)))


@bp.post("/saved-searches")
@doc("Save a search; its owner is notified when a newly published listing matches", tags=["search"],
     request_schema={"type": "object", "properties": {
         "q": {"type": "string", "maxLength": service.MAX_QUERY_CHARS},
         "filters": {"type": "object", "description": "the filters of GET /search",
                     "properties": {k: {"oneOf": [{"type": "string"}, {"type": "integer"}]}
                                    for k in service.FILTER_KEYS},
                     "additionalProperties": False}}},
     responses={"201": {"type": "object", "required": ["saved_search"], "properties": {"saved_search": SAVED_SCHEMA}},
                "409": None, "422": None})
@commit_after
def api_save_search():
    user = require_user()
    data = json_body()
    row = service.save_search(user, data.get("q"), data.get("filters"))
    return jsonify({"saved_search": service.saved_search_json(row)}), 201


@bp.get("/saved-searches")
@doc("The signed-in user's saved searches, newest first", tags=["search"],
     responses={"200": {"type": "object", "required": ["saved_searches"],
                        "properties": {"saved_searches": {"type": "array", "items": SAVED_SCHEMA}}}})
@commit_after
def api_saved_searches():
    user = require_user()
    return jsonify({"saved_searches": [service.saved_search_json(r) for r in service.saved_searches_for(user)]})


@bp.delete("/saved-searches/<int:saved_id>")
@doc("Delete one of the user's saved searches", tags=["search"],
     responses={"200": {"type": "object", "required": ["deleted"], "properties": {"deleted": {"type": "boolean"}}},
                "404": None})
@commit_after
def api_delete_saved_search(saved_id):
    user = require_user()
    service.delete_saved_search(user, saved_id)
    return jsonify({"deleted": True})


@bp.get("/notifications")
@doc("The signed-in user's notifications, newest first", tags=["search"],
     parameters=[_param("unread", {"type": "string", "enum": ["0", "1"]}, "1: unread only"),
                 _param("page", {"type": "integer", "minimum": 1, "maximum": service.MAX_PAGE, "default": 1},
                        "page number (50 a page)")],
     responses={"200": {"type": "object", "required": ["notifications", "unread_count", "page", "total"],
                        "properties": {"notifications": {"type": "array", "items": NOTIFICATION_SCHEMA},
                                       "unread_count": {"type": "integer"}, "page": {"type": "integer"},
                                       "total": {"type": "integer"}}},
                "422": None})
@commit_after
def api_notifications():
    user = require_user()
    per_page = 50
    try:  # bounded; "²".isdigit() is true but int("²") raised (a 500)
        page = parse_int(request.args.get("page", "1"), minimum=1, maximum=service.MAX_PAGE)
    except NumberError:
        raise ValidationError(_("页码有误"), {"page": _("页码为 1–%(n)s", n=service.MAX_PAGE)}) from None
    unread_only = request.args.get("unread") == "1"
    where = [Notification.user_id == user.id]
    if unread_only:
        where.append(Notification.read_at.is_(None))
    rows = db.session.execute(
        select(Notification).where(*where).order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).scalars().all()
    total = db.session.scalar(select(func.count(Notification.id)).where(*where))
    unread = db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)))
    return jsonify({
        "notifications": [{"id": n.id, "kind": n.kind, "title": n.title_text, "body": n.body_text or "", "link": n.link,
                           "created_at": iso(n.created_at), "unread": n.read_at is None} for n in rows],
        "unread_count": unread, "page": page, "total": total,
    })

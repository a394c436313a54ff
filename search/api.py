"""JSON API of `search` under /api/v1 (thin: parse, call a service, map errors)."""
from flask import Blueprint, jsonify, request
from sqlalchemy import func, select

from marketplace.kernel.apiutil import API_PREFIX, commit_after, doc, json_body, query_args, require_user
from marketplace.kernel.extensions import db
from marketplace.kernel.models import Notification
from marketplace.kernel.pagecache import cached_page
from marketplace.kernel.timeutil import iso

from . import schemas as sc
from . import service
from .outbox import search_page_vary

bp = Blueprint("search_api", __name__, url_prefix=API_PREFIX)


@bp.get("/search")
@doc("Search published listings (full text, filters, facets, sorting, paging)", auth=False, tags=["search"],
     query_schema=sc.SearchQuery, responses={"200": sc.SearchPage, "422": None})
@cached_page(vary=search_page_vary)
def api_search():
    params = service.parse_params(request.args)
    return jsonify(service.page_json(service.search(params)))


@bp.post("/saved-searches")
@doc("Save a search; its owner is notified when a newly published listing matches", tags=["search"],
     request_schema=sc.SavedSearchInput, responses={"201": sc.SavedSearchAnswer, "409": None, "422": None})
@commit_after
def api_save_search():
    user = require_user()
    data = json_body()
    row = service.save_search(user, data.get("q"), data.get("filters"))
    return jsonify({"saved_search": service.saved_search_json(row)}), 201


@bp.get("/saved-searches")
@doc("The signed-in user's saved searches, newest first", tags=["search"], responses={"200": sc.SavedSearches})
@commit_after
def api_saved_searches():
    user = require_user()
    return jsonify({"saved_searches": [service.saved_search_json(r) for r in service.saved_searches_for(user)]})


@bp.delete("/saved-searches/<int:saved_id>")
@doc("Delete one of the user's saved searches", tags=["search"],
     responses={"200": sc.Deleted, "404": None})
@commit_after
def api_delete_saved_search(saved_id):
    user = require_user()
    service.delete_saved_search(user, saved_id)
    return jsonify({"deleted": True})


@bp.get("/notifications")
@doc("The signed-in user's notifications, newest first", tags=["search"], query_schema=sc.NotificationsQuery,
     responses={"200": sc.Notifications, "422": None})
@commit_after
def api_notifications():
    user = require_user()
    per_page = 50
    args = sc.NotificationsQuery().load(query_args())  # validated by query_args: "²" and the like are a 422
    page, unread_only = args["page"], args.get("unread") == "1"
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

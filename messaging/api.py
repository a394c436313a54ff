"""JSON API of messages (bearer tokens only; docs/messaging.md). Thin: parse, call ``service``, commit once."""
from flask import Blueprint, current_app, jsonify, request

from marketplace.kernel.apiutil import API_PREFIX, commit_after, doc, json_body, require_user, token_user
from marketplace.kernel.extensions import limiter

from . import schemas as sc
from . import service

bp = Blueprint("messaging_api", __name__, url_prefix=API_PREFIX)
TAGS = ["messages"]


def _limit():
    return current_app.config.get("RATELIMIT_MESSAGE") or "20/minute;200/hour"


def _user_key():
    user = token_user()
    return f"user:{user.id}" if user is not None else request.remote_addr


def _one(thread, user, status=200):
    return jsonify({"thread": service.thread_json(thread, user, with_messages=True)}), status


def _write(write, target_id):
    """The caller writes the body's message with ``write`` (reply, about a listing, about a deal): 201 and the thread."""
    user = require_user()
    message = write(target_id, user, json_body().get("message"))
    return _one(message.thread, user, 201)


@bp.get("/threads")
@doc("The caller's message threads, the latest first, each with its unread count", tags=TAGS,
     responses={"200": sc.Inbox})
def threads():
    user = require_user()
    rows = service.inbox(user)
    return jsonify({"unread": sum(n for _t, n in rows),
                    "threads": [service.thread_json(t, user, unread=n) for t, n in rows]})


@bp.get("/threads/<int:thread_id>")
@doc("A thread and its messages (its two parties; operators when a dispute names it). Reading marks it read",
     tags=TAGS, responses={"200": sc.One})
@commit_after
def thread(thread_id):
    user = require_user()
    row = service.thread_for(thread_id, user)
    service.mark_read(row, user)
    return _one(row, user)


@bp.post("/threads/<int:thread_id>/messages")
@doc("Write in a thread (its two parties; operators only read: 403)", tags=TAGS, request_schema=sc.Write,
     responses={"201": sc.One})
@limiter.shared_limit(_limit, scope="messages", key_func=_user_key)
@commit_after
def reply(thread_id):
    return _write(service.reply, thread_id)


@bp.post("/threads/<int:thread_id>/disclose")
@doc("A party names a listing thread in the dispute of a deal on that listing (operators may then read it); "
     "409 without a disputed deal", tags=TAGS, responses={"200": sc.One})
@commit_after
def disclose(thread_id):
    user = require_user()
    return _one(service.disclose(thread_id, user), user)


@bp.post("/listings/<int:listing_id>/messages")
@doc("A buyer writes to the listing's seller (the thread starts with the first message; one per listing and "
     "buyer). 409 when the listing is no longer on the market", tags=TAGS, request_schema=sc.Write,
     responses={"201": sc.One})
@limiter.shared_limit(_limit, scope="messages", key_func=_user_key)
@commit_after
def write_listing(listing_id):
    return _write(service.write_about_listing, listing_id)


@bp.post("/deals/<int:deal_id>/messages")
@doc("The buyer or the seller writes in the deal's thread (operators: 403)", tags=TAGS, request_schema=sc.Write,
     responses={"201": sc.One})
@limiter.shared_limit(_limit, scope="messages", key_func=_user_key)
@commit_after
def write_deal(deal_id):
    return _write(service.write_about_deal, deal_id)

"""JSON API of the demand side: wanted ads, matches, answers, and the data room (bearer tokens only)."""
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _

from marketplace.kernel.apiutil import API_PREFIX, commit_after, doc, form_body, json_body, require_user, token_user
from marketplace.kernel.errors import PermissionDenied
from marketplace.kernel.extensions import db, limiter
from marketplace.kernel.uploads import MIMETYPES

from . import answers, dataroom, matching, wanted
from . import schemas as sc

bp = Blueprint("demand_api", __name__, url_prefix=API_PREFIX)
TAGS = ["demand"]
ROOM_TAGS = ["data room"]


def _limit():
    return current_app.config.get("RATELIMIT_WANTED") or "20/hour"


def _user_key():
    user = token_user()
    return f"user:{user.id}" if user is not None else request.remote_addr


def _ip():
    return (request.remote_addr or "")[:45]


# --- wanted ads -------------------------------------------------------------------------------

@bp.get("/wanted")
@doc("Browse open wanted ads (求购) with facets", auth=False, tags=TAGS, query_schema=sc.WantedQuery,
     responses={"200": sc.Browse, "422": None})
def browse():
    f = wanted.parse_browse(request.args)
    found = wanted.browse(f)
    viewer = token_user()
    return jsonify({"total": found["total"], "page": f["page"], "per_page": wanted.PER_PAGE,
                    "results": [wanted.ad_json(ad, viewer) for ad in found["results"]],
                    "facets": {k: {str(key): n for key, n in v.items()} for k, v in found["facets"].items()}})


@bp.post("/wanted")
@doc("Post a wanted ad (buyers); it waits for operator review", request_schema=sc.WantedInput, tags=TAGS,
     responses={"201": sc.WantedOut, "422": None, "409": None})
@limiter.limit(_limit, key_func=_user_key)
@commit_after
def create():
    user = require_user("buyer")
    ad = wanted.post(user, json_body())
    db.session.flush()
    return jsonify(wanted.ad_json(ad, user)), 201


@bp.get("/wanted/<int:wanted_id>")
@doc("A wanted ad (published ones are public; the owner and operators see any)", auth=False, tags=TAGS,
     responses={"200": sc.WantedOut, "404": None})
def show(wanted_id):
    user = token_user()
    return jsonify(wanted.ad_json(wanted.visible(wanted_id, user), user))


@bp.post("/wanted/<int:wanted_id>/close")
@doc("Close one's own wanted ad", tags=TAGS, responses={"200": sc.WantedOut})
@commit_after
def close(wanted_id):
    user = require_user()
    return jsonify(wanted.ad_json(wanted.close(wanted_id, user), user))


@bp.post("/wanted/<int:wanted_id>/review")
@doc("Operators approve or reject a wanted ad under review", tags=TAGS, request_schema=sc.ReviewInput,
     responses={"200": sc.WantedOut})
@commit_after
def review(wanted_id):
    user = require_user("operator")
    data = json_body()
    return jsonify(wanted.ad_json(wanted.review(wanted_id, user, data.get("decision"), data.get("reason") or ""),
                                  user))


@bp.get("/wanted/<int:wanted_id>/matches")
@doc("The listings matched to one's own wanted ad, best first, with why", tags=TAGS,
     responses={"200": sc.Matches})
def ad_matches(wanted_id):
    user = require_user()
    ad = wanted.visible(wanted_id, user)
    if not (wanted.is_owner(ad, user) or user.is_operator):
        raise PermissionDenied(_msg_owner())
    return jsonify({"results": [matching.match_json(m) for m in matching.matches_for_ad(ad)]})


def _msg_owner():
    return _("只有发布者可以查看匹配结果")


@bp.get("/wanted/matches")
@doc("Open wanted ads matched to the caller's side's listings (sellers)", tags=TAGS,
     responses={"200": sc.Matches})
def seller_matches():
    user = require_user("seller")
    return jsonify({"results": [matching.match_json(m, "seller") for m in matching.matches_for_seller(user)]})


@bp.post("/wanted/<int:wanted_id>/answers")
@doc("A seller answers a wanted ad with one of its published listings (opens a message thread)", tags=TAGS,
     request_schema=sc.AnswerInput, responses={"201": sc.AnswerOut})
@limiter.limit(_limit, key_func=_user_key)
@commit_after
def answer(wanted_id):
    user = require_user("seller")
    data = json_body()
    row = answers.answer(wanted_id, user, data["listing_id"], data["message"])
    return jsonify(answers.answer_json(row)), 201


@bp.get("/wanted/<int:wanted_id>/answers")
@doc("The answers to a wanted ad the caller may read (the buyer: all; a seller: its own side's)", tags=TAGS,
     responses={"200": sc.Answers})
def ad_answers(wanted_id):
    user = require_user()
    ad = wanted.visible(wanted_id, user)
    return jsonify({"results": [answers.answer_json(r) for r in answers.answers_for(ad, user)]})


@bp.get("/wanted/answers/<int:answer_id>")
@doc("A thread between a buyer and the seller that answered (parties and operators)", tags=TAGS,
     responses={"200": sc.AnswerOut})
def thread(answer_id):
    user = require_user()
    return jsonify(answers.answer_json(answers.thread(answer_id, user)))


@bp.post("/wanted/answers/<int:answer_id>/messages")
@doc("Write in a thread (its two parties)", tags=TAGS, request_schema=sc.MessageInput,
     responses={"201": sc.AnswerOut})
@limiter.limit(_limit, key_func=_user_key)
@commit_after
def message(answer_id):
    user = require_user()
    answers.post_message(answer_id, user, json_body().get("message"))
    return jsonify(answers.answer_json(answers.thread(answer_id, user))), 201


# --- the data room ----------------------------------------------------------------------------------

@bp.get("/listings/<int:listing_id>/dataroom")
@doc("A listing's data room as the caller may see it: the NDA; files for the seller's side and granted buyers",
     tags=ROOM_TAGS, responses={"200": sc.Room})
def room(listing_id):
    user = require_user()
    listing = dataroom.visible_listing(listing_id, user)
    return jsonify(dataroom.room_json(listing, user))


@bp.put("/listings/<int:listing_id>/dataroom/nda")
@doc("The seller's side edits the NDA template (and whether operators may grant access)", tags=ROOM_TAGS,
     request_schema=sc.NdaInput, responses={"200": sc.Room})
@commit_after
def nda(listing_id):
    user = require_user("seller")
    data = json_body()
    dataroom.edit_nda(listing_id, user, data["nda_text"], data.get("operator_may_grant"))
    return jsonify(dataroom.room_json(dataroom.managed_listing(listing_id, user), user))


@bp.post("/listings/<int:listing_id>/dataroom/files")
@doc("Upload a due-diligence file (PDF, PNG or JPEG; multipart field 'document', optional 'category')",
     tags=ROOM_TAGS, content_type="multipart/form-data", request_schema=sc.RoomUpload,
     responses={"201": sc.FileOut})
@commit_after
def upload(listing_id):
    user = require_user("seller")
    form = form_body()
    row = dataroom.upload(listing_id, user, request.files.get("document"), form.get("category") or "other")
    return jsonify(dataroom.file_json(row)), 201


@bp.delete("/dataroom/files/<int:file_id>")
@doc("The seller's side removes a file from its data room", tags=ROOM_TAGS, responses={"200": sc.FileOut})
@commit_after
def remove(file_id):
    user = require_user("seller")
    return jsonify(dataroom.file_json(dataroom.remove_file(file_id, user)))


@bp.get("/dataroom/files/<int:file_id>")
@doc("Download a data-room file, watermarked with the viewer's organisation and time (granted buyers and the "
     "seller's side); logged", tags=ROOM_TAGS, responses={"200": None, "403": None, "404": None})
def download(file_id):
    user = require_user()
    row, body = dataroom.download(file_id, user, _ip())
    db.session.commit()
    return _file_response(row, body)


def _file_response(row, body):
    name = f"dataroom-{row.id}{ {'pdf': '.pdf', 'png': '.png', 'jpeg': '.jpg'}[row.file_kind] }"
    response = Response(body, mimetype=MIMETYPES[row.file_kind])
    response.headers["Content-Disposition"] = f"attachment; filename={name}; filename*=UTF-8''{quote(name)}"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/listings/<int:listing_id>/dataroom/access")
@doc("A buyer accepts the listing's NDA (password re-entered) and asks for access", tags=ROOM_TAGS,
     request_schema=sc.AccessInput, responses={"201": sc.AccessOut})
@limiter.limit(_limit, key_func=_user_key)
@commit_after
def request_access(listing_id):
    user = require_user("buyer")
    row = dataroom.request_access(listing_id, user, json_body().get("password"), _ip())
    return jsonify(dataroom.access_json(row)), 201


@bp.get("/listings/<int:listing_id>/dataroom/access")
@doc("Access requests and grants of a data room (the seller's side and operators)", tags=ROOM_TAGS,
     responses={"200": sc.Accesses})
def accesses(listing_id):
    user = require_user()
    listing = dataroom.managed_listing(listing_id, user, operators=True)
    return jsonify({"results": [dataroom.access_json(a) for a in dataroom.accesses_of(listing)]})


@bp.post("/dataroom/access/<int:access_id>/grant")
@doc("Grant a signed request (the seller's side; an operator for verified buyers when the seller allows)",
     tags=ROOM_TAGS, responses={"200": sc.AccessOut})
@commit_after
def grant(access_id):
    user = require_user()
    return jsonify(dataroom.access_json(dataroom.grant(access_id, user)))


@bp.post("/dataroom/access/<int:access_id>/revoke")
@doc("Revoke access (the seller's side or an operator)", tags=ROOM_TAGS, responses={"200": sc.AccessOut})
@commit_after
def revoke(access_id):
    user = require_user()
    return jsonify(dataroom.access_json(dataroom.revoke(access_id, user)))


@bp.get("/listings/<int:listing_id>/dataroom/log")
@doc("Who saw what and when, and refused attempts (the seller's side and operators)", tags=ROOM_TAGS,
     responses={"200": sc.Log})
def room_log(listing_id):
    user = require_user()
    listing = dataroom.managed_listing(listing_id, user, operators=True)
    return jsonify({"results": [dataroom.log_json(r) for r in dataroom.log_of(listing)]})



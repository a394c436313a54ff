"""JSON API of `listings` under /api/v1 (thin: parse, call a service, map errors)."""
from flask import Blueprint, jsonify, request

from marketplace.kernel.apiutil import (
    API_PREFIX,
    commit_after,
    doc,
    form_body,
    json_body,
    query_args,
    require_user,
    token_user,
)
from marketplace.kernel.pagecache import cached_page

from . import schemas as sc
from . import service
from .models import for_listing_page
from .serializers import listing_json

bp = Blueprint("listings_api", __name__, url_prefix=API_PREFIX)

@bp.post("/listings")
@doc("Create a draft listing (seller)", tags=["listings"], request_schema=sc.ListingInput,
     responses={"201": sc.ListingWithWarnings, "403": None, "422": None})
@commit_after
def create():
    user = require_user()
    listing, warnings = service.create_listing(user, json_body())
    return jsonify({"listing": listing_json(listing, user), "warnings": warnings}), 201


@bp.get("/listings/<int:listing_id>")
@doc("A listing (published ones for everyone; drafts for their organisation and operators)", auth=False,
     tags=["listings"], responses={"200": sc.ListingAnswer, "404": None})
@cached_page()
def show(listing_id):
    viewer = token_user()
    listing = service.get_visible(viewer, listing_id, options=for_listing_page())
    return jsonify({"listing": listing_json(listing, viewer)})


@bp.patch("/listings/<int:listing_id>")
@doc("Change a draft or rejected listing (owner); only the keys given change, `rights` replaces the list",
     tags=["listings"], request_schema=sc.LISTING_PATCH,
     responses={"200": sc.ListingWithWarnings, "403": None, "404": None, "409": None, "422": None})
@commit_after
def update(listing_id):
    user = require_user()
    listing, warnings = service.update_listing(user, listing_id, json_body())
    return jsonify({"listing": listing_json(listing, user), "warnings": warnings})


@bp.post("/listings/<int:listing_id>/submit")
@doc("Submit for review (owner): draft or rejected → pending_review", tags=["listings"],
     responses={"200": sc.ListingAnswer, "403": None, "404": None, "409": None, "422": None})
@commit_after
def submit(listing_id):
    user = require_user()
    listing = service.submit_listing(user, listing_id)
    return jsonify({"listing": listing_json(listing, user)})


@bp.post("/listings/<int:listing_id>/review")
@doc("Approve or reject a listing under review (operator); a rejection needs a reason", tags=["listings"],
     request_schema=sc.ReviewInput,
     responses={"200": sc.ListingAnswer, "403": None, "404": None, "409": None, "422": None})
@commit_after
def review(listing_id):
    user = require_user("operator")
    data = json_body()
    listing = service.review_listing(user, listing_id, data.get("decision"), data.get("reason"),
                                     requested_document=data.get("requested_document"))
    return jsonify({"listing": listing_json(listing, user)})


@bp.post("/listings/<int:listing_id>/requested-document")
@doc("Upload the document a rejection asked for (owner; multipart field `document`: PDF, PNG or JPEG); 409 when "
     "the listing is not rejected or asked for none", tags=["listings"], content_type="multipart/form-data",
     request_schema=sc.Upload,
     responses={"200": sc.ListingAnswer, "403": None, "404": None, "409": None, "413": None, "422": None})
@commit_after
def requested_document(listing_id):
    from flask import request

    user = require_user()
    form_body()
    listing = service.upload_requested_document(user, listing_id, request.files.get("document"))
    return jsonify({"listing": listing_json(listing, user)})


@bp.post("/listings/<int:listing_id>/withdraw")
@doc("Withdraw a listing (owner); not while a deal is under way or an auction has bids", tags=["listings"],
     responses={"200": sc.ListingAnswer, "403": None, "404": None, "409": None})
@commit_after
def withdraw(listing_id):
    user = require_user()
    listing = service.withdraw_listing(user, listing_id)
    return jsonify({"listing": listing_json(listing, user)})


@bp.post("/listings/<int:listing_id>/relist")
@doc("Relist an expired listing (owner): a new draft with the same rights, title, description, deal types, "
     "region and prices; an auction keeps its start price, reserve and increment and closes 7 days from now "
     "(PATCH `auction.ends_at` before submitting). The expired listing stays expired; it is relisted once "
     "(a second relist is 409 with the first copy's `listing_id`)", tags=["listings"],
     responses={"201": sc.Relisted, "403": None, "404": None, "409": None})
@commit_after
def relist(listing_id):
    user = require_user()
    listing, warnings = service.relist_listing(user, listing_id)
    return jsonify({"listing": listing_json(listing, user), "warnings": warnings, "relisted_from": listing_id}), 201


@bp.post("/listings/<int:listing_id>/pledge-consent")
@doc("Upload the pledgee's consent for a pledged patent offered for assignment (multipart field `document`: "
     "PDF, PNG or JPEG)", tags=["listings"], request_schema=sc.Upload, content_type="multipart/form-data",
     responses={"200": sc.ListingWithWarnings, "403": None, "404": None, "409": None, "422": None})
@commit_after
def pledge_consent(listing_id):
    user = require_user()
    form_body()
    listing = service.attach_pledge_consent(user, listing_id, request.files.get("document"))
    return jsonify({"listing": listing_json(listing, user), "warnings": service.warnings_for(listing)})


@bp.post("/listings/<int:listing_id>/image")
@doc("Upload a trademark's image (multipart field `document`: PNG or JPEG, at most 2 MB)", tags=["listings"],
     request_schema=sc.Upload, content_type="multipart/form-data",
     responses={"200": sc.ListingAnswer, "403": None, "404": None, "409": None, "422": None})
@commit_after
def image(listing_id):
    user = require_user()
    form_body()
    listing = service.attach_image(user, listing_id, request.files.get("document") or request.files.get("image"))
    return jsonify({"listing": listing_json(listing, user)})


@bp.get("/my/listings")
@doc("The listings of the caller's organisation, newest first (seller)", tags=["listings"],
     query_schema=sc.MineQuery, responses={"200": sc.ListingList, "403": None})
def mine():
    user = require_user("seller")
    status = query_args().get("status")
    return jsonify({"listings": [listing_json(item, user) for item in service.listings_of(user, status)]})

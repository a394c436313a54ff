"""JSON API of `listings` under /api/v1 (thin: parse, call a service, map errors)."""
from flask import Blueprint, jsonify, request

from marketplace.apiutil import API_PREFIX, commit_after, doc, json_body, require_user, token_user
from marketplace.pagecache import cached_page

from . import service
from .models import for_listing_page
from .serializers import LISTING_SCHEMA, WARNING_SCHEMA, listing_json

bp = Blueprint("listings_api", __name__, url_prefix=API_PREFIX)

_MONEY = {"type": "integer", "minimum": 1, "description": "fen (1 yuan = 100)"}
_DATE = {"type": "string", "format": "date"}
PATENT_INPUT = {
    "type": "object", "required": ["application_number", "title", "filing_date", "legal_status"],
    "properties": {
        "application_number": {"type": "string", "example": "201710601862.3"},
        "patent_type": {"type": "string", "enum": ["invention", "utility_model", "design"]},
        "title": {"type": "string", "maxLength": 300},
        "abstract": {"type": "string", "maxLength": 5000},
        "ipc_codes": {"type": "array", "items": {"type": "string", "example": "H04L 9/32"}},
        "locarno_class": {"type": "string", "example": "14-02"},
        "filing_date": _DATE, "grant_date": _DATE,
        "claims_count": {"type": "integer", "minimum": 1},
        "legal_status": {"type": "string", "enum": ["pending", "granted"]},
        "pledged": {"type": "boolean"},
        "exclusive_license_until": _DATE,
        "family_countries": {"type": "array", "items": {"type": "string", "example": "US"}},
    },
}
TRADEMARK_INPUT = {
    "type": "object", "required": ["registration_number", "mark_text", "nice_classes", "status"],
    "properties": {
        "registration_number": {"type": "string", "example": "12345678"},
        "mark_text": {"type": "string", "maxLength": 100},
        "nice_classes": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 1, "maximum": 45}},
        "similar_groups": {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{4}$"}},
        "goods": {"type": "array", "items": {"type": "string"}},
        "registration_date": _DATE,
        "status": {"type": "string", "enum": ["registered", "pending", "opposed"]},
        "exclusive_license_until": _DATE,
        "use_evidence": {"type": "boolean"},
        "disputes": {"type": "integer", "minimum": 0},
    },
}
LISTING_INPUT_PROPERTIES = {
    "kind": {"type": "string", "enum": ["patent", "trademark"]},
    "title": {"type": "string", "maxLength": 200},
    "description": {"type": "string", "description": "Markdown; sanitised when shown"},
    "deal_types": {"type": "array", "minItems": 1,
                   "items": {"type": "string", "enum": list(service.DEAL_TYPE_LABELS)}},
    "price_mode": {"type": "string", "enum": ["fixed", "negotiable", "auction"]},
    "price": {**_MONEY, "description": "fen: the price of every deal type without a price of its own in deal_prices"},
    "deal_prices": {"type": "object", "nullable": True, "description": "fen per deal type, for a listing offered for "
                    "assignment and licences at different prices ({\"assignment\": 26000000, "
                    "\"non_exclusive_license\": 5000000}); only deal types in deal_types; not for auctions",
                    "properties": {d: _MONEY for d in service.DEAL_TYPE_LABELS}, "additionalProperties": False},
    "offer_floor": _MONEY,
    "auction": {"type": "object", "required": ["start_price", "min_increment", "ends_at"], "properties": {
        "start_price": _MONEY, "reserve_price": _MONEY, "min_increment": _MONEY,
        "deposit_amount": {**_MONEY, "description": "保证金 (fen) a bidder pays into escrow before bidding; at most 20 % "
                                                    "of start_price; omitted or null: no deposit"},
        "ends_at": {"type": "string", "format": "date-time"}}},
    "region": {"type": "string"},
    "license_territory": {"type": "string"}, "license_field": {"type": "string"},
    "license_years": {"type": "integer", "minimum": 1, "maximum": 30},
    "rights": {"type": "array", "minItems": 1, "items": {"oneOf": [
        {"type": "object", "required": ["patent"], "properties": {"patent": PATENT_INPUT}},
        {"type": "object", "required": ["trademark"], "properties": {"trademark": TRADEMARK_INPUT}},
    ]}},
}
CREATE_SCHEMA = {"type": "object", "required": ["kind", "title", "deal_types", "price_mode", "rights"],
                 "properties": LISTING_INPUT_PROPERTIES}
PATCH_SCHEMA = {"type": "object", "properties": LISTING_INPUT_PROPERTIES}
_WITH_WARNINGS = {"type": "object", "required": ["listing", "warnings"],
                  "properties": {"listing": LISTING_SCHEMA, "warnings": {"type": "array", "items": WARNING_SCHEMA}}}
_LISTING_ONLY = {"type": "object", "required": ["listing"], "properties": {"listing": LISTING_SCHEMA}}
_UPLOAD = {"type": "object", "properties": {"document": {"type": "string", "format": "binary"}}}


@bp.post("/listings")
@doc("Create a draft listing (seller)", tags=["listings"], request_schema=CREATE_SCHEMA,
     responses={"201": _WITH_WARNINGS, "403": None, "422": None})
@commit_after
def create():
    user = require_user()
    listing, warnings = service.create_listing(user, json_body())
    return jsonify({"listing": listing_json(listing, user), "warnings": warnings}), 201


@bp.get("/listings/<int:listing_id>")
@doc("A listing (published ones for everyone; drafts for their organisation and operators)", auth=False,
     tags=["listings"], responses={"200": _LISTING_ONLY, "404": None})
@cached_page()
def show(listing_id):
    viewer = token_user()
    listing = service.get_visible(viewer, listing_id, options=for_listing_page())
    return jsonify({"listing": listing_json(listing, viewer)})


@bp.patch("/listings/<int:listing_id>")
@doc("Change a draft or rejected listing (owner); only the keys given change, `rights` replaces the list",
     tags=["listings"], request_schema=PATCH_SCHEMA,
     responses={"200": _WITH_WARNINGS, "403": None, "404": None, "409": None, "422": None})
@commit_after
def update(listing_id):
    user = require_user()
    listing, warnings = service.update_listing(user, listing_id, json_body())
    return jsonify({"listing": listing_json(listing, user), "warnings": warnings})


@bp.post("/listings/<int:listing_id>/submit")
@doc("Submit for review (owner): draft or rejected → pending_review", tags=["listings"],
     responses={"200": _LISTING_ONLY, "403": None, "404": None, "409": None, "422": None})
@commit_after
def submit(listing_id):
    user = require_user()
    listing = service.submit_listing(user, listing_id)
    return jsonify({"listing": listing_json(listing, user)})


@bp.post("/listings/<int:listing_id>/review")
@doc("Approve or reject a listing under review (operator); a rejection needs a reason", tags=["listings"],
     request_schema={"type": "object", "required": ["decision"], "properties": {
         "decision": {"type": "string", "enum": ["approve", "reject"]}, "reason": {"type": "string"},
         "requested_document": {"type": "string", "enum": ["pledge_consent", "authorization_doc", "co_owner_consent",
                                                           "supporting_doc"],
                                "description": "a rejection may ask the seller to upload this document"}}},
     responses={"200": _LISTING_ONLY, "403": None, "404": None, "409": None, "422": None})
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
     request_schema={"type": "object", "required": ["document"], "properties": {
         "document": {"type": "string", "format": "binary"}}},
     responses={"200": _LISTING_ONLY, "403": None, "404": None, "409": None, "413": None, "422": None})
@commit_after
def requested_document(listing_id):
    from flask import request

    user = require_user()
    listing = service.upload_requested_document(user, listing_id, request.files.get("document"))
    return jsonify({"listing": listing_json(listing, user)})


@bp.post("/listings/<int:listing_id>/withdraw")
@doc("Withdraw a listing (owner); not while a deal is under way or an auction has bids", tags=["listings"],
     responses={"200": _LISTING_ONLY, "403": None, "404": None, "409": None})
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
     responses={"201": {"type": "object", "required": ["listing", "warnings", "relisted_from"], "properties": {
         "listing": LISTING_SCHEMA, "warnings": {"type": "array", "items": WARNING_SCHEMA},
         "relisted_from": {"type": "integer", "description": "the expired listing's id"}}},
         "403": None, "404": None, "409": None})
@commit_after
def relist(listing_id):
    user = require_user()
    listing, warnings = service.relist_listing(user, listing_id)
    return jsonify({"listing": listing_json(listing, user), "warnings": warnings, "relisted_from": listing_id}), 201


@bp.post("/listings/<int:listing_id>/pledge-consent")
@doc("Upload the pledgee's consent for a pledged patent offered for assignment (multipart field `document`: "
     "PDF, PNG or JPEG)", tags=["listings"], request_schema=_UPLOAD, content_type="multipart/form-data",
     responses={"200": _WITH_WARNINGS, "403": None, "404": None, "409": None, "422": None})
@commit_after
def pledge_consent(listing_id):
    user = require_user()
    listing = service.attach_pledge_consent(user, listing_id, request.files.get("document"))
    return jsonify({"listing": listing_json(listing, user), "warnings": service.warnings_for(listing)})


@bp.post("/listings/<int:listing_id>/image")
@doc("Upload a trademark's image (multipart field `document`: PNG or JPEG, at most 2 MB)", tags=["listings"],
     request_schema=_UPLOAD, content_type="multipart/form-data",
     responses={"200": _LISTING_ONLY, "403": None, "404": None, "409": None, "422": None})
@commit_after
def image(listing_id):
    user = require_user()
    listing = service.attach_image(user, listing_id, request.files.get("document") or request.files.get("image"))
    return jsonify({"listing": listing_json(listing, user)})


@bp.get("/my/listings")
@doc("The listings of the caller's organisation, newest first (seller)", tags=["listings"],
     parameters=[{"name": "status", "in": "query", "required": False,
                  "schema": {"type": "string", "enum": list(service.STATUS_LABELS)}}],
     responses={"200": {"type": "object", "required": ["listings"], "properties": {
         "listings": {"type": "array", "items": LISTING_SCHEMA}}}, "403": None})
def mine():
    user = require_user("seller")
    status = request.args.get("status")
    if status not in service.STATUS_LABELS:
        status = None
    return jsonify({"listings": [listing_json(item, user) for item in service.listings_of(user, status)]})

"""JSON API of deals under /api/v1 (docs/api.md "Deals"): parse, call one service, commit once, answer.

Deals are visible to their buyer, their seller and operators only; anyone else gets 404.
"""
from flask import Blueprint, jsonify, request, send_file

from marketplace.kernel.apiutil import API_PREFIX, commit_after, doc, form_body, json_body, require_user

from . import deals, documents
from . import schemas as sc
from .serializers import ConfirmedAnswer, DealAnswer, DealList, LedgerAnswer, PayAnswer, deal_json, ledger_json

bp = Blueprint("escrow_api", __name__, url_prefix=API_PREFIX)

TAGS = ["deals"]
_ID = "<int:deal_id>"
def _body():
    """The JSON body when one is sent; an empty object for a bare POST."""
    if not request.data:
        return {}
    return json_body()


def _deal_response(deal, status=200, **extra):
    return jsonify({"deal": deal_json(deal), **extra}), status


@bp.get("/deals")
@doc("Deals where I am the buyer or the seller", tags=TAGS, responses={"200": DealList})
def list_deals():
    user = require_user()
    return jsonify({"deals": [deal_json(d) for d in deals.deals_of(user)]})


@bp.get(f"/deals/{_ID}")
@doc("A deal with its events (buyer, seller or operator)", tags=TAGS, responses={"200": DealAnswer})
def get_deal(deal_id):
    user = require_user()
    return _deal_response(deals.get_deal_for(deal_id, user))


@bp.post(f"/deals/{_ID}/pay")
@doc("Start paying (buyer): offline bank details and reference, or a Stripe PaymentIntent", tags=TAGS,
     responses={"200": PayAnswer, "503": None})
@commit_after
def pay(deal_id):
    user = require_user()
    return jsonify(deals.start_payment(deal_id, user))


@bp.post(f"/deals/{_ID}/confirm-payment")
@doc("Confirm a bank transfer's receipt (operator, offline gateway); a repeat is ignored", tags=TAGS,
     request_schema=sc.ConfirmPayment,
     responses={"200": ConfirmedAnswer})
@commit_after
def confirm_payment(deal_id):
    user = require_user()
    data = json_body()
    before = deals.lock_deal(deal_id).state
    deal = deals.confirm_offline_payment(deal_id, data.get("reference"), data.get("amount"), user)
    return _deal_response(deal, result="funded" if before != deal.state else "ignored")


@bp.post(f"/deals/{_ID}/transfer-filed")
@doc("Upload the CNIPA filing receipt (seller): transfer filed", tags=TAGS, request_schema=sc.Upload,
     content_type="multipart/form-data", responses={"200": DealAnswer, "413": None})
@commit_after
def transfer_filed(deal_id):
    user = require_user()
    data = form_body()
    deal = deals.file_transfer(deal_id, user, request.files.get("document"), note=data.get("note"))
    return _deal_response(deal)


RECORDAL_FIELDS = ("notice_number", "notice_date", "gazette_issue", "gazette_page")


@bp.post(f"/deals/{_ID}/transfer-recorded")
@doc("Upload the approval notice with its details (seller): an operator verifies them, then the transfer "
     "is recorded and the inspection window opens", tags=TAGS,
     request_schema=sc.RecordalUpload, content_type="multipart/form-data", responses={"200": DealAnswer, "413": None})
@commit_after
def transfer_recorded(deal_id):
    user = require_user()
    data = form_body()
    details = {key: data.get(key) for key in RECORDAL_FIELDS}
    deal = deals.record_transfer(deal_id, user, request.files.get("document"), note=data.get("note"),
                                 details=details)
    return _deal_response(deal)


@bp.post(f"/deals/{_ID}/accept")
@doc("Accept the recorded transfer (buyer): the money is released to the seller", tags=TAGS,
     responses={"200": DealAnswer})
@commit_after
def accept(deal_id):
    user = require_user()
    return _deal_response(deals.accept(deal_id, user))


@bp.post(f"/deals/{_ID}/dispute")
@doc("Open a dispute (buyer or seller, from funded until release)", tags=TAGS,
     request_schema=sc.Dispute,
     responses={"200": DealAnswer})
@commit_after
def dispute(deal_id):
    user = require_user()
    data = json_body()
    return _deal_response(deals.open_dispute(deal_id, user, data.get("reason")))


@bp.post(f"/deals/{_ID}/resolve")
@doc("Resolve a dispute (operator): release, refund, or split with seller_share fen to the seller", tags=TAGS,
     request_schema=sc.Resolve,
     responses={"200": DealAnswer})
@commit_after
def resolve(deal_id):
    user = require_user()
    data = json_body()
    deal = deals.resolve_dispute(deal_id, user, data.get("outcome"), data.get("seller_share"), note=data.get("note"))
    return _deal_response(deal)


@bp.post(f"/deals/{_ID}/confirm-reversal")
@doc("Confirm the transfer back (回转登记) was recorded (operator): the register follows and the decided "
     "refund or split is paid", tags=TAGS,
     request_schema=sc.Note,
     responses={"200": DealAnswer})
@commit_after
def confirm_reversal(deal_id):
    user = require_user()
    data = _body()
    return _deal_response(deals.confirm_reversal(deal_id, user, note=data.get("note")))


@bp.post(f"/deals/{_ID}/acknowledge-licences")
@doc("Acknowledge the licences in force that survive an assignment (buyer; required before paying)", tags=TAGS,
     responses={"200": DealAnswer})
@commit_after
def acknowledge_licences(deal_id):
    user = require_user()
    return _deal_response(deals.acknowledge_licences(deal_id, user))


@bp.post(f"/deals/{_ID}/cancel")
@doc("Cancel: before payment (buyer, operator), or for a full refund once the transfer deadline has passed",
     tags=TAGS, request_schema=sc.Cancel,
     responses={"200": DealAnswer})
@commit_after
def cancel(deal_id):
    user = require_user()
    data = _body()
    return _deal_response(deals.cancel_deal(deal_id, user, reason=data.get("reason")))


@bp.post(f"/deals/{_ID}/payout-paid")
@doc("Record the bank transfer to the seller (operator, offline payout): the deal completes", tags=TAGS,
     request_schema=sc.PayoutPaid,
     responses={"200": DealAnswer})
@commit_after
def payout_paid(deal_id):
    user = require_user()
    data = json_body()
    return _deal_response(deals.mark_payout_paid(deal_id, data.get("reference"), user))


@bp.get(f"/deals/{_ID}/ledger")
@doc("The deal's journal entries and balances derived from their postings", tags=TAGS,
     responses={"200": LedgerAnswer})
def deal_ledger(deal_id):
    user = require_user()
    return jsonify(ledger_json(deals.get_deal_for(deal_id, user)))


@bp.get(f"/deals/{_ID}/documents/<int:document_id>")
@doc("Download a deal document (buyer, seller or operator)", tags=TAGS, responses={"200": None})
def deal_document(deal_id, document_id):
    user = require_user()
    document, path = documents.document_for(deal_id, document_id, user)
    return send_file(path, mimetype=documents.mimetype(document), as_attachment=False,
                     download_name=documents.download_name(document), max_age=0)

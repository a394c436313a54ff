"""JSON API of the deal's paperwork under /api/v1 (issue 15): the contract (view, sign, PDF), the
recordal check, invoices, tax notes and the 技术合同登记. Parse, call one service, commit once."""
from flask import Blueprint, Response, current_app, jsonify, request

from marketplace.kernel.apiutil import API_PREFIX, commit_after, doc, json_body, require_user
from marketplace.kernel.extensions import limiter

from . import contracts, deals, invoices, recordal
from . import schemas as sc
from .serializers import DealAnswer, deal_json

bp = Blueprint("escrow_paper_api", __name__, url_prefix=API_PREFIX)

TAGS = ["deals"]
_ID = "<int:deal_id>"
def _sign_limit():
    return current_app.config["RATELIMIT_LOGIN"]


def _body():
    return json_body() if request.data else {}


@bp.get(f"/deals/{_ID}/contract")
@doc("The deal's contract: canonical text, its SHA-256 and the signatures (buyer, seller or operator)", tags=TAGS,
     responses={"200": sc.ContractAnswer})
@commit_after  # a deal opened before contracts existed gets its contract now
def get_contract(deal_id):
    user = require_user()
    return jsonify({"contract": contracts.contract_json(deals.get_deal_for(deal_id, user))})


@bp.post(f"/deals/{_ID}/contract/sign")
@limiter.limit(_sign_limit)
@doc("Sign the contract (buyer or seller), confirming with the account password; the second signature "
     "starts the payment deadline", tags=TAGS,
     request_schema=sc.Sign, responses={"200": sc.SignedAnswer})
@commit_after
def sign_contract(deal_id):
    user = require_user()
    data = json_body()
    deal = contracts.sign(deal_id, user, data.get("password"), contracts.ip_of(request))
    return jsonify({"deal": deal_json(deal), "contract": contracts.contract_json(deal, include_text=False)})


@bp.get(f"/deals/{_ID}/contract.pdf")
@doc("The contract as PDF with its SHA-256 and the signatures (buyer, seller or operator)", tags=TAGS,
     responses={"200": None})
@commit_after
def contract_pdf(deal_id):
    user = require_user()
    deal = deals.get_deal_for(deal_id, user)
    return Response(contracts.pdf(deal), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="deal-{deal.id}-contract.pdf"'})


@bp.post(f"/deals/{_ID}/confirm-filing")
@doc("Confirm the joint trademark assignment application was filed (buyer of a trademark assignment)",
     tags=TAGS, responses={"200": DealAnswer})
@commit_after
def confirm_filing(deal_id):
    user = require_user()
    return jsonify({"deal": deal_json(recordal.confirm_filing(deal_id, user))})


@bp.get(f"/deals/{_ID}/recordal")
@doc("The recordal details submitted with CNIPA's notice and the operator's decisions", tags=TAGS,
     responses={"200": sc.RecordalsAnswer})
def get_recordal(deal_id):
    user = require_user()
    deal = deals.get_deal_for(deal_id, user)
    return jsonify({"recordals": [recordal.recordal_json(r) for r in recordal.history(deal)],
                    "joint_filing": recordal.needs_joint_filing(deal),
                    "filing_confirmed": recordal.filing_confirmed(deal)})


@bp.post(f"/deals/{_ID}/recordal/verify")
@doc("Verify the recordal details against the notice (operator): transfer recorded, inspection starts",
     tags=TAGS, request_schema=sc.Note, responses={"200": DealAnswer})
@commit_after
def verify_recordal(deal_id):
    user = require_user()
    return jsonify({"deal": deal_json(recordal.verify(deal_id, user, note=_body().get("note")))})


@bp.post(f"/deals/{_ID}/recordal/reject")
@doc("Reject the recordal details back to the seller with the reason (operator)", tags=TAGS,
     request_schema=sc.RejectRecordal, responses={"200": DealAnswer})
@commit_after
def reject_recordal(deal_id):
    user = require_user()
    return jsonify({"deal": deal_json(recordal.reject(deal_id, user, json_body().get("reason")))})


@bp.get(f"/deals/{_ID}/invoices")
@doc("The deal's invoice requests", tags=TAGS, responses={"200": sc.InvoiceList})
def list_invoices(deal_id):
    user = require_user()
    deal = deals.get_deal_for(deal_id, user)
    return jsonify({"invoices": [invoices.invoice_json(r) for r in invoices.invoices_of(deal)]})


@bp.post(f"/deals/{_ID}/invoices")
@doc("Request an invoice: from the seller for the price (buyer), or from the platform for its fee "
     "(the party bearing the fee)", tags=TAGS,
     request_schema=sc.InvoiceRequestInput, responses={"201": sc.InvoiceAnswer})
@commit_after
def request_invoice(deal_id):
    user = require_user()
    data = json_body()
    row = invoices.request_invoice(deal_id, user, data.get("issuer"), data.get("title"), data.get("taxpayer_id"),
                                   data.get("invoice_type"),
                                   details={key: data.get(key) for key in invoices.SPECIAL_FIELDS})
    return jsonify({"invoice": invoices.invoice_json(row)}), 201


@bp.post(f"/deals/{_ID}/invoices/<issuer>/issued")
@doc("Record the invoice number (the seller for the price invoice, an operator for the fee invoice)", tags=TAGS,
     request_schema=sc.InvoiceIssued, responses={"200": sc.InvoiceAnswer})
@commit_after
def issue_invoice(deal_id, issuer):
    user = require_user()
    row = invoices.issue_invoice(deal_id, user, issuer, json_body().get("invoice_number"))
    return jsonify({"invoice": invoices.invoice_json(row)})


@bp.get(f"/deals/{_ID}/tax")
@doc("Tax notes (VAT, stamp duty) and, for patent deals, the 技术合同登记 data", tags=TAGS,
     responses={"200": sc.TaxAnswer})
@commit_after
def tax(deal_id):
    user = require_user()
    deal = deals.get_deal_for(deal_id, user)
    patent = deal.listing.kind == "patent"
    contract = contracts.contract_of(deal)
    return jsonify({
        "notes": [{"title": str(t), "text": str(x)} for t, x in invoices.tax_notes(deal)],
        "tech_contract": [{"field": str(k), "value": str(v)} for k, v in invoices.tech_contract_data(deal)]
        if patent else None,
        "tech_registration_number": contract.tech_registration_number})


@bp.post(f"/deals/{_ID}/tech-contract")
@doc("Record the 技术合同登记 number of a patent deal (seller or operator)", tags=TAGS,
     request_schema=sc.TechContract, responses={"200": DealAnswer})
@commit_after
def tech_contract(deal_id):
    user = require_user()
    deal = invoices.record_tech_registration(deal_id, user, json_body().get("registration_number"))
    return jsonify({"deal": deal_json(deal)})

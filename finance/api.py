"""JSON API of the finance desk under /api/v1/finance: valuations, pledge financing, innovation vouchers.
Parse, call one service, commit once (docs/finance.md)."""
from datetime import date, datetime, time, timedelta

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _

from marketplace.kernel.apiutil import API_PREFIX, commit_after, doc, json_body, require_user
from marketplace.kernel.errors import PermissionDenied, ValidationError
from marketplace.kernel.extensions import db, limiter
from marketplace.kernel.uploads import send_upload

from . import lending, valuation, vouchers
from .access import FINANCE_ROLES, db_id, is_valuer
from .models import VoucherBatch
from .serializers import (
    APPLICATION,
    APPLICATION_INPUT,
    BATCH,
    BATCH_INPUT,
    CHARGE,
    REGISTRATION_INPUT,
    VALUATION,
    VALUATION_INPUT,
    VOUCHER,
    batch_json,
    charge_json,
    voucher_json,
)

bp = Blueprint("finance_api", __name__, url_prefix=API_PREFIX + "/finance")
TAGS = ["finance"]


def _limit():
    return current_app.config.get("RATELIMIT_FINANCE") or "30/minute"


def _list(name, schema):
    return {"200": {"type": "object", "properties": {name: {"type": "array", "items": schema}}}}


def _one(name, schema):
    return {"type": "object", "properties": {name: schema}}


def _body():
    return json_body() if request.data else {}


# --- valuations --------------------------------------------------------------------------------------

@bp.post("/valuations")
@limiter.limit(_limit)
@doc("Value rights by the income method (the holder's side); a self-assessment until signed off", tags=TAGS,
     request_schema=VALUATION_INPUT, responses={"201": _one("valuation", VALUATION)})
@commit_after
def create_valuation():
    user = require_user()
    v = valuation.create(user, json_body())
    return jsonify({"valuation": valuation.valuation_json(v)}), 201


@bp.get("/valuations")
@doc("The caller's side's valuations", tags=TAGS, responses=_list("valuations", VALUATION))
def list_valuations():
    user = require_user()
    return jsonify({"valuations": [valuation.valuation_json(v) for v in valuation.mine(user)]})


@bp.get("/valuations/review-queue")
@doc("Valuations waiting for sign-off (operators and registered valuers)", tags=TAGS,
     responses=_list("valuations", VALUATION))
def valuation_queue():
    user = require_user()
    if not (user.is_operator or is_valuer(user)):
        raise PermissionDenied(_("只有运营人员或注册评估师可以查看复核队列"))
    return jsonify({"valuations": [valuation.valuation_json(v) for v in valuation.review_queue()]})


@bp.get("/valuations/<int:valuation_id>")
@doc("One valuation report (its holder, operators, valuers reviewing it, banks it was sent to, or anyone "
     "when attached to a published listing)", tags=TAGS, responses={"200": _one("valuation", VALUATION)})
def get_valuation(valuation_id):
    user = require_user()
    return jsonify({"valuation": valuation.valuation_json(valuation.get_for(valuation_id, user))})


@bp.get("/valuations/<int:valuation_id>.pdf")
@doc("The valuation report as PDF", tags=TAGS, responses={"200": None})
def valuation_pdf(valuation_id):
    user = require_user()
    v = valuation.get_for(valuation_id, user)
    return Response(valuation.pdf(v), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="valuation-{v.id}.pdf"'})


@bp.post("/valuations/<int:valuation_id>/attach")
@doc("Attach the report to one of the holder's listings (listing_id null detaches)", tags=TAGS,
     request_schema={"type": "object", "required": ["listing_id"],
                     "properties": {"listing_id": {"type": "integer", "nullable": True}}},
     responses={"200": _one("valuation", VALUATION)})
@commit_after
def attach_valuation(valuation_id):
    user = require_user()
    data = json_body()
    if "listing_id" not in data:
        raise ValidationError(_("请指定挂牌"), {"listing_id": _("必填（null 表示取消附加）")})
    v = valuation.attach_to_listing(user, valuation_id, data["listing_id"])
    return jsonify({"valuation": valuation.valuation_json(v)})


@bp.post("/valuations/<int:valuation_id>/review")
@doc("Ask for an operator's or a registered valuer's sign-off; the review fee falls due", tags=TAGS,
     responses={"200": _one("valuation", VALUATION)})
@commit_after
def request_review(valuation_id):
    user = require_user()
    return jsonify({"valuation": valuation.valuation_json(valuation.request_review(user, valuation_id))})


@bp.post("/valuations/<int:valuation_id>/sign-off")
@doc("Sign the report off (operator or registered valuer, the review fee paid)", tags=TAGS,
     request_schema={"type": "object", "required": ["note"],
                     "properties": {"note": {"type": "string", "minLength": 2, "maxLength": 2000}}},
     responses={"200": _one("valuation", VALUATION)})
@commit_after
def sign_off(valuation_id):
    user = require_user()
    v = valuation.sign_off(user, valuation_id, json_body().get("note"))
    return jsonify({"valuation": valuation.valuation_json(v)})


# --- pledge financing ------------------------------------------------------------------------------------

@bp.get("/banks")
@doc("Verified bank organisations an SME may send an application to", tags=TAGS,
     responses=_list("banks", {"type": "object", "properties": {"id": {"type": "integer"},
                                                                "name": {"type": "string"}}}))
def banks():
    require_user()
    return jsonify({"banks": [{"id": o.id, "name": o.name} for o in lending.bank_organizations()]})


@bp.post("/loans")
@limiter.limit(_limit)
@doc("Apply for a pledge loan (质押融资) on rights the SME holds; patents and trademarks may be mixed", tags=TAGS,
     request_schema=APPLICATION_INPUT, responses={"201": _one("application", APPLICATION)})
@commit_after
def apply():
    user = require_user()
    app_ = lending.apply(user, json_body())
    return jsonify({"application": lending.application_json(app_, user)}), 201


@bp.get("/loans")
@doc("The SME's own applications", tags=TAGS, responses=_list("applications", APPLICATION))
def my_loans():
    user = require_user()
    return jsonify({"applications": [lending.application_json(a, user) for a in lending.mine(user)]})


@bp.get("/loans/queue")
@doc("A bank's queue: open applications sent to it or listed in the project database", tags=TAGS,
     responses=_list("applications", APPLICATION))
def bank_queue():
    user = require_user()
    return jsonify({"applications": [lending.application_json(a, user) for a in lending.queue(user)]})


@bp.get("/project-database")
@doc("The project database (项目库): open applications their SMEs listed for lenders (bank staff)", tags=TAGS,
     responses=_list("applications", APPLICATION))
def project_database():
    user = require_user()
    return jsonify({"applications": [lending.application_json(a, user)
                                     for a in lending.queue(user, listed_only=True)]})


@bp.get("/loans/<int:application_id>")
@doc("One application (the SME, banks that see it, operators)", tags=TAGS,
     responses={"200": _one("application", APPLICATION)})
def get_loan(application_id):
    user = require_user()
    return jsonify({"application": lending.application_json(lending.get_for(application_id, user), user)})


def _route(path, endpoint, summary, fn, request_schema=None):
    """A POST on an application: ``fn(user, application_id, body)`` acts; the answer is the application as the
    caller sees it."""
    def handler(application_id):
        user = require_user()
        fn(user, application_id, _body())
        return jsonify({"application": lending.application_json(lending.get_for(application_id, user), user)})

    handler.__name__ = endpoint
    view = commit_after(doc(summary, tags=TAGS, request_schema=request_schema,
                            responses={"200": _one("application", APPLICATION)})(handler))
    bp.add_url_rule(f"/loans/<int:application_id>/{path}", endpoint=endpoint, view_func=view, methods=["POST"])


def _org_id(raw):
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else None


_TEXT = {"type": "object", "required": ["body"], "properties": {"body": {"type": "string", "maxLength": 2000}}}
_route("questions", "ask", "A bank asks the SME a question", lambda u, i, d: lending.ask(u, i, d.get("body")), _TEXT)
_route("answers", "answer", "The SME answers a bank's questions",
       lambda u, i, d: lending.answer(u, i, _org_id(d.get("bank_organization_id")), d.get("body")),
       {"type": "object", "required": ["bank_organization_id", "body"],
        "properties": {"bank_organization_id": {"type": "integer"}, "body": {"type": "string", "maxLength": 2000}}})
_route("offers", "make_offer", "A bank makes an offer (amount in fen, annual rate in basis points, term, conditions)",
       lambda u, i, d: lending.make_offer(u, i, d),
       {"type": "object", "required": ["amount", "rate_bps", "term_months"], "properties": {
           "amount": {"type": "integer", "minimum": 1}, "rate_bps": {"type": "integer", "minimum": 1, "maximum": 3600},
           "term_months": {"type": "integer", "minimum": 1, "maximum": 360},
           "conditions": {"type": "string", "maxLength": 2000}}})
_route("decline", "decline", "A bank declines the application, with its reason",
       lambda u, i, d: lending.decline(u, i, d.get("reason")),
       {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string", "maxLength": 2000}}})
_route("withdraw", "withdraw", "The SME withdraws an application still collecting offers",
       lambda u, i, d: lending.withdraw(u, i))
_route("registration", "record_registration",
       "The SME or the lending bank enters CNIPA's pledge registration (number, date)",
       lambda u, i, d: lending.record_registration(u, i, d), REGISTRATION_INPUT)
_route("registration/verify", "verify_registration",
       "An operator verifies the pledge registration: the register shows the pledge",
       lambda u, i, d: lending.verify_registration(u, i))
_route("repaid", "mark_repaid", "The lending bank marks the loan repaid: the pledge's release is tracked",
       lambda u, i, d: lending.mark_repaid(u, i))
_route("release", "record_release", "The SME or the lending bank enters the release (注销) registration (number, date)",
       lambda u, i, d: lending.record_release(u, i, d), REGISTRATION_INPUT)
_route("release/verify", "verify_release", "An operator verifies the release: the pledge is lifted in the register",
       lambda u, i, d: lending.verify_release(u, i))


@bp.post("/loans/<int:application_id>/statements")
@limiter.limit(_limit)
@doc("The applicant uploads its financial statements (multipart field `document`: PDF, PNG or JPEG)", tags=TAGS,
     content_type="multipart/form-data",
     request_schema={"type": "object", "required": ["document"],
                     "properties": {"document": {"type": "string", "format": "binary"}}},
     responses={"200": _one("application", APPLICATION)})
@commit_after
def upload_statements(application_id):
    user = require_user()
    app_ = lending.attach_statements(user, application_id, request.files.get("document"))
    return jsonify({"application": lending.application_json(app_, user)})


@bp.get("/loans/<int:application_id>/statements")
@doc("The application's financial statements (the applicant, banks that see it, operators)", tags=TAGS,
     responses={"200": None})
def get_statements(application_id):
    user = require_user()
    return send_upload(lending.statements_of(user, application_id), f"statements-{application_id}")


@bp.post("/offers/<int:offer_id>/accept")
@doc("The SME accepts one bank's offer (the other offers are superseded)", tags=TAGS,
     responses={"200": _one("application", APPLICATION)})
@commit_after
def accept_offer(offer_id):
    user = require_user()
    app_ = lending.accept(user, offer_id)
    return jsonify({"application": lending.application_json(app_, user)})


@bp.get("/stats")
@doc("Financing statistics: applications, loans granted, amounts, pledged rights by field", tags=TAGS, auth=False,
     responses={"200": {"type": "object", "properties": {
         "applications": {"type": "integer"}, "loans_granted": {"type": "integer"},
         "amount_granted": {"type": ["integer", "null"],
                            "description": "fen; null while fewer than min_cell loans (one SME's loan is not shown)"},
         "min_cell": {"type": "integer"}, "pledged_rights_by_field": {"type": "object"}}}})
def stats():
    return jsonify(lending.stats())


# --- innovation vouchers --------------------------------------------------------------------------------

@bp.post("/voucher-batches")
@limiter.limit(_limit)
@doc("A voucher issuer creates a batch (face value in fen, validity, eligible services and SMEs)", tags=TAGS,
     request_schema=BATCH_INPUT, responses={"201": _one("batch", BATCH)})
@commit_after
def create_batch():
    user = require_user()
    return jsonify({"batch": batch_json(vouchers.create_batch(user, json_body()))}), 201


@bp.get("/voucher-batches")
@doc("The issuer's own batches", tags=TAGS, responses=_list("batches", BATCH))
def list_batches():
    from .access import require_issuer

    user = require_issuer(require_user())
    rows = db.session.scalars(db.select(VoucherBatch).where(
        VoucherBatch.issuer_organization_id == user.organization_id).order_by(VoucherBatch.id.desc()).limit(200))
    return jsonify({"batches": [batch_json(b) for b in rows]})


@bp.get("/vouchers")
@doc("The SME's vouchers (one per batch it is eligible for)", tags=TAGS, responses=_list("vouchers", VOUCHER))
@commit_after
def my_vouchers():
    user = require_user()
    return jsonify({"vouchers": [voucher_json(v) for v in vouchers.vouchers_for(user)]})


@bp.get("/charges")
@doc("The SME's service charges (fees a voucher can pay)", tags=TAGS, responses=_list("charges", CHARGE))
def my_charges():
    user = require_user()
    return jsonify({"charges": [charge_json(c) for c in vouchers.charges_for(user)]})


@bp.post("/charges/<int:charge_id>/voucher")
@limiter.limit(_limit)
@doc("Pay (part of) a charge with a voucher: posted to the ledger as the issuing programme's money", tags=TAGS,
     request_schema={"type": "object", "required": ["batch_id", "amount"], "properties": {
         "batch_id": {"type": "integer"}, "amount": {"type": "integer", "minimum": 1, "description": "fen"}}},
     responses={"200": _one("charge", CHARGE)})
@commit_after
def pay_with_voucher(charge_id):
    user = require_user()
    data = json_body()
    r = vouchers.redeem(user, data.get("batch_id"), charge_id, data.get("amount"))
    return jsonify({"charge": charge_json(r.charge)})


@bp.post("/deals/<int:deal_id>/voucher")
@limiter.limit(_limit)
@doc("The seller's organisation pays (part of) a deal's platform fee with a voucher: the amount is set aside "
     "and booked as the programme's money when the deal is released (returned if it ends unsold)", tags=TAGS,
     request_schema={"type": "object", "required": ["batch_id", "amount"], "properties": {
         "batch_id": {"type": "integer"}, "amount": {"type": "integer", "minimum": 1, "description": "fen"}}},
     responses={"200": _one("charge", CHARGE)})
@commit_after
def pay_deal_fee_with_voucher(deal_id):
    from . import deal_fees

    user = require_user()
    data = json_body()
    r = deal_fees.apply(user, deal_id, data.get("batch_id"), data.get("amount"))
    return jsonify({"charge": charge_json(r.charge)})


@bp.post("/charges/<int:charge_id>/transfer")
@doc("An operator records the rest of a charge received by bank transfer", tags=TAGS,
     request_schema={"type": "object", "required": ["reference", "amount"], "properties": {
         "reference": {"type": "string", "minLength": 4, "maxLength": 100}, "amount": {"type": "integer"}}},
     responses={"200": _one("charge", CHARGE)})
@commit_after
def charge_transfer(charge_id):
    user = require_user()
    data = json_body()
    return jsonify({"charge": charge_json(vouchers.confirm_transfer(user, charge_id, data.get("reference"),
                                                                    data.get("amount")))})


@bp.post("/voucher-settlements")
@doc("An operator records a programme's reimbursement (兑付) of every unsettled redemption", tags=TAGS,
     request_schema={"type": "object", "required": ["issuer_organization_id", "reference"], "properties": {
         "issuer_organization_id": {"type": "integer"}, "reference": {"type": "string", "maxLength": 100}}},
     responses={"200": {"type": "object", "properties": {"amount": {"type": "integer"}, "count": {"type": "integer"}}}})
@commit_after
def settle():
    user = require_user()
    data = json_body()
    issuer = data.get("issuer_organization_id")
    if db_id(issuer) is None:
        raise ValidationError(_("请指定发放机构"), {"issuer_organization_id": _("必填")})
    total, count = vouchers.settle(user, issuer, data.get("reference"))
    return jsonify({"amount": total, "count": count})


def _period():
    def day(name):
        raw = request.args.get(name)
        if not raw:
            return None
        try:
            return date.fromisoformat(raw[:10]) if len(raw) == 10 else None
        except ValueError:
            return None
    start, end = day("from"), day("to")
    return (datetime.combine(start, time()) - timedelta(hours=8) if start else None,
            datetime.combine(end + timedelta(days=1), time()) - timedelta(hours=8) if end else None)


_PERIOD = [{"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
           {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}}]


@bp.get("/voucher-report")
@doc("The issuer's redemption report: totals per SME, per service, per month (Beijing time)", tags=TAGS,
     parameters=_PERIOD, responses={"200": {"type": "object", "properties": {
         "total": {"type": "integer"}, "settled": {"type": "integer"},
         "held": {"type": "integer", "description": "set aside on deals still running"}, "per_sme": {"type": "object"},
         "per_service": {"type": "object"}, "per_month": {"type": "object"}, "count": {"type": "integer"}}}})
def voucher_report():
    user = require_user()
    data = vouchers.report(user, *_period())
    return jsonify({k: v for k, v in data.items() if k != "rows"} | {"count": len(data["rows"])})


@bp.get("/voucher-report.csv")
@doc("The issuer's redemptions as CSV, for reimbursement", tags=TAGS, parameters=_PERIOD, responses={"200": None})
def voucher_report_csv():
    user = require_user()
    return Response(vouchers.report_csv(vouchers.report(user, *_period())), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="voucher-redemptions.csv"'})


# --- operators: the finance roles -------------------------------------------------------------------------

@bp.post("/roles")
@doc("An operator grants or removes a finance role (bank, valuer, voucher_issuer)", tags=TAGS,
     request_schema={"type": "object", "required": ["user_id", "role", "grant"], "properties": {
         "user_id": {"type": "integer"}, "role": {"type": "string", "enum": list(FINANCE_ROLES)},
         "grant": {"type": "boolean"}}},
     responses={"200": {"type": "object", "properties": {"roles": {"type": "array", "items": {"type": "string"}}}}})
@commit_after
def grant_role():
    from .access import set_role

    user = require_user("operator")
    data = json_body()
    return jsonify({"roles": set_role(user, data.get("user_id"), data.get("role"), data.get("grant")).roles})

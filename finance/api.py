"""JSON API of the finance desk under /api/v1/finance: valuations, pledge financing, innovation vouchers.
Parse, call one service, commit once (docs/finance.md)."""
from datetime import date, datetime, time, timedelta

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _

from marketplace.kernel.apiutil import API_PREFIX, commit_after, doc, form_body, json_body, query_args, require_user
from marketplace.kernel.errors import PermissionDenied
from marketplace.kernel.extensions import db, limiter
from marketplace.kernel.uploads import send_upload

from . import lending, valuation, vouchers
from . import schemas as sc
from .access import is_valuer
from .models import VoucherBatch
from .serializers import batch_json, charge_json, voucher_json

bp = Blueprint("finance_api", __name__, url_prefix=API_PREFIX + "/finance")
TAGS = ["finance"]


def _limit():
    return current_app.config.get("RATELIMIT_FINANCE") or "30/minute"


def _body():
    return json_body() if request.data else {}


# --- valuations --------------------------------------------------------------------------------------

@bp.post("/valuations")
@limiter.limit(_limit)
@doc("Value rights by the income method (the holder's side); a self-assessment until signed off", tags=TAGS,
     request_schema=sc.ValuationInput, responses={"201": sc.ValuationAnswer})
@commit_after
def create_valuation():
    user = require_user()
    v = valuation.create(user, json_body())
    return jsonify({"valuation": valuation.valuation_json(v)}), 201


@bp.get("/valuations")
@doc("The caller's side's valuations", tags=TAGS, responses={"200": sc.ValuationList})
def list_valuations():
    user = require_user()
    return jsonify({"valuations": [valuation.valuation_json(v) for v in valuation.mine(user)]})


@bp.get("/valuations/review-queue")
@doc("Valuations waiting for sign-off (operators and registered valuers)", tags=TAGS,
     responses={"200": sc.ValuationList})
def valuation_queue():
    user = require_user()
    if not (user.is_operator or is_valuer(user)):
        raise PermissionDenied(_("只有运营人员或注册评估师可以查看复核队列"))
    return jsonify({"valuations": [valuation.valuation_json(v) for v in valuation.review_queue()]})


@bp.get("/valuations/<int:valuation_id>")
@doc("One valuation report (its holder, operators, valuers reviewing it, banks it was sent to, or anyone "
     "when attached to a published listing)", tags=TAGS, responses={"200": sc.ValuationAnswer})
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
     request_schema=sc.Attach, responses={"200": sc.ValuationAnswer})
@commit_after
def attach_valuation(valuation_id):
    user = require_user()
    data = json_body()
    v = valuation.attach_to_listing(user, valuation_id, data["listing_id"])
    return jsonify({"valuation": valuation.valuation_json(v)})


@bp.post("/valuations/<int:valuation_id>/review")
@doc("Ask for an operator's or a registered valuer's sign-off; the review fee falls due", tags=TAGS,
     responses={"200": sc.ValuationAnswer})
@commit_after
def request_review(valuation_id):
    user = require_user()
    return jsonify({"valuation": valuation.valuation_json(valuation.request_review(user, valuation_id))})


@bp.post("/valuations/<int:valuation_id>/sign-off")
@doc("Sign the report off (operator or registered valuer, the review fee paid)", tags=TAGS,
     request_schema=sc.SignOff, responses={"200": sc.ValuationAnswer})
@commit_after
def sign_off(valuation_id):
    user = require_user()
    v = valuation.sign_off(user, valuation_id, json_body().get("note"))
    return jsonify({"valuation": valuation.valuation_json(v)})


# --- pledge financing ------------------------------------------------------------------------------------

@bp.get("/banks")
@doc("Verified bank organisations an SME may send an application to", tags=TAGS,
     responses={"200": sc.BankList})
def banks():
    require_user()
    return jsonify({"banks": [{"id": o.id, "name": o.name} for o in lending.bank_organizations()]})


@bp.post("/loans")
@limiter.limit(_limit)
@doc("Apply for a pledge loan (质押融资) on rights the SME holds; patents and trademarks may be mixed", tags=TAGS,
     request_schema=sc.ApplicationInput, responses={"201": sc.ApplicationAnswer})
@commit_after
def apply():
    user = require_user()
    app_ = lending.apply(user, json_body())
    return jsonify({"application": lending.application_json(app_, user)}), 201


@bp.get("/loans")
@doc("The SME's own applications", tags=TAGS, responses={"200": sc.ApplicationList})
def my_loans():
    user = require_user()
    return jsonify({"applications": [lending.application_json(a, user) for a in lending.mine(user)]})


@bp.get("/loans/queue")
@doc("A bank's queue: open applications sent to it or listed in the project database", tags=TAGS,
     responses={"200": sc.ApplicationList})
def bank_queue():
    user = require_user()
    return jsonify({"applications": [lending.application_json(a, user) for a in lending.queue(user)]})


@bp.get("/project-database")
@doc("The project database (项目库): open applications their SMEs listed for lenders (bank staff)", tags=TAGS,
     responses={"200": sc.ApplicationList})
def project_database():
    user = require_user()
    return jsonify({"applications": [lending.application_json(a, user)
                                     for a in lending.queue(user, listed_only=True)]})


@bp.get("/loans/<int:application_id>")
@doc("One application (the SME, banks that see it, operators)", tags=TAGS,
     responses={"200": sc.ApplicationAnswer})
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
                            responses={"200": sc.ApplicationAnswer})(handler))
    bp.add_url_rule(f"/loans/<int:application_id>/{path}", endpoint=endpoint, view_func=view, methods=["POST"])


_route("questions", "ask", "A bank asks the SME a question", lambda u, i, d: lending.ask(u, i, d.get("body")),
       sc.Question)
_route("answers", "answer", "The SME answers a bank's questions",
       lambda u, i, d: lending.answer(u, i, d.get("bank_organization_id"), d.get("body")), sc.Answer)
_route("offers", "make_offer", "A bank makes an offer (amount in fen, annual rate in basis points, term, conditions)",
       lambda u, i, d: lending.make_offer(u, i, d), sc.LoanOffer)
_route("decline", "decline", "A bank declines the application, with its reason",
       lambda u, i, d: lending.decline(u, i, d.get("reason")), sc.Decline)
_route("withdraw", "withdraw", "The SME withdraws an application still collecting offers",
       lambda u, i, d: lending.withdraw(u, i))
_route("registration", "record_registration",
       "The SME or the lending bank enters CNIPA's pledge registration (number, date)",
       lambda u, i, d: lending.record_registration(u, i, d), sc.Registration)
_route("registration/verify", "verify_registration",
       "An operator verifies the pledge registration: the register shows the pledge",
       lambda u, i, d: lending.verify_registration(u, i))
_route("repaid", "mark_repaid", "The lending bank marks the loan repaid: the pledge's release is tracked",
       lambda u, i, d: lending.mark_repaid(u, i))
_route("release", "record_release", "The SME or the lending bank enters the release (注销) registration (number, date)",
       lambda u, i, d: lending.record_release(u, i, d), sc.Registration)
_route("release/verify", "verify_release", "An operator verifies the release: the pledge is lifted in the register",
       lambda u, i, d: lending.verify_release(u, i))


@bp.post("/loans/<int:application_id>/statements")
@limiter.limit(_limit)
@doc("The applicant uploads its financial statements (multipart field `document`: PDF, PNG or JPEG)", tags=TAGS,
     content_type="multipart/form-data", request_schema=sc.Statements, responses={"200": sc.ApplicationAnswer})
@commit_after
def upload_statements(application_id):
    user = require_user()
    form_body()
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
     responses={"200": sc.ApplicationAnswer})
@commit_after
def accept_offer(offer_id):
    user = require_user()
    app_ = lending.accept(user, offer_id)
    return jsonify({"application": lending.application_json(app_, user)})


@bp.get("/stats")
@doc("Financing statistics: applications, loans granted, amounts, pledged rights by field", tags=TAGS, auth=False,
     responses={"200": sc.FinanceStats})
def stats():
    return jsonify(lending.stats())


# --- innovation vouchers --------------------------------------------------------------------------------

@bp.post("/voucher-batches")
@limiter.limit(_limit)
@doc("A voucher issuer creates a batch (face value in fen, validity, eligible services and SMEs)", tags=TAGS,
     request_schema=sc.BatchInput, responses={"201": sc.BatchAnswer})
@commit_after
def create_batch():
    user = require_user()
    return jsonify({"batch": batch_json(vouchers.create_batch(user, json_body()))}), 201


@bp.get("/voucher-batches")
@doc("The issuer's own batches", tags=TAGS, responses={"200": sc.BatchList})
def list_batches():
    from .access import require_issuer

    user = require_issuer(require_user())
    rows = db.session.scalars(db.select(VoucherBatch).where(
        VoucherBatch.issuer_organization_id == user.organization_id).order_by(VoucherBatch.id.desc()).limit(200))
    return jsonify({"batches": [batch_json(b) for b in rows]})


@bp.get("/vouchers")
@doc("The SME's vouchers (one per batch it is eligible for)", tags=TAGS, responses={"200": sc.VoucherList})
@commit_after
def my_vouchers():
    user = require_user()
    return jsonify({"vouchers": [voucher_json(v) for v in vouchers.vouchers_for(user)]})


@bp.get("/charges")
@doc("The SME's service charges (fees a voucher can pay)", tags=TAGS, responses={"200": sc.ChargeList})
def my_charges():
    user = require_user()
    return jsonify({"charges": [charge_json(c) for c in vouchers.charges_for(user)]})


@bp.post("/charges/<int:charge_id>/voucher")
@limiter.limit(_limit)
@doc("Pay (part of) a charge with a voucher: posted to the ledger as the issuing programme's money", tags=TAGS,
     request_schema=sc.VoucherPayment, responses={"200": sc.ChargeAnswer})
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
     request_schema=sc.VoucherPayment, responses={"200": sc.ChargeAnswer})
@commit_after
def pay_deal_fee_with_voucher(deal_id):
    from . import deal_fees

    user = require_user()
    data = json_body()
    r = deal_fees.apply(user, deal_id, data.get("batch_id"), data.get("amount"))
    return jsonify({"charge": charge_json(r.charge)})


@bp.post("/charges/<int:charge_id>/transfer")
@doc("An operator records the rest of a charge received by bank transfer", tags=TAGS,
     request_schema=sc.Transfer, responses={"200": sc.ChargeAnswer})
@commit_after
def charge_transfer(charge_id):
    user = require_user()
    data = json_body()
    return jsonify({"charge": charge_json(vouchers.confirm_transfer(user, charge_id, data.get("reference"),
                                                                    data.get("amount")))})


@bp.post("/voucher-settlements")
@doc("An operator records a programme's reimbursement (兑付) of every unsettled redemption", tags=TAGS,
     request_schema=sc.Settlement, responses={"200": sc.Settled})
@commit_after
def settle():
    user = require_user()
    data = json_body()
    total, count = vouchers.settle(user, data["issuer_organization_id"], data.get("reference"))
    return jsonify({"amount": total, "count": count})


def _period():
    """The report's ``from`` and ``to`` days (Beijing time, both included; the route's ``sc.Period`` checks them)
    as UTC bounds; a day left out or empty: no bound."""
    args = query_args()

    def day(name):
        return date.fromisoformat(args[name]) if args.get(name) else None
    start, end = day("from"), day("to")
    return (datetime.combine(start, time()) - timedelta(hours=8) if start else None,
            datetime.combine(end + timedelta(days=1), time()) - timedelta(hours=8) if end else None)


@bp.get("/voucher-report")
@doc("The issuer's redemption report: totals per SME, per service, per month (Beijing time)", tags=TAGS,
     query_schema=sc.Period, responses={"200": sc.VoucherReport})
def voucher_report():
    user = require_user()
    data = vouchers.report(user, *_period())
    return jsonify({k: v for k, v in data.items() if k != "rows"} | {"count": len(data["rows"])})


@bp.get("/voucher-report.csv")
@doc("The issuer's redemptions as CSV, for reimbursement", tags=TAGS, query_schema=sc.Period, responses={"200": None})
def voucher_report_csv():
    user = require_user()
    return Response(vouchers.report_csv(vouchers.report(user, *_period())), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="voucher-redemptions.csv"'})


# --- operators: the finance roles -------------------------------------------------------------------------

@bp.post("/roles")
@doc("An operator grants or removes a finance role (bank, valuer, voucher_issuer)", tags=TAGS,
     request_schema=sc.Role, responses={"200": sc.Roles})
@commit_after
def grant_role():
    from .access import set_role

    user = require_user("operator")
    data = json_body()
    return jsonify({"roles": set_role(user, data.get("user_id"), data.get("role"), data.get("grant")).roles})

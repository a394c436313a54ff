"""HTML pages of the finance desk: valuations and their reports, loan applications and the banks' queue,
vouchers and the issuers' reports. Thin: each POST calls one service, commits once and redirects; a
refusal shows the page again with the reason beside the form, nothing changed."""
from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from listings.models import Listing, Right, RightHolder
from marketplace.kernel import labels
from marketplace.kernel.errors import NotFound, ValidationError
from marketplace.kernel.extensions import db, limiter
from marketplace.kernel.models import User
from marketplace.kernel.numbers import NumberError, parse_amount, parse_int
from marketplace.kernel.regions import REGIONS
from marketplace.kernel.uploads import send_upload
from marketplace.kernel.webutil import act, act_then_redirect, committed, form_number

from . import deal_fees, lending, valuation, vouchers
from .access import is_bank, is_issuer, is_valuer
from .models import LoanOffer, VoucherBatch
from .vouchers import SERVICE_LABELS

bp = Blueprint("finance", __name__, url_prefix="/finance")
def _limit():
    return current_app.config.get("RATELIMIT_FINANCE") or "30/minute"


LOAN_ACTIONS = ("ask", "answer", "offer", "decline", "withdraw", "registration", "verify_registration", "repaid",
                "release", "verify_release")


def _id(raw):
    """A row's id typed into a form."""
    return parse_int(raw, minimum=1, maximum=2**31 - 1)


def held_rights(user):
    """Rights the user's side holds, for the forms' check boxes."""
    if user.organization_id is not None:
        cond = RightHolder.organization_id == user.organization_id
    else:
        cond = (RightHolder.holder_type == "person") & (RightHolder.user_id == user.id)
    return list(db.session.scalars(select(Right).join(RightHolder).where(cond).order_by(Right.id).limit(200)))


def _chosen_rights(form):
    out = []
    for value in form.getlist("rights")[:50]:
        kind, _sep, number = value.partition(":")
        out.append({"kind": kind, "number": number})
    return out


def _yuan_list(text, fields, key):
    out = []
    # one year a line (a comma is a thousands separator: "100,000"); a semicolon also separates years
    lines = [x.strip() for x in (text or "").replace("；", "\n").replace(";", "\n").splitlines() if x.strip()][:31]
    for line in lines:
        try:
            out.append(parse_amount(line))
        except NumberError as exc:
            fields[key] = str(exc)
            return []
    return out


# --- the hub ----------------------------------------------------------------------------------------

@bp.get("")
@login_required
def hub():
    user = current_user
    sme = user.organization_id is not None and (user.has_role("seller") or user.has_role("buyer"))
    return render_template(
        "finance/hub.html", valuations=valuation.mine(user), applications=lending.mine(user) if sme else [],
        sme=sme, bank=is_bank(user), issuer=is_issuer(user), valuer=is_valuer(user) or user.is_operator,
        queue=valuation.review_queue() if (is_valuer(user) or user.is_operator) else [],
        loan_queue=lending.operator_queue() if user.is_operator else [], labels=lending.STATUS_LABELS)


# --- valuations -------------------------------------------------------------------------------------------

@bp.route("/valuations/new", methods=["GET", "POST"])
@login_required
@limiter.limit(_limit, methods=["POST"])
def valuation_new():
    errors, form = {}, request.form
    if request.method == "POST":
        revenues = _yuan_list(form.get("revenues"), errors, "revenues")
        data = {"rights": _chosen_rights(form), "revenues": revenues, "royalty_rate": form.get("royalty_rate"),
                "discount_rate": form.get("discount_rate"), "life_years": form.get("life_years"),
                "note": form.get("note")}

        def work():
            _raise(errors, _("估值输入有误"))
            v = valuation.create(current_user, data)
            return redirect(url_for("finance.valuation_detail", valuation_id=v.id))

        return act(work, lambda exc: (render_template(
            "finance/valuation_new.html", rights=held_rights(current_user), errors={**exc.fields, **errors},
            form=form, max_life=valuation.MAX_LIFE), exc.status), show="message", done=_("已生成估值报告（自评）"))
    return render_template("finance/valuation_new.html", rights=held_rights(current_user), errors=errors, form=form,
                           max_life=valuation.MAX_LIFE)


@bp.get("/valuations/<int:valuation_id>")
@login_required
def valuation_detail(valuation_id):
    v = valuation.get_for(valuation_id, current_user)
    mine = valuation.same_side(current_user, v.organization_id, v.owner_id)
    return render_template("finance/valuation.html", v=v, rows=valuation.formula_rows(v), mine=mine,
                           listings=_own_listings(current_user) if mine else [],
                           charge=valuation.review_charge(v),
                           may_sign=(current_user.is_operator or is_valuer(current_user)) and not mine
                           and v.status == "review_requested")


def _own_listings(user):
    """The holder side's listings a report may be attached to (newest first)."""
    cond = (Listing.organization_id == user.organization_id) if user.organization_id is not None else (
        (Listing.seller_id == user.id) & Listing.organization_id.is_(None))
    return list(db.session.scalars(select(Listing).where(cond).order_by(Listing.id.desc()).limit(100)))


@bp.get("/valuations/<int:valuation_id>.pdf")
@login_required
def valuation_pdf(valuation_id):
    v = valuation.get_for(valuation_id, current_user)
    return Response(valuation.pdf(v), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="valuation-{v.id}.pdf"'})


@bp.post("/valuations/<int:valuation_id>/review")
@login_required
def valuation_review(valuation_id):
    return act_then_redirect(lambda: valuation.request_review(current_user, valuation_id), _("已申请复核，复核费待支付"),
                             url_for("finance.valuation_detail", valuation_id=valuation_id))


@bp.post("/valuations/<int:valuation_id>/attach")
@login_required
def valuation_attach(valuation_id):
    """The holder attaches the report to one of its listings (whoever sees the published listing may read it), or
    detaches it (an empty choice)."""
    raw = (request.form.get("listing_id") or "").strip()

    def call():
        listing_id = None
        if raw:
            try:
                listing_id = _id(raw)
            except NumberError:
                raise ValidationError(_("只能附在本单位（本人）的挂牌上"), {"listing_id": _("不是您的挂牌")}) from None
        valuation.attach_to_listing(current_user, valuation_id, listing_id)
    return act_then_redirect(call, _("已附在挂牌上") if raw else _("已取消附加"),
                             url_for("finance.valuation_detail", valuation_id=valuation_id))


@bp.post("/valuations/<int:valuation_id>/sign-off")
@login_required
def valuation_sign_off(valuation_id):
    return act_then_redirect(lambda: valuation.sign_off(current_user, valuation_id, request.form.get("note")),
                             _("已签署"), url_for("finance.valuation_detail", valuation_id=valuation_id))


# --- loans ---------------------------------------------------------------------------------------------

@bp.route("/loans/new", methods=["GET", "POST"])
@login_required
@limiter.limit(_limit, methods=["POST"])
def loan_new():
    errors, form = {}, request.form
    context = {"rights": held_rights(current_user), "valuations": valuation.mine(current_user),
               "banks": lending.bank_organizations()}
    if request.method == "POST":
        amount = None
        try:
            amount = parse_amount(form.get("amount") or "")
        except NumberError as exc:
            errors["amount"] = str(exc)
        banks = []
        for raw in form.getlist("banks")[:30]:
            try:
                banks.append(_id(raw))
            except NumberError:
                errors["banks"] = _("不是经核验的银行机构")
        data = {"rights": _chosen_rights(form), "amount": amount, "term_months": form.get("term_months"),
                "purpose": form.get("purpose"), "valuation_id": form.get("valuation_id") or None, "banks": banks,
                "listed": form.get("listed") == "1"}

        def work():
            _raise(errors, _("融资申请有误"))
            application = lending.apply(current_user, data, statements=request.files.get("statements"))
            return redirect(url_for("finance.loan_detail", application_id=application.id))

        return act(work, lambda exc: (render_template(
            "finance/loan_new.html", errors={**exc.fields, **errors}, form=form, **context), exc.status),
            show="message", done=_("融资申请已提交"))
    return render_template("finance/loan_new.html", errors=errors, form=form, **context)


@bp.get("/loans/<int:application_id>")
@login_required
def loan_detail(application_id):
    application = lending.get_for(application_id, current_user)
    user = current_user
    applicant = lending.is_applicant(user, application)
    bank = is_bank(user)
    own_offer = bank and any(o.organization_id == user.organization_id and o.status == "open"
                             for o in application.offers)
    data = lending.application_json(application, user)
    asked_by = sorted({m["bank_organization_id"] for m in data["messages"] if m["from_bank"]})
    return render_template("finance/loan.html", a=application, data=data, applicant=applicant, bank=bank,
                           lender=lending._lender(user, application), own_offer=own_offer, asked_by=asked_by,
                           labels=lending.STATUS_LABELS, today=lending.local(lending.utcnow()).date())


def _loan_call(action, application_id, form):
    user = current_user
    reg = {"number": form.get("number"), "date": form.get("date")}
    if action == "ask":
        return lending.ask(user, application_id, form.get("body"))
    if action == "answer":
        try:
            bank = _id(form.get("bank_organization_id") or "")
        except NumberError:
            bank = None
        return lending.answer(user, application_id, bank, form.get("body"))
    if action == "offer":
        data = {"rate_bps": form.get("rate_bps"), "term_months": form.get("term_months"),
                "conditions": form.get("conditions")}
        try:
            data["amount"] = parse_amount(form.get("amount") or "")
        except NumberError as exc:
            raise ValidationError(_("报价有误"), {"amount": str(exc)}) from None
        return lending.make_offer(user, application_id, data)
    if action == "decline":
        return lending.decline(user, application_id, form.get("reason"))
    if action == "withdraw":
        return lending.withdraw(user, application_id)
    if action == "registration":
        return lending.record_registration(user, application_id, reg)
    if action == "verify_registration":
        return lending.verify_registration(user, application_id)
    if action == "repaid":
        return lending.mark_repaid(user, application_id)
    if action == "release":
        return lending.record_release(user, application_id, reg)
    return lending.verify_release(user, application_id)


@bp.post("/loans/<int:application_id>/<action>")
@login_required
@limiter.limit(_limit, methods=["POST"])
def loan_action(application_id, action):
    if action not in LOAN_ACTIONS:
        raise NotFound(_("页面不存在"))
    lending.get_for(application_id, current_user)
    return act_then_redirect(lambda: _loan_call(action, application_id, request.form), _("已办理"),
                             url_for("finance.loan_detail", application_id=application_id))


@bp.get("/loans/<int:application_id>/statements")
@login_required
def loan_statements(application_id):
    return send_upload(lending.statements_of(current_user, application_id), f"statements-{application_id}")


@bp.post("/offers/<int:offer_id>/accept")
@login_required
def offer_accept(offer_id):
    offer = db.session.get(LoanOffer, offer_id)
    if offer is None or not lending.can_view(current_user, offer.application):
        raise NotFound(_("报价不存在"))
    return act_then_redirect(lambda: lending.accept(current_user, offer_id), _("已接受报价，请办理质押登记"),
                             url_for("finance.loan_detail", application_id=offer.application_id))


@bp.get("/bank")
@login_required
def bank_queue():
    lending.require_bank(current_user)
    return render_template("finance/bank.html", queue=lending.queue(current_user),
                           listed=lending.queue(current_user, listed_only=True), lent=lending.lent(current_user),
                           labels=lending.STATUS_LABELS)


# --- vouchers -------------------------------------------------------------------------------------------

@bp.get("/vouchers")
@login_required
@committed()
def my_vouchers():
    rows = vouchers.vouchers_for(current_user)  # vouchers are made on first sight
    return render_template("finance/vouchers.html", vouchers=rows, charges=vouchers.charges_for(current_user),
                           remaining=vouchers.remaining, services=SERVICE_LABELS,
                           deals=deal_fees.payable_deals(current_user), fee_of=deal_fees.summary)


def _voucher_payment():
    """The voucher batch and the amount a payment by voucher names (either wrong: 金额有误 on the amount)."""
    return form_number("batch_id", _id, _("金额有误")), form_number("amount", parse_amount, _("金额有误"))


@bp.post("/deals/<int:deal_id>/voucher")
@login_required
@limiter.limit(_limit, methods=["POST"])
def deal_fee_voucher(deal_id):
    """The seller's organisation pays (part of) a deal's platform fee with a voucher (finance.deal_fees)."""
    return act_then_redirect(lambda: deal_fees.apply(current_user, deal_id, *_voucher_payment()),
                             _("已用创新券支付平台服务费（放款时结算）"), url_for("finance.my_vouchers", _anchor="deal-fees"))


@bp.post("/charges/<int:charge_id>/voucher")
@login_required
@limiter.limit(_limit, methods=["POST"])
def charge_voucher(charge_id):
    def call():
        batch, amount = _voucher_payment()
        vouchers.redeem(current_user, batch, charge_id, amount)
    return act_then_redirect(call, _("已用创新券支付"), url_for("finance.my_vouchers"))


@bp.get("/issuer")
@login_required
def issuer():
    vouchers.require_issuer(current_user)
    batches = db.session.scalars(select(VoucherBatch).where(
        VoucherBatch.issuer_organization_id == current_user.organization_id).order_by(VoucherBatch.id.desc()))
    return render_template("finance/issuer.html", batches=list(batches), report=vouchers.report(current_user),
                           services=SERVICE_LABELS, errors={}, form={}, regions=list(REGIONS))


@bp.post("/issuer/batches")
@login_required
@limiter.limit(_limit, methods=["POST"])
def issuer_batch():
    form = request.form
    errors = {}
    try:
        face = parse_amount(form.get("face_value") or "")
    except NumberError as exc:
        face, errors["face_value"] = None, str(exc)
    named = []
    for raw in (form.get("organization_ids") or "").replace(",", " ").split()[:500]:
        try:
            named.append(_id(raw))
        except NumberError:
            errors["organization_ids"] = _("应为单位编号")
    data = {"programme": form.get("programme"), "face_value": face, "valid_from": form.get("valid_from"),
            "valid_until": form.get("valid_until"), "services": form.getlist("services")[:10],
            "regions": form.getlist("regions")[:50], "organization_ids": named, "single_use": form.get("single_use") == "1"}
    return act_then_redirect(lambda: (_raise(errors, _("创新券批次有误")), vouchers.create_batch(current_user, data)),
                             _("已发放创新券批次"), url_for("finance.issuer"))


def _raise(errors, message):
    """The form's own checks found ``errors``: refuse with ``message`` before any service is asked."""
    if errors:
        raise ValidationError(message, errors)


@bp.get("/issuer/report.csv")
@login_required
def issuer_csv():
    return Response(vouchers.report_csv(vouchers.report(current_user)), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="voucher-redemptions.csv"'})


# --- operators: the money steps of the finance desk -------------------------------------------------------

def _operator():
    if not current_user.is_operator:
        abort(403)
    return current_user


@bp.get("/operator")
@login_required
def operator_desk():
    """The operators' finance desk: fees paid by bank transfer, programmes' reimbursements, pledge registrations
    and valuations to check, and the finance roles."""
    _operator()
    holders = db.session.scalars(select(User).where(
        User.roles_csv.like("%bank%") | User.roles_csv.like("%valuer%") | User.roles_csv.like("%voucher_issuer%"))
        .order_by(User.id).limit(200))
    return render_template("finance/operator.html", charges=vouchers.due_charges(),
                           programmes=vouchers.unsettled_by_programme(), loans=lending.operator_queue(),
                           reviews=valuation.review_queue(), holders=list(holders), services=SERVICE_LABELS,
                           roles=labels.FINANCE_ROLE, loan_labels=lending.STATUS_LABELS)


@bp.post("/operator/charges/<int:charge_id>/transfer")
@login_required
@limiter.limit(_limit, methods=["POST"])
def operator_charge_transfer(charge_id):
    _operator()

    def call():
        amount = form_number("amount", parse_amount, _("到账信息有误"))
        vouchers.confirm_transfer(current_user, charge_id, request.form.get("reference"), amount)
    return act_then_redirect(call, _("已确认到账"), url_for("finance.operator_desk"))


@bp.post("/operator/settlements")
@login_required
@limiter.limit(_limit, methods=["POST"])
def operator_settlement():
    _operator()

    def call():
        issuer = form_number("issuer_organization_id", _id, _("请指定发放机构"), _("必填"))
        vouchers.settle(current_user, issuer, request.form.get("reference"))
    return act_then_redirect(call, _("已登记兑付"), url_for("finance.operator_desk"))


@bp.post("/operator/roles")
@login_required
@limiter.limit(_limit, methods=["POST"])
def operator_role():
    from .access import set_role

    _operator()

    def call():
        email = (request.form.get("email") or "").strip().lower()[:254]
        user = db.session.scalar(select(User).where(User.email == email)) if email else None
        if user is None:
            raise ValidationError(_("角色设置有误"), {"email": _("没有该邮箱的用户")})
        set_role(current_user, user.id, request.form.get("role"), request.form.get("grant") == "1")
    return act_then_redirect(call, _("已更新角色"), url_for("finance.operator_desk"))

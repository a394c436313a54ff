"""Open licences and royalties on the web and in the API (issue 16): thin, parse and call
``listings.open_licence`` and ``escrow.royalties``.

HTML (``bp``, CSRF on every form):
- ``GET /open-licences``: the open-licence catalogue (public);
- ``GET|POST /listings/<id>/open-licence``: the holder declares an open licence (form with its errors);
- ``POST /open-licences/<id>/withdraw`` (the holder), ``POST /open-licences/<id>/take`` (a verified organisation);
- ``GET /licences``: licences granted and held; ``GET /licences/<id>``: one licence, its periods and ledger;
- ``POST /licences/<id>/periods/<pid>/report`` (licensee, multipart with an optional attachment),
  ``POST /licences/<id>/periods/<pid>/release`` (licensor), ``POST /deals/<id>/royalty-terms`` (licensor);
- ``POST /operator/royalties/<pid>/confirm|payout`` (operators).

API (``api``, bearer token): the same acts under /api/v1 (docs/trading.md "Open licences and royalties").
"""
from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from listings import bidding
from listings import open_licence as ol
from listings.models import Listing, OpenLicence
from marketplace.kernel.apiutil import API_PREFIX, commit_after, doc, form_body, json_body, require_user
from marketplace.kernel.errors import NotFound, ValidationError
from marketplace.kernel.extensions import db, limiter
from marketplace.kernel.money import parse_yuan
from marketplace.kernel.numbers import NumberError, parse_int
from marketplace.kernel.reports import rows_response
from marketplace.kernel.timeutil import local, utcnow
from marketplace.kernel.viewutil import operator_required
from marketplace.kernel.webutil import act, act_then_redirect, form_number

from . import licensing_schemas as sc
from . import royalties
from .deals import get_deal_for
from .royalty_models import RoyaltyPeriod

bp = Blueprint("licensing", __name__)
api = Blueprint("licensing_api", __name__, url_prefix=API_PREFIX)
TAGS = ["licensing"]


def _buy_limit():
    return current_app.config["RATELIMIT_BUY"]


def _offer_limit():
    return current_app.config["RATELIMIT_OFFER"]


def _user_key():
    return f"user:{current_user.id}" if current_user.is_authenticated else request.remote_addr


def _percent_to_bps(raw):
    """A form's percentage ("5", "2.75") as basis points; None for blank; ValueError for anything else."""
    raw = (raw or "").strip().rstrip("%").strip()
    if not raw:
        return None
    if len(raw) > 12 or raw.count(".") > 1 or not raw.replace(".", "", 1).isdigit():
        raise ValueError("not a number")
    whole, _dot, frac = raw.partition(".")
    if len(frac) > 2:
        raise ValueError("at most two decimals")
    return int(whole or "0") * 100 + int((frac + "00")[:2])


def _yuan_or_none(raw, key, fields):
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return parse_yuan(raw)
    except ValueError as exc:
        fields[key] = _(str(exc))
        return None


@bp.app_template_global("open_licence_of")
def open_licence_of(listing):
    """The open-licence badge and panel on listing cards and pages (a global: imported macros see it too)."""
    return ol.declaration_of(listing)


@bp.app_template_global("has_open_licence")
def has_open_licence(listing):
    """The badge on a card: one query per request for every card on the page (g keeps the answer)."""
    ids = g.get("_open_licence_ids")
    if ids is None:
        ids = g._open_licence_ids = ol.open_listing_ids()
    return listing is not None and listing.id in ids


@bp.app_template_global("royalty_percent")
def royalty_percent(bps):
    return royalties.percent(bps)


# --- HTML: the catalogue and declaring ------------------------------------------------------------

@bp.get("/open-licences")
def catalogue():
    return render_template("licensing/catalogue.html", declarations=ol.catalogue(),
                           kind_labels=ol.ROYALTY_KIND_LABELS, period_labels=royalties.PERIOD_LABELS,
                           percent=royalties.percent, price_at_take=ol.price_at_take)


def _declare_page(listing, values=None, errors=None, message=None, status=200):
    return render_template("licensing/declare.html", listing=listing, values=values or {}, errors=errors or {},
                           message=message, declaration=ol.declaration_of(listing)), status


def _own_listing(listing_id):
    listing = db.session.get(Listing, bidding.check_id(listing_id))
    if listing is None or not bidding.is_seller_side(listing, current_user):
        abort(404)
    return listing


@bp.get("/listings/<int:listing_id>/open-licence")
@login_required
def declare_form(listing_id):
    return _declare_page(_own_listing(listing_id))


@bp.post("/listings/<int:listing_id>/open-licence")
@login_required
def declare(listing_id):
    listing = _own_listing(listing_id)
    form = request.form
    values = {k: (form.get(k) or "").strip()[:40] for k in ("royalty_kind", "annual_fee", "royalty_percent",
                                                             "yearly_minimum", "period", "term_years")}
    fields = {}
    data = {"royalty_kind": values["royalty_kind"] or None, "period": values["period"] or None}
    data["annual_fee"] = _yuan_or_none(values["annual_fee"], "annual_fee", fields)
    data["yearly_minimum"] = _yuan_or_none(values["yearly_minimum"], "yearly_minimum", fields)
    try:
        data["royalty_bps"] = _percent_to_bps(values["royalty_percent"])
    except ValueError:
        fields["royalty_bps"] = _("请填写百分比，最多两位小数，例如 3 或 2.75")
    try:
        data["term_years"] = parse_int(values["term_years"]) if values["term_years"] else None
    except NumberError:
        fields["term_years"] = _("必须是整数")

    def work():
        if fields:
            raise ValidationError(_("开放许可条件有误"), fields)
        ol.declare(listing_id, current_user, data)
        return redirect(url_for("listings.detail", listing_id=listing_id))

    return act(work, lambda exc: _declare_page(listing, values, exc.fields, exc.message, exc.status), show=None,
               done=_("开放许可已声明，已列入开放许可专区"))


@bp.post("/open-licences/<int:open_licence_id>/withdraw")
@login_required
def withdraw(open_licence_id):
    decl = db.session.get(OpenLicence, bidding.check_id(open_licence_id))
    if decl is None:
        abort(404)
    return act_then_redirect(lambda: ol.withdraw(open_licence_id, current_user, request.form.get("reason")),
                             _("开放许可声明已撤回；已取得的许可继续有效"),
                             url_for("listings.detail", listing_id=decl.listing_id))


@bp.post("/open-licences/<int:open_licence_id>/take")
@login_required
@limiter.limit(_buy_limit, key_func=_user_key)
def take(open_licence_id):
    decl = db.session.get(OpenLicence, bidding.check_id(open_licence_id))
    if decl is None:
        abort(404)
    listing_id = decl.listing_id
    return act(lambda: redirect(url_for("escrow.deal_detail", deal_id=ol.take(open_licence_id, current_user)[0].id)),
               lambda exc: redirect(url_for("listings.detail", listing_id=listing_id)),
               done=_("已按公告条件取得开放许可：请签署合同并付款"))


# --- HTML: licences ----------------------------------------------------------------------------------

@bp.get("/licences")
@login_required
@commit_after  # a licence whose deal was paid starts now, as on its own page (also done by ``flask deadlines run``)
def my_licences():
    for licence in royalties.licences_of(current_user):
        royalties.sync(licence)
    return render_template("licensing/licences.html", board=royalties.dashboard(current_user, _today()), today_date=_today(),
                           status_labels=royalties.LICENCE_STATUS_LABELS, period_labels=royalties.STATUS_LABELS,
                           payment_labels=royalties.PAYMENT_STATUS_LABELS, kind_labels=royalties.PAYMENT_KIND_LABELS)


@bp.get("/licences.csv")
@login_required
def licences_csv():
    """The dashboard's CSV: ``side=licensor`` (licences granted, income per period) or ``side=licensee``
    (licences held, payment history)."""
    side = request.args.get("side", "")
    if side not in ("licensor", "licensee"):
        abort(404)
    return rows_response(royalties.csv_rows(current_user, side), f"ipmart-licences-{side}.csv")


def _licence_page(licence, errors=None, message=None, status=200):
    roles = royalties.roles_on(licence, current_user)
    return render_template("licensing/licence.html", licence=licence, roles=roles,
                           rows=royalties.ledger_rows(licence), labels=royalties.STATUS_LABELS,
                           licence_labels=royalties.LICENCE_STATUS_LABELS, terms=royalties.terms_text(licence),
                           errors=errors or {}, message=message, today=_today(),
                           hold_days=current_app.config["ROYALTY_HOLD_DAYS"],
                           bank=current_app.config["PLATFORM_BANK"]), status


def _today():
    return local(utcnow()).date()


@bp.get("/licences/<int:licence_id>")
@login_required
@commit_after  # a licence whose deal was paid starts now (also done by ``flask deadlines run``)
def licence_page(licence_id):
    licence = royalties.get_licence_for(licence_id, current_user)
    royalties.sync(licence)
    return _licence_page(licence)


@bp.post("/licences/<int:licence_id>/periods/<int:period_id>/report")
@login_required
@limiter.limit(_offer_limit, key_func=_user_key)
def report(licence_id, period_id):
    licence = royalties.get_licence_for(licence_id, current_user)
    fields = {}
    net_sales = _yuan_or_none(request.form.get("net_sales", ""), "net_sales", fields)
    if net_sales is None and "net_sales" not in fields:
        fields["net_sales"] = _("必填")

    def work():
        if fields:
            raise ValidationError(_("销售额报告有误"), fields)
        royalties.report(licence_id, period_id, current_user, net_sales, attachment=request.files.get("attachment"),
                         note=request.form.get("note"))
        return redirect(url_for("licensing.licence_page", licence_id=licence.id) + f"#period-{period_id}")

    return act(work, lambda exc: _licence_page(royalties.get_licence_for(licence_id, current_user), exc.fields,
                                               exc.message, exc.status), show=None, done=_("销售额已报告"))


@bp.post("/licences/<int:licence_id>/periods/<int:period_id>/release")
@login_required
def release(licence_id, period_id):
    royalties.get_licence_for(licence_id, current_user)
    return act_then_redirect(lambda: royalties.release(licence_id, period_id, current_user),
                             _("已确认，许可费放款给许可方"), url_for("licensing.licence_page", licence_id=licence_id))


@bp.post("/deals/<int:deal_id>/royalty-terms")
@login_required
def royalty_terms(deal_id):
    deal = get_deal_for(deal_id, current_user)
    form = request.form
    fields = {}
    data = {"period": form.get("period") or None, "sublicensing": form.get("sublicensing") == "1"}
    try:
        data["royalty_bps"] = _percent_to_bps(form.get("royalty_percent"))
    except ValueError:
        fields["royalty_bps"] = _("请填写百分比，最多两位小数，例如 3 或 2.75")
    data["yearly_minimum"] = _yuan_or_none(form.get("yearly_minimum"), "yearly_minimum", fields)

    def work():
        if fields:
            raise ValidationError(_("许可费条款有误"), fields)
        return redirect(url_for("licensing.licence_page", licence_id=royalties.set_terms(deal_id, current_user, data).id))

    def refused(exc):
        licence = royalties.licence_of(deal)
        if licence is None:
            return redirect(url_for("escrow.deal_detail", deal_id=deal_id))
        return redirect(url_for("licensing.licence_page", licence_id=licence.id))

    return act(work, refused, done=_("许可费条款已写入合同"))


# --- HTML: operators -----------------------------------------------------------------------------------

def _operator_act(period_id, call, done):
    period = db.session.get(RoyaltyPeriod, bidding.check_id(period_id))
    if period is None:
        abort(404)
    return act_then_redirect(call, done, url_for("licensing.licence_page", licence_id=period.licence_id))


@bp.post("/operator/royalties/<int:period_id>/confirm")
@operator_required
def operator_confirm(period_id):
    def confirm():
        amount = form_number("amount", parse_yuan, _("到账金额无效"))
        royalties.confirm_payment(period_id, request.form.get("reference", ""), amount, current_user)
    return _operator_act(period_id, confirm, _("许可费已确认到账"))


@bp.post("/operator/royalties/<int:period_id>/payout")
@operator_required
def operator_payout(period_id):
    return _operator_act(period_id, lambda: royalties.record_payout(period_id, request.form.get("reference"),
                                                                    current_user), _("许可费付款已登记"))


# --- API ------------------------------------------------------------------------------------------------

@api.get("/open-licences")
@doc("The open-licence catalogue (专利开放许可): open declarations on live patents", tags=TAGS, auth=False,
     responses={"200": sc.Catalogue})
def api_catalogue():
    return jsonify({"open_licences": [ol.declaration_json(d) for d in ol.catalogue()]})


@api.get("/licensing/stats")
@doc("Licensing statistics: open licences declared, open and taken, licences in force, royalty periods paid and "
     "their volume", tags=TAGS, auth=False,
     responses={"200": sc.Stats})
def api_stats():
    return jsonify(royalties.stats())


@api.post("/listings/<int:listing_id>/open-licence")
@doc("Declare an open licence on the caller's published patent listing (专利法第五十条)", tags=TAGS,
     request_schema=sc.Declare, responses={"201": sc.DeclarationAnswer, "403": None, "404": None, "409": None,
                                           "422": None})
@commit_after
def api_declare(listing_id):
    user = require_user("seller")
    decl = ol.declare(listing_id, user, json_body())
    return jsonify({"open_licence": ol.declaration_json(decl)}), 201


@api.post("/open-licences/<int:open_licence_id>/withdraw")
@doc("Withdraw an open licence declaration (licences already taken go on)", tags=TAGS,
     request_schema=sc.Withdraw, responses={"200": sc.DeclarationAnswer, "403": None, "404": None, "409": None})
@commit_after
def api_withdraw(open_licence_id):
    user = require_user()
    body = json_body() if request.data else {}
    decl = ol.withdraw(open_licence_id, user, body.get("reason"))
    return jsonify({"open_licence": ol.declaration_json(decl)})


@api.post("/open-licences/<int:open_licence_id>/take")
@limiter.limit(_buy_limit)
@doc("Take an open licence (a verified organisation): a non-exclusive licence deal opens at the published terms",
     tags=TAGS, responses={"201": sc.Taken, "403": None, "404": None, "409": None})
@commit_after
def api_take(open_licence_id):
    user = require_user()
    deal, licence = ol.take(open_licence_id, user)
    return jsonify({"deal_id": deal.id, "licence": royalties.licence_json(licence)}), 201


@api.get("/licences")
@doc("Licences the caller granted (licensor) or holds (licensee)", tags=TAGS,
     responses={"200": sc.LicenceList})
@commit_after
def api_licences():
    user = require_user()
    out = []
    for licence in royalties.licences_of(user):
        royalties.sync(licence)
        out.append(royalties.licence_json(licence))
    return jsonify({"licences": out})


@api.get("/licences/<int:licence_id>")
@doc("One licence: terms, recordal, periods (404 unless a party or an operator)", tags=TAGS,
     responses={"200": sc.LicenceAnswer, "404": None})
@commit_after
def api_licence(licence_id):
    licence = royalties.get_licence_for(licence_id, require_user())
    royalties.sync(licence)
    return jsonify({"licence": royalties.licence_json(licence)})


@api.put("/deals/<int:deal_id>/royalty-terms")
@doc("The licensor sets a licence deal's royalty structure before the contract is signed", tags=["deals", *TAGS],
     request_schema=sc.RoyaltyTerms, responses={"200": sc.LicenceAnswer, "403": None, "404": None, "409": None,
                                                "422": None})
@commit_after
def api_royalty_terms(deal_id):
    user = require_user()
    licence = royalties.set_terms(deal_id, user, json_body())
    return jsonify({"licence": royalties.licence_json(licence)})


@api.post("/licences/<int:licence_id>/periods/<int:period_id>/report")
@limiter.limit(_offer_limit)
@doc("The licensee reports a period's net sales (JSON, or multipart with an optional `attachment`); the amount "
     "due is computed", tags=TAGS, request_schema=sc.Report, content_type=("application/json", "multipart/form-data"),
     responses={"200": sc.PeriodAnswer, "403": None, "404": None, "409": None, "422": None})
@commit_after
def api_report(licence_id, period_id):
    user = require_user()
    if request.mimetype == "multipart/form-data":
        form = form_body()  # the same schema: net_sales an integer (digits), note's length, no unknown field
        net_sales, note, attachment = parse_int(form["net_sales"]), form.get("note"), request.files.get("attachment")
    else:
        body = json_body()
        net_sales, note, attachment = body.get("net_sales"), body.get("note"), None
    period = royalties.report(licence_id, period_id, user, net_sales, attachment=attachment, note=note)
    return jsonify({"period": royalties.period_json(period)})


@api.get("/licences/<int:licence_id>/periods/<int:period_id>/payment")
@doc("How the licensee pays a period: bank details and the IPR reference", tags=TAGS,
     responses={"200": sc.PaymentAnswer, "404": None, "409": None})
def api_payment(licence_id, period_id):
    user = require_user()
    licence = royalties.get_licence_for(licence_id, user)
    period = db.session.get(RoyaltyPeriod, period_id)
    if period is None or period.licence_id != licence.id:
        raise NotFound(_("许可费期次不存在"))
    return jsonify({"payment": royalties.payment_instructions(period)})


@api.post("/licences/<int:licence_id>/periods/<int:period_id>/release")
@doc("The licensor accepts a held period: released less the platform fee", tags=TAGS,
     responses={"200": sc.PeriodAnswer, "403": None, "404": None, "409": None})
@commit_after
def api_release(licence_id, period_id):
    period = royalties.release(licence_id, period_id, require_user())
    return jsonify({"period": royalties.period_json(period)})


@api.post("/operator/royalties/<int:period_id>/confirm")
@doc("An operator confirms a period's bank transfer by reference and amount (fen): into escrow", tags=TAGS,
     request_schema=sc.ConfirmRoyalty,
     responses={"200": sc.PeriodAnswer, "403": None, "404": None, "409": None, "422": None})
@commit_after
def api_confirm(period_id):
    user = require_user("operator")
    body = json_body()
    period = royalties.confirm_payment(period_id, body.get("reference"), body.get("amount"), user)
    return jsonify({"period": royalties.period_json(period)})


@api.post("/operator/royalties/<int:period_id>/payout")
@doc("An operator records the bank transfer of a released period to the licensor", tags=TAGS,
     request_schema=sc.RoyaltyPayout,
     responses={"200": sc.PeriodAnswer, "403": None, "404": None, "409": None, "422": None})
@commit_after
def api_payout(period_id):
    user = require_user("operator")
    period = royalties.record_payout(period_id, json_body().get("reference"), user)
    return jsonify({"period": royalties.period_json(period)})

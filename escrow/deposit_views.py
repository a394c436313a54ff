"""Auction deposits (保证金) on the web and in the API: thin, parse and call ``escrow.deposits``.

HTML (``bp``):
- ``POST /listings/<id>/deposit`` (a buyer, CSRF): ask to pay the auction's deposit → the deposit page.
- ``GET /deposits/<id>`` (its bidder, operators): amount, status, the published rule, how to pay
  (bank transfer details with the ``IPD…`` reference, or the card button).
- ``POST /deposits/<id>/pay/card`` (its bidder): a Stripe PaymentIntent for the deposit, paid with the
  Payment Element (``static/js/stripe_pay.js``); only the signed webhook holds the deposit.
- ``GET /operator/deposits``: bank transfers to confirm, offline returns to pay back, compensation owed to
  sellers; ``POST /operator/deposits/<id>/confirm|return|payout`` record them.

API (``api``): ``POST /api/v1/listings/{id}/deposit`` (201: the deposit and how to pay) and
``GET /api/v1/listings/{id}/deposit`` (the caller's deposit, 404 when none).
"""
from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from listings import bidding
from listings.models import Listing
from marketplace.kernel.apiutil import API_PREFIX, commit_after, doc, require_user
from marketplace.kernel.errors import NotFound
from marketplace.kernel.extensions import db, limiter
from marketplace.kernel.money import parse_yuan
from marketplace.kernel.timeutil import iso
from marketplace.kernel.viewutil import operator_required
from marketplace.kernel.webutil import act, act_then_redirect, form_number

from . import deposits
from . import serializers as out
from .gateways.stripe_gateway import PaymentProviderError
from .payment_views import STRIPE_GATEWAYS, STRIPE_JS

bp = Blueprint("deposits", __name__)
api = Blueprint("deposits_api", __name__, url_prefix=API_PREFIX)


def _limit():
    return current_app.config["RATELIMIT_BUY"]


def _user_key():
    return f"user:{current_user.id}" if current_user.is_authenticated else request.remote_addr


def deposit_json(deposit):
    return {"id": deposit.id, "auction_id": deposit.auction_id, "listing_id": deposit.auction.listing_id,
            "amount": deposit.amount, "currency": deposit.currency, "status": deposit.status,
            "gateway": deposit.gateway, "payment_reference": deposit.payment_reference,
            "paid_at": iso(deposit.paid_at) if deposit.paid_at else None, "deal_id": deposit.deal_id}


# --- HTML: the bidder ---------------------------------------------------------------------------

@bp.post("/listings/<int:listing_id>/deposit")
@login_required
@limiter.limit(_limit, key_func=_user_key)
def start(listing_id):
    bidding.visible_listing(listing_id, current_user)
    return act(lambda: redirect(url_for("deposits.page", deposit_id=deposits.open_deposit(listing_id, current_user).id)),
               lambda exc: redirect(url_for("listings.detail", listing_id=listing_id) + "#trade"))


def _page(deposit, instructions=None, error=None, status=200):
    listing = deposit.auction.listing
    bank = None
    if deposit.gateway == "offline" and deposit.status == "awaiting_payment":
        bank = deposits.get_gateway("offline").start_payment(deposit, 1)  # bank details only: no provider call
    return render_template(
        "trading/deposit.html", deposit=deposit, listing=listing, rule=deposits.rule_summary(deposit.auction),
        status_label=deposits.STATUS_LABELS[deposit.status], bank=bank, instructions=instructions, error=error,
        card=deposit.gateway in STRIPE_GATEWAYS, stripe_js_url=STRIPE_JS,
        return_url=url_for("deposits.page", deposit_id=deposit.id, _external=True),
        test_mode=str(current_app.config.get("STRIPE_SECRET_KEY") or "").startswith("sk_test_")), status


@bp.get("/deposits/<int:deposit_id>")
@login_required
def page(deposit_id):
    return _page(deposits.get_deposit_for(deposit_id, current_user))


@bp.post("/deposits/<int:deposit_id>/pay/card")
@login_required
@limiter.limit(_limit, key_func=_user_key)
def pay_card(deposit_id):
    deposit = deposits.get_deposit_for(deposit_id, current_user)
    if deposit.bidder_id != current_user.id:
        abort(403)
    if deposit.gateway not in STRIPE_GATEWAYS or deposit.status != "awaiting_payment":
        return _page(deposit, error=_("该保证金当前无需在线付款"), status=409)
    try:
        return act(lambda: _page(deposit, instructions=deposits.payment_instructions(deposit)))
    except PaymentProviderError:  # rolled back
        return _page(deposits.get_deposit_for(deposit_id, current_user),
                     error=_("支付服务暂时不可用，请稍后重试。您尚未被扣款。"), status=503)


# --- HTML: operators -------------------------------------------------------------------------------

@bp.get("/operator/deposits")
@operator_required
def queue():
    return render_template("trading/deposit_queue.html", queue=deposits.operator_queue(),
                           labels=deposits.STATUS_LABELS)


@bp.post("/operator/deposits/<int:deposit_id>/confirm")
@operator_required
def confirm(deposit_id):
    def confirm():
        amount = form_number("amount", parse_yuan, _("到账金额无效"))
        deposits.confirm_offline_deposit(deposit_id, request.form.get("reference", ""), amount, current_user)
    return act_then_redirect(confirm, _("保证金 #%(id)s 已确认到账", id=deposit_id), url_for("deposits.queue"))


@bp.post("/operator/deposits/<int:deposit_id>/return")
@operator_required
def record_return(deposit_id):
    return act_then_redirect(lambda: deposits.record_offline_return(
        deposit_id, request.form.get("reference"), current_user), _("保证金 #%(id)s 的退款已登记", id=deposit_id),
        url_for("payouts.refund_queue"))  # bank returns are in the one refund queue (issue 15)


@bp.post("/operator/deposits/<int:deposit_id>/payout")
@operator_required
def record_payout(deposit_id):
    return act_then_redirect(lambda: deposits.record_forfeit_payout(
        deposit_id, request.form.get("reference"), current_user), _("保证金 #%(id)s 的卖方补偿已登记", id=deposit_id),
        url_for("deposits.queue"))


# --- API -----------------------------------------------------------------------------------------

@api.post("/listings/<int:listing_id>/deposit")
@limiter.limit(_limit)
@doc("Pay an auction's deposit (保证金) before bidding: the deposit and how to pay it (bank transfer "
     "with the IPD reference, or a Stripe PaymentIntent)", tags=["trading"],
     responses={"201": out.DepositStarted, "403": None, "404": None, "409": None, "503": None})
@commit_after
def api_start(listing_id):
    bidder = require_user()
    deposit = deposits.open_deposit(listing_id, bidder)
    db.session.commit()  # the row first: the provider is asked with no lock held
    instructions = deposits.payment_instructions(deposit)
    return jsonify({"deposit": deposit_json(deposit), "payment": instructions}), 201


@api.get("/listings/<int:listing_id>/deposit")
@doc("The caller's deposit on this listing's auction (404 when none)", tags=["trading"],
     responses={"200": out.DepositAnswer, "404": None})
@commit_after
def api_show(listing_id):
    user = require_user()
    listing = db.session.get(Listing, bidding.check_id(listing_id))
    deposit = deposits.deposit_of(listing.auction if listing is not None else None, user)
    if deposit is None:
        raise NotFound(_("您在该拍卖没有保证金记录"))
    return jsonify({"deposit": deposit_json(deposit)})

"""Pages and API of payout accounts and the refund queue (docs/payments.md "Payout accounts", "Refunds").

Sellers: ``/account/payout-account`` (enter, see, change the account; enter back the small amount).
Buyers: ``/deals/<id>/refund-account`` (where a bank refund goes back to).
Operators: ``/operator/payout-accounts`` (verify, reject, send the small amount) and ``/operator/refunds``
(record the bank reference of a refund). Thin: each POST calls one service in ``escrow.payouts`` or
``escrow.refunds`` and commits once; bad input re-renders the form with the error (422).
"""

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.kernel.apiutil import API_PREFIX, commit_after, doc, json_body, query_args, require_user
from marketplace.kernel.errors import PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.numbers import parse_int
from marketplace.kernel.viewutil import operator_required
from marketplace.kernel.webutil import act, show_in_form

from . import deals, fees, payouts, refunds
from . import schemas as sc
from . import serializers as out
from .forms import ActionForm
from .models import Deal
from .payout_forms import BankAccountForm, MicroDepositForm, ReferenceForm, RejectForm
from .payout_models import PayoutAccount

bp = Blueprint("payouts", __name__)
api = Blueprint("payouts_api", __name__, url_prefix=API_PREFIX)


def _in_form(form, call, again, done, back):
    """A form's act at the commit boundary (``webutil.act``): bad input or a refusal → ``again(status)`` with the
    reason in the form itself (beside its field); done → ``back``, ``done`` flashed."""
    if not form.validate_on_submit():
        return again(422)

    def work():
        call()
        return redirect(back)

    def refused(exc):
        show_in_form(form, exc)
        return again(exc.status)

    return act(work, refused, show=None, done=done)


# --- the seller's account -------------------------------------------------------------------------

def _seller_page(form=None, micro=None, status=200):
    payee = payouts.payee_of_user(current_user)
    return render_template("escrow/payout_account.html", payee=payee, account=payouts.current_account(payee),
                           history=payouts.history(payee), form=form or BankAccountForm(formdata=None),
                           micro=micro or MicroDepositForm(prefix="micro", formdata=None),
                           attempts=payouts.MICRO_ATTEMPTS), status


@bp.route("/account/payout-account", methods=["GET", "POST"])
@login_required
def payout_account():
    if not current_user.has_role("seller"):
        abort(403)
    if request.method == "GET":
        return _seller_page()
    form = BankAccountForm()
    return _in_form(form, lambda: payouts.submit_account(current_user, form.bank.data, form.branch.data,
                                                         form.account_number.data, form.account_name.data),
                    lambda status: _seller_page(form=form, status=status), _("收款账户已提交，平台核验后方可用于收款"),
                    url_for("payouts.payout_account"))


@bp.post("/account/payout-account/micro-deposit")
@login_required
def payout_account_micro():
    if not current_user.has_role("seller"):
        abort(403)
    micro = MicroDepositForm(prefix="micro")

    def again(status):
        return _seller_page(micro=micro, status=status)

    if not micro.validate_on_submit():
        return again(422)

    def work():
        ok, left = payouts.confirm_micro_deposit(current_user, micro.amount.fen)
        if ok:
            flash(_("收款账户已通过小额验证"), "success")
            return redirect(url_for("payouts.payout_account"))
        micro.amount.errors = [_("金额不符，还可尝试 %(n)s 次", n=left) if left else
                               _("金额多次不符，账户未通过验证，请重新登记")]
        return again(422)  # committed all the same: a wrong amount is an attempt used

    def refused(exc):
        show_in_form(micro, exc)
        return again(exc.status)

    return act(work, refused, show=None)


# --- operators: the accounts queue ------------------------------------------------------------------

def _accounts_queue(status=200, **bound):
    return render_template("escrow/queue_payout_accounts.html", accounts=payouts.pending_accounts(),
                           bound=bound), status


@bp.get("/operator/payout-accounts")
@operator_required
def payout_accounts_queue():
    return _accounts_queue()


def _operator_act(run, form, done, account_id):
    return _in_form(form, lambda: run(form), lambda status: _accounts_queue(status, **{str(account_id): form}), done,
                    url_for("payouts.payout_accounts_queue"))


@bp.post("/operator/payout-accounts/<int:account_id>/verify")
@operator_required
def payout_account_verify(account_id):
    return _operator_act(lambda form: payouts.verify_account(account_id, current_user), ActionForm(),
                         _("收款账户已核验"), account_id)


@bp.post("/operator/payout-accounts/<int:account_id>/reject")
@operator_required
def payout_account_reject(account_id):
    return _operator_act(lambda form: payouts.reject_account(account_id, current_user, form.note.data),
                         RejectForm(prefix="reject"), _("收款账户已驳回"), account_id)


@bp.post("/operator/payout-accounts/<int:account_id>/micro-deposit")
@operator_required
def payout_account_send_micro(account_id):
    return _operator_act(lambda form: payouts.send_micro_deposit(account_id, current_user, form.amount.fen),
                         MicroDepositForm(prefix="micro"), _("已登记小额打款，等待卖方回填金额"), account_id)


# --- refunds ----------------------------------------------------------------------------------------

def _refund_page(deal, form=None, status=200):
    return render_template("escrow/refund_account.html", deal=deal, instruction=refunds.instruction_of(deal.id),
                           form=form or BankAccountForm(formdata=None)), status


@bp.route("/deals/<int:deal_id>/refund-account", methods=["GET", "POST"])
@login_required
def refund_account(deal_id):
    deal = deals.get_deal_for(deal_id, current_user)
    if deal.buyer_id != current_user.id:
        abort(403)
    if request.method == "GET":
        return _refund_page(deal)
    form = BankAccountForm()
    return _in_form(form, lambda: refunds.enter_account(deal_id, current_user, form.bank.data, form.branch.data,
                                                        form.account_number.data, form.account_name.data),
                    lambda status: _refund_page(db.session.get(Deal, deal_id), form, status),
                    _("退款账户已保存，平台转账后会通知您"), url_for("escrow.deal_detail", deal_id=deal_id))


def _refund_queue(status=200, **bound):
    return render_template("escrow/queue_refunds.html", instructions=refunds.queue(), bound=bound), status


@bp.get("/operator/refunds")
@operator_required
def refund_queue():
    return _refund_queue()


@bp.post("/deals/<int:deal_id>/refund-paid")
@operator_required
def refund_paid(deal_id):
    form = ReferenceForm(prefix="refund")
    return _in_form(form, lambda: refunds.mark_paid(deal_id, form.reference.data, current_user),
                    lambda status: _refund_queue(status, **{str(deal_id): form}), _("已登记退款流水号，退款入账"),
                    url_for("payouts.refund_queue"))


# --- API --------------------------------------------------------------------------------------------

TAGS = ["payouts"]
def _seller():
    user = require_user("seller")
    return user


@api.get("/payout-account")
@doc("My payout account (seller): the current one, number masked to the last 4 digits", tags=TAGS,
     responses={"200": out.PayoutAccountAnswer})
def api_payout_account():
    user = _seller()
    return jsonify({"account": payouts.serialize(payouts.current_account(payouts.payee_of_user(user)))})


@api.put("/payout-account")
@doc("Record or change my payout account (seller): verified again; a change holds bank payouts for "
     "PAYOUT_ACCOUNT_HOLD_HOURS", tags=TAGS, request_schema=sc.BankAccount, responses={"201": out.PayoutAccountAnswer})
@commit_after
def api_payout_account_put():
    user = _seller()
    data = json_body()
    account = payouts.submit_account(user, data.get("bank"), data.get("branch"), data.get("account_number"),
                                     data.get("account_name"))
    return jsonify({"account": payouts.serialize(account)}), 201


@api.post("/payout-account/micro-deposit")
@doc("Enter back the small amount the platform sent (seller); a wrong amount uses one of 3 attempts", tags=TAGS,
     request_schema=sc.MicroDeposit, responses={"200": out.PayoutAccountAnswer, "422": None})
def api_micro_deposit():
    user = _seller()
    data = json_body()
    try:
        ok, left = payouts.confirm_micro_deposit(user, data.get("amount"))
        db.session.commit()  # a wrong amount is an attempt used: it is kept
    except Exception:
        db.session.rollback()
        raise
    if not ok:
        raise ValidationError(_("金额不符，还可尝试 %(n)s 次", n=left) if left else
                              _("金额多次不符，账户未通过验证，请重新登记"), {"amount": _("金额不符")}, attempts_left=left)
    return jsonify({"account": payouts.serialize(payouts.current_account(payouts.payee_of_user(user)))})


def _operator():
    return require_user("operator")


@api.get("/operator/payout-accounts")
@doc("Payout accounts waiting for verification (operator), with full account numbers", tags=TAGS,
     responses={"200": out.PayoutAccountsAnswer})
def api_accounts_queue():
    _operator()
    return jsonify({"accounts": [payouts.serialize(a, operator=True) for a in payouts.pending_accounts()]})


def _account_action(account_id, run):
    user = _operator()
    account = run(user)
    return jsonify({"account": payouts.serialize(db.session.get(PayoutAccount, account.id), operator=True)})


@api.post("/operator/payout-accounts/<int:account_id>/verify")
@doc("Verify a payout account against its documents (operator)", tags=TAGS, responses={"200": out.PayoutAccountAnswer})
@commit_after
def api_account_verify(account_id):
    return _account_action(account_id, lambda user: payouts.verify_account(account_id, user))


@api.post("/operator/payout-accounts/<int:account_id>/reject")
@doc("Reject a payout account with the reason (operator)", tags=TAGS,
     request_schema=sc.RejectAccount, responses={"200": out.PayoutAccountAnswer})
@commit_after
def api_account_reject(account_id):
    note = json_body().get("note")
    return _account_action(account_id, lambda user: payouts.reject_account(account_id, user, note))


@api.post("/operator/payout-accounts/<int:account_id>/micro-deposit")
@doc("Record the small amount (1–99 fen) sent to the account for the seller to enter back (operator)", tags=TAGS,
     request_schema=sc.MicroDeposit, responses={"200": out.PayoutAccountAnswer})
@commit_after
def api_account_micro(account_id):
    amount = json_body().get("amount")
    return _account_action(account_id, lambda user: payouts.send_micro_deposit(account_id, user, amount))


@api.get("/operator/refunds")
@doc("Refund instructions waiting for the bank (operator), with the buyers' full account numbers", tags=TAGS,
     responses={"200": out.RefundsAnswer})
def api_refund_queue():
    _operator()
    return jsonify({"refunds": [refunds.serialize(r, operator=True) for r in refunds.queue()]})


@api.get("/deals/<int:deal_id>/refund")
@doc("The deal's bank refund instruction (buyer, seller or operator; account masked except for operators)",
     tags=TAGS, responses={"200": out.RefundAnswer})
def api_refund(deal_id):
    user = require_user()
    deal = deals.get_deal_for(deal_id, user)
    return jsonify({"refund": refunds.serialize(refunds.instruction_of(deal.id), operator=user.is_operator)})


@api.put("/deals/<int:deal_id>/refund-account")
@doc("Enter the account a bank refund goes back to (buyer; held in the buyer's own name)", tags=TAGS,
     request_schema=sc.BankAccount, responses={"200": out.RefundAnswer})
@commit_after
def api_refund_account(deal_id):
    user = require_user()
    deals.get_deal_for(deal_id, user)
    data = json_body()
    instruction = refunds.enter_account(deal_id, user, data.get("bank"), data.get("branch"),
                                        data.get("account_number"), data.get("account_name"))
    return jsonify({"refund": refunds.serialize(instruction)})


@api.post("/deals/<int:deal_id>/refund-paid")
@doc("Record the bank reference of a refund transfer (operator): the refund is booked; a reference is used once",
     tags=TAGS, request_schema=sc.RefundPaid, responses={"200": out.RefundAnswer})
@commit_after
def api_refund_paid(deal_id):
    user = require_user()
    if not user.is_operator:
        raise PermissionDenied(_("只有平台运营可以登记退款"))
    instruction = refunds.mark_paid(deal_id, json_body().get("reference"), user)
    return jsonify({"refund": refunds.serialize(instruction, operator=True)})


@api.get("/fees/quote")
@doc("What a price means for both sides before anyone commits: the buyer pays the price, the seller gets "
     "price - fee (at the current rate, which a deal opened now keeps)", tags=["deals"],
     query_schema=sc.FeeQuoteQuery, responses={"200": out.FeeQuote, "422": None}, auth=False)
def api_fee_quote():
    return jsonify(fees.quote(parse_int(query_args()["price"])))  # the schema: a whole number of fen, 1 to 10^13


@bp.app_template_global()
def deal_money(deal, viewer=None, roles=None):
    """What the deal page shows of where the money goes: the payout account (masked for all but
    operators), why a bank payout cannot be made now, and the bank refund instruction. The viewer is given
    as a user, or (the deal page's cached body, which holds nothing of the user) as their roles on the deal."""
    if roles is not None:
        operator = "operator" in roles
    else:
        operator = bool(getattr(viewer, "is_operator", False)) and viewer.id not in (deal.buyer_id, deal.seller_id)
    account = (db.session.get(PayoutAccount, deal.payout_account_id) if deal.payout_account_id
               else payouts.current_account(payouts.payee_of(deal)))
    block = None
    if deal.state == "released" and deal.payout_status != "paid" and not _connect_payout(deal):
        block = payouts.payout_block(deal)
    return {"operator": operator, "account": account, "block": block, "refund": refunds.instruction_of(deal.id)}


def _connect_payout(deal):
    """Paid by a Stripe Connect transfer: the account is Stripe's to verify, not ours."""
    return deal.gateway != "offline" and deal.organization is not None and bool(deal.organization.stripe_account_id)


@bp.app_template_global()
def fee_quote(price):
    """``escrow.fees.quote`` for a template: ``price`` in fen, or yuan as a person typed it (a string)."""
    if isinstance(price, str):
        from marketplace.kernel.money import parse_yuan

        try:
            price = parse_yuan(price) if price.strip() else None
        except ValueError:
            price = None
    return fees.quote(price)


@bp.app_template_global()
def fee_bps():
    return fees.current_bps()

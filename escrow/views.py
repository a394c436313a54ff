"""HTML pages of deals: the deal page (timeline, next step, the viewer's actions), "my deals",
the printable contract summary, documents, and the operator queues (payments, payouts, disputes).

Thin: each POST builds its form, calls one service in ``escrow.deals``, commits once, and
redirects; bad input re-renders the page with the error beside the field (422), a refused
action re-renders it with the reason (403 / 409).
"""
from flask import Blueprint, abort, redirect, render_template, request, send_file, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from marketplace.kernel.errors import ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.notify import unread_count_for
from marketplace.kernel.readonly import read_only
from marketplace.kernel.timeutil import utcnow
from marketplace.kernel.webutil import act, show_error, show_in_form

from . import contracts, deal_page, deals, documents, ledger, machine, paper_views
from .forms import (
    ActionForm,
    CancelForm,
    ConfirmPaymentForm,
    DisputeForm,
    DocumentForm,
    PayoutPaidForm,
    RecordalForm,
    ResolveForm,
)
from .models import Deal
from .timeline import DOCUMENT_KINDS, approval_notice_name, next_step, steps

bp = Blueprint("escrow", __name__)

FORMS = {
    "pay": ActionForm,
    "confirm_payment": ConfirmPaymentForm,
    "cancel": CancelForm,
    "file_transfer": DocumentForm,
    "record_transfer": RecordalForm,
    "accept": ActionForm,
    "dispute": DisputeForm,
    "resolve": ResolveForm,
    "payout_paid": PayoutPaidForm,
}
# CSRFProtect (marketplace.kernel.extensions.csrf) checks the ``csrf_token`` of every HTML POST before a view
# runs; the forms below are built with a prefix per action so several share a page, which would rename
# their own token field, so they leave CSRF to CSRFProtect (``meta=NO_FORM_CSRF``).
NO_FORM_CSRF = {"csrf": False}
QUEUES = {"payments": "escrow.payment_queue", "payouts": "escrow.payout_queue", "disputes": "escrow.dispute_queue"}


@bp.app_template_global("account_label")
def account_label(code):
    """A ledger account's name in the reader's language."""
    return ledger.account_label(code)


@bp.app_template_filter("yuan_exact")
def yuan_exact(fen, currency="CNY"):
    """¥1,234,567.89: every fen shown (ledger, payouts, bank amounts), never rounded to 万."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    yuan, rest = divmod(abs(int(fen)), 100)
    symbol = "¥" if currency == "CNY" else currency + " "
    return f"{sign}{symbol}{yuan:,}.{rest:02d}"


def _operator_only():
    if not current_user.is_operator:
        abort(403)


def _viewer_actions(deal, roles, signed):
    """The actions the signed-in user may take now, collapsed to the page's forms (resolve_* → resolve);
    ``signed``: the roles that have signed the contract (``contracts.signed_roles``, read once per page)."""
    names = []
    for action in machine.actions_for(deal.state, roles - {"system"}):
        name = "resolve" if action.startswith("resolve_") else action
        if name in FORMS and name not in names:
            names.append(name)
    if "confirm_payment" in names and deal.gateway != "offline":
        names.remove("confirm_payment")
    if not signed >= set(contracts.SIGNING_ROLES):  # paying waits for the contract both sign (paperwork panel)
        names = [n for n in names if n not in ("pay", "confirm_payment")]
    return names


def _transfer_overdue(deal):
    return bool(deal.transfer_due_at and deal.state == "funded" and utcnow() >= deal.transfer_due_at)


def _render(deal, bound=None, status=200, deal_stamp=None):
    """The deal page (``escrow.deal_page``). A plain view (GET, no form being corrected, no flash message) is
    kept whole for this viewer under the deal's stamp; otherwise its body comes from the body cache shared by
    the viewers with the same roles, and the actions panel and header are rendered around it. CSRF tokens
    are put in on every request. ``deal``: the ORM deal, or what ``deal_page.load`` read of it with
    ``deal_stamp`` (else the stamp is read here)."""
    roles = deals.roles_of(deal, current_user)
    transfer_overdue = _transfer_overdue(deal)
    if deal_stamp is None and deal_page.enabled():
        deal_stamp = deal_page.stamp(deal, viewer=current_user)
    view_key = None
    if deal_stamp and bound is None and status == 200 and request.method == "GET" and "_flashes" not in session:
        view_key = deal_page.viewer_key(deal, current_user, deal_stamp,
                                        (unread_count_for(current_user), transfer_overdue))
        found = deal_page.cached_view(view_key)
        if found is not None:
            return found, status
        # The viewer was loaded before the stamp was read, and the page shows them (the header, and the facts
        # when they are a party): read them again, so the page shows what the stamp saw or newer (and then
        # ``unchanged`` keeps nothing); the page is kept under their name as read now.
        db.session.expire(current_user._get_current_object())
    if deal_stamp is not None:
        # The page renders from the deal row as it is now, read after the stamp: a change committed in between
        # shows, and ``unchanged`` then keeps nothing under the older stamp.
        deal = db.session.get(Deal, deal.id, populate_existing=True)
        transfer_overdue = _transfer_overdue(deal)
    signed = contracts.signed_roles(deal)
    actions = _viewer_actions(deal, roles, signed)
    # Only the forms this viewer has an action for (the page shows no other); WTForms builds each field.
    forms = {name: FORMS[name](prefix=name, formdata=None, meta=NO_FORM_CSRF) for name in actions}
    if bound is not None:
        forms[bound[0]] = bound[1]

    def render_body():
        return deal_page.render_body(
            deal=deal, roles=roles, steps=steps(deal), next=next_step(deal), entries=ledger.deal_entries(deal.id),
            balances=ledger.deal_balances(deal), state_labels=machine.STATE_LABELS,
            action_labels=machine.ACTION_LABELS, role_labels=machine.ROLE_LABELS, document_kinds=DOCUMENT_KINDS,
            documents={d.id: d for d in deal.documents}, paper=paper_views.paperwork(deal, roles, signed))

    before, after = deal_page.halves(deal_page.body(deal, roles, deal_stamp, render_body))
    html = render_template(
        "escrow/deal.html", deal=deal, before=before, after=after, forms=forms, actions=actions,
        transfer_overdue=transfer_overdue, csrf_token=lambda: deal_page.CSRF_MARK,
        approval_notice=approval_notice_name(deal) if "record_transfer" in actions else None)
    if view_key is not None and "_flashes" not in session and deal_page.unchanged(deal, deal_stamp):
        deal_page.keep_view(deal_page.viewer_key(deal, current_user, deal_stamp,
                                                 (unread_count_for(current_user), transfer_overdue)), html)
    return deal_page.with_token(html), status


def _back(deal_id):
    queue = request.form.get("next")
    if queue in QUEUES:
        return redirect(url_for(QUEUES[queue]))
    return redirect(url_for("escrow.deal_detail", deal_id=deal_id))


def _act(deal_id, name, run, done_message):
    """Validate the form for ``name``, run the service, commit; or re-render with the reason."""
    deal = deals.get_deal_for(deal_id, current_user)
    form = FORMS[name](prefix=name, meta=NO_FORM_CSRF)
    if not form.validate_on_submit():
        return _render(deal, bound=(name, form), status=422)

    def refused(exc):  # bad input: beside its field in the form; a refused step: the reason above the page
        if not isinstance(exc, ValidationError):
            return _refused(deal_id, exc)
        show_in_form(form, exc)
        return _render(db.session.get(Deal, deal_id), bound=(name, form), status=422)

    def work():
        run(form)
        return _back(deal_id)

    return act(work, refused, show=None, done=done_message)


def _refused(deal_id, exc):
    """The deal page again, the reason shown above it, with the refusal's status."""
    show_error(exc)
    return _render(db.session.get(Deal, deal_id), status=exc.status)


# --- pages --------------------------------------------------------------------------------

@bp.get("/deals")
@login_required
def my_deals():
    rows = deals.deals_of(current_user)
    return render_template("escrow/my_deals.html", deals=rows, state_labels=machine.STATE_LABELS,
                           next_step=next_step)


bp.add_url_rule("/deals", endpoint="buyer_dashboard", view_func=my_deals)  # the header's "我的交易" link


@bp.get("/deals/<int:deal_id>")
@read_only  # no BEGIN / ROLLBACK on PostgreSQL (marketplace.kernel.readonly): the page only reads
@login_required
def deal_detail(deal_id):
    if deal_page.enabled():  # the deal, its stamp and the header's unread count: one statement
        deal, deal_stamp = deal_page.load(deal_id, current_user)
        return _render(deals.visible_to(deal, current_user), deal_stamp=deal_stamp)
    return _render(deals.get_deal_for(deal_id, current_user))


@bp.get("/deals/<int:deal_id>/documents/<int:document_id>")
@login_required
def deal_document(deal_id, document_id):
    document, path = documents.document_for(deal_id, document_id, current_user)
    return send_file(path, mimetype=documents.mimetype(document), as_attachment=False,
                     download_name=documents.download_name(document), max_age=0)


# --- actions ------------------------------------------------------------------------------

@bp.post("/deals/<int:deal_id>/pay")
@login_required
def deal_pay(deal_id):
    deal = deals.get_deal_for(deal_id, current_user)
    if deal.gateway != "offline":  # a card payment is made on the gateway's own page
        return redirect(url_for("payments.pay_page", deal_id=deal_id))

    def work():
        instructions = deals.start_payment(deal_id, current_user)
        return render_template("escrow/pay_offline.html", deal=db.session.get(Deal, deal_id), pay=instructions)

    return act(work, lambda exc: _refused(deal_id, exc), show=None)


@bp.post("/deals/<int:deal_id>/confirm-payment")
@login_required
def deal_confirm_payment(deal_id):
    def run(form):
        deals.confirm_offline_payment(deal_id, form.reference.data, form.amount.fen, current_user)

    return _act(deal_id, "confirm_payment", run, _("已确认到账，资金进入托管"))


@bp.post("/deals/<int:deal_id>/transfer-filed")
@login_required
def deal_transfer_filed(deal_id):
    def run(form):
        deals.file_transfer(deal_id, current_user, form.document.data, note=form.note.data)

    return _act(deal_id, "file_transfer", run, _("受理回执已上传"))


@bp.post("/deals/<int:deal_id>/transfer-recorded")
@login_required
def deal_transfer_recorded(deal_id):
    def run(form):
        details = {key: getattr(form, key).data for key in ("notice_number", "notice_date", "gazette_issue",
                                                             "gazette_page")}
        deals.record_transfer(deal_id, current_user, form.document.data, note=form.note.data, details=details)

    return _act(deal_id, "record_transfer", run, _("登记核准文件已上传，等待平台核对"))


@bp.post("/deals/<int:deal_id>/accept")
@login_required
def deal_accept(deal_id):
    return _act(deal_id, "accept", lambda form: deals.accept(deal_id, current_user), _("已确认验收，款项放给卖方"))


@bp.post("/deals/<int:deal_id>/dispute")
@login_required
def deal_dispute(deal_id):
    return _act(deal_id, "dispute", lambda form: deals.open_dispute(deal_id, current_user, form.reason.data),
                _("争议已提交，平台将尽快处理"))


@bp.post("/deals/<int:deal_id>/resolve")
@login_required
def deal_resolve(deal_id):
    def run(form):
        share = getattr(form.seller_share, "fen", None) if form.outcome.data == "split" else None
        deals.resolve_dispute(deal_id, current_user, form.outcome.data, share, note=form.note.data)

    return _act(deal_id, "resolve", run, _("争议已裁决"))


@bp.post("/deals/<int:deal_id>/cancel")
@login_required
def deal_cancel(deal_id):
    return _act(deal_id, "cancel", lambda form: deals.cancel_deal(deal_id, current_user, reason=form.reason.data),
                _("交易已取消"))


@bp.post("/deals/<int:deal_id>/payout-paid")
@login_required
def deal_payout_paid(deal_id):
    return _act(deal_id, "payout_paid",
                lambda form: deals.mark_payout_paid(deal_id, form.reference.data, current_user),
                _("已登记向卖方付款，交易完成"))


# --- operator queues -------------------------------------------------------------------------

def _queue(template, query, queue, **extra):
    _operator_only()
    rows = db.session.execute(query).scalars().all()
    return render_template(template, deals=rows, queue=queue, state_labels=machine.STATE_LABELS, **extra,
                           confirm_form=ConfirmPaymentForm(prefix="confirm_payment", formdata=None, meta=NO_FORM_CSRF),
                           payout_form=PayoutPaidForm(prefix="payout_paid", formdata=None, meta=NO_FORM_CSRF),
                           next_step=next_step)


@bp.get("/operator/payments")
@login_required
def payment_queue():
    """Bank transfers to match: offline deals awaiting payment, oldest deadline first."""
    query = (select(Deal).where(Deal.state == "awaiting_payment", Deal.gateway == "offline")
             .order_by(Deal.payment_due_at, Deal.id))
    return _queue("escrow/queue_payments.html", query, "payments")


@bp.get("/operator/payouts")
@login_required
def payout_queue():
    """Released deals whose seller has not been paid yet (offline instructions, failed transfers)."""
    query = select(Deal).where(Deal.state == "released").order_by(Deal.released_at, Deal.id)
    return _queue("escrow/queue_payouts.html", query, "payouts")


@bp.get("/operator/disputes")
@login_required
def dispute_queue():
    """Disputes to resolve, and deals a gateway or a failed payout flagged for a person to look at."""
    query = select(Deal).where(Deal.state == "disputed").order_by(Deal.updated_at, Deal.id)
    flagged = db.session.execute(select(Deal).where(Deal.flagged.isnot(None)).order_by(Deal.updated_at.desc())
                                 .limit(100)).scalars().all()
    return _queue("escrow/queue_disputes.html", query, "disputes", flagged=flagged)

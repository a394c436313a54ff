"""Operator console (operators only): queues with counts, account search, organisation
verification (KYC), credit records and appeals, the audit log, and the fuller statistics.

Top layer of ``marketplace``: it may read every package. Views stay thin; the rules
live in ``marketplace.kernel.kyc``, ``marketplace.kernel.credit``, ``marketplace.web.stats`` and ``marketplace.kernel.audit``.
"""

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func

from demand.models import WantedAd
from escrow.deposits import operator_queue
from escrow.models import Deal
from escrow.payout_models import PayoutAccount, RefundInstruction
from finance import vouchers
from finance.models import LoanApplication, ServiceCharge, Valuation
from listings.models import Listing, RightClaim

from ..kernel import credit, kyc
from ..kernel.credit_models import CreditRecord
from ..kernel.errors import DomainError, NotFound, ValidationError
from ..kernel.extensions import db
from ..kernel.jobs import console_summary
from ..kernel.models import AuditLog, Organization, User
from ..kernel.numbers import MAX_ID, MAX_PAGE, parse_int, query_int
from ..kernel.uploads import mimetype_of
from ..kernel.viewutil import operator_required
from ..kernel.webutil import act, show_in_form
from . import audit_labels, stats
from .operator_forms import AccountSearchForm, AppealDecisionForm, CreditRecordForm, VerifyForm

bp = Blueprint("operator", __name__, url_prefix="/operator")
audit_labels.register(bp)  # the audit log in words (issue 17)

OPEN_DEAL_STATES = ("awaiting_payment", "funded", "transfer_filed", "transfer_recorded", "disputed")
WATCHED_LEVELS = ("restricted", "blacklisted")


def _watched_deals_query():
    """Open deals where the buyer or seller (or their organisation) is restricted or blacklisted."""
    buyer, seller = db.aliased(User), db.aliased(User)
    buyer_org, seller_org = db.aliased(Organization), db.aliased(Organization)
    return (db.session.query(Deal)
            .join(buyer, Deal.buyer_id == buyer.id).join(seller, Deal.seller_id == seller.id)
            .outerjoin(buyer_org, buyer.organization_id == buyer_org.id)
            .outerjoin(seller_org, Deal.organization_id == seller_org.id)  # none: a natural person sells
            .filter(Deal.state.in_(OPEN_DEAL_STATES),
                    db.or_(buyer.credit_level.in_(WATCHED_LEVELS), seller.credit_level.in_(WATCHED_LEVELS),
                           buyer_org.credit_level.in_(WATCHED_LEVELS), seller_org.credit_level.in_(WATCHED_LEVELS))))


def queue_counts():
    """How many items wait in each operator queue (the console's numbers)."""
    def count(query):
        return query.order_by(None).count()

    return {
        "review": count(db.session.query(Listing).filter(Listing.status == "pending_review")),
        "grading": count(db.session.query(Listing).filter(
            Listing.status == "published", db.or_(Listing.grade.is_(None), Listing.grade_needs_review.is_(True)))),
        "kyc": count(db.session.query(Organization).filter(
            Organization.verified.is_(False), Organization.business_licence.isnot(None))),
        "payments": count(db.session.query(Deal).filter(Deal.state == "awaiting_payment", Deal.gateway == "offline")),
        "payouts": count(db.session.query(Deal).filter(Deal.state == "released")),
        "disputes": count(db.session.query(Deal).filter(Deal.state == "disputed")),
        "appeals": count(db.session.query(CreditRecord).filter(CreditRecord.appeal_status == "open")),
        "watched": count(_watched_deals_query()),
        "claims": count(db.session.query(RightClaim).filter(RightClaim.status == "open")),
        "deposits": _deposit_queue_count(),
        "wanted": _wanted_queue_count(count),
        "finance": _finance_queue_count(count),
        **_money_queue_counts(count),
    }


def _wanted_queue_count(count):
    """Wanted ads waiting for review (demand.wanted, issue 22)."""
    return count(db.session.query(WantedAd).filter(WantedAd.status == "pending_review"))


def _finance_queue_count(count):
    """The finance desk's operator work (issue 23): fees paid by transfer to confirm, pledge registrations and
    releases to verify, valuations to sign off, programmes with reimbursements outstanding."""
    return (count(db.session.query(ServiceCharge).filter(ServiceCharge.status == "due", ServiceCharge.deal_id.is_(None)))
            + count(db.session.query(LoanApplication).filter(
                LoanApplication.status.in_(("registration_submitted", "release_submitted"))))
            + count(db.session.query(Valuation).filter(Valuation.status == "review_requested"))
            + len(vouchers.unsettled_by_programme()))


def _money_queue_counts(count):
    """Payout accounts to verify and bank refunds to make (escrow.payouts, escrow.refunds)."""
    return {
        "payout_accounts": count(db.session.query(PayoutAccount).filter(
            PayoutAccount.status == "pending", PayoutAccount.replaced_at.is_(None))),
        "refunds": count(db.session.query(RefundInstruction).filter(RefundInstruction.status != "paid")),
    }


def _deposit_queue_count():
    """Auction deposits waiting for an operator: bank receipts and compensation to pay (bank returns are in the
    refund queue, counted there)."""
    queue = operator_queue()
    return sum(len(queue[key]) for key in ("to_confirm", "to_pay"))


@bp.get("/")
@operator_required
def console():
    counts = queue_counts()
    recent = db.session.query(AuditLog).order_by(AuditLog.id.desc()).limit(10).all()
    watched = _watched_deals_query().order_by(None).limit(20).all()
    return render_template("operator/console.html", counts=counts, recent=recent, watched=watched,
                           search_form=AccountSearchForm(request.args), label=stats.label, jobs=console_summary())


# --- accounts -------------------------------------------------------------------------------

@bp.get("/accounts")
@operator_required
def accounts():
    form = AccountSearchForm(request.args)
    users, orgs = kyc.find_accounts(form.q.data) if form.validate() else ([], [])
    return render_template("operator/accounts.html", form=form, users=users, orgs=orgs,
                           searched=bool((form.q.data or "").strip()))


@bp.get("/kyc")
@operator_required
def kyc_queue():
    return render_template("operator/kyc_queue.html", orgs=kyc.kyc_queue())


def _credit_form(subject_type, subject_id):
    form = CreditRecordForm(formdata=None)
    form.subject_type.data = subject_type
    form.subject_id.data = str(subject_id)
    return form


@bp.get("/organizations/<int:org_id>")
@operator_required
def organization(org_id, verify_form=None, credit_form=None):
    org = db.session.get(Organization, org_id)
    if org is None:
        raise NotFound(_("单位不存在"))
    listing_counts = dict(db.session.query(Listing.status, func.count(Listing.id))
                          .filter(Listing.organization_id == org.id).group_by(Listing.status).all())
    records = (db.session.query(CreditRecord).filter_by(organization_id=org.id)
               .order_by(CreditRecord.id.desc()).all())
    history = (db.session.query(AuditLog).filter_by(object_type="organization", object_id=org.id)
               .order_by(AuditLog.id.desc()).limit(50).all())
    uscc_ok, uscc_message = kyc.uscc_check(org)
    return render_template("operator/organization.html", org=org, listing_counts=listing_counts, records=records,
                           history=history, uscc_ok=uscc_ok, uscc_message=uscc_message,
                           verify_form=verify_form or VerifyForm(formdata=None), label=stats.label,
                           credit_form=credit_form or _credit_form("organization", org.id))


@bp.post("/organizations/<int:org_id>/verification")
@operator_required
def verify_organization(org_id):
    form = VerifyForm()

    def work():
        kyc.set_verified(current_user, org_id, form.decision.data == "verify", form.note.data)
        flash(_("已通过核验") if form.decision.data == "verify" else _("已取消核验"), "success")
        return redirect(url_for("operator.organization", org_id=org_id))

    return _in_form(form, work, lambda: organization(org_id, verify_form=form))


@bp.get("/organizations/<int:org_id>/licence")
@operator_required
def organization_licence(org_id):
    path, stored = kyc.licence_file(current_user, org_id)
    return send_file(path, mimetype=mimetype_of(stored), download_name=f"licence-{org_id}{path.suffix}",
                     max_age=0)


@bp.get("/users/<int:user_id>")
@operator_required
def user_detail(user_id, credit_form=None):
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("用户不存在"))
    records = db.session.query(CreditRecord).filter_by(user_id=user.id).order_by(CreditRecord.id.desc()).all()
    history = (db.session.query(AuditLog).filter(db.or_(AuditLog.actor_id == user.id, db.and_(
        AuditLog.object_type == "user", AuditLog.object_id == user.id))).order_by(AuditLog.id.desc()).limit(50).all())
    return render_template("operator/user.html", user=user, records=records, history=history,
                           credit_form=credit_form or _credit_form("user", user.id))


# --- credit records -------------------------------------------------------------------------

@bp.post("/credit")
@operator_required
def record_credit():
    form = CreditRecordForm()
    subject_type = form.subject_type.data
    model = {"organization": Organization, "user": User}.get(subject_type)
    try:
        subject = db.session.get(model, parse_int(form.subject_id.data, minimum=1, maximum=MAX_ID)) if model else None
    except (TypeError, ValueError):  # NumberError is a ValueError
        subject = None
    if subject is None:
        raise NotFound(_("记录对象不存在"))

    def work():
        rec = credit.record_violation(current_user, subject, form.violation.data, form.level.data,
                                      form.description.data, evidence=form.evidence.data, deal_id=form.deal_id.data)
        flash(_("信用记录 #%(id)s 已保存，当事方已收到通知", id=rec.id), "success")
        return redirect(url_for("operator.credit_record", record_id=rec.id))

    return _in_form(form, work, lambda: organization(subject.id, credit_form=form) if subject_type == "organization"
                    else user_detail(subject.id, credit_form=form))


def _in_form(form, work, page, refusals=ValidationError):
    """A form's act at the commit boundary (``webutil.act``): bad input, or a refusal of the kinds ``refusals``
    names, shows ``page()`` again (422) with each reason in the form; done → ``work``'s answer."""
    if not form.validate_on_submit():
        return page(), 422

    def refused(exc):
        if not isinstance(exc, refusals):
            raise exc
        show_in_form(form, exc)
        return page(), 422

    return act(work, refused, show=None)


@bp.get("/credit")
@operator_required
def credit_records():
    query = db.session.query(CreditRecord)
    appeals_only = request.args.get("appeal") == "open"
    if appeals_only:
        query = query.filter(CreditRecord.appeal_status == "open")
    page = query.order_by(CreditRecord.id.desc()).paginate(
        page=query_int(request.args, "page", 1, minimum=1, maximum=MAX_PAGE), per_page=30, error_out=False)
    return render_template("operator/credit_records.html", page=page, appeals_only=appeals_only)


@bp.get("/credit/<int:record_id>")
@operator_required
def credit_record(record_id, decision_form=None):
    rec = credit.get_visible_record(current_user, record_id)
    return render_template("operator/credit_record.html", rec=rec,
                           decision_form=decision_form or AppealDecisionForm(formdata=None))


@bp.post("/credit/<int:record_id>/appeal")
@operator_required
def decide_appeal(record_id):
    form = AppealDecisionForm()

    def work():
        credit.decide_appeal(current_user, record_id, form.decision.data, form.reply.data)
        flash(_("申诉已处理"), "success")
        return redirect(url_for("operator.credit_record", record_id=record_id))

    return _in_form(form, work, lambda: credit_record(record_id, decision_form=form), refusals=DomainError)


@bp.get("/credit/<int:record_id>/evidence")
@operator_required
def credit_evidence(record_id):
    path, stored = credit.evidence_file(current_user, record_id)
    return send_file(path, mimetype=mimetype_of(stored), download_name=f"evidence-{record_id}{path.suffix}",
                     max_age=0)


# --- audit log ------------------------------------------------------------------------------

@bp.get("/audit")
@operator_required
def audit_log():
    query = db.session.query(AuditLog)
    action = (request.args.get("action") or "").strip()
    object_type = (request.args.get("object_type") or "").strip()
    actor = query_int(request.args, "actor", minimum=1, maximum=MAX_ID)
    if action:
        query = query.filter(AuditLog.action == action)
    if object_type:
        query = query.filter(AuditLog.object_type == object_type)
    if actor:
        query = query.filter(AuditLog.actor_id == actor)
    page = query.order_by(AuditLog.id.desc()).paginate(
        page=query_int(request.args, "page", 1, minimum=1, maximum=MAX_PAGE), per_page=50, error_out=False)
    actions = [a for (a,) in db.session.query(AuditLog.action).distinct().order_by(AuditLog.action)]
    types = [t for (t,) in db.session.query(AuditLog.object_type).distinct().order_by(AuditLog.object_type)]
    return render_template("operator/audit.html", page=page, actions=actions, types=types,
                           filters={"action": action, "object_type": object_type, "actor": actor})


# --- statistics (the fuller view) -----------------------------------------------------------

@bp.get("/stats")
@operator_required
def market_stats():
    data = stats.operator_stats()
    return render_template("operator/stats.html", data=data, charts=stats.charts(data, operator=True),
                           label=stats.label)


@bp.get("/stats.csv")
@operator_required
def market_stats_csv():
    return stats.csv_response(stats.operator_stats(), "ipmart-stats-operator.csv")

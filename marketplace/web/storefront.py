"""Storefront pages that span packages: home, statistics, language switch, notifications."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, session, url_for
from flask_babel import gettext
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from finance.lending import stats as finance_stats
from listings.classifications import IPC_SECTIONS, nice_classes
from listings.models import Listing, with_rights

from ..kernel import credit, kyc, notification_centre
from ..kernel.credit import ensure_can
from ..kernel.errors import NotFound, PermissionDenied, ValidationError
from ..kernel.extensions import db
from ..kernel.numbers import MAX_PAGE, query_int
from ..kernel.pagecache import cached_page
from ..kernel.uploads import mimetype_of
from ..kernel.viewutil import safe_next
from ..kernel.webutil import act, committed, show_error
from . import stats as market_stats
from .operator_forms import AppealForm, LicenceForm

bp = Blueprint("storefront", __name__)


@bp.get("/")
@cached_page()
def home():
    """Newest published listings, a featured row of grade-A listings, browsing by IPC section and Nice class."""
    def published(limit, *conditions):
        query = (select(Listing.id).where(Listing.status == "published", *conditions)
                 .order_by(Listing.published_at.desc(), Listing.id.desc()).limit(limit))
        return list(db.session.scalars(query))

    # Three short id queries, then every card's data in one pass (a fixed number of statements: issue 19)
    sections = {"newest": published(12), "featured": published(8, Listing.grade == "A"),
                "auctions": published(4, Listing.price_mode == "auction")}
    wanted = {i for ids in sections.values() for i in ids}
    loaded = {row.id: row for row in db.session.scalars(
        select(Listing).where(Listing.id.in_(wanted)).options(
            with_rights(), selectinload(Listing.organization), selectinload(Listing.auction)))} if wanted else {}
    newest, featured, ending = ([loaded[i] for i in ids if i in loaded] for ids in sections.values())
    return render_template("home.html", newest=newest, featured=featured, auctions=ending,
                           ipc_sections=IPC_SECTIONS, nice=nice_classes())


@bp.get("/lang/<code>")
@committed()
def set_language(code):
    if code in current_app.config["LANGUAGES"]:
        session["locale"] = code
        if current_user.is_authenticated:
            current_user.locale = code
    return redirect(safe_next(request.args.get("next")) or url_for("storefront.home"))


# --- notification centre (see marketplace.kernel.notification_centre) ------------------------------

@bp.get("/notifications")
@login_required
def notifications():
    unread_only = request.args.get("unread") == "1"
    page = notification_centre.page_for(current_user, unread_only=unread_only,
                                        page=query_int(request.args, "page", 1, minimum=1, maximum=MAX_PAGE))
    return render_template("storefront/notifications.html", page=page, unread_only=unread_only,
                           kind_labels=notification_centre.KIND_LABELS, safe_link=safe_next)


@bp.post("/notifications/<int:notification_id>/read")
@login_required
@committed()
def notification_read(notification_id):
    row = notification_centre.mark_read(current_user, notification_id)
    if request.form.get("follow") == "1" and safe_next(row.link):
        return redirect(safe_next(row.link))
    return redirect(safe_next(request.form.get("next")) or url_for("storefront.notifications"))


@bp.post("/notifications/read-all")
@login_required
@committed()
def notifications_read_all():
    changed = notification_centre.mark_all_read(current_user)
    flash(_("已将 %(n)s 条消息标为已读", n=changed), "success")
    return redirect(url_for("storefront.notifications"))


# --- market statistics (see marketplace.web.stats) ----------------------------------------------

@bp.get("/stats")
@cached_page()
def stats():
    data = market_stats.public_stats()
    return render_template("storefront/stats.html", data=data, charts=market_stats.charts(data),
                           label=market_stats.label, finance=finance_stats())


@bp.get("/stats.csv")
def stats_csv():
    return market_stats.csv_response(market_stats.public_stats(), "ipmart-stats.csv")


# --- account pages: business licence, credit records and appeals ----------------------------

@bp.route("/account/organization", methods=["GET", "POST"])
@login_required
def account_organization():
    org = current_user.organization
    form = LicenceForm()

    def page(status=200):
        blocked = None
        if org is not None:
            try:
                ensure_can(current_user, "verify")
            except PermissionDenied as exc:
                blocked = exc.message
        return render_template("account/organization.html", org=org, form=form, blocked=blocked,
                               uscc=kyc.uscc_check(org) if org is not None else None), status

    def refused(exc):  # a bad file: beside the field; not allowed: above the page; anything else: its own page
        if isinstance(exc, ValidationError):
            form.licence.errors = list(exc.fields.values()) or [exc.message]
            return page(422)
        if not isinstance(exc, PermissionDenied):
            raise exc
        show_error(exc)
        return page(403)

    if org is not None and form.validate_on_submit():
        def upload():
            kyc.upload_licence(current_user, form.licence.data)
            return redirect(url_for("storefront.account_organization"))

        return act(upload, refused, show=None, done=_("营业执照已上传，运营人员核验后将显示“已核验”标识"))
    if request.method == "POST":
        return page(422 if org is not None else 403)
    return page()


@bp.get("/account/organization/licence")
@login_required
def account_licence():
    if current_user.organization_id is None:
        raise NotFound(gettext("文件不存在"))
    path, stored = kyc.licence_file(current_user, current_user.organization_id)
    return send_file(path, mimetype=mimetype_of(stored), download_name=f"licence{path.suffix}", max_age=0)


@bp.get("/account/credit")
@login_required
def account_credit(forms=None):
    records = credit.records_for(current_user)
    forms = forms or {}
    for rec in records:
        forms.setdefault(rec.id, AppealForm(formdata=None, prefix=f"r{rec.id}"))
    return render_template("account/credit.html", records=records, forms=forms,
                           current_level=current_user.effective_credit_level)


@bp.post("/account/credit/<int:record_id>/appeal")
@login_required
def account_credit_appeal(record_id):
    form = AppealForm(prefix=f"r{record_id}")
    credit.get_visible_record(current_user, record_id)  # 404 before anything else
    if not form.validate_on_submit():
        return account_credit(forms={record_id: form}), 422

    def appeal():
        credit.file_appeal(current_user, record_id, form.note.data)
        return redirect(url_for("storefront.account_credit"))

    def refused(exc):  # the note's reason beside it; any other above the credit page
        if "note" not in exc.fields:
            show_error(exc)
            return redirect(url_for("storefront.account_credit"), code=303)
        form.note.errors = list(form.note.errors) + [exc.fields["note"]]
        return account_credit(forms={record_id: form}), 422

    return act(appeal, refused, show=None, done=_("申诉已提交，运营人员处理后会通知您"))


@bp.get("/account/credit/<int:record_id>/evidence")
@login_required
def account_credit_evidence(record_id):
    path, stored = credit.evidence_file(current_user, record_id)
    return send_file(path, mimetype=mimetype_of(stored), download_name=f"evidence-{record_id}{path.suffix}",
                     max_age=0)

"""HTML pages of the demand side (thin: parse, call a service, render). Forms carry CSRF tokens; a refusal is
shown on the page (the form again with the field's error, or a message) and changes nothing."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from listings.classifications import nice_classes
from listings.models import DEAL_TYPES, Listing
from marketplace.kernel import labels
from marketplace.kernel.errors import ValidationError
from marketplace.kernel.extensions import db, limiter
from marketplace.kernel.money import display_yuan
from marketplace.kernel.numbers import NumberError, parse_int
from marketplace.kernel.regions import REGIONS
from marketplace.kernel.timeutil import local
from marketplace.kernel.webutil import act, act_then_redirect, committed, show_error

from . import answers, dataroom, matching, wanted
from .api import _file_response
from .models import FILE_CATEGORIES

bp = Blueprint("demand", __name__)

KIND_LABELS = labels.lazy(labels.KIND)
DEAL_TYPE_LABELS = labels.lazy(labels.DEAL_TYPE)
STATUS_LABELS = {"pending_review": _l("待审核"), "published": _l("已发布"), "rejected": _l("未通过"),
                 "closed": _l("已关闭")}
ACCESS_LABELS = {"requested": _l("已签署，待授权"), "granted": _l("已授权"), "revoked": _l("已撤销")}
CATEGORY_LABELS = {"claims": _l("权利要求书"), "file_history": _l("审查档案"), "test_report": _l("检测报告"),
                   "licence": _l("许可合同"), "other": _l("其他")}


def _limit():
    return current_app.config.get("RATELIMIT_WANTED") or "20/hour"


def _user_key():
    return f"user:{current_user.id}" if current_user.is_authenticated else request.remote_addr


def _labels():
    return {"kind_labels": KIND_LABELS, "deal_type_labels": DEAL_TYPE_LABELS, "status_labels": STATUS_LABELS,
            "regions": REGIONS, "deal_types": DEAL_TYPES, "nice": nice_classes(), "access_labels": ACCESS_LABELS,
            "category_labels": CATEGORY_LABELS, "categories": FILE_CATEGORIES,
            "buyer_label": lambda ad: wanted.buyer_label(ad, current_user), "is_open": wanted.is_open}


# --- wanted ads ---------------------------------------------------------------------------------

@bp.get("/wanted")
def browse():
    try:
        f = wanted.parse_browse(request.args)
    except ValidationError as exc:
        show_error(exc)
        f = wanted.parse_browse({})
    found = wanted.browse(f)
    pages = max(1, -(-found["total"] // wanted.PER_PAGE))

    def facet_url(key, value):
        args = {k: v for k, v in f.items() if v not in (None, "") and k != "page"}
        args[key] = value
        return url_for("demand.browse", **args)

    return render_template("demand/browse.html", f=f, found=found, pages=pages, locale=str(get_locale()),
                           facet_url=facet_url, **_labels())


@bp.route("/wanted/new", methods=["GET", "POST"])
@login_required
@limiter.limit(_limit, key_func=_user_key, methods=["POST"])
def new():
    if not current_user.has_role("buyer"):
        abort(403)
    errors, data = {}, {}
    if request.method == "POST":
        data = request.form.to_dict()
        data["deal_types"] = request.form.getlist("deal_types")
        data["nice_classes"] = request.form.get("nice_classes") or ""  # "9, 42": the service splits it
        for key in ("budget_min", "budget_max"):  # the form takes yuan; the service fen
            raw = (data.get(key) or "").strip()
            data[key] = raw + "00" if raw.isascii() and raw.isdigit() and len(raw) <= 11 else raw

        def refused(exc):
            errors = exc.fields if isinstance(exc, ValidationError) else {}
            return render_template("demand/form.html", errors=errors, data=data, **_labels()), 422 if errors else 200

        return act(lambda: redirect(url_for("demand.detail", wanted_id=wanted.post(current_user, data).id)),
                   refused, show="message", done=_("求购已提交，运营人员审核后公开。"))
    return render_template("demand/form.html", errors=errors, data=data, **_labels())


@bp.get("/wanted/<int:wanted_id>")
def detail(wanted_id):
    user = current_user if current_user.is_authenticated else None
    ad = wanted.visible(wanted_id, user)  # NotFound: the 404 page
    owner = user is not None and (wanted.is_owner(ad, user) or user.is_operator)
    matches = matching.matches_for_ad(ad) if owner else []
    own_listings = []
    if user is not None and user.has_role("seller") and not wanted.is_owner(ad, user):
        side = Listing.seller_id == user.id
        if user.organization_id:
            side = side | (Listing.organization_id == user.organization_id)
        own_listings = db.session.query(Listing).filter(side, Listing.status == "published",
                                                        Listing.kind == ad.kind).order_by(Listing.id.desc()).limit(100).all()
    threads = answers.answers_for(ad, user)
    return render_template("demand/detail.html", ad=ad, owner=owner, matches=matches, own_listings=own_listings,
                           threads=threads, **_labels())


def _to_ad(wanted_id):
    return redirect(url_for("demand.detail", wanted_id=wanted_id))


@bp.post("/wanted/<int:wanted_id>/close")
@login_required
@committed(lambda exc, wanted_id: _to_ad(wanted_id))
def close(wanted_id):
    wanted.close(wanted_id, current_user)
    flash(_("求购已关闭"), "success")
    return _to_ad(wanted_id)


@bp.post("/wanted/<int:wanted_id>/answer")
@login_required
@limiter.limit(_limit, key_func=_user_key)
@committed(lambda exc, wanted_id: _to_ad(wanted_id))
def answer(wanted_id):
    try:
        listing_id = parse_int(request.form.get("listing_id") or "", minimum=1, maximum=2**31 - 1, max_digits=10)
    except NumberError:
        raise ValidationError(_("请选择挂牌"), {"listing_id": _("必填")}) from None
    row = answers.answer(wanted_id, current_user, listing_id, request.form.get("message"))
    flash(_("已回应求购，买方会收到通知。"), "success")
    return redirect(url_for("demand.thread", answer_id=row.id))


@bp.get("/wanted/answers/<int:answer_id>")
@login_required
def thread(answer_id):
    row = answers.thread(answer_id, current_user)  # NotFound: the 404 page
    return render_template("demand/thread.html", row=row, party=answers.is_party(row, current_user), **_labels())


def _to_answer(answer_id):
    return redirect(url_for("demand.thread", answer_id=answer_id))


@bp.post("/wanted/answers/<int:answer_id>/message")
@login_required
@limiter.limit(_limit, key_func=_user_key)
@committed(lambda exc, answer_id: _to_answer(answer_id))
def message(answer_id):
    answers.post_message(answer_id, current_user, request.form.get("message"))
    return _to_answer(answer_id)


@bp.get("/wanted/mine")
@login_required
def mine():
    ads = wanted.mine(current_user)
    seller_matches = matching.matches_for_seller(current_user) if current_user.has_role("seller") else []
    return render_template("demand/mine.html", ads=ads, seller_matches=seller_matches, **_labels())


@bp.get("/operator/wanted")
@login_required
def review_queue():
    if not current_user.is_operator:
        abort(403)
    return render_template("demand/review.html", ads=wanted.pending_review(), **_labels())


@bp.post("/operator/wanted/<int:wanted_id>/review")
@login_required
@committed(lambda exc, wanted_id: redirect(url_for("demand.review_queue")))
def review(wanted_id):
    if not current_user.is_operator:
        abort(403)
    wanted.review(wanted_id, current_user, request.form.get("decision"), request.form.get("reason") or "")
    flash(_("已审核"), "success")
    return redirect(url_for("demand.review_queue"))


# --- the data room ---------------------------------------------------------------------------------

def _ip():
    return (request.remote_addr or "")[:45]


@bp.get("/listings/<int:listing_id>/dataroom")
@login_required
def room(listing_id):
    listing = dataroom.visible_listing(listing_id, current_user)  # NotFound: the 404 page
    manage = dataroom.may_manage(listing, current_user)
    access = dataroom.access_of(listing, current_user)
    granted = access is not None and access.status == "granted" and listing.status in dataroom.MARKET
    show_files = manage or granted
    room_row = dataroom.room_of(listing)
    return render_template(
        "demand/dataroom.html", listing=listing, manage=manage, access=access, granted=granted,
        nda_text=dataroom.nda_text(listing), nda_sha=dataroom.sha256_of(dataroom.nda_text(listing)),
        files=dataroom.files_of(listing) if show_files else [], room=room_row,
        accesses=dataroom.accesses_of(listing) if manage or current_user.is_operator else [],
        log=dataroom.log_of(listing, 200) if manage or current_user.is_operator else [],
        errors=request.args.get("e"), **_labels())


def _act(listing_id, fn, success):
    return act_then_redirect(fn, success, url_for("demand.room", listing_id=listing_id))


@bp.post("/listings/<int:listing_id>/dataroom/nda")
@login_required
def nda(listing_id):
    return _act(listing_id, lambda: dataroom.edit_nda(listing_id, current_user, request.form.get("nda_text"),
                                                      request.form.get("operator_may_grant") == "1"),
                _("保密协议已保存"))


@bp.post("/listings/<int:listing_id>/dataroom/files")
@login_required
def upload(listing_id):
    return _act(listing_id, lambda: dataroom.upload(listing_id, current_user, request.files.get("document"),
                                                    request.form.get("category") or "other"), _("文件已上传"))


@bp.post("/dataroom/files/<int:file_id>/remove")
@login_required
def remove(file_id):
    from .models import DataRoomFile

    row = db.session.get(DataRoomFile, file_id)
    if row is None:
        abort(404)
    return _act(row.listing_id, lambda: dataroom.remove_file(file_id, current_user), _("文件已移除"))


@bp.post("/listings/<int:listing_id>/dataroom/request")
@login_required
@limiter.limit(_limit, key_func=_user_key)
def request_access(listing_id):
    return _act(listing_id, lambda: dataroom.request_access(listing_id, current_user, request.form.get("password"),
                                                            _ip()), _("已签署保密协议，等待卖方授权"))


@bp.post("/dataroom/access/<int:access_id>/<any(grant, revoke):action>")
@login_required
def access_action(access_id, action):
    from .models import DataRoomAccess

    row = db.session.get(DataRoomAccess, access_id)
    if row is None:
        abort(404)
    fn = dataroom.grant if action == "grant" else dataroom.revoke
    return _act(row.listing_id, lambda: fn(access_id, current_user),
                _("已授权查阅") if action == "grant" else _("已撤销查阅权限"))


@bp.get("/dataroom/files/<int:file_id>")
@login_required
@committed()
def download(file_id):
    row, body = dataroom.download(file_id, current_user, _ip())  # a refusal is its page: 404 or 403
    return _file_response(row, body)


@bp.app_template_filter("budget")
def budget(ad):
    if ad.budget_min is None and ad.budget_max is None:
        return _("面议")
    low = display_yuan(ad.budget_min) if ad.budget_min is not None else ""
    high = display_yuan(ad.budget_max) if ad.budget_max is not None else ""
    return f"{low} – {high}".strip(" –")


def expiry_date(ad):
    return local(ad.expires_at).date() if ad.expires_at else None



"""HTML pages of `listings` (thin: parse, call a service, render).

Seller pages: the listing wizard (new/edit with preview), my listings, submit,
withdraw, reopen, relist (an expired listing copied into a new draft), bundle similar
marks, CSV import. Operator: the review queue.
Public: the listing page and the trademark image.
"""
import re

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import TextAreaField
from wtforms.validators import Length

from marketplace.kernel.errors import PermissionDenied, ValidationError
from marketplace.kernel.money import display_yuan, parse_yuan
from marketplace.kernel.numbers import MAX_ID, NumberError, parse_int
from marketplace.kernel.pagecache import cached_page, limit_lifetime
from marketplace.kernel.regions import REGIONS
from marketplace.kernel.timeutil import local, parse_iso, utcnow
from marketplace.kernel.uploads import mimetype_of, send_upload, upload_path
from marketplace.kernel.webutil import act, act_then_redirect, refusal_text

from . import classifications, facts, importer, register, service
from .models import DEAL_TYPES, for_listing_page
from .vocab import MAX_DESCRIPTION

bp = Blueprint("listings", __name__)
facts.register(bp)  # right_state, fee_state, price_view, countdown (the spec sheet, issue 17)

PATENT_FIELDS = ("application_number", "patent_type", "title", "abstract", "ipc_codes", "locarno_class", "filing_date",
                 "grant_date", "claims_count", "legal_status", "pledged", "exclusive_license_until")
TRADEMARK_FIELDS = ("registration_number", "mark_text", "nice_classes", "similar_groups", "goods",
                    "registration_date", "status", "exclusive_license_until")
MAX_FORM_RIGHTS = 20


class CsrfForm(FlaskForm):
    """A form with nothing but its CSRF token (the wizard's fields are drawn by hand)."""


class ReviewForm(FlaskForm):
    reason = TextAreaField(validators=[Length(max=2000)])


# --- template helpers (app-wide, so other areas' templates can use the card macro) ---------------

def _locale():
    return str(get_locale() or "zh_CN")


@bp.app_template_filter("listing_status")
def listing_status(status):
    return _(service.STATUS_LABELS.get(status, status))


@bp.app_template_filter("deal_type")
def deal_type_label(code):
    return _(service.DEAL_TYPE_LABELS.get(code, code))


@bp.app_template_filter("price_mode")
def price_mode_label(code):
    return _(service.PRICE_MODE_LABELS.get(code, code))


@bp.app_template_filter("patent_type")
def patent_type_label(code):
    return _(service.PATENT_TYPE_LABELS.get(code, code or ""))


@bp.app_template_filter("legal_status")
def legal_status_label(code):
    return _(service.LEGAL_STATUSES.get(code, code or ""))


@bp.app_template_filter("tm_status")
def tm_status_label(code):
    return _(service.TM_STATUSES.get(code, code or ""))


@bp.app_template_filter("ipc_label")
def ipc_label(code):
    return classifications.ipc_label(code, _locale())


@bp.app_template_filter("nice_label")
def nice_label(number):
    return classifications.nice_label(number, _locale())


@bp.app_template_filter("similar_group_label")
def similar_group_label(code):
    return classifications.similar_group_label(code)


@bp.app_template_filter("locarno_label")
def locarno_label(code):
    return classifications.locarno_label(code, _locale())


@bp.app_template_filter("markdown")
def markdown_filter(text):
    return Markup(service.render_markdown(text))  # nh3-sanitised


@bp.app_template_filter("excerpt")
def excerpt(text, limit=90):
    return service.plain_text(text, limit)


@bp.app_template_global("listing_url")
def listing_url(listing, **kwargs):
    slug = re.sub(r"[^a-z0-9]+", "-", (listing.title or "").lower()).strip("-")[:60]
    if slug and re.search(r"[a-z]{3}", slug):
        return url_for("listings.detail_slug", listing_id=listing.id, slug=slug, **kwargs)
    return url_for("listings.detail", listing_id=listing.id, **kwargs)


@bp.app_template_global("listing_price")
def listing_price(listing):
    """The price as shown: ¥…/…万, 面议 for negotiable without a price, the current bid or start price of an auction."""
    if listing.price_mode == "auction" and listing.auction is not None:
        auction = listing.auction
        if auction.current_price:
            return _("当前价 %(price)s", price=display_yuan(auction.current_price, listing.currency))
        return _("起拍价 %(price)s", price=display_yuan(auction.start_price, listing.currency))
    if listing.price is None:
        return _("面议")
    return display_yuan(listing.price, listing.currency)  # 万 in Chinese, ¥220,000 in English


@bp.app_template_global("remaining_term")
def remaining_term(right):
    """"剩余 12 年 3 个月" (or 已届满) from the right's end of term."""
    ends = service.right_expiry(right)
    if ends is None:
        return ""
    return facts.term_left(ends, local(utcnow()).date())


@bp.app_template_global("licence_in_force")
def licence_in_force(right):
    return bool(right.exclusive_license_until and right.exclusive_license_until > local(utcnow()).date())


@bp.app_template_global("right_expiry")
def right_expiry(right):
    return service.right_expiry(right)


# --- public -------------------------------------------------------------------------------

def _viewer():
    return current_user if current_user.is_authenticated else None


@bp.get("/listings/<int:listing_id>")
@cached_page()
def detail(listing_id):
    listing = service.get_visible(_viewer(), listing_id, options=for_listing_page())
    viewer = _viewer()
    is_owner = service.is_owner(viewer, listing)
    similar = service.similar_marks(listing) if is_owner and listing.status in service.EDITABLE_STATUSES else []
    review_form = ReviewForm() if viewer is not None and viewer.is_operator else None
    relisted_as = service.relisted_as(listing) if is_owner and listing.status == "expired" else None
    if listing.auction is not None and listing.auction.closed_at is None:
        limit_lifetime(1)  # the page shows the time left
    # the owner's buttons need a CSRF token; an anonymous page has none, so it can be cached (pagecache)
    return render_template("listings/detail.html", listing=listing, is_owner=is_owner, similar=similar,
                           review_form=review_form, csrf_form=CsrfForm() if viewer is not None else None,
                           relisted_as=relisted_as,
                           warnings=service.warnings_for(listing) if is_owner else [])


@bp.get("/listings/<int:listing_id>-<slug>")
def detail_slug(listing_id, slug):
    return detail(listing_id)


@bp.get("/listings/<int:listing_id>/image")
def image(listing_id):
    listing = service.get_visible(_viewer(), listing_id)
    if not listing.image:
        abort(404)
    path = upload_path(listing.image, area="images")
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype=mimetype_of(listing.image), max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/listings/<int:listing_id>/pledge-consent")
@login_required
def pledge_consent(listing_id):
    return _listing_document(listing_id, "pledge_consent")


@bp.get("/listings/<int:listing_id>/documents/<any(authorization_doc, co_owner_consent, supporting_doc):field>")
@login_required
def listing_document(listing_id, field):
    return _listing_document(listing_id, field)


def _listing_document(listing_id, field):
    """A document the rule book asked for (pledgee's consent, holders' 委托书, co-owners' consent): for the
    listing's organisation and operators (who check it at review), as a download."""
    listing = service.get_visible(current_user, listing_id)
    stored = getattr(listing, field)
    if not (service.is_owner(current_user, listing) or current_user.is_operator) or not stored:
        abort(404)
    return send_upload(stored, f"{field.replace('_', '-')}-{listing.id}")


@bp.post("/listings/<int:listing_id>/requested-document")
@login_required
def requested_document(listing_id):
    """The seller uploads the document the rejection asked for (then submits the listing again)."""
    back = url_for("listings.detail", listing_id=listing_id)

    def work():
        listing = service.upload_requested_document(current_user, listing_id, request.files.get("document"))
        flash(_("已上传%(doc)s，请确认挂牌信息后提交审核", doc=_(service.REQUESTABLE_DOCUMENTS[listing.requested_document])),
              "success")
        return redirect(back)

    def refused(exc):
        if exc.status != 422:
            return redirect(back)
        response = current_app.make_response(detail(listing_id))  # the page again, as a 422 (a bad file changes nothing)
        response.status_code = 422
        return response

    return act(work, refused, error_page=(403, 404))


# --- seller: my listings ------------------------------------------------------------------------

def _require_seller_page():
    if not current_user.has_role("seller"):
        raise PermissionDenied(_("只有卖家账户可以管理挂牌"))


@bp.get("/my/listings")
@login_required
def my_listings():
    _require_seller_page()
    status = request.args.get("status")
    if status not in service.STATUS_LABELS:
        status = None
    rows = service.listings_of(current_user, status)
    return render_template("listings/mine.html", listings=rows, status=status, csrf_form=CsrfForm(),
                           statuses=service.STATUS_LABELS)


def _act(listing_id, fn, message=None, done=None):
    """Run a lifecycle act from a button at the commit boundary. On success flash ``message`` and go back, or
    let ``done(result)`` answer instead; bad input goes to the edit page, another refusal back."""
    back = (request.form.get("back") == "detail" and url_for("listings.detail", listing_id=listing_id)
            or url_for("listings.my_listings"))

    def work():
        result = fn(current_user, listing_id)
        return done(result) if done is not None else redirect(back)

    def refused(exc):
        if isinstance(exc, ValidationError):
            return redirect(url_for("listings.edit", listing_id=listing_id))
        return redirect(back)

    return act(work, refused, done=message)


@bp.post("/listings/<int:listing_id>/submit")
@login_required
def submit(listing_id):
    return _act(listing_id, service.submit_listing, _("已提交审核，运营人员审核通过后即发布"))


@bp.post("/listings/<int:listing_id>/withdraw")
@login_required
def withdraw(listing_id):
    return _act(listing_id, service.withdraw_listing, _("挂牌已撤回"))


@bp.post("/listings/<int:listing_id>/reopen")
@login_required
def reopen(listing_id):
    return _act(listing_id, service.reopen_listing, _("挂牌已恢复为草稿，可修改后重新提交"))


@bp.post("/listings/<int:listing_id>/relist")
@login_required
def relist(listing_id):
    """An expired listing → a new draft (the copy opens in the wizard); the expired one stays."""
    def opened(result):
        draft, _warnings = result  # the edit page shows the warnings
        flash(_("已将挂牌 #%(old)s 复制为新的草稿 #%(new)s，原挂牌保留为已过期。请检查后提交审核。",
                old=listing_id, new=draft.id), "success")
        if draft.auction is not None:
            flash(_("拍卖结束时间已默认设为 %(when)s（%(days)s 天后），请确认或修改后再提交。",
                    when=local(draft.auction.ends_at).strftime("%Y-%m-%d %H:%M"), days=service.RELIST_AUCTION_DAYS),
                  "warning")
        return redirect(url_for("listings.edit", listing_id=draft.id, relisted_from=listing_id))

    return _act(listing_id, service.relist_listing, done=opened)


@bp.post("/listings/<int:listing_id>/bundle")
@login_required
def bundle(listing_id):
    ids = [i for i in (_form_id(raw) for raw in request.form.getlist("bundle")) if i is not None]
    if not ids:
        flash(_("请选择要合并的挂牌"), "error")
        return redirect(url_for("listings.edit", listing_id=listing_id))
    return act_then_redirect(lambda: service.bundle_similar_marks(current_user, listing_id, ids),
                             _("已将近似商标合并到本挂牌，原挂牌已撤回"), url_for("listings.edit", listing_id=listing_id))


# --- seller: the wizard ---------------------------------------------------------------------

def _form_id(raw):
    """An id from a form field, or None (bounded: "²" passed ``isdigit`` and then failed ``int``, a 500)."""
    try:
        return parse_int(raw, minimum=1, maximum=MAX_ID)
    except NumberError:
        return None


def _right_count(raw):
    """How many right rows the wizard shows: 1..MAX_FORM_RIGHTS, anything unreadable is 1."""
    try:
        return min(parse_int(raw, minimum=1), MAX_FORM_RIGHTS)
    except NumberError:
        return 1


def _yuan(value, key, errors):
    text = (value or "").strip()
    if not text:
        return None
    try:
        fen = parse_yuan(text)
    except ValueError as exc:
        errors[key] = str(exc)  # one reason, already translated ("不是有效的金额", "金额最多两位小数" …)
        return None
    if fen <= 0:
        errors[key] = _("金额须大于 0")
        return None
    return fen


def _form_rows(form, kind):
    """The right rows of the form, skipping blank ones: [(form_index, {field: text})]."""
    count = _right_count(form.get("right_count"))
    names = PATENT_FIELDS if kind == "patent" else TRADEMARK_FIELDS
    rows = []
    for i in range(count):
        row = {name: form.get(f"rights-{i}-{name}", "") for name in names}
        if kind == "patent":
            row["pledged"] = form.get(f"rights-{i}-pledged") == "on"
        if any(v for k, v in row.items() if k not in ("patent_type", "legal_status", "status", "pledged")):
            rows.append((i, row))
    return rows


def form_to_input(form, kind):
    """The wizard's fields → (API input, {form field: error} for values the form itself cannot read, row map)."""
    errors = {}
    data = {
        "kind": kind, "title": form.get("title", ""), "description": form.get("description", ""),
        "deal_types": form.getlist("deal_types"), "price_mode": form.get("price_mode", ""),
        "price": _yuan(form.get("price"), "price", errors),
        "offer_floor": _yuan(form.get("offer_floor"), "offer_floor", errors),
        # a price of its own per deal type (issue 17); a blank one costs ``price``
        "deal_prices": {d: _yuan(form.get(f"deal_prices-{d}"), f"deal_prices-{d}", errors)
                        for d in service.DEAL_TYPES if (form.get(f"deal_prices-{d}") or "").strip()} or None,
        "region": form.get("region") or None,
        "license_territory": form.get("license_territory", ""), "license_field": form.get("license_field", ""),
        "license_years": form.get("license_years") or None,
        "license_cap": form.get("license_cap") or None,
        "acts_for_holders": bool(form.get("acts_for_holders")),
    }
    if data["price_mode"] == "auction":
        ends_text = form.get("auction-ends_at", "").strip()
        ends = None
        if ends_text:
            try:
                ends = parse_iso(ends_text)  # datetime-local: taken as Asia/Shanghai
            except ValueError:
                errors["auction-ends_at"] = _("时间格式不正确")
        data["auction"] = {"start_price": _yuan(form.get("auction-start_price"), "auction-start_price", errors),
                           "reserve_price": _yuan(form.get("auction-reserve_price"), "auction-reserve_price", errors),
                           "min_increment": _yuan(form.get("auction-min_increment"), "auction-min_increment", errors),
                           "deposit_amount": _yuan(form.get("auction-deposit_amount"), "auction-deposit_amount", errors),
                           "ends_at": ends or ("invalid" if ends_text else None)}
    rows = _form_rows(form, kind)
    data["rights"] = []
    for _index, row in rows:
        body = dict(row)
        if kind == "patent":
            body["patent_type"] = body["patent_type"] or None
            data["rights"].append({"patent": body})
        else:
            body["goods"] = [g.strip() for g in re.split(r"[\n;；]", body["goods"]) if g.strip()]
            data["rights"].append({"trademark": body})
    return data, errors, [i for i, _row in rows]


def form_key(field, row_map):
    """A service field name → the wizard's input name (``rights[0].patent.ipc_codes[1]`` → ``rights-3-ipc_codes``)."""
    match = re.match(r"rights\[(\d+)\](?:\.(?:patent|trademark)\.(\w+))?", field)
    if match:
        index = int(match.group(1))
        form_index = row_map[index] if index < len(row_map) else index
        return f"rights-{form_index}-{match.group(2)}" if match.group(2) else f"rights-{form_index}"
    return field.replace(".", "-").split("[")[0]


def _merge_errors(errors, fields, row_map):
    for field, reason in fields.items():
        key = form_key(field, row_map)
        errors[key] = f"{errors[key]}；{reason}" if key in errors else str(reason)


def _values_from_listing(listing):
    """Form values (text) for editing an existing listing."""
    values = {"title": listing.title, "description": listing.description or "",
              "deal_types": list(listing.deal_types or []), "price_mode": listing.price_mode,
              "price": _yuan_text(listing.price), "offer_floor": _yuan_text(listing.offer_floor),
              **{f"deal_prices-{d}": _yuan_text(p) for d, p in (listing.deal_prices or {}).items()},
              "region": listing.region, "license_territory": listing.license_territory or "",
              "license_field": listing.license_field or "", "license_years": listing.license_years or "",
              "license_cap": listing.license_cap or "", "acts_for_holders": listing.acts_for_holders,
              "right_count": max(len(listing.rights), 1)}
    if listing.auction is not None:
        a = listing.auction
        values.update({"auction-start_price": _yuan_text(a.start_price),
                       "auction-reserve_price": _yuan_text(a.reserve_price),
                       "auction-min_increment": _yuan_text(a.min_increment),
                       "auction-deposit_amount": _yuan_text(a.deposit_amount),
                       "auction-ends_at": local(a.ends_at).strftime("%Y-%m-%dT%H:%M")})
    for i, right in enumerate(listing.rights):
        body = service.right_input(right)[right.kind]
        for key, value in body.items():
            if isinstance(value, list):
                value = ("\n" if key == "goods" else ", ").join(str(v) for v in value)
            elif value is None:
                value = ""
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            values[f"rights-{i}-{key}"] = value
    return values


def _yuan_text(fen):
    if fen is None:
        return ""
    yuan, cents = divmod(int(fen), 100)
    return f"{yuan}" + (f".{cents:02d}" if cents else "")


def _form_values(form):
    values = {key: form.get(key) for key in form}
    values["deal_types"] = form.getlist("deal_types")
    for key in form:
        if key.endswith("-pledged"):
            values[key] = True
    return values


def _render_wizard(kind, values, errors, listing=None, preview=None, warnings=(), status=200, similar=(),
                   relisted_from=None, held=()):
    return render_template("listings/form.html", kind=kind, values=values, errors=errors, listing=listing,
                           preview=preview, warnings=warnings, similar=similar, csrf_form=CsrfForm(), held=held,
                           relisted_from=relisted_from, relist_days=service.RELIST_AUCTION_DAYS,
                           regions=REGIONS, deal_types=DEAL_TYPES, now_local=local(utcnow()),
                           right_count=_right_count(values.get("right_count"))), status


def _save_wizard(kind, listing=None):
    """POST of the wizard: preview, add a right row, or save (create/update + uploads)."""
    form = request.form
    values = _form_values(form)
    action = form.get("action", "save")
    if action == "add_right":
        values["right_count"] = min(_right_count(values.get("right_count")) + 1, MAX_FORM_RIGHTS)
        return _render_wizard(kind, values, {}, listing)
    if action == "preview":
        description = form.get("description") or ""
        if len(description) > MAX_DESCRIPTION:  # the same bound as saving: never render more than that
            return _render_wizard(kind, values, {"description": _("最多 %(n)s 个字符", n=MAX_DESCRIPTION)}, listing,
                                  status=422)
        return _render_wizard(kind, values, {}, listing, preview=service.render_markdown(description))
    data, errors, row_map = form_to_input(form, kind)
    was_new = listing is None
    saved = {}

    def save():
        if listing is None:
            listing_row, warnings = service.create_listing(current_user, data)
        else:
            listing_row, warnings = service.update_listing(current_user, listing.id, data)
        if request.files.get("image") and request.files["image"].filename:
            service.attach_image(current_user, listing_row.id, request.files["image"])
        for field in service.DOCUMENTS:  # pledgee's consent, holders' authorisation, co-owners' consent
            if request.files.get(field) and request.files[field].filename:
                service.attach_document(current_user, listing_row.id, field, request.files[field])
                warnings = service.warnings_for(listing_row)
        if errors:
            raise ValidationError(_("挂牌信息有误，请检查标注的字段"), {})
        saved.update(listing=listing_row, warnings=warnings)

    def refused(exc):  # the wizard again, each reason beside its field (the rule book names the field)
        if isinstance(exc, ValidationError):
            _merge_errors(errors, exc.fields, row_map)
            if not errors:
                errors["form"] = exc.message
            return _render_wizard(kind, values, errors, listing, status=422)
        held = exc.extra.get("rights", ()) if exc.code == "held_by_another" else ()  # links to claim each right
        shown = {"form": exc.message}
        _merge_errors(shown, exc.fields, row_map)
        return _render_wizard(kind, values, shown, listing, status=exc.status, held=held)

    refusal = act(save, refused, show=None, error_page=(403, 404))
    if refusal is not None:
        return refusal
    listing, warnings = saved["listing"], saved["warnings"]
    if not was_new and listing.status in ("published", "pending_review"):
        if listing.status == "published":
            flash(_("修改已生效：价格、描述和图样立即更新"), "success")
        else:
            flash(_("修改涉及权利或交易条件，挂牌已转为待审核，审核通过后重新上架"), "warning")
        return redirect(url_for("listings.detail", listing_id=listing.id))
    if form.get("then") == "submit":  # a second step: the draft stays saved when the submission is refused
        def not_submitted(exc):
            if not isinstance(exc, ValidationError):
                raise exc
            errors = {}
            _merge_errors(errors, exc.fields, list(range(len(listing.rights))))
            return _render_wizard(kind, _values_from_listing(listing), errors, listing,
                                  warnings=service.warnings_for(listing), similar=service.similar_marks(listing),
                                  status=422)

        def submit():
            service.submit_listing(current_user, listing.id)
            return redirect(url_for("listings.my_listings"))

        return act(submit, not_submitted, show=None, done=_("已保存并提交审核"))
    flash(_("草稿已保存"), "success")
    for warning in warnings:
        flash(warning["message"], "warning")
    return redirect(url_for("listings.edit", listing_id=listing.id))


@bp.route("/listings/new", methods=["GET", "POST"])
@login_required
def new():
    _require_seller_page()
    service.require_seller(current_user)  # also the credit check
    kind = request.args.get("kind", "patent")
    if kind not in ("patent", "trademark"):
        kind = "patent"
    if request.method == "POST":
        return _save_wizard(kind)
    values = {"price_mode": "fixed", "deal_types": ["assignment"], "right_count": 1,
              "region": current_user.organization.region if current_user.organization else "other"}
    return _render_wizard(kind, values, {})


@bp.route("/listings/<int:listing_id>/edit", methods=["GET", "POST"])
@login_required
def edit(listing_id):
    listing = service.get_owned(current_user, listing_id)
    if listing.status not in service.EDITABLE_STATUSES | {"published"}:
        flash(_("只有草稿、被驳回或在售的挂牌可以修改"), "error")
        return redirect(url_for("listings.detail", listing_id=listing.id))
    if request.method == "POST":
        return _save_wizard(listing.kind, listing)
    relisted_from = request.args.get("relisted_from", type=int)  # shown only (a note and a link), never looked up
    if relisted_from is not None and not 0 < relisted_from < 2**31:
        relisted_from = None
    return _render_wizard(listing.kind, _values_from_listing(listing), {}, listing,
                          warnings=service.warnings_for(listing), similar=service.similar_marks(listing),
                          relisted_from=relisted_from if listing.status == "draft" else None)


# --- seller: CSV import -----------------------------------------------------------------------

@bp.route("/listings/import", methods=["GET", "POST"])
@login_required
def import_csv():
    _require_seller_page()
    service.require_seller(current_user)
    form = CsrfForm()

    def page(report=None, error=None):
        return render_template("listings/import.html", form=form, report=report, error=error,
                               columns=importer.COLUMNS), (422 if error else 200)

    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return page(error=_("请选择 CSV 文件"))
        return act(lambda: page(importer.import_csv(upload.read(), current_user, max_rows=importer.MAX_UPLOAD_ROWS)),
                   lambda exc: page(error=refusal_text(exc)), show=None)
    return page()


@bp.get("/listings/import/template.csv")
@login_required
def import_template():
    return Response("\ufeff" + importer.template_csv(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=ipmart-import-template.csv"})


# --- operator: review ---------------------------------------------------------------------------

def _require_operator():
    if not current_user.is_operator:
        raise PermissionDenied(_("只有运营人员可以审核挂牌"))


@bp.get("/operator/listings/review")
@login_required
def review_queue():
    _require_operator()
    return render_template("listings/review_queue.html", listings=service.review_queue(), form=ReviewForm(),
                           party_holds=register.listing_party_holds)


@bp.post("/operator/listings/<int:listing_id>/review")
@login_required
def review(listing_id):
    _require_operator()
    form = ReviewForm()
    if not form.validate_on_submit():
        flash(_("页面已过期，请刷新后重试"), "error")
        return redirect(url_for("listings.review_queue"))
    decision = request.form.get("decision")
    back = url_for("listings.detail", listing_id=listing_id) if request.form.get("back") == "detail" else \
        url_for("listings.review_queue")

    def work():
        listing = service.review_listing(current_user, listing_id, decision, form.reason.data,
                                         requested_document=request.form.get("requested_document") or None)
        flash(_("已通过：%(title)s", title=listing.title) if decision == "approve"
              else _("已驳回：%(title)s", title=listing.title), "success")
        return redirect(back)

    return act(work, lambda exc: redirect(back))


@bp.app_context_processor
def _listing_context():
    return {"listing_image_max_mb": current_app.config.get("IMAGE_MAX_BYTES", 2 * 1024 * 1024) // (1024 * 1024),
            "requestable_documents": service.REQUESTABLE_DOCUMENTS}

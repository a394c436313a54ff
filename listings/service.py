"""Listing services: create and edit drafts, uploads, bundling, queries.

Plain functions that take the acting user and ids or plain values, raise typed
DomainErrors and flush, never commit: the HTML views, the JSON API and the CSV
import all call these, so each rule lives here once. The rest of the listing
rules live beside this module, one concern each, and are re-exported here for
the callers that import ``listings.service``:

- ``vocab``: labels and the fixed sets;
- ``validation``: the request shape to column values;
- ``lifecycle``: the transition table, who may see a listing, submit/review/withdraw/relist;
- ``rules``: the rule book over the rights register;
- ``markup``: Markdown to safe HTML.
"""
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.credit import ensure_can
from marketplace.errors import IllegalTransition, ValidationError
from marketplace.extensions import db
from marketplace.timeutil import local, utcnow
from marketplace.uploads import save_upload

from .lifecycle import *  # noqa: F401,F403
from .lifecycle import EDITABLE_STATUSES, _transition, get_owned, require_seller
from .markup import plain_text, render_markdown  # noqa: F401
from .models import Auction, Listing, Right
from .rules import *  # noqa: F401,F403
from .rules import _check_exclusive_licences, _warnings, similar_marks
from .validation import *  # noqa: F401,F403
from .validation import LISTING_KEYS, parse_listing
from .vocab import *  # noqa: F401,F403
from .vocab import STATUS_LABELS


def _apply(listing, cleaned):
    for key in ("kind", "title", "description", "deal_types", "price_mode", "price", "region", "offer_floor",
                "license_territory", "license_field", "license_years"):
        setattr(listing, key, cleaned[key])
    # Rights are replaced as a whole: the input is the full list.
    existing = {r.number: r for r in listing.rights}
    new_rights = []
    for values in cleaned["rights"]:
        right = existing.pop(values["number"], None) or Right()
        for column in ("kind", "number", "title", "abstract", "patent_type", "ipc_codes", "locarno_class",
                       "filing_date", "grant_date", "claims_count", "legal_status", "pledged", "family_countries",
                       "exclusive_license_until", "nice_classes", "similar_groups", "goods", "registration_date",
                       "tm_status", "disputes", "use_evidence"):
            setattr(right, column, values.get(column, _right_default(column)))
        right.position = values["position"]
        new_rights.append(right)
    listing.rights = new_rights
    if cleaned["auction"]:
        auction = listing.auction or Auction()
        for key, value in cleaned["auction"].items():
            setattr(auction, key, value)
        listing.auction = auction
    elif listing.auction is not None:
        listing.auction = None
    if listing.kind != "trademark":
        listing.image = None


def _refuse_offer_conflicts(cleaned, today):
    fields = {}
    _check_exclusive_licences(cleaned, fields, today)
    if fields:
        raise ValidationError(_("挂牌信息有误，请检查标注的字段"), fields)


def _right_default(column):
    return False if column == "pledged" else None


def create_listing(user, data, *, now=None):
    """Create a draft listing for ``user``'s organisation. Returns (listing, warnings)."""
    require_seller(user)
    now = now or utcnow()
    cleaned = parse_listing(data, now=now, default_region=user.organization.region or "other")
    _refuse_offer_conflicts(cleaned, local(now).date())
    listing = Listing(seller_id=user.id, organization_id=user.organization_id, status="draft", currency="CNY")
    _apply(listing, cleaned)
    db.session.add(listing)
    db.session.flush()
    return listing, _warnings(listing, local(now).date())


def listing_input(listing):
    """The listing as API input (the shape ``parse_listing`` takes): PATCH merges into this."""
    data = {key: getattr(listing, key) for key in ("kind", "title", "description", "deal_types", "price_mode",
                                                    "price", "region", "offer_floor", "license_territory",
                                                    "license_field", "license_years")}
    data["rights"] = [right_input(r) for r in listing.rights]
    if listing.auction is not None:
        a = listing.auction
        data["auction"] = {"start_price": a.start_price, "min_increment": a.min_increment,
                           "reserve_price": a.reserve_price, "ends_at": a.ends_at}
    return data


def right_input(right):
    if right.kind == "patent":
        return {"patent": {
            "application_number": right.number, "patent_type": right.patent_type, "title": right.title,
            "abstract": right.abstract, "ipc_codes": right.ipc_codes or [], "locarno_class": right.locarno_class,
            "filing_date": right.filing_date, "grant_date": right.grant_date, "claims_count": right.claims_count,
            "legal_status": right.legal_status, "pledged": right.pledged,
            "exclusive_license_until": right.exclusive_license_until,
            "family_countries": right.family_countries or []}}
    return {"trademark": {
        "registration_number": right.number, "mark_text": right.title, "nice_classes": right.nice_classes or [],
        "similar_groups": right.similar_groups or [], "goods": right.goods or [],
        "registration_date": right.registration_date, "status": right.tm_status,
        "exclusive_license_until": right.exclusive_license_until, "use_evidence": right.use_evidence,
        "disputes": right.disputes}}


def update_listing(user, listing_id, changes, *, now=None):
    """Change a draft or rejected listing (PATCH: only the keys given). Returns (listing, warnings)."""
    listing = get_owned(user, listing_id)
    ensure_can(user, "list")
    if listing.status not in EDITABLE_STATUSES:
        raise IllegalTransition(_("挂牌当前状态为“%(status)s”，只有草稿或被驳回的挂牌可以修改",
                                  status=_(STATUS_LABELS[listing.status])),
                                status=listing.status)
    if not isinstance(changes, dict):
        raise ValidationError(_("请求体必须是 JSON 对象"), {"body": "expected an object"})
    unknown = sorted(set(changes) - set(LISTING_KEYS))
    if unknown:
        raise ValidationError(_("含有不能修改的字段"), {k: _("未知或不可修改的字段") for k in unknown})
    if "kind" in changes and changes["kind"] != listing.kind and "rights" not in changes:
        raise ValidationError(_("更改类型须同时提供新的权利列表"), {"kind": _("更改类型须同时提供 rights")})
    now = now or utcnow()
    merged = listing_input(listing)
    merged.update(changes)
    if merged.get("price_mode") != "auction":
        merged.pop("auction", None)
    cleaned = parse_listing(merged, now=now, default_region=listing.region)
    _refuse_offer_conflicts(cleaned, local(now).date())
    _apply(listing, cleaned)
    db.session.flush()
    return listing, _warnings(listing, local(now).date())


# --- uploads and bundling -----------------------------------------------------------

def attach_pledge_consent(user, listing_id, file_storage):
    """Store the pledgee's consent (PDF, PNG or JPEG) for a pledged patent offered for assignment."""
    listing = get_owned(user, listing_id)
    if listing.status not in EDITABLE_STATUSES:
        raise IllegalTransition(_("只有草稿或被驳回的挂牌可以修改"), status=listing.status)
    stored, _kind, _size, _name = save_upload(file_storage, field="pledge_consent", area="docs")
    listing.pledge_consent = stored
    db.session.flush()
    return listing


def attach_image(user, listing_id, file_storage):
    """Store the trademark's image (PNG or JPEG, at most IMAGE_MAX_BYTES, 2 MB by default)."""
    listing = get_owned(user, listing_id)
    if listing.status not in EDITABLE_STATUSES:
        raise IllegalTransition(_("只有草稿或被驳回的挂牌可以修改"), status=listing.status)
    if listing.kind != "trademark":
        raise ValidationError(_("只有商标挂牌可以上传商标图样"), {"image": _("专利挂牌不需要商标图样")})
    stored, _kind, _size, _name = save_upload(file_storage, allowed=("png", "jpeg"), field="image", area="images",
                                              max_bytes=current_app.config.get("IMAGE_MAX_BYTES", 2 * 1024 * 1024))
    listing.image = stored
    db.session.flush()
    return listing


def bundle_similar_marks(user, listing_id, other_ids, *, now=None):
    """Carry the organisation's identical/similar marks into this assignment listing.

    The marks are copied into this listing and the listings they came from are
    withdrawn, since such marks may only be assigned together.
    """
    listing = get_owned(user, listing_id)
    if listing.status not in EDITABLE_STATUSES:
        raise IllegalTransition(_("只有草稿或被驳回的挂牌可以合并商标"), status=listing.status)
    offered = {other.id: other for other, _ in similar_marks(listing)}
    wanted = [int(i) for i in other_ids]
    missing = [i for i in wanted if i not in offered]
    if missing:
        raise ValidationError(_("只能合并本单位含近似商标的挂牌"), {"bundle": _("不可合并：%(ids)s", ids=", ".join(map(str, missing)))})
    numbers = {r.number for r in listing.rights}
    position = len(listing.rights)
    for other_id in wanted:
        other = offered[other_id]
        for right in other.rights:
            if right.number in numbers:
                continue
            copy = Right(**{c.key: getattr(right, c.key) for c in Right.__table__.columns
                            if c.key not in ("id", "listing_id", "position")})
            copy.position = position
            position += 1
            listing.rights.append(copy)
            numbers.add(right.number)
        if other.status != "withdrawn":
            _transition(other, "withdraw")
    db.session.flush()
    return listing, _warnings(listing, local(now or utcnow()).date())


def warnings_for(listing, now=None):
    return _warnings(listing, local(now or utcnow()).date())


# --- queries ----------------------------------------------------------------------

def listings_of(user, status=None):
    """The listings of the user's organisation, newest first."""
    query = select(Listing).where(Listing.organization_id == user.organization_id).order_by(Listing.id.desc())
    if status:
        query = query.where(Listing.status == status)
    return list(db.session.scalars(query))


def review_queue():
    return list(db.session.scalars(select(Listing).where(Listing.status == "pending_review")
                                   .order_by(Listing.submitted_at, Listing.id)))

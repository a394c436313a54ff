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

from marketplace.kernel import audit
from marketplace.kernel.credit import ensure_can
from marketplace.kernel.errors import Conflict, IllegalTransition, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import msg
from marketplace.kernel.notify import notify
from marketplace.kernel.timeutil import local, utcnow
from marketplace.kernel.uploads import save_upload

from . import published_edit, register, rules
from .lifecycle import *  # noqa: F401,F403
from .lifecycle import (
    EDITABLE_STATUSES,
    REQUESTABLE_DOCUMENTS,
    TRANSITIONS,
    _transition,
    get_owned,
    require_seller,
    void_open_offers,
)
from .markup import plain_text, render_markdown  # noqa: F401
from .models import Auction, Listing, ListingRight
from .rules import *  # noqa: F401,F403
from .rules import _warnings, similar_marks
from .validation import *  # noqa: F401,F403
from .validation import LISTING_KEYS, parse_listing
from .vocab import *  # noqa: F401,F403
from .vocab import STATUS_LABELS


def _apply(user, listing, cleaned, now):
    for key in ("kind", "title", "description", "deal_types", "price_mode", "price", "deal_prices", "region",
                "offer_floor", "license_territory", "license_field", "license_years", "license_cap", "acts_for_holders"):
        setattr(listing, key, cleaned[key])
    # Rights are replaced as a whole (the input is the full list): each is a register entry.
    entries = register.resolve(user, cleaned["rights"], acts_for_holders=cleaned["acts_for_holders"], now=now)
    links = {link.right_id: link for link in listing.items}
    listing.items = [links.get(right.id) or ListingRight(right=right) for right in entries]
    listing.items.reorder()
    if cleaned["auction"]:
        auction = listing.auction or Auction()
        for key, value in cleaned["auction"].items():
            setattr(auction, key, value)
        listing.auction = auction
    elif listing.auction is not None:
        listing.auction = None
    if listing.kind != "trademark":
        listing.image = None
    db.session.flush()
    # The rule book's refusals for a draft (the rest are warnings until submission).
    rules.enforce(listing, "draft", today=local(now).date(), message=_("挂牌信息与登记簿的规则冲突，未保存"))


def create_listing(user, data, *, now=None, warnings=True):
    """Create a draft listing for ``user``'s organisation or, for a seller without one, for ``user`` as a
    natural person (``organization_id`` None). Returns (listing, warnings); ``warnings=False`` (the bulk
    import, which does not show them) skips computing them and returns an empty list."""
    require_seller(user)
    now = now or utcnow()
    region = user.organization.region if user.organization is not None else None
    cleaned = parse_listing(data, now=now, default_region=region or "other")
    # A new listing has no links, auction or image yet: said here, so that ``_apply`` does not load them
    # from the database once an autoflush has inserted the row (nor writes the listing a second time).
    listing = Listing(seller_id=user.id, organization_id=user.organization_id, status="draft", currency="CNY",
                      items=[], auction=None, image=None)
    db.session.add(listing)
    _apply(user, listing, cleaned, now)
    db.session.flush()
    return listing, (_warnings(listing, local(now).date()) if warnings else [])


def listing_input(listing):
    """The listing as API input (the shape ``parse_listing`` takes): PATCH merges into this."""
    data = {key: getattr(listing, key) for key in ("kind", "title", "description", "deal_types", "price_mode",
                                                    "price", "deal_prices", "region", "offer_floor", "license_territory",
                                                    "license_field", "license_years", "license_cap",
                                                    "acts_for_holders")}
    data["rights"] = [right_input(r) for r in listing.rights]
    if listing.auction is not None:
        a = listing.auction
        data["auction"] = {"start_price": a.start_price, "min_increment": a.min_increment,
                           "reserve_price": a.reserve_price, "ends_at": a.ends_at, "deposit_amount": a.deposit_amount}
    return data


def right_input(right):
    if right.kind == "patent":
        return {"patent": {
            "application_number": right.number, "patent_type": right.patent_type, "title": right.title,
            "abstract": right.abstract, "ipc_codes": right.ipc_codes or [], "locarno_class": right.locarno_class,
            "filing_date": right.filing_date, "grant_date": right.grant_date, "claims_count": right.claims_count,
            "legal_status": right.legal_status, "pledged": right.pledged,
            "annuity_paid_until": right.annuity_paid_until,
            "exclusive_license_until": right.exclusive_license_until,
            "family_countries": right.family_countries or []}}
    return {"trademark": {
        "registration_number": right.number, "mark_text": right.title, "nice_classes": right.nice_classes or [],
        "similar_groups": right.similar_groups or [], "goods": right.goods or [],
        "registration_date": right.registration_date, "status": right.tm_status,
        "exclusive_license_until": right.exclusive_license_until, "use_evidence": right.use_evidence,
        "pledged": right.pledged,
        "disputes": right.disputes}}


def update_listing(user, listing_id, changes, *, now=None):
    """Change a draft or rejected listing (PATCH: only the keys given), or a published one as
    ``listings.published_edit`` says. Returns (listing, warnings)."""
    listing = get_owned(user, listing_id)
    ensure_can(user, "list")
    if listing.status == "published" and isinstance(changes, dict):
        # price, description, image at once; the rights and terms back to review (issue 17)
        listing, warnings, _review = published_edit.edit_published(user, listing, changes, now=now, apply=_apply,
                                                                    listing_input=listing_input)
        return listing, warnings
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
    _apply(user, listing, cleaned, now)
    # Offers are made on terms: an edit or a new price voids any still open (only a published listing
    # takes offers, and one is edited only after withdrawing it, which voids them already; this
    # keeps the rule whatever path led here).
    void_open_offers(listing, msg(N_("卖家修改了挂牌条件")), now=now)
    return listing, _warnings(listing, local(now).date())


# --- uploads and bundling -----------------------------------------------------------

DOCUMENTS = REQUESTABLE_DOCUMENTS  # the rule book's documents, and the supporting document a rejection may ask for


def attach_document(user, listing_id, field, file_storage):
    """Store a document the rule book asks for (PDF, PNG or JPEG, through the upload checks):
    the pledgee's consent, the holders' authorisation (委托书) or the co-owners' consent.
    An operator checks it at review."""
    if field not in DOCUMENTS:
        raise ValidationError(_("未知的文件类型"), {"field": _("可选：%(options)s", options="、".join(DOCUMENTS))})
    listing = get_owned(user, listing_id)
    if listing.status not in EDITABLE_STATUSES:
        raise IllegalTransition(_("只有草稿或被驳回的挂牌可以修改"), status=listing.status)
    stored, _kind, _size, _name = save_upload(file_storage, field=field, area="docs")
    setattr(listing, field, stored)
    db.session.flush()
    return listing


def upload_requested_document(user, listing_id, file_storage):
    """The seller uploads the document a rejection asked for (``listing.requested_document``), through the same
    checks as the wizard's uploads (``attach_document``: PDF, PNG or JPEG, the size limit, sniffed type). Refused,
    nothing changed: a listing that is not rejected or asked for no document (409), no file or a bad one (422)."""
    listing = get_owned(user, listing_id)
    if listing.status != "rejected" or not listing.requested_document:
        raise Conflict(_("该挂牌没有待补充的文件"), status=listing.status)
    if file_storage is None or not getattr(file_storage, "filename", ""):
        raise ValidationError(_("请选择要上传的文件"), {"document": _("必填：PDF、PNG 或 JPEG")})
    return attach_document(user, listing_id, listing.requested_document, file_storage)


def attach_pledge_consent(user, listing_id, file_storage):
    """Store the pledgee's consent (PDF, PNG or JPEG) for a pledged right."""
    return attach_document(user, listing_id, "pledge_consent", file_storage)


def consent_as_co_owner(user, listing_id, *, now=None):
    """A co-owner on the platform consents, by a click, to another co-owner's listing of a shared
    right for assignment or an exclusive or sole licence."""
    from marketplace.kernel.errors import NotFound, PermissionDenied

    listing = db.session.get(Listing, listing_id)
    if listing is None or user is None or not user.has_role("seller"):
        raise NotFound(_("挂牌不存在"))
    party = register.party_of(user)  # a co-owning organisation's seller, or a co-owner as a natural person
    key = register.party_key(party)
    co_owned = [r for r in listing.rights if register.is_holder(r, party["organization_id"], party["user_id"])]
    if not co_owned or key == register.party_key(register.listing_party(listing)):
        raise PermissionDenied(_("只有该挂牌权利的其他共有人可以表示同意"))
    now = now or utcnow()
    consents = [c for c in (listing.co_owner_consents or []) if register.consent_key(c) != key]
    consents.append({"organization_id": party["organization_id"], "user_id": user.id,
                     "person": party["type"] == "person", "at": now.isoformat()})
    listing.co_owner_consents = consents
    for right in co_owned:
        register.record(right, "co_owner_consented", {"listing_id": listing.id, "organization": party["name"]},
                        source="seller", actor=user, now=now)
    db.session.flush()
    return listing


def attach_image(user, listing_id, file_storage):
    """Store the trademark's image (PNG or JPEG, at most IMAGE_MAX_BYTES, 2 MB by default)."""
    listing = get_owned(user, listing_id)
    if listing.status not in EDITABLE_STATUSES | {"published"}:
        raise IllegalTransition(_("只有草稿、被驳回或在售的挂牌可以更换图样"), status=listing.status)
    if listing.kind != "trademark":
        raise ValidationError(_("只有商标挂牌可以上传商标图样"), {"image": _("专利挂牌不需要商标图样")})
    stored, _kind, _size, _name = save_upload(file_storage, allowed=("png", "jpeg"), field="image", area="images",
                                              max_bytes=current_app.config.get("IMAGE_MAX_BYTES", 2 * 1024 * 1024))
    if listing.status == "published":  # applies at once, like a new price (listings.published_edit)
        audit.record(user, "listing.image_change", "listing", listing.id, before={"image": bool(listing.image)},
                     after={"image": True})
    listing.image = stored
    db.session.flush()
    return listing


def bundle_similar_marks(user, listing_id, right_ids, *, now=None):
    """Add the holder's identical/similar marks (register entries) to this assignment listing in one step.

    Such marks may only be assigned together (商标法第四十二条), so any other listing that
    offers one of them for assignment (or an exclusive or sole licence) is withdrawn, unless
    it has bids or a deal under way: then nothing changes and the seller is told which.
    """
    listing = get_owned(user, listing_id)
    if listing.status not in EDITABLE_STATUSES:
        raise IllegalTransition(_("只有草稿或被驳回的挂牌可以合并商标"), status=listing.status)
    now = now or utcnow()
    offered = {right.id: right for right, _reasons in similar_marks(listing)}
    wanted = []
    for raw in right_ids:
        try:
            wanted.append(int(raw))
        except (TypeError, ValueError):
            raise ValidationError(_("只能合并本单位的近似商标"), {"bundle": _("编号应为整数")}) from None
    missing = [i for i in wanted if i not in offered]
    if missing or not wanted:
        raise ValidationError(_("只能合并本单位的近似商标"),
                              {"bundle": _("不可合并：%(ids)s", ids=", ".join(map(str, missing)) or "—")})
    if not all(register.listing_party_holds(listing, r) for r in listing.rights):
        raise PermissionDenied(_("只有权利人可以合并近似商标；受托挂牌请由权利人办理"))
    blocked, to_withdraw = [], []
    for right_id in wanted:
        for other in rules._other_live_listings(offered[right_id], listing) + [
                o for o in offered[right_id].listings if o.status in ("draft", "rejected") and o.id != listing.id]:
            if not rules.SOLE_OFFERS & set(other.deal_types or []):
                continue
            busy = other.status == "reserved" or (other.auction is not None and other.auction.bid_count) \
                or register.party_key(register.listing_party(other)) != register.party_key(
                    register.listing_party(listing))  # never another seller side's listing
            (blocked if busy else to_withdraw).append(other)
    if blocked:
        raise Conflict(_("挂牌 %(ids)s 已有出价、交易进行中或不属于本单位，不能撤回：请待其结束或由其挂牌单位撤回后再合并",
                         ids="、".join(f"#{o.id}" for o in blocked)), listing_ids=[o.id for o in blocked])
    with db.session.no_autoflush:
        for right_id in wanted:
            listing.rights.append(offered[right_id])
    for other in {o.id: o for o in to_withdraw}.values():
        if other.status in TRANSITIONS["withdraw"][0]:
            _transition(other, "withdraw")
            notify(other.seller_id, "listing", msg(N_("挂牌已撤回：%(title)s"), title=other.title),
                   msg(N_("其中的商标已合并到挂牌 #%(id)s 一并转让（商标法第四十二条）。"), id=listing.id), link=f"/listings/{other.id}")
    db.session.flush()
    return listing, _warnings(listing, local(now).date())


def warnings_for(listing, now=None):
    return _warnings(listing, local(now or utcnow()).date())


# --- queries ----------------------------------------------------------------------

def listings_of(user, status=None):
    """The listings of the user's organisation (or, for a natural person, their own), newest first."""
    owner = (Listing.organization_id == user.organization_id) if user.organization_id is not None else (
        (Listing.organization_id.is_(None)) & (Listing.seller_id == user.id))
    query = select(Listing).where(owner).order_by(Listing.id.desc())
    if status:
        query = query.where(Listing.status == status)
    return list(db.session.scalars(query))


def review_queue():
    return list(db.session.scalars(select(Listing).where(Listing.status == "pending_review")
                                   .order_by(Listing.submitted_at, Listing.id)))

"""The listing lifecycle: one table of transitions, one visibility rule, and the acts that move a listing.

``transition(listing, action)`` is the only way a listing's status changes: the
seller's and operators' acts here, escrow (a deal reserves, sells or releases a
listing) and bidding (an auction closes) all call it.
"""
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.kernel import audit
from marketplace.kernel.credit import ensure_can
from marketplace.kernel.errors import Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import label, msg
from marketplace.kernel.models import AuditLog, User
from marketplace.kernel.notify import notify
from marketplace.kernel.timeutil import local, utcnow

from . import rules
from .models import Auction, Listing
from .rules import _warnings
from .validation import _CONTROL, _choice
from .vocab import RELIST_AUCTION_DAYS, STATUS_LABELS

TRANSITIONS = {
    "submit": ({"draft", "rejected"}, "pending_review"),
    "approve": ({"pending_review"}, "published"),
    "reject": ({"pending_review"}, "rejected"),
    "withdraw": ({"draft", "pending_review", "published", "rejected"}, "withdrawn"),
    "reopen": ({"withdrawn"}, "draft"),
    "expire": ({"draft", "pending_review", "published", "rejected"}, "expired"),
    "reserve": ({"published"}, "reserved"),
    "release": ({"reserved"}, "published"),
    "sell": ({"reserved"}, "sold"),
    # A won auction whose deal is cancelled or refunded: the auction is over, so the listing
    # cannot go back on the market; it expires and the seller may relist it.
    "lapse": ({"reserved"}, "expired"),
    # Relisting copies an expired listing into a new draft; the expired one stays as history.
    "relist": ({"expired"}, "expired"),
    # The system takes a listing off the market because its seller no longer holds a right in it
    # (assigned through another deal, or an operator decided a claim), whatever bids it has.
    "delist": ({"draft", "pending_review", "published", "rejected"}, "withdrawn"),
    # A timed auction closed without a sale.
    "close_unsold": ({"published"}, "expired"),
    # A published listing whose rights or terms the seller changed goes back to review (listings.published_edit).
    "revise": ({"published"}, "pending_review"),
}
EDITABLE_STATUSES = {"draft", "rejected"}
PUBLIC_STATUSES = {"published", "reserved", "sold"}
ACTION_LABELS = {"submit": N_("提交审核"), "approve": N_("审核通过"), "reject": N_("驳回"), "withdraw": N_("撤回"), "reopen": N_("重新编辑"),
                 "expire": N_("标记过期"), "reserve": N_("进入交易"), "release": N_("恢复上架"), "sell": N_("标记成交"),
                 "lapse": N_("到期下架"), "relist": N_("重新发布"),
                 "delist": N_("下架"), "close_unsold": N_("流拍"),
                 "revise": N_("修改后重新审核")}


# --- visibility and permission ------------------------------------------------------

def seller_side(user, listing):
    """``user`` is on the listing's seller side: a member of its organisation (an SME's staff share its
    listings), or, for a natural person's listing, that person."""
    if user is None or not getattr(user, "is_authenticated", True):
        return False
    if listing.organization_id is None:
        return user.id == listing.seller_id
    return user.organization_id is not None and user.organization_id == listing.organization_id


def is_owner(user, listing):
    """A seller on the listing's seller side acts for it."""
    return seller_side(user, listing) and user.has_role("seller")


def can_view(user, listing):
    if listing.status in PUBLIC_STATUSES:
        return True
    if user is None or not getattr(user, "is_authenticated", True):
        return False
    return user.is_operator or seller_side(user, listing)


def get_visible(user, listing_id, options=()):
    """The listing if ``user`` (None for anonymous) may see it; NotFound otherwise (never says which).
    ``options``: loader options (``models.for_listing_page()`` for a page showing all of it)."""
    listing = db.session.get(Listing, listing_id, options=list(options))
    if listing is None or not can_view(user, listing):
        raise NotFound(_("挂牌不存在"))
    return listing


def get_owned(user, listing_id):
    """The listing if ``user`` may act for it as seller: 404 if invisible, 403 if only visible."""
    listing = get_visible(user, listing_id)
    if not is_owner(user, listing):
        raise PermissionDenied(_("只有挂牌单位的卖家可以执行此操作"))
    return listing


def require_seller(user):
    """A seller lists for their organisation or, without one, as a natural person (issue 13)."""
    if user is None or not user.has_role("seller"):
        raise PermissionDenied(_("只有卖家账户可以发布挂牌"))
    ensure_can(user, "list")


def _transition(listing, action):
    allowed, target = TRANSITIONS[action]
    if listing.status not in allowed:
        raise IllegalTransition(
            _("挂牌当前状态为“%(status)s”，不能%(action)s",
              status=_(STATUS_LABELS.get(listing.status, listing.status)), action=_(ACTION_LABELS[action])),
            status=listing.status)
    listing.status = target


def _check_ready(listing, today, now, stage="submit"):
    """What must hold before a listing goes to review and again before it is published: the
    rule book (``rules.problems``) and the listing's own terms (price, auction close)."""
    fields = {}
    if not listing.rights:
        fields["rights"] = _("至少填写一项专利或商标")
    for p in rules.problems(listing, stage, today=today):
        fields[p.field] = f"{fields[p.field]}；{p.message}" if p.field in fields else p.message
    if listing.price_mode == "fixed" and not listing.price:
        fields["price"] = _("一口价须填写价格")
    if listing.price_mode == "auction":
        if listing.auction is None:
            fields["auction"] = _("竞拍须填写拍卖条件")
        elif listing.auction.ends_at <= now + timedelta(hours=1):
            fields["auction.ends_at"] = _("拍卖结束时间已过或不足一小时，请修改后再提交")
    if fields:
        raise ValidationError(_("挂牌还不能提交审核，请先修改标注的字段"), fields)


def transition(listing, action):
    """The only way a listing's status changes (see TRANSITIONS)."""
    _transition(listing, action)


def operator_ids():
    return db.session.execute(
        select(User.id).where(User.roles_csv.contains("operator"), User.active.is_(True))).scalars().all()


def take_off_market(listing, reason, *, now=None):
    """The system withdraws ``listing`` (its seller no longer holds a right in it) and tells the
    seller, its bidders and the buyers with open offers. A listing already off the market, or
    with a deal under way (reserved), is left as it is."""
    from .models import Bid, Offer

    if listing.status not in TRANSITIONS["delist"][0]:
        return False
    _transition(listing, "delist")
    told = {listing.seller_id}
    notify(listing.seller_id, "listing", msg(N_("挂牌已下架：%(title)s"), title=listing.title), reason, link=f"/listings/{listing.id}")
    people = set()
    if listing.auction is not None:
        people |= set(db.session.scalars(select(Bid.bidder_id).where(Bid.auction_id == listing.auction.id)))
    people |= set(db.session.scalars(select(Offer.buyer_id).where(Offer.listing_id == listing.id,
                                                                    Offer.status.in_(("open", "countered")))))
    for user_id in sorted(people - told):
        notify(user_id, "listing", msg(N_("您关注的挂牌已下架：%(title)s"), title=listing.title), reason, link=f"/listings/{listing.id}")
    for offer in db.session.scalars(select(Offer).where(Offer.listing_id == listing.id,
                                                        Offer.status.in_(("open", "countered")))):
        offer.status = "withdrawn"
    db.session.flush()
    return True


def delist_if_not_held(listing, *, now=None):
    """A listing back on the market after its deal ended is taken off again when its seller side may no
    longer offer one of its rights (the register gives it to another: an upheld claim, an assignment)."""
    from .register import rights_no_longer_offerable

    if listing.status != "published":
        return False
    lost = rights_no_longer_offerable(listing)
    if not lost:
        return False
    return take_off_market(listing, msg(N_("%(numbers)s 的登记权利人已变更，挂牌方不能再提供"), numbers="、".join(
        r.number for r in lost)), now=now)


def void_open_offers(listing, reason, *, now=None):
    """The listing's terms changed or it left the market: every open offer and counter-offer on it is
    ``withdrawn`` (an offer is made on terms, so none may be accepted later on other terms), and both
    sides are told: each buyer in negotiation, and the seller once. Returns how many were voided."""
    from .models import Offer

    now = now or utcnow()
    offers = db.session.scalars(select(Offer).where(Offer.listing_id == listing.id, Offer.status == "open")
                                .order_by(Offer.id)).all()
    for offer in offers:
        offer.status = "withdrawn"
        offer.decided_at = now
        notify(offer.buyer_id, "offer", msg(N_("报价已失效：%(title)s"), title=listing.title),
               msg(N_("%(reason)s，您在该挂牌上的报价（或卖家的还价）已失效。"), reason=reason), link=f"/listings/{listing.id}")
    if offers:
        notify(listing.seller_id, "offer", msg(N_("报价已失效：%(title)s"), title=listing.title),
               msg(N_("%(reason)s，该挂牌上 %(n)s 条未答复的报价已失效，已通知相关买家。"), reason=reason, n=len(offers)), link="/dashboard/offers")
    db.session.flush()
    return len(offers)


def submit_listing(user, listing_id, *, now=None):
    """Draft or rejected → pending_review (owner; credit must allow listing)."""
    listing = get_owned(user, listing_id)
    ensure_can(user, "list")
    now = now or utcnow()
    if listing.status not in TRANSITIONS["submit"][0]:
        _transition(listing, "submit")  # raises with the current state
    _check_ready(listing, local(now).date(), now)
    _transition(listing, "submit")
    listing.submitted_at = now
    db.session.flush()
    return listing


REQUESTABLE_DOCUMENTS = {"pledge_consent": N_("质权人同意书"), "authorization_doc": N_("权利人委托书"),
                         "co_owner_consent": N_("共有人同意书"), "supporting_doc": N_("补充证明材料")}


def review_listing(operator, listing_id, decision, reason=None, *, now=None, requested_document=None):
    """pending_review → published (approve, sets published_at) or rejected (with the operator's reason).
    A rejection may name a document the seller must upload (``REQUESTABLE_DOCUMENTS``): the seller's pages then
    offer a place to upload it (``listings.service.upload_requested_document``)."""
    if operator is None or not operator.is_operator:
        raise PermissionDenied(_("只有运营人员可以审核挂牌"))
    listing = db.session.get(Listing, listing_id)
    if listing is None:
        raise NotFound(_("挂牌不存在"))
    now = now or utcnow()
    reason = (reason or "").strip() if isinstance(reason, str) else reason
    if _choice(decision, ("approve", "reject")) is None:
        raise ValidationError(_("审核结论应为 approve 或 reject"), {"decision": _("应为 approve（通过）或 reject（驳回）")})
    if decision == "reject" and not reason:
        raise ValidationError(_("驳回须写明理由"), {"reason": _("必填：告诉卖家需要修改什么")})
    if reason is not None and not isinstance(reason, str):
        raise ValidationError(_("理由应为文本"), {"reason": _("应为文本")})
    if reason and _CONTROL.search(reason):
        raise ValidationError(_("理由含有不允许的控制字符"), {"reason": _("含有不允许的控制字符")})
    if reason and len(reason) > 2000:
        raise ValidationError(_("理由过长"), {"reason": _("最多 %(n)s 个字符", n=2000)})
    if requested_document in ("", None):
        requested_document = None
    elif decision != "reject" or _choice(requested_document, tuple(REQUESTABLE_DOCUMENTS)) is None:
        raise ValidationError(_("要求补充的文件只能在驳回时选择，且须为列出的文件之一"),
                              {"requested_document": _("可选：%(options)s", options="、".join(REQUESTABLE_DOCUMENTS))})
    before = listing.status
    if decision == "approve":
        if listing.status not in TRANSITIONS["approve"][0]:
            _transition(listing, "approve")
        try:
            _check_ready(listing, local(now).date(), now, stage="review")
        except ValidationError as exc:
            raise Conflict(_("挂牌已不满足发布条件，请驳回并说明：%(reasons)s", reasons="；".join(exc.fields.values())),
                           fields=exc.fields) from exc
        _transition(listing, "approve")
        listing.published_at = now
        listing.rejection_reason = None
        listing.requested_document = None
        if listing.auction is not None and listing.auction.starts_at is None:
            listing.auction.starts_at = now
        notify(listing.seller_id, "listing", msg(N_("挂牌已通过审核：%(title)s"), title=listing.title), msg(N_("挂牌已发布，买家现在可以看到并交易。")),
               link=f"/listings/{listing.id}")
    else:
        _transition(listing, "reject")
        listing.rejection_reason = reason
        listing.requested_document = requested_document
        if requested_document:
            why = msg(N_("驳回理由：%(reason)s。请上传：%(document)s"), reason=reason,
                      document=label(REQUESTABLE_DOCUMENTS[requested_document]))
        else:
            why = msg(N_("驳回理由：%(reason)s"), reason=reason)
        notify(listing.seller_id, "listing", msg(N_("挂牌未通过审核：%(title)s"), title=listing.title), why,
               link=f"/listings/{listing.id}" if requested_document else "/my/listings")
    db.session.flush()
    audit.record(operator, f"listing.{decision}", "listing", listing.id,
                 before={"status": before}, after={"status": listing.status, "reason": reason,
                                                   **({"requested_document": requested_document}
                                                      if requested_document else {})})
    return listing


def withdraw_listing(user, listing_id, *, now=None):
    """Take a listing off the market (owner). Not while a deal is under way or an auction has bids."""
    listing = get_owned(user, listing_id)
    if listing.status in TRANSITIONS["withdraw"][0] and listing.auction is not None \
            and listing.status == "published" and listing.auction.bid_count:
        raise Conflict(_("拍卖已有出价，不能撤回"), status=listing.status)
    if _open_deals(listing):  # e.g. non-exclusive licences sold while the listing stays on sale
        raise Conflict(_("该挂牌有交易正在办理，办理完成前不能撤回或修改"), status=listing.status)
    _transition(listing, "withdraw")
    void_open_offers(listing, msg(N_("卖家已撤回挂牌")), now=now)
    if listing.auction is not None:  # deposits paid for its auction go back (escrow.deposits)
        from escrow.deposits import return_all

        return_all(listing.auction, "卖家已撤回挂牌，保证金退还", now=now)
    db.session.flush()
    return listing


def _open_deals(listing):
    from escrow.models import TERMINAL_STATES, Deal

    return db.session.scalar(select(db.func.count(Deal.id)).where(
        Deal.listing_id == listing.id, Deal.state.notin_(tuple(TERMINAL_STATES)))) or 0


def reopen_listing(user, listing_id):
    """A withdrawn listing back to draft, to edit and submit again (owner)."""
    listing = get_owned(user, listing_id)
    ensure_can(user, "list")
    _transition(listing, "reopen")
    listing.published_at = None
    db.session.flush()
    return listing


# Columns of a listing a relist copies (rights and auction terms are copied on their own).
# Not copied: the status and dates, the grade (graded again like any new listing), the
# rejection reason and the version.
RELIST_COLUMNS = ("kind", "title", "description", "deal_types", "price_mode", "price", "deal_prices", "offer_floor",
                  "currency",
                  "region", "image", "pledge_consent", "license_territory", "license_field", "license_years",
                  "license_cap", "authorization_doc", "co_owner_consent", "acts_for_holders")


def relisted_as(listing):
    """The draft ``listing`` was relisted as (a Listing), or None. The link is the ``listing.relist``
    audit row written by :func:`relist_listing`, so no column is needed."""
    row = db.session.execute(
        select(AuditLog).where(AuditLog.action == "listing.relist", AuditLog.object_type == "listing",
                               AuditLog.object_id == listing.id).order_by(AuditLog.id.desc()).limit(1)
    ).scalar_one_or_none()
    new_id = (row.after or {}).get("new_listing_id") if row is not None else None
    return db.session.get(Listing, new_id) if isinstance(new_id, int) else None


def relist_listing(user, listing_id, *, now=None):
    """Copy an expired listing into a NEW draft of the same organisation (owner). Returns (draft, warnings).

    The copy has the same rights, title, description, deal types, region, licence terms, price
    mode and prices; an auction keeps its start price, reserve and increment and closes
    ``RELIST_AUCTION_DAYS`` after now by default (the seller sets the real close before
    submitting). The expired listing stays ``expired``, with its auction, bids and deals, as
    history. Nothing is validated here beyond ownership and state: submitting the draft checks
    the rights (term, legal status, pledge consent, auction close) as for any listing.

    An expired listing is relisted once: a second relist is a 409 naming the first copy
    (``listing_id``), which the seller edits, reopens or relists in turn.
    """
    listing = get_owned(user, listing_id)
    ensure_can(user, "list")
    if listing.status not in TRANSITIONS["relist"][0]:
        _transition(listing, "relist")  # raises with the current state
    earlier = relisted_as(listing)
    if earlier is not None:
        raise Conflict(_("该挂牌已重新发布为 #%(id)s（%(status)s），请在该挂牌上继续操作", id=earlier.id,
                         status=_(STATUS_LABELS.get(earlier.status, earlier.status))),
                       listing_id=earlier.id, status=listing.status)
    now = now or utcnow()
    draft = Listing(status="draft", seller_id=user.id, organization_id=listing.organization_id,
                    **{key: getattr(listing, key) for key in RELIST_COLUMNS})
    draft.deal_types = list(listing.deal_types or [])
    db.session.add(draft)
    with db.session.no_autoflush:
        for right in list(listing.rights):  # the same register entries: a relist offers them again
            draft.rights.append(right)
    if listing.price_mode == "auction" and listing.auction is not None:
        old = listing.auction
        draft.auction = Auction(start_price=old.start_price, reserve_price=old.reserve_price,
                                min_increment=old.min_increment, deposit_amount=old.deposit_amount,
                                ends_at=(now + timedelta(days=RELIST_AUCTION_DAYS)).replace(second=0, microsecond=0))
    db.session.add(draft)
    db.session.flush()
    audit.record(user, "listing.relist", "listing", listing.id,
                 before={"status": listing.status}, after={"new_listing_id": draft.id})
    return draft, _warnings(draft, local(now).date())


def lapse_reservation(listing):
    """reserved → expired (escrow calls this when the deal of a won auction is cancelled or refunded:
    the auction is closed, so the listing cannot take bids again) and tell the seller they may relist."""
    _transition(listing, "lapse")
    notify(listing.seller_id, "listing", msg(N_("挂牌已到期：%(title)s"), title=listing.title),
           msg(N_("拍卖成交后交易已取消，拍卖已结束，挂牌不能再出价或购买。您可以在“我的挂牌”中重新发布：系统会复制为新的草稿（可调整起拍价和结束时间），提交审核后再次上架。")),
           link=f"/listings/{listing.id}")
    db.session.flush()


def right_expiry(right):
    return right.term_end()


def listing_expiry(listing):
    """The earliest end of term among the listing's rights (a portfolio is only as live as its shortest right)."""
    days = [d for d in (right_expiry(r) for r in listing.rights) if d]
    return min(days) if days else None


def expire_due_listings(now=None):
    """Mark listings whose rights' term has ended as expired (safe to run from cron and twice). Returns ids."""
    now = now or utcnow()
    today = local(now).date()
    expired = []
    candidates = select(Listing).where(Listing.status.in_(tuple(TRANSITIONS["expire"][0])))
    for listing in db.session.scalars(candidates):
        ends = listing_expiry(listing)
        if ends and ends <= today:
            if listing.auction is not None and listing.auction.bid_count and listing.status == "published":
                continue  # an auction with bids closes through the deadlines run
            _transition(listing, "expire")
            void_open_offers(listing, msg(N_("挂牌已过期")), now=now)
            notify(listing.seller_id, "listing", msg(N_("挂牌已过期：%(title)s"), title=listing.title),
                   msg(N_("权利保护期已于 %(value)s 届满，挂牌已下架。"), value=ends.isoformat()), link=f"/listings/{listing.id}")
            expired.append(listing.id)
    db.session.flush()
    return expired

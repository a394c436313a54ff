"""Open licences (专利开放许可, 专利法第五十条至第五十二条; 专利法实施细则第八十五条至第八十八条).

A patent holder declares, on a published listing of its patents that offers a non-exclusive licence, that it
licenses anyone at published terms: a fixed fee per licence year, or a percentage of net sales with a yearly
minimum, for a term of whole years, reported and paid per quarter or year. Any verified organisation takes a
licence in one step (``take``): it accepts the published terms and a non-exclusive licence deal opens at them,
with no negotiation. While a declaration is open no exclusive or sole licence may be granted on its patents
(``listings.rules`` rule ``open_licence``). The holder may withdraw it: licences already granted go on.
A patent whose term ends, or that lapses, leaves the catalogue: ``catalogue`` only shows live patents, and
``lapse_dead`` (``flask deadlines run``) closes the declaration.

Refused with the reason, nothing stored: a trademark; a patent not granted, lapsed or past its term; a
pledged patent without the pledgee's consent on the listing; a patent under an exclusive or sole licence (in
the register, or a deal under way); a listing the declarer's side does not hold; terms out of range.
"""
from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace.kernel import audit
from marketplace.kernel.credit import ensure_can
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import User
from marketplace.kernel.timeutil import iso, local, utcnow

from . import bidding, rules
from .locking import lock_listing
from .models import Listing, ListingRight, OpenLicence
from .vocab import DEAD_LEGAL_STATUSES, MAX_PRICE

MAX_TERM_YEARS = 20  # an invention patent's whole term
MAX_BPS = 10_000  # a royalty rate in basis points: 100 %
MAX_WITHDRAW_REASON = 300
PERIODS = ("quarter", "year")
ROYALTY_KIND_LABELS = {"fixed": _l("固定年费"), "percent": _l("按净销售额提成（设年度最低许可费）")}
STATUS_LABELS = {"open": _l("开放中"), "withdrawn": _l("已撤回"), "lapsed": _l("专利失效或届满，已退出")}


class OpenLicenceConflict(Conflict):
    code = "open_licence_conflict"


def declaration_of(listing, statuses=("open",)):
    if listing is None or listing.id is None:
        return None
    return db.session.scalar(select(OpenLicence).where(OpenLicence.listing_id == listing.id,
                                                       OpenLicence.status.in_(statuses))
                             .order_by(OpenLicence.id.desc()).limit(1))


def open_listing_ids():
    """Ids of the listings under an open declaration now, in one query: the badge on a page of cards reads this
    once per request rather than once per card."""
    return set(db.session.scalars(select(OpenLicence.listing_id).where(OpenLicence.status == "open")))


def open_on_rights(right_ids):
    """{right id: the open declaration covering it} for ``right_ids`` (one query)."""
    if not right_ids:
        return {}
    rows = db.session.execute(select(ListingRight.right_id, OpenLicence)
                              .join(OpenLicence, OpenLicence.listing_id == ListingRight.listing_id)
                              .where(ListingRight.right_id.in_(list(right_ids)), OpenLicence.status == "open"))
    return {right_id: decl for right_id, decl in rows}


def _alive(right, today):
    if right.kind != "patent" or right.legal_status in DEAD_LEGAL_STATUSES:
        return False
    ends = right.term_end()
    return not (ends and ends <= today)


# --- terms -------------------------------------------------------------------------------------

def _int(data, key, fields, low, high, message):
    value = data.get(key)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if value is None or value == "":
        fields[key] = _("必填")
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        fields[key] = _("必须是整数")
        return None
    if not low <= value <= high:
        fields[key] = message
        return None
    return value


def clean_terms(data):
    """The published terms from API/form input, or ValidationError naming every bad field."""
    if not isinstance(data, dict):
        raise ValidationError(_("请求体必须是 JSON 对象"), {"body": "expected an object"})
    fields = {}  # an unknown key: the API's schema refuses it (escrow/licensing_schemas.py); a form sends none
    kind = data.get("royalty_kind")
    out = {"royalty_kind": kind, "annual_fee": None, "royalty_bps": None, "yearly_minimum": None, "period": "year"}
    if kind == "fixed":
        out["annual_fee"] = _int(data, "annual_fee", fields, 1, MAX_PRICE, _("年费（分）须为正整数，最多 1 万亿元"))
        for key in ("royalty_bps", "yearly_minimum"):
            if data.get(key) not in (None, ""):
                fields[key] = _("固定年费方式不设此项")
        if data.get("period") not in (None, "", "year"):
            fields["period"] = _("固定年费按年支付")
    elif kind == "percent":
        out["royalty_bps"] = _int(data, "royalty_bps", fields, 1, MAX_BPS,
                                  _("提成比例须在 0–100% 之间（以万分之一计：1–10000）"))
        out["yearly_minimum"] = _int(data, "yearly_minimum", fields, 1, MAX_PRICE,
                                     _("年度最低许可费（分）须为正整数：取得许可时预付第一年度"))
        if data.get("annual_fee") not in (None, ""):
            fields["annual_fee"] = _("提成方式不设固定年费")
        period = data.get("period")
        if period not in PERIODS:
            fields["period"] = _("报告和支付周期应为 quarter（季度）或 year（年）")
        else:
            out["period"] = period
    else:
        fields["royalty_kind"] = _("应为 fixed（固定年费）或 percent（按净销售额提成）")
    out["term_years"] = _int(data, "term_years", fields, 1, MAX_TERM_YEARS,
                             _("许可期限为 1–%(n)s 年", n=MAX_TERM_YEARS))
    if fields:
        raise ValidationError(_("开放许可条件有误"), fields)
    return out


# --- declaring and withdrawing -----------------------------------------------------------------------

def _seller_listing(listing_id, user):
    bidding.check_id(listing_id)
    listing = lock_listing(listing_id)
    if not bidding.is_seller_side(listing, user):
        if listing.status in ("draft", "pending_review", "rejected"):
            raise NotFound(_("挂牌不存在"))
        raise PermissionDenied(_("只有挂牌的权利人一方可以声明或撤回开放许可"))
    return listing


def declare(listing_id, user, data, now=None):
    """The holder declares an open licence on its listing; returns the OpenLicence (see the module doc)."""
    from .register import holder_names, listing_party_holds

    now = now or utcnow()
    listing = _seller_listing(listing_id, user)
    terms = clean_terms(data)
    today = local(now).date()
    reasons = []
    if listing.kind != "patent":
        raise OpenLicenceConflict(_("开放许可只适用于专利（专利法第五十条），商标不能声明开放许可"), reasons=["trademark"])
    if listing.status != "published":
        raise OpenLicenceConflict(_("挂牌须已发布才能声明开放许可"), status=listing.status)
    if declaration_of(listing) is not None:
        raise OpenLicenceConflict(_("该挂牌已有开放许可声明"), open_licence_id=declaration_of(listing).id)
    if "non_exclusive_license" not in (listing.deal_types or []):
        reasons.append(_("挂牌须提供普通许可"))
    if set(listing.deal_types or []) & {"exclusive_license", "sole_license"}:
        reasons.append(_("开放许可期间不得给予独占或排他许可：请先从挂牌中去掉独占/排他许可"))
    if listing.price_mode == "auction":
        reasons.append(_("竞拍挂牌不能声明开放许可"))
    rights = list(listing.rights)
    for right in rights:
        if not listing_party_holds(listing, right):
            reasons.append(_("%(number)s 的权利人是 %(holders)s：开放许可须由专利权人声明", number=right.number,
                             holders=holder_names(right)))
        if right.legal_status != "granted" or not _alive(right, today):
            reasons.append(_("%(number)s 不是有效的已授权专利（已失效、届满或尚未授权）", number=right.number))
        if right.encumbrances_in_force("pledge", today) and not listing.pledge_consent:
            reasons.append(_("%(number)s 已质押：须先在挂牌上传质权人同意书", number=right.number))
        exclusive = [e for e in right.licences_in_force(today) if e.licence_type in rules.EXCLUSIVE_LICENCES]
        if exclusive:
            reasons.append(_("%(number)s 有独占或排他许可在有效期内（被许可人：%(who)s），不能声明开放许可",
                             number=right.number, who=exclusive[0].party_name or "—"))
    under_way = rules.licences_under_way(rights)
    for right in rights:
        if any(e.licence_type in rules.EXCLUSIVE_LICENCES for e in under_way.get(right.id, [])):
            reasons.append(_("%(number)s 有独占或排他许可交易正在办理，不能声明开放许可", number=right.number))
    if reasons:
        raise OpenLicenceConflict("；".join(reasons), reasons=reasons)
    decl = OpenLicence(listing_id=listing.id, declared_by_id=user.id, organization_id=listing.organization_id,
                       status="open", declared_at=now, **terms)
    db.session.add(decl)
    listing.updated_at = now  # the search outbox reindexes the listing (its open-licence badge and filter)
    db.session.flush()
    audit.record(user, "open_licence.declare", "listing", listing.id, {}, {"open_licence_id": decl.id, **terms})
    return decl


def withdraw(open_licence_id, user, reason=None, now=None):
    """The holder withdraws the declaration; licences already taken go on at their terms (第五十条第二款)."""
    now = now or utcnow()
    decl = db.session.get(OpenLicence, bidding.check_id(open_licence_id, _("开放许可声明不存在")))
    if decl is None:
        raise NotFound(_("开放许可声明不存在"))
    listing = _seller_listing(decl.listing_id, user)
    db.session.refresh(decl)
    reason = reason.strip() if isinstance(reason, str) else ""
    if len(reason) > MAX_WITHDRAW_REASON:
        raise ValidationError(_("撤回理由过长"), {"reason": _("最多 %(n)s 个字符", n=MAX_WITHDRAW_REASON)})
    if decl.status != "open":
        raise OpenLicenceConflict(_("该开放许可声明已%(status)s", status=str(STATUS_LABELS[decl.status])),
                                  status=decl.status)
    decl.status, decl.withdrawn_at, decl.withdraw_reason = "withdrawn", now, reason or None
    listing.updated_at = now
    db.session.flush()
    audit.record(user, "open_licence.withdraw", "listing", listing.id, {"status": "open"},
                 {"status": "withdrawn", "reason": reason})
    return decl


def lapse_dead(now):
    """Declarations whose patents lapsed or reached their term leave the catalogue; returns how many."""
    today = local(now).date()
    count = 0
    for decl in db.session.scalars(select(OpenLicence).where(OpenLicence.status == "open")
                                   .order_by(OpenLicence.id)).all():
        dead = [r for r in decl.listing.rights if not _alive(r, today)]
        if dead:
            decl.status, decl.lapsed_at = "lapsed", now
            decl.lapsed_reason = _("%(numbers)s 已失效或保护期届满", numbers="、".join(r.number for r in dead))[:300]
            decl.listing.updated_at = now
            count += 1
    db.session.flush()
    return count


# --- taking a licence ---------------------------------------------------------------------------------

def price_at_take(decl):
    """What the licensee pays when taking the licence: the first year's fixed fee, or the first year's
    minimum paid in advance (it counts against the first year's running royalties)."""
    return decl.annual_fee if decl.royalty_kind == "fixed" else decl.yearly_minimum


def take(open_licence_id, user, now=None):
    """A verified organisation accepts the published terms: a non-exclusive licence deal opens at them.

    Refused, nothing stored: no organisation, or one not verified (403); the holder's own organisation (403);
    a declaration withdrawn or lapsed (409); the organisation already holds a licence from this declaration
    that has not ended (409); the credit rules (``marketplace.kernel.credit``) and the rule book as for any deal."""
    from escrow import royalties
    from escrow.deals import open_deal
    from escrow.models import Deal
    from escrow.royalty_models import Licence
    now = now or utcnow()
    decl = db.session.get(OpenLicence, bidding.check_id(open_licence_id, _("开放许可声明不存在")))
    if decl is None:
        raise NotFound(_("开放许可声明不存在"))
    if not user.has_role("buyer"):
        raise PermissionDenied(_("需要买家身份才能取得许可"))
    if user.organization_id is None or not user.organization.verified:
        raise PermissionDenied(_("开放许可须由已核验的单位取得：请先完成单位核验"))
    ensure_can(user, "buy")
    listing = lock_listing(decl.listing_id)
    db.session.refresh(decl)
    if bidding.is_own_organisation(listing, user):
        raise PermissionDenied(_("不能取得本单位声明的开放许可"))
    if decl.status != "open":
        raise OpenLicenceConflict(_("该开放许可声明已%(status)s，不能再取得许可", status=str(STATUS_LABELS[decl.status])),
                                  status=decl.status)
    held = db.session.scalar(
        select(Licence.id).join(Deal, Deal.id == Licence.deal_id).join(User, User.id == Deal.buyer_id)
        .where(Licence.open_licence_id == decl.id, User.organization_id == user.organization_id,
               Licence.status.in_(("pending", "active"))).limit(1))
    if held is not None:
        raise OpenLicenceConflict(_("贵单位已取得（或正在办理）该开放许可（许可 #%(id)s）", id=held), licence_id=held)
    deal = open_deal(listing, user, price_at_take(decl), "non_exclusive_license", "open_licence", decl.id, now=now)
    deal.license_territory, deal.license_field = "中国大陆", "不限"
    start = deal.license_start
    deal.license_end = _anniversary(start, decl.term_years) - timedelta(days=1)  # whole years: to the day before
    terms = {"upfront_fee": deal.price, "advance_credit": decl.royalty_kind == "percent",
             "royalty_bps": decl.royalty_bps, "period": decl.period if decl.royalty_kind == "percent" else None,
             "yearly_minimum": decl.yearly_minimum, "sublicensing": False, "instalments": None}
    if decl.royalty_kind == "fixed" and decl.term_years > 1:
        terms["instalments"] = [{"due_on": _anniversary(start, k).isoformat(), "amount": decl.annual_fee}
                                for k in range(1, decl.term_years)]
    licence = royalties.create_licence(deal, open_licence=decl, terms=terms, now=now)
    royalties.refreeze_contract(deal)
    return deal, licence


def _anniversary(start, years):
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


# --- catalogue ------------------------------------------------------------------------------------------

def catalogue(now=None, limit=200):
    """Open declarations on published listings whose patents are all alive (a lapse or the term's end takes
    one out at once, before ``lapse_dead`` runs), newest first."""
    today = local(now or utcnow()).date()
    rows = db.session.scalars(select(OpenLicence).join(Listing, Listing.id == OpenLicence.listing_id)
                              .where(OpenLicence.status == "open", Listing.status == "published")
                              .order_by(OpenLicence.id.desc()).limit(limit)).all()
    return [d for d in rows if all(_alive(r, today) for r in d.listing.rights)]


def is_open(listing):
    """The listing carries an open declaration (badge, search field)."""
    return declaration_of(listing) is not None


def declaration_json(decl):
    from escrow.royalties import percent

    return {"id": decl.id, "listing_id": decl.listing_id, "status": decl.status, "royalty_kind": decl.royalty_kind,
            "annual_fee": decl.annual_fee, "royalty_bps": decl.royalty_bps,
            "royalty_percent": percent(decl.royalty_bps) if decl.royalty_bps else None,
            "yearly_minimum": decl.yearly_minimum, "period": decl.period, "term_years": decl.term_years,
            "price_at_take": price_at_take(decl), "territory": "中国大陆", "licence_type": "non_exclusive",
            "declared_at": iso(decl.declared_at), "withdrawn_at": iso(decl.withdrawn_at),
            "lapsed_at": iso(decl.lapsed_at), "listing_title": decl.listing.title,
            "numbers": [r.number for r in decl.listing.rights]}

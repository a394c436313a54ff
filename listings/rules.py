"""The rule book: what may be offered, checked at listing, at review and again when a deal opens.

One function, ``problems(listing, stage, deal_type=None)``, applies every rule to a
listing at one of four stages:

- ``draft``: creating or editing a draft. Rules a seller cannot fix by an upload refuse
  the input outright; the rest come back as warnings;
- ``submit`` and ``review``: every rule refuses;
- ``deal``: again when a deal opens, for the deal type bought.

``enforce`` raises with every problem at once, under the field it concerns, each
message naming the rule and the right's number, so the HTML form and the API say the
same. The legal basis of each rule is in docs/register.md.
"""
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace

from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.kernel import labels
from marketplace.kernel.errors import Conflict
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import label, msg, render
from marketplace.kernel.regions import REGIONS
from marketplace.kernel.timeutil import local, utcnow

from .models import Listing, ListingRight, Right, RightHolder
from .vocab import DEAD_LEGAL_STATUSES, DEAD_TM_STATUSES, DEAL_TYPE_LABELS
from .vocab import LICENCE_OF_DEAL as LICENCE_OF

STAGES = ("draft", "submit", "review", "deal")
LIVE_STATUSES = ("pending_review", "published", "reserved")  # a listing that offers its rights to buyers
SOLE_OFFERS = {"assignment", "exclusive_license", "sole_license"}  # deal types a right can be in once
EXCLUSIVE_LICENCES = {"exclusive", "sole"}
# Rules a seller fixes by an upload or a click: warnings on a draft, refusals from submission on.
FIXABLE = {"authorisation", "pledge_consent", "co_owner_consent", "trademark_bundle"}
EVERYWHERE = {"", "不限", "全国", "中国", "中国大陆", "中国境内", "全部", "all", "any", "china", "worldwide", "全球"}


@dataclass
class Problem:
    rule: str
    field: str
    message: str
    numbers: list = field(default_factory=list)
    right_ids: list = field(default_factory=list)  # for trademark_bundle: the marks to add
    listing_ids: list = field(default_factory=list)

    def as_dict(self):
        return {"code": self.rule, "field": self.field, "message": self.message, "numbers": self.numbers,
                "right_ids": self.right_ids, "listing_ids": self.listing_ids}


def _offered(listing, deal_type):
    return {deal_type} if deal_type else set(listing.deal_types or [])


def _prefix(listing, i, right):
    return f"rights[{i}].{right.kind}." + ("application_number" if right.kind == "patent" else "registration_number")


def overlaps(a, b):
    """Do two licence fields overlap? Unset or unlimited overlaps everything; two named fields overlap
    when one contains the other."""
    a, b = (a or "").strip(), (b or "").strip()
    if a.lower() in EVERYWHERE or b.lower() in EVERYWHERE:
        return True
    return a == b or a in b or b in a


PROVINCES = ("北京", "天津", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "上海", "江苏", "浙江", "安徽", "福建",
             "江西", "山东", "河南", "湖北", "湖南", "广东", "广西", "海南", "重庆", "四川", "贵州", "云南", "西藏",
             "陕西", "甘肃", "青海", "宁夏", "新疆", "香港", "澳门", "台湾")


def _place(text):
    """A territory the platform can compare: ("province", name), ("city", Guangdong city code), or None."""
    text = (text or "").strip()
    for suffix in ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市"):
        text = text.removesuffix(suffix)
    if text in PROVINCES:
        return ("province", text)
    for code, names in REGIONS.items():
        if code != "other" and text and text == str(names[0]).removesuffix("市"):
            return ("city", code)
    return None


def territories_overlap(a, b):
    """Fail closed: two territories are apart only when the platform can tell (two different provinces, two
    different Guangdong cities, or a Guangdong city and another province); any other wording (全国范围,
    华南地区, 中华人民共和国境内…) may cover the other, so it overlaps."""
    pa, pb = _place(a), _place(b)
    if not pa or not pb:
        return True
    if pa[0] == pb[0]:
        return pa == pb
    province = pa if pa[0] == "province" else pb
    return province[1] == "广东"  # a Guangdong city lies within 广东 only


def _terms(listing, deal):
    if deal is not None:
        return deal.license_territory, deal.license_field
    return listing.license_territory, listing.license_field


def problems(listing, stage, *, deal_type=None, today=None, deal=None):
    """Every rule the listing breaks at ``stage`` (see the module doc)."""
    assert stage in STAGES
    today = today or local(utcnow()).date()
    offered = _offered(listing, deal_type)
    found = []
    rights = list(listing.rights)
    if not rights:
        return found
    from .register import holder_names, listing_party_holds

    # 1. Only holders, or whoever holds their authorisation, offer a right.
    foreign = [r for r in rights if r.holders and not listing_party_holds(listing, r)]
    if foreign and not listing.authorization_doc:
        found.append(Problem("authorisation", "authorization_doc", _(
            "%(numbers)s 的权利人不是挂牌单位（权利人：%(holders)s）：须上传权利人的委托书，由运营审核时核对",
            numbers="、".join(r.number for r in foreign),
            holders="；".join(holder_names(r) for r in foreign)), [r.number for r in foreign]))

    # 2. A lapsed, expired or invalidated right cannot be offered.
    for i, r in enumerate(rights):
        ends = r.term_end()
        dead = (r.kind == "patent" and r.legal_status in DEAD_LEGAL_STATUSES) or \
               (r.kind == "trademark" and r.tm_status in DEAD_TM_STATUSES)
        if dead:
            found.append(Problem("dead_right", _prefix(listing, i, r),
                                 _("%(number)s 已失效，不能挂牌或交易", number=r.number), [r.number]))
        elif ends and ends <= today:
            found.append(Problem("dead_right", _prefix(listing, i, r),
                                 _("%(number)s 的保护期已于 %(ends)s 届满，不能挂牌或交易", number=r.number,
                                   ends=ends.isoformat()), [r.number]))

    # 3. A right offered for assignment or an exclusive or sole licence is in no other live listing
    #    offered for any of those.
    sole = SOLE_OFFERS & offered
    if sole:
        live = other_live_listings(rights, listing)  # one query for all the listing's rights
        for i, r in enumerate(rights):
            others = live.get(r.id, [])
            clash = [o for o in others if SOLE_OFFERS & set(o.deal_types or [])]
            if clash:
                found.append(Problem("already_offered", _prefix(listing, i, r), _(
                    "%(number)s 已在挂牌 %(ids)s 中以转让或独占/排他许可方式挂出：同一权利只能在一个挂牌中提供这些交易方式",
                    number=r.number, ids="、".join(f"#{o.id}" for o in clash)), [r.number],
                    listing_ids=[o.id for o in clash]))

    # 4. A pledged right is neither assigned nor licensed without the pledgee's written consent.
    pledged = [r for r in rights if r.encumbrances_in_force("pledge", today)]
    if pledged and not listing.pledge_consent:
        found.append(Problem("pledge_consent", "pledge_consent", _(
            "%(numbers)s 已质押：转让或许可须上传质权人同意书（书面同意）", numbers="、".join(r.number for r in pledged)),
            [r.number for r in pledged]))

    # 5. While an exclusive or sole licence is in force in a territory and field, no other licence
    #    there; an exclusive or sole licence needs a scope no licence in force covers.
    territory, licence_field = _terms(listing, deal)
    under_way = licences_under_way(rights) if stage == "deal" else {}
    for r in rights:
        in_force = [e for e in r.licences_in_force(today) + under_way.get(r.id, [])
                    if territories_overlap(e.territory, territory) and overlaps(e.field, licence_field)]
        for dt in sorted(offered & set(LICENCE_OF)):
            wanted = LICENCE_OF[dt]
            blocking = in_force if wanted in EXCLUSIVE_LICENCES else \
                [e for e in in_force if e.licence_type in EXCLUSIVE_LICENCES]
            if blocking:
                e = blocking[0]
                found.append(Problem("licence_conflict", "deal_types", _(
                    "%(number)s 在该地域和领域已有%(type)s在有效期内（被许可人：%(licensee)s，至 %(until)s），"
                    "不能再提供%(deal_type)s", number=r.number, type=_(LICENCE_LABELS[e.licence_type]),
                    licensee=e.party_name or "—", until=e.ends_on.isoformat() if e.ends_on else _("长期"),
                    deal_type=_(DEAL_TYPE_LABELS[dt])), [r.number]))
                break

    # 5a. While a patent is under an open licence, no exclusive or sole licence (专利法第五十一条第三款).
    if offered & {"exclusive_license", "sole_license"}:
        from .open_licence import open_on_rights

        declared = open_on_rights(_ids(rights))
        for r in rights:
            if r.id in declared:
                found.append(Problem("open_licence", "deal_types", _(
                    "%(number)s 已声明开放许可（挂牌 #%(listing)s）：开放许可期间不得给予独占或排他许可",
                    number=r.number, listing=declared[r.id].listing_id), [r.number],
                    listing_ids=[declared[r.id].listing_id]))

    # 5b. When a deal opens: an assignment waits for the licence deals under way on its rights (their
    #     licences would survive it unacknowledged, or be granted by a seller who no longer holds the right),
    #     and a licence waits for an assignment under way.
    if stage == "deal":
        assigning = assignments_under_way(rights) if deal_type in LICENCE_OF else set()
        for r in rights:
            if deal_type == "assignment" and under_way.get(r.id):
                found.append(Problem("deal_under_way", "deal_type", _(
                    "%(number)s 有许可交易正在办理，办理完成前不能转让", number=r.number), [r.number]))
            elif deal_type in LICENCE_OF and r.id in assigning:
                found.append(Problem("deal_under_way", "deal_type", _(
                    "%(number)s 正在办理转让，转让完成前不能再许可", number=r.number), [r.number]))

    # 6. Co-owned rights: every co-owner consents to an assignment or an exclusive or sole licence.
    if sole:
        from .register import consent_key, holder_key, listing_party, party_key

        consented = {consent_key(c) for c in (listing.co_owner_consents or [])} - {None}
        own = party_key(listing_party(listing))
        missing = []
        for r in rights:
            for h in r.holders:
                key = holder_key(h)
                if key == own:
                    continue
                if len(r.holders) > 1 and (key is None or key not in consented):
                    missing.append((r, h))
        if missing and not listing.co_owner_consent:
            found.append(Problem("co_owner_consent", "co_owner_consent", _(
                "共有权利须经全体共有人同意方可转让或独占/排他许可：%(items)s 尚未同意（可上传共有人同意书，或请共有人在平台上确认）",
                items="；".join(f"{r.number}（{h.name}）" for r, h in missing)), [r.number for r, _h in missing]))

    # 7. Trademark assignment (商标法第四十二条): the holder's identical or similar marks on the same
    #    or similar goods go together.
    if "assignment" in offered and listing.kind == "trademark":
        companions = similar_marks(listing, today=today)
        if companions:
            found.append(Problem("trademark_bundle", "bundle", _(
                "商标法第四十二条：转让注册商标，须将同一注册人在同一种或类似商品上的相同或近似商标一并转让。"
                "须一并加入本挂牌：%(items)s",
                items="；".join(f"{r.number}“{r.title}”（{'，'.join(reasons)}）" for r, reasons in companions)),
                [r.number for r, _x in companions], right_ids=[r.id for r, _x in companions]))

    # 8. When a deal opens: the listing's licence cap.
    if stage == "deal" and deal_type == "non_exclusive_license" and listing.license_cap:
        granted = licences_sold(listing)
        if granted >= listing.license_cap:
            found.append(Problem("licence_cap", "deal_type", _(
                "该挂牌最多发放 %(cap)s 个普通许可，已全部售出", cap=listing.license_cap),
                [r.number for r in rights]))

    if stage == "draft":
        return [p for p in found if p.rule not in FIXABLE]
    return found


LICENCE_LABELS = labels.LICENCE_TYPE


def draft_warnings(listing, today=None):
    """Problems a seller fixes before submitting (uploads, consents, bundling), as warnings."""
    today = today or local(utcnow()).date()
    found = problems(listing, "submit", today=today)
    return [p for p in found if p.rule in FIXABLE]


def enforce(listing, stage, *, deal_type=None, today=None, deal=None, message=None):
    """Raise Conflict (409) naming every broken rule; nothing else happens."""
    found = problems(listing, stage, deal_type=deal_type, today=today, deal=deal)
    if found:
        fields = {}
        for p in found:
            fields[p.field] = f"{fields[p.field]}；{p.message}" if p.field in fields else p.message
        raise RuleBroken(message or "；".join(p.message for p in found), fields=fields,
                         rules=[p.as_dict() for p in found])


class RuleBroken(Conflict):
    code = "rule_broken"


def licences_sold(listing):
    """Licence deals of this listing that count against its cap (any not cancelled or refunded)."""
    from escrow.models import Deal

    return db.session.scalar(select(db.func.count(Deal.id)).where(
        Deal.listing_id == listing.id, Deal.deal_type == "non_exclusive_license",
        Deal.state.notin_(("cancelled", "refunded")))) or 0


def _ids(rights):
    return [r.id for r in rights if r.id is not None]


def licences_under_way(rights):
    """{right id: licences that running deals (not yet recorded, so not in the register) will grant on
    it}, shaped like ``Encumbrance`` for rule 5: a deal opening must not conflict with them either.
    One query for all ``rights``."""
    from escrow.models import TERMINAL_STATES, Deal

    ids = _ids(rights)
    if not ids:
        return {}
    rows = db.session.execute(
        select(ListingRight.right_id, Deal.deal_type, Deal.license_territory, Deal.license_field, Deal.license_end)
        .join(Deal, Deal.listing_id == ListingRight.listing_id)
        .where(ListingRight.right_id.in_(ids), Deal.deal_type.in_(tuple(LICENCE_OF)),
               Deal.recorded_at.is_(None), Deal.state.notin_(tuple(TERMINAL_STATES))).order_by(Deal.id))
    out = {}
    for right_id, deal_type, territory, licence_field, ends_on in rows:
        out.setdefault(right_id, []).append(SimpleNamespace(
            licence_type=LICENCE_OF[deal_type], territory=territory, field=licence_field, party_name=None,
            ends_on=ends_on))
    return out


def assignments_under_way(rights):
    """Ids of ``rights`` an assignment deal is under way on (not yet recorded). One query."""
    from escrow.models import TERMINAL_STATES, Deal

    ids = _ids(rights)
    if not ids:
        return set()
    return set(db.session.scalars(
        select(ListingRight.right_id).join(Deal, Deal.listing_id == ListingRight.listing_id)
        .where(ListingRight.right_id.in_(ids), Deal.deal_type == "assignment", Deal.recorded_at.is_(None),
               Deal.state.notin_(tuple(TERMINAL_STATES)))))


def other_live_listings(rights, listing):
    """{right id: the other live listings offering it}, for all ``rights`` in one query."""
    ids = _ids(rights)
    if not ids:
        return {}
    query = (select(ListingRight.right_id, Listing).join(Listing, Listing.id == ListingRight.listing_id)
             .where(ListingRight.right_id.in_(ids), Listing.status.in_(LIVE_STATUSES)))
    if listing.id is not None:
        query = query.where(Listing.id != listing.id)
    out = {}
    for right_id, other in db.session.execute(query.order_by(Listing.id)):
        out.setdefault(right_id, []).append(other)
    return out


def _other_live_listings(right, listing):
    return other_live_listings([right], listing).get(right.id, [])


def _mark_key(text):
    return "".join((text or "").split()).lower()


def _similar_text(a, b):
    """Identical marks, or one contained in the other (at least two characters): 近似."""
    a, b = _mark_key(a), _mark_key(b)
    if not a or not b:
        return False
    return a == b or (min(len(a), len(b)) >= 2 and (a in b or b in a))


def _goods_overlap(a, b):
    """Shared similar groups; when either lacks them, a shared Nice class (the conservative reading)."""
    if a.similar_groups and b.similar_groups:
        return sorted(set(a.similar_groups) & set(b.similar_groups))
    classes = set(a.nice_classes or []) & set(b.nice_classes or [])
    return [f"第{c}类" for c in sorted(classes)]


def similar_marks(listing, today=None):
    """Marks the register gives to this listing's holders that must be assigned with it:
    [(right, [reason, …])]. Only an assignment of trademarks needs it."""
    if listing.kind != "trademark" or "assignment" not in (listing.deal_types or []):
        return []
    today = today or local(utcnow()).date()
    own = list(listing.rights)
    own_ids = {r.id for r in own if r.id is not None}
    orgs = {h.organization_id for r in own for h in r.holders if h.organization_id}
    people = {h.user_id for r in own for h in r.holders if h.holder_type == "person" and h.user_id}
    if not orgs and not people:
        return []
    holder_match = RightHolder.organization_id.in_(orgs) if orgs else None
    if people:
        person = (RightHolder.holder_type == "person") & RightHolder.user_id.in_(people)
        holder_match = person if holder_match is None else (holder_match | person)
    held = select(RightHolder.right_id).where(holder_match)  # (no DISTINCT over rows with JSON columns)
    candidates = db.session.scalars(
        select(Right).where(Right.kind == "trademark", Right.id.in_(held)).order_by(Right.id))
    found = []
    for other in candidates:
        if other.id in own_ids or other.tm_status in DEAD_TM_STATUSES:
            continue
        ends = other.term_end()
        if ends and ends <= today:
            continue
        reasons = []
        for mine in own:
            if not _similar_text(mine.title, other.title):
                continue
            shared = _goods_overlap(mine, other)
            if shared:
                same = _mark_key(mine.title) == _mark_key(other.title)
                reasons.append(_("与“%(mark)s”%(how)s，商品/服务同在 %(groups)s", mark=mine.title,
                                 how=_("相同") if same else _("近似"), groups="、".join(shared)))
                break
        if reasons:
            found.append((other, reasons))
    return found


def fee_due_flags(listing, until):
    """Annuities or renewals of the listing's rights that fall due before ``until`` (a date):
    [(right, what, due, grace_end)]. Flagged to both parties when a deal opens."""
    flags = []
    for r in listing.rights:
        due = r.next_fee_due()
        if due and due[1] <= until:
            flags.append((r, due[0], due[1], due[2]))
    return flags


def fee_due_message(flags, stored=False):
    """Which fees fall due: in the request's language, or (``stored``) as a message to store and show later in
    the reader's language (``marketplace.kernel.messages``)."""
    parts = [msg(N_("%(number)s 的%(what)s应于 %(due)s 前缴纳（宽展期至 %(grace)s）"), number=r.number,
                 what=label(N_("年费") if what == "annuity" else N_("续展费")), due=due.isoformat(),
                 grace=grace.isoformat()) for r, what, due, grace in flags]
    message = msg("%(fees)s", fees=parts)
    return message if stored else render(message)


def _warnings(listing, today):
    """Advisory findings for a draft (each blocks submission until fixed)."""
    out = []
    for p in draft_warnings(listing, today):
        out.append({"code": p.rule, "message": p.message, "listing_ids": p.listing_ids, "right_ids": p.right_ids})
    assignment_licences = [r for r in listing.rights if r.licences_in_force(today)] \
        if "assignment" in (listing.deal_types or []) else []
    if assignment_licences:
        out.append({"code": "licences_survive", "message": _(
            "%(numbers)s 有许可在有效期内：转让后许可继续有效，买方付款前须确认知悉", numbers="、".join(
                r.number for r in assignment_licences)), "listing_ids": [], "right_ids": []})
    due = fee_due_flags(listing, date.fromordinal(today.toordinal() + 180))
    if due:
        out.append({"code": "fee_due", "message": fee_due_message(due), "listing_ids": [], "right_ids": []})
    return out


"""The rule book: what may be offered, checked at listing, at review and again when a deal opens."""
from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.extensions import db

from .models import Listing
from .vocab import DEAL_TYPE_LABELS, EXCLUSIVE_DEAL_TYPES


def _check_exclusive_licences(out, fields, today):
    """An exclusive licence in force blocks offering another exclusive (or sole) licence."""
    wanted = EXCLUSIVE_DEAL_TYPES & set(out["deal_types"])
    if not wanted:
        return
    blocked = [r for r in out["rights"] if r.get("exclusive_license_until") and r["exclusive_license_until"] > today]
    if blocked:
        names = "、".join(_("%(number)s（至 %(until)s）", number=r["number"],
                           until=r["exclusive_license_until"].isoformat()) for r in blocked)
        fields["deal_types"] = _("%(names)s 已有独占许可在有效期内，不能再提供%(deal_types)s", names=names,
                                 deal_types="、".join(_(DEAL_TYPE_LABELS[d]) for d in sorted(wanted)))


def _warnings(listing, today):
    """Advisory findings that do not block a draft (blocking ones are checked again on submit)."""
    warnings = []
    if _needs_pledge_consent(listing):
        pledged = [r.number for r in listing.rights if r.pledged]
        warnings.append({"code": "pledge_consent_required",
                         "message": _("%(numbers)s 已质押：以转让方式挂牌须上传质权人同意书，提交审核前补齐",
                                     numbers="、".join(pledged)),
                         "listing_ids": []})
    if listing.kind == "patent" and "non_exclusive_license" in listing.deal_types:
        licensed = [r.number for r in listing.rights
                    if r.exclusive_license_until and r.exclusive_license_until > today]
        if licensed:
            warnings.append({"code": "exclusive_license_in_force",
                             "message": _("%(numbers)s 已有独占/排他许可在有效期内，普通许可须取得被许可人同意",
                                         numbers="、".join(licensed)),
                             "listing_ids": []})
    similar = similar_marks(listing)
    if similar:
        names = "；".join(f"#{other.id}《{other.title}》（{', '.join(reasons)}）" for other, reasons in similar)
        warnings.append({"code": "similar_marks",
                         "message": _("商标转让须将同一注册人在同一种或类似商品上的相同或近似商标一并转让（商标法第四十二条）。"
                                      "本单位的以下挂牌含有相同或近似商标：%(names)s。可将其合并到本挂牌一起转让。",
                                      names=names),
                         "listing_ids": [other.id for other, _ in similar]})
    return warnings


def _needs_pledge_consent(listing):
    return ("assignment" in listing.deal_types and any(r.pledged for r in listing.rights)
            and not listing.pledge_consent)


def similar_marks(listing):
    """Other live listings of the same organisation holding identical marks or marks in a shared similar group.

    Only matters for an assignment of trademarks. Returns [(other_listing, [reason, …])].
    """
    if listing.kind != "trademark" or "assignment" not in (listing.deal_types or []):
        return []
    texts = {r.title.strip().lower() for r in listing.rights}
    groups = {g for r in listing.rights for g in (r.similar_groups or [])}
    own_numbers = {r.number for r in listing.rights}
    query = (select(Listing).where(Listing.organization_id == listing.organization_id, Listing.kind == "trademark",
                                   Listing.status.in_(("draft", "pending_review", "published", "rejected")))
             .order_by(Listing.id))
    if listing.id is not None:
        query = query.where(Listing.id != listing.id)
    found = []
    for other in db.session.scalars(query):
        reasons = []
        for right in other.rights:
            if right.number in own_numbers:
                continue
            if right.title.strip().lower() in texts:
                reasons.append(_("相同商标“%(mark)s”第%(number)s号", mark=right.title, number=right.number))
            else:
                shared = groups & set(right.similar_groups or [])
                if shared:
                    reasons.append(_("“%(mark)s”第%(number)s号与本挂牌同在类似群 %(groups)s", mark=right.title,
                                     number=right.number, groups="、".join(sorted(shared))))
        if reasons:
            found.append((other, reasons))
    return found


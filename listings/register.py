"""The rights register's services: find or enter a right, who holds it, and what a deal changes.

Every change writes a ``RightEvent`` (what, when, by whom, and its source: declared by
the seller, entered by an operator, or deal #N). Functions flush, never commit.
See docs/register.md.
"""
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from marketplace.kernel import audit
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import msg
from marketplace.kernel.models import User
from marketplace.kernel.notify import notify
from marketplace.kernel.timeutil import local, utcnow
from marketplace.kernel.uploads import save_upload

from . import identifiers as ids
from .models import Encumbrance, Right, RightClaim, RightEvent, RightHolder
from .vocab import LICENCE_OF_DEAL, MAX_CLAIM_NOTE, MAX_REASON, MIN_REASON

# Columns a listing's input carries for a right (validation.parse_patent / parse_trademark).
DATA_COLUMNS = ("title", "abstract", "patent_type", "ipc_codes", "locarno_class", "filing_date", "grant_date",
                "claims_count", "legal_status", "annuity_paid_until", "family_countries", "nice_classes",
                "similar_groups", "goods", "registration_date", "tm_status", "disputes", "use_evidence")
# Once an operator has verified an entry, these change only through an operator's correction.
OPERATOR_KEPT = ("legal_status", "tm_status", "filing_date", "grant_date", "registration_date", "annuity_paid_until",
                 "patent_type")
UNDISCLOSED = "未披露"  # a declared pledge or licence whose counterparty the seller did not name
KIND_PATHS = {"patent": "patent", "trademark": "trademark"}


def canonical(kind, number):
    """The canonical number for ``kind`` (raises InvalidIdentifier)."""
    if kind == "patent":
        return ids.normalize_application_number(number)[0]
    return ids.normalize_registration_number(number)


def find(kind, number, options=()):
    """The register entry, or None. ``number`` may be in any accepted spelling. ``options``: loader options
    (``page_options()`` for the right's page)."""
    try:
        number = canonical(kind, number)
    except ids.InvalidIdentifier:
        return None
    return db.session.scalar(select(Right).where(Right.kind == kind, Right.number == number).options(*options))


def page_options():
    """Loader options for a right's page and API answer: holders, encumbrances, history and the listings that
    offer it (with what their cards show), each in one query whatever their number."""
    from .models import Listing, ListingRight

    return [selectinload(Right.holders), selectinload(Right.encumbrances), selectinload(Right.events),
            selectinload(Right.listing_links).selectinload(ListingRight.listing).options(
                selectinload(Listing.organization), selectinload(Listing.auction))]


def get(kind, number, options=()):
    right = find(kind, number, options) if kind in KIND_PATHS else None
    if right is None:
        raise NotFound(_("登记簿中没有该权利"))
    return right


def record(right, action, detail=None, *, source, actor=None, deal=None, now=None):
    """Append one event to the right's history."""
    event = RightEvent(right=right, action=action, detail=_plain(detail or {}), source=source,
                       actor_id=getattr(actor, "id", None), deal_id=getattr(deal, "id", None),
                       created_at=now or utcnow())
    db.session.add(event)
    return event


def _plain(value):
    """JSON-safe copy (dates as ISO text)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# --- holders ---------------------------------------------------------------------------

def party_of(user):
    """The holder a user acts for: their organisation, or themselves as a natural person."""
    if user.organization_id is not None:
        return {"type": "organization", "organization_id": user.organization_id, "user_id": None,
                "name": user.organization.name}
    return {"type": "person", "organization_id": None, "user_id": user.id, "name": user.name or user.email}


def is_holder(right, organization_id=None, user_id=None):
    for h in right.holders:
        if organization_id is not None and h.organization_id == organization_id:
            return True
        if user_id is not None and h.holder_type == "person" and h.user_id == user_id:
            return True
    return False


def party_key(party):
    """("organization", id) or ("person", user id): compares two seller sides."""
    if party.get("organization_id") is not None:
        return ("organization", party["organization_id"])
    return ("person", party.get("user_id"))


def listing_party(listing):
    """The listing's seller side as a party: its organisation, or its seller as a natural person."""
    if listing.organization_id is not None:
        return {"type": "organization", "organization_id": listing.organization_id, "user_id": None,
                "name": listing.organization.name if listing.organization else ""}
    return {"type": "person", "organization_id": None, "user_id": listing.seller_id,
            "name": listing.seller.name if listing.seller else ""}


def consent_key(consent):
    """The party key of a co-owner's click consent (``Listing.co_owner_consents`` item)."""
    if consent.get("organization_id") is not None:
        return ("organization", consent["organization_id"])
    return ("person", consent.get("user_id")) if consent.get("person") else None


def holder_key(holder):
    """The party key of a ``RightHolder`` on the platform, or None for an outside party (or an
    unlinked natural person, who holds but cannot act on the platform)."""
    if holder.organization_id is not None:
        return ("organization", holder.organization_id)
    if holder.holder_type == "person" and holder.user_id is not None:
        return ("person", holder.user_id)
    return None


HOLDER_CHANGES = ("assigned", "holders_corrected", "reassigned_back", "claim_upheld")


def rights_no_longer_offerable(listing):
    """Rights of ``listing`` its seller side may no longer offer: held by another and not listed under
    the holders' authorisation, or, under an authorisation, whose holders changed since the listing was
    submitted (the 委托书 came from earlier holders)."""
    out = []
    for right in listing.rights:
        if not right.holders or listing_party_holds(listing, right):
            continue
        if not listing.acts_for_holders:
            out.append(right)
            continue
        since = listing.submitted_at or listing.created_at
        changed = db.session.scalar(select(db.func.count(RightEvent.id)).where(
            RightEvent.right_id == right.id, RightEvent.action.in_(HOLDER_CHANGES), RightEvent.created_at > since))
        if changed:
            out.append(right)
    return out


def listing_party_holds(listing, right):
    """The listing's seller side (its organisation, or the seller as a natural person) holds ``right``."""
    return is_holder(right, organization_id=listing.organization_id,
                     user_id=listing.seller_id if listing.organization_id is None else None)


def holder_names(right):
    return "、".join(right.holder_names) or _("未登记")


def set_holders(right, parties, *, action, source, actor=None, deal=None, now=None, detail=None):
    """Replace the right's holders by ``parties`` (dicts as ``RightHolder.as_party``), recording before/after."""
    before = [h.as_party() for h in right.holders]
    right.holders = [RightHolder(holder_type=p["type"], organization_id=p.get("organization_id"),
                                 user_id=p.get("user_id"), name=p["name"], id_type=p.get("id_type"),
                                 id_number_masked=p.get("id_number_masked"), position=i)
                     for i, p in enumerate(parties)]
    record(right, action, {"before": before, "after": [dict(p) for p in parties], **(detail or {})},
           source=source, actor=actor, deal=deal, now=now)
    db.session.flush()


# --- entering rights from a listing ------------------------------------------------------

def known_input(kind, number):
    """The register's data for ``number`` as listing input (to fill a form or an API body), or None."""
    right = find(kind, number)
    if right is None:
        return None
    from .service import right_input

    return right_input(right)


class HeldByAnother(Conflict):
    """The register gives the number to another holder (409)."""

    code = "held_by_another"


def held_by_another(rights):
    """The 409 for ``rights`` the register gives to another holder: the holders' names and the two ways
    forward (list under the holders' authorisation, or claim the right to an operator). One message for
    the API, the wizard's save and the wizard's look-up while typing."""
    names = "；".join(_("%(number)s 的权利人是 %(holders)s", number=r.number, holders=holder_names(r))
                     for r in rights)
    return HeldByAnother(
        _("%(names)s。只有权利人可以挂牌：如您受权利人委托，请勾选“受权利人委托挂牌”并上传委托书；"
          "如您认为登记有误，请在该权利的登记页提出权属异议并上传权属证明，由平台运营核实。", names=names),
        rights=[{"kind": r.kind, "number": r.number, "holders": r.holder_names,
                 "url": f"/rights/{r.kind}/{r.number}", "claim": f"/api/v1/rights/{r.kind}/{r.number}/claims"}
                for r in rights],
        ways_forward=["upload_authorization", "claim_to_operator"])


def for_viewer(right, user):
    """What a seller about to list ``right`` should know: do they hold it, else the 409 they would get."""
    party = party_of(user)
    holds = not right.holders or is_holder(right, party["organization_id"], party["user_id"])
    return {"holds": holds, "held_by_another": None if holds else held_by_another([right]).to_dict()["error"]}


def resolve(user, cleaned_rights, *, acts_for_holders=False, now=None):
    """Register entries (new ones pending, not flushed) for a listing's cleaned rights, in order. Creates unknown ones (the seller's
    side becomes the holder, declared by the seller); updates the data of those the seller's side
    holds; for the others, the seller must act for the holders (an authorisation): their data stays
    as the register has it. Raises ``HeldByAnother`` (nothing written) when the seller's side holds
    none of that and does not say it acts for the holders.
    """
    now = now or utcnow()
    party = party_of(user)
    found = []
    refused = []
    for values in cleaned_rights:
        with db.session.no_autoflush:  # a look-up by number: nothing pending (the caller's listing) changes it
            right = db.session.scalar(select(Right).where(Right.kind == values["kind"],
                                                          Right.number == values["number"]))
        found.append(right)
        if right is not None and right.holders and not is_holder(
                right, party["organization_id"], party["user_id"]) and not acts_for_holders:
            refused.append(right)
    if refused:
        raise held_by_another(refused)
    out = []
    for values, right in zip(cleaned_rights, found, strict=True):
        if right is None:
            # A new entry has no encumbrances, events or listings yet (said here: none is loaded from the database).
            right = Right(kind=values["kind"], number=values["number"], madrid=ids.is_madrid(values["number"]),
                          created_at=now, updated_at=now, encumbrances=[], events=[], listing_links=[])
            for column in DATA_COLUMNS:
                setattr(right, column, values.get(column))
            db.session.add(right)
            right.holders = [RightHolder(holder_type=party["type"], organization_id=party["organization_id"],
                                         user_id=party["user_id"], name=party["name"], position=0)]
            record(right, "registered", {"holders": [party], "data": {c: values.get(c) for c in DATA_COLUMNS
                                                                      if values.get(c) is not None}},
                   source="seller", actor=user, now=now)
            _declare_encumbrances(right, values, user, now)
        elif is_holder(right, party["organization_id"], party["user_id"]) or not right.holders:
            changed = {}
            for column in DATA_COLUMNS:
                if right.verified_at is not None and column in OPERATOR_KEPT:
                    continue  # an operator checked these against CNIPA: a seller's input does not undo that
                new = values.get(column)
                if new is not None and getattr(right, column) != new:
                    changed[column] = {"before": getattr(right, column), "after": new}
                    setattr(right, column, new)
            if not right.holders:
                right.holders = [RightHolder(holder_type=party["type"], organization_id=party["organization_id"],
                                             user_id=party["user_id"], name=party["name"], position=0)]
                changed["holders"] = {"before": [], "after": [party]}
            if changed:
                record(right, "declared", changed, source="seller", actor=user, now=now)
            _declare_encumbrances(right, values, user, now)
        out.append(right)
    # Not flushed here: the caller (``service._apply``) links the entries to its listing and flushes once,
    # so a bulk import writes a listing, its rights and their links in one flush (one outbox row).
    return out


def _declare_encumbrances(right, values, user, now):
    """A seller's ``pledged`` and ``exclusive_license_until`` become declared encumbrances.

    Declaring ``pledged: false`` ends only a pledge the seller had declared; a pledge an
    operator entered or a deal made stays until an operator ends it.
    """
    today = local(now).date()
    pledges = right.encumbrances_in_force("pledge", today)
    if values.get("pledged") and not pledges:
        right.encumbrances.append(Encumbrance(kind="pledge", party_name=UNDISCLOSED, source="declared",
                                              created_at=now))
        record(right, "pledge_declared", {}, source="seller", actor=user, now=now)
    elif values.get("pledged") is False:
        for pledge in pledges:
            if pledge.source == "declared":
                pledge.ended_at, pledge.ended_reason = now, "卖方声明已解除"
                record(right, "pledge_released", {"encumbrance_id": pledge.id}, source="seller", actor=user, now=now)
    until = values.get("exclusive_license_until")
    # The listing's input carries the register's own licences back (``right_input``): a date no later
    # than one an operator or a deal recorded is that licence, not a new declaration.
    recorded = [e.ends_on or date.max for e in right.licences_in_force(today)
                if e.licence_type in ("exclusive", "sole") and e.source != "declared"]
    if until and until >= today and not (recorded and until <= max(recorded)):
        declared = [e for e in right.licences_in_force(today)
                    if e.licence_type in ("exclusive", "sole") and e.source == "declared"]
        if not declared:
            right.encumbrances.append(Encumbrance(kind="licence", licence_type="exclusive", party_name=UNDISCLOSED,
                                                  ends_on=until, source="declared", created_at=now))
            record(right, "licence_declared", {"licence_type": "exclusive", "ends_on": until},
                   source="seller", actor=user, now=now)
        elif declared[0].ends_on != until:
            record(right, "licence_declared", {"licence_type": "exclusive", "ends_on": until,
                                               "before": declared[0].ends_on}, source="seller", actor=user, now=now)
            declared[0].ends_on = until


# --- deals change the register ------------------------------------------------------------

def buyer_party(deal):
    buyer = db.session.get(User, deal.buyer_id)
    return party_of(buyer)


def apply_recorded_transfer(deal, now=None):
    """CNIPA recorded the deal's transfer: the register follows.

    An assignment makes the buyer's side the holder of every right in the listing and takes
    the rights' other listings off the market (their sellers, bidders and offerers are told);
    a licence adds a licence with the deal's terms.
    """
    from . import lifecycle

    now = now or utcnow()
    listing = deal.listing
    party = buyer_party(deal)
    for right in listing.rights:
        if deal.deal_type == "assignment":
            set_holders(right, [party], action="assigned", source="deal", deal=deal, now=now)
            for other in list(right.listings):
                if other.id != listing.id:
                    lifecycle.take_off_market(other, msg(N_("%(number)s 已通过交易 #%(deal)s 转让给他人"),
                                                       number=right.number, deal=deal.id), now=now)
        else:
            licence = Encumbrance(kind="licence", licence_type=LICENCE_OF_DEAL[deal.deal_type],
                                  party_name=party["name"], party_organization_id=party["organization_id"],
                                  party_user_id=party["user_id"], territory=deal.license_territory,
                                  field=deal.license_field, starts_on=deal.license_start, ends_on=deal.license_end,
                                  source="platform", deal_id=deal.id, created_at=now)
            right.encumbrances.append(licence)
            db.session.flush()
            record(right, "licensed", {"licence_type": licence.licence_type, "licensee": party["name"],
                                       "territory": licence.territory, "field": licence.field,
                                       "starts_on": licence.starts_on, "ends_on": licence.ends_on},
                   source="deal", deal=deal, now=now)
    db.session.flush()





def reverse_recorded_transfer(deal, actor, now=None):
    """The transfer-back (回转登记) was recorded: undo what ``apply_recorded_transfer`` did for ``deal``."""
    now = now or utcnow()
    for right in deal.listing.rights:
        if deal.deal_type == "assignment":
            assigned = db.session.scalar(
                select(RightEvent).where(RightEvent.right_id == right.id, RightEvent.deal_id == deal.id,
                                         RightEvent.action == "assigned").order_by(RightEvent.id.desc()).limit(1))
            if assigned is not None:
                now_held = [(h.holder_type, h.organization_id, h.user_id) for h in right.holders]
                by_deal = [(p.get("type"), p.get("organization_id"), p.get("user_id"))
                           for p in assigned.detail.get("after") or []]
                if now_held != by_deal:  # the buyer has assigned it on (or an operator corrected it) since
                    raise Conflict(_("%(number)s 的权利人已不是本交易的买方（现为 %(holders)s），不能按本交易回转；"
                                     "请核实后另行处理", number=right.number, holders=holder_names(right)))
                set_holders(right, assigned.detail.get("before") or [], action="reassigned_back", source="operator",
                            actor=actor, deal=deal, now=now)
                # The buyer may have listed the right as its holder meanwhile: that listing comes off the market
                # as an assignment takes the seller's other listings off (a reserved one when its deal ends).
                from . import lifecycle

                for other in list(right.listings):
                    if other.id != deal.listing_id and not listing_party_holds(other, right):
                        lifecycle.take_off_market(other, msg(N_("%(number)s 已按交易 #%(deal)s 回转登记给原权利人"),
                                                           number=right.number, deal=deal.id), now=now)
        else:
            for licence in right.encumbrances:
                if licence.deal_id == deal.id and licence.ended_at is None:
                    licence.ended_at, licence.ended_reason = now, f"交易 #{deal.id} 回转登记"
                    record(right, "licence_reversed", {"encumbrance_id": licence.id}, source="operator",
                           actor=actor, deal=deal, now=now)
    db.session.flush()


# --- operators: corrections and claims ------------------------------------------------------

CORRECTABLE = DATA_COLUMNS + ("madrid",)


def correct(operator, right, changes, reason, *, now=None):
    """An operator corrects an entry's data (with a reason; audited and in the history)."""
    _require_operator(operator)
    reason = _reason(reason)
    now = now or utcnow()
    if not isinstance(changes, dict) or not changes:
        raise ValidationError(_("没有要更正的内容"), {"changes": _("必填")})
    unknown = sorted(set(changes) - set(CORRECTABLE))
    if unknown:
        raise ValidationError(_("含有不能更正的字段"), {k: _("未知或不可更正的字段") for k in unknown})
    diff = {}
    for column, value in changes.items():
        if getattr(right, column) != value:
            diff[column] = {"before": getattr(right, column), "after": value}
            setattr(right, column, value)
    right.verified_at = now
    record(right, "corrected", {**diff, "reason": reason}, source="operator", actor=operator, now=now)
    audit.record(operator, "right.correct", "right", right.id, before={k: v["before"] for k, v in _plain(diff).items()},
                 after={**{k: v["after"] for k, v in _plain(diff).items()}, "reason": reason})
    db.session.flush()
    return right


def correct_holders(operator, right, parties, reason, *, now=None):
    _require_operator(operator)
    reason = _reason(reason)
    if not parties:
        raise ValidationError(_("至少一个权利人"), {"holders": _("必填")})
    before = [h.as_party() for h in right.holders]
    set_holders(right, parties, action="holders_corrected", source="operator", actor=operator, now=now,
                detail={"reason": reason})
    audit.record(operator, "right.holders", "right", right.id, before={"holders": before},
                 after={"holders": parties, "reason": reason})
    return right


def add_encumbrance(operator, right, values, reason, *, now=None):
    """An operator enters a pledge or licence from CNIPA's record (source ``operator``)."""
    _require_operator(operator)
    reason = _reason(reason)
    now = now or utcnow()
    enc = Encumbrance(source="operator", created_at=now, **values)
    right.encumbrances.append(enc)
    db.session.flush()
    record(right, f"{enc.kind}_entered", {**values, "reason": reason}, source="operator", actor=operator, now=now)
    audit.record(operator, f"right.{enc.kind}", "right", right.id, before={}, after={**_plain(values),
                                                                                      "reason": reason})
    return enc


def end_encumbrance(operator, right, encumbrance_id, reason, *, now=None):
    _require_operator(operator)
    reason = _reason(reason)
    now = now or utcnow()
    enc = next((e for e in right.encumbrances if e.id == encumbrance_id and e.ended_at is None), None)
    if enc is None:
        raise NotFound(_("没有这项在效的质押或许可"))
    enc.ended_at, enc.ended_reason = now, reason[:200]
    record(right, f"{enc.kind}_ended", {"encumbrance_id": enc.id, "reason": reason}, source="operator",
           actor=operator, now=now)
    audit.record(operator, f"right.{enc.kind}_end", "right", right.id, before={"encumbrance_id": enc.id},
                 after={"reason": reason})
    db.session.flush()
    return enc


def claims_of(user):
    """SQL condition: claims filed by ``user``'s side (their organisation's, or their own as a natural person)."""
    if user.organization_id is not None:
        return RightClaim.organization_id == user.organization_id
    return (RightClaim.organization_id.is_(None)) & (RightClaim.claimant_id == user.id)


def claimant_party(claim):
    """The party a claim asks the register to record: the claimant's organisation, or the claimant."""
    from marketplace.kernel.models import Organization, User

    if claim.organization_id is not None:
        org = db.session.get(Organization, claim.organization_id)
        return {"type": "organization", "organization_id": org.id, "user_id": None, "name": org.name}
    person = db.session.get(User, claim.claimant_id)
    return {"type": "person", "organization_id": None, "user_id": person.id, "name": person.name}


def file_claim(user, right, evidence_storage, note, *, now=None):
    """A seller whose side (organisation, or themselves as a natural person) is not the registered holder
    claims the right, with evidence."""
    if user is None or not user.has_role("seller"):
        raise PermissionDenied(_("只有卖家账户可以提出权属异议"))
    party = party_of(user)  # an organisation's seller claims for it; a natural person for themselves
    if is_holder(right, party["organization_id"], party["user_id"]):
        raise Conflict(_("您（或贵单位）已是该权利的权利人"))
    note = note.strip() if isinstance(note, str) else ""
    if len(note) > MAX_CLAIM_NOTE:
        raise ValidationError(_("说明过长"), {"note": _("最多 %(n)s 个字符", n=MAX_CLAIM_NOTE)})
    existing = db.session.scalar(select(RightClaim).where(RightClaim.right_id == right.id, claims_of(user),
                                                          RightClaim.status == "open"))
    if existing is not None:
        raise Conflict(_("您对该权利的异议正在处理中（#%(id)s）", id=existing.id), claim_id=existing.id)
    if evidence_storage is None or not getattr(evidence_storage, "filename", ""):
        raise ValidationError(_("请上传权属证明（如专利证书、转让登记通知书）"), {"evidence": _("必填")})
    stored, _kind, _size, _name = save_upload(evidence_storage, field="evidence", area="docs")
    claim = RightClaim(right=right, organization_id=party["organization_id"], claimant_id=user.id,
                       claimant_name=party["name"], evidence=stored, note=note or None,
                       created_at=now or utcnow())
    db.session.add(claim)
    db.session.flush()
    record(right, "claimed", {"claim_id": claim.id, "claimant": claim.claimant_name}, source="seller", actor=user,
           now=now)
    from .lifecycle import operator_ids

    for operator_id in operator_ids():
        notify(operator_id, "listing", msg(N_("权属异议：%(number)s"), number=right.number),
               msg(N_("%(claimant_name)s 主张 %(number)s 的权利（登记权利人：%(right)s）。"), claimant_name=claim.claimant_name, number=right.number, right=holder_names(right)),
               link="/operator/rights/claims")
    return claim


CLAIM_DECISIONS = ("uphold", "dismiss")


def decide_claim(operator, claim_id, decision, reason, *, now=None):
    """Uphold or dismiss a claim.

    Upholding makes the claimant's side (its organisation, or the claimant as a natural person) the
    holder, and nothing else may go on with the right as the register had it: the running deals on a
    listing of another seller side stop (``escrow.deals.stop_for_upheld_claim``: unpaid ones are
    cancelled, paid ones go to ``disputed`` and the escrow holds the money), and those listings come
    off the market (``lifecycle.take_off_market``; a reserved one when its deal ends). Buyers, sellers,
    bidders and offerers are told (notifications in this transaction, seen once it commits).
    """
    from escrow import deals as escrow_deals

    from . import lifecycle

    _require_operator(operator)
    reason = _reason(reason)
    now = now or utcnow()
    claim = db.session.get(RightClaim, claim_id)
    if claim is None:
        raise NotFound(_("异议不存在"))
    if claim.status != "open":
        raise Conflict(_("该异议已处理"), status=claim.status)
    if decision not in CLAIM_DECISIONS:
        raise ValidationError(_("处理结论应为 uphold 或 dismiss"), {"decision": _("应为 uphold（支持）或 dismiss（驳回）")})
    right = claim.right
    stopped = []
    if decision == "uphold":
        party = claimant_party(claim)
        correct_holders(operator, right, [party], reason, now=now)
        why = msg(N_("运营裁定 %(number)s 的权利人为 %(name)s（权属异议 #%(claim)s）"), number=right.number,
                name=party["name"], claim=claim.id)
        others = [listing for listing in right.listings if party_key(listing_party(listing)) != party_key(party)]
        for deal_id in escrow_deals.deals_on_right(right.id, [listing.id for listing in others]):
            stopped.append(escrow_deals.on_upheld_claim(deal_id, why, now=now).id)
        for listing in others:
            lifecycle.take_off_market(listing, why, now=now)
    claim.status = "upheld" if decision == "uphold" else "dismissed"
    claim.decided_by_id, claim.decided_at, claim.decision_reason = operator.id, now, reason
    record(right, f"claim_{claim.status}", {"claim_id": claim.id, "reason": reason, "deals_stopped": stopped},
           source="operator", actor=operator, now=now)
    audit.record(operator, f"right.claim_{decision}", "right", right.id, before={"claim_id": claim.id},
                 after={"status": claim.status, "reason": reason, "deals_stopped": stopped})
    notify(claim.claimant_id, "listing", msg(N_("权属异议已处理：%(number)s"), number=right.number),
           msg(N_("已支持：您（或贵单位）已登记为权利人。理由：%(reason)s") if claim.status == "upheld"
               else N_("未支持。理由：%(reason)s"), reason=reason),
           link=f"/rights/{right.kind}/{right.number}")
    db.session.flush()
    return claim


def open_claims():
    return list(db.session.scalars(select(RightClaim).where(RightClaim.status == "open").order_by(RightClaim.id)))


def _require_operator(user):
    if user is None or not user.is_operator:
        raise PermissionDenied(_("只有运营人员可以更正登记簿"))


def _reason(reason):
    reason = reason.strip() if isinstance(reason, str) else ""
    if len(reason) < MIN_REASON:
        raise ValidationError(_("请写明理由"), {"reason": _("必填")})
    if len(reason) > MAX_REASON:
        raise ValidationError(_("理由过长"), {"reason": _("最多 %(n)s 个字符", n=MAX_REASON)})
    return reason

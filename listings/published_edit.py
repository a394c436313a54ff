"""Editing a published listing (issue 17: sellers are not stuck).

A seller side edits its published listing through the same wizard and ``PATCH /api/v1/listings/{id}`` as a draft:

- **At once**: the price (一口价 or 参考价), the offer floor, the description and the trademark image. The listing
  stays published; the cached pages and the search index follow on the commit (``listings.outbox`` and
  ``marketplace.kernel.pagecache`` watch the listing row). A new price is in the audit log (``listing.price_change``,
  before and after, in fen) and voids the open offers and counters (made on the old terms; both sides told). A
  description change is logged too (``listing.description_change``).
- **Back to review**: anything else (the rights, the title, the deal types, the price mode, the region, the licence
  terms, the auction's terms). The listing leaves the market (``published → pending_review``, action ``revise``),
  its open offers are voided, and an operator reviews it again as any submission (the same checks as submitting).
- **Refused, nothing changed**: a listing that is not published (reserved, sold…: 409; drafts and rejected
  listings are edited as before), an auction that has bids (409: bidders bid on its terms), bad input (422).
"""
from flask_babel import gettext as _

from marketplace.kernel import audit
from marketplace.kernel.errors import Conflict, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import msg
from marketplace.kernel.notify import notify
from marketplace.kernel.timeutil import local, utcnow

from .lifecycle import _check_ready, _transition, operator_ids, void_open_offers
from .rules import _warnings
from .validation import LISTING_KEYS, parse_listing

AT_ONCE = frozenset({"price", "deal_prices", "offer_floor", "description"})
COMPARED = ("kind", "title", "description", "deal_types", "price_mode", "price", "deal_prices", "region", "offer_floor",
            "license_territory", "license_field", "license_years", "license_cap", "acts_for_holders")


def _rights_key(cleaned):
    return [(r.get("kind"), r.get("number"), tuple(sorted((k, repr(v)) for k, v in r.items())))
            for r in cleaned.get("rights") or []]


def changed_keys(current, cleaned):
    """The listing keys whose cleaned values differ."""
    keys = {k for k in COMPARED if current.get(k) != cleaned.get(k)}
    if _rights_key(current) != _rights_key(cleaned):
        keys.add("rights")
    if (current.get("auction") or None) != (cleaned.get("auction") or None):
        keys.add("auction")
    return keys


def edit_published(user, listing, changes, *, now=None, apply=None, listing_input=None):
    """Apply ``changes`` (PATCH: only the keys given) to the published ``listing`` the caller owns.
    ``apply`` and ``listing_input`` are ``service._apply`` and ``service.listing_input`` (passed in: one rule each).
    Returns (listing, warnings, went_to_review)."""
    if listing.status != "published":
        raise Conflict(_("只有在售的挂牌可以这样修改"), status=listing.status)
    unknown = sorted(set(changes) - set(LISTING_KEYS))
    if unknown:
        raise ValidationError(_("含有不能修改的字段"), {k: _("未知或不可修改的字段") for k in unknown})
    now = now or utcnow()
    before = listing_input(listing)
    merged = dict(before)
    merged.update(changes)
    if merged.get("price_mode") != "auction":
        merged.pop("auction", None)
    # The current values through the same parser, so "unchanged" compares like with like; an auction whose
    # close is near may no longer pass the new-input bounds: then its terms count as changed only if given.
    try:
        current = parse_listing(before, now=now, default_region=listing.region)
    except ValidationError:
        current = None
    cleaned = parse_listing(merged, now=now, default_region=listing.region)
    keys = changed_keys(current, cleaned) if current is not None else set(changes)
    if not keys:
        return listing, _warnings(listing, local(now).date()), False
    if listing.auction is not None and listing.auction.bid_count:
        raise Conflict(_("拍卖已有出价，不能修改挂牌条件"), bid_count=listing.auction.bid_count)
    if keys <= AT_ONCE:
        old_price, old_description = listing.price, listing.description
        old_deal_prices = dict(listing.deal_prices or {})
        listing.price, listing.offer_floor, listing.description = (cleaned["price"], cleaned["offer_floor"],
                                                                   cleaned["description"])
        listing.deal_prices = cleaned.get("deal_prices") or None
        db.session.flush()
        if keys & {"price", "deal_prices"}:
            before, after = {"price": old_price}, {"price": listing.price}
            if "deal_prices" in keys:
                before["deal_prices"], after["deal_prices"] = old_deal_prices, dict(listing.deal_prices or {})
            audit.record(user, "listing.price_change", "listing", listing.id, before=before, after=after)
            void_open_offers(listing, msg(N_("卖家修改了价格")), now=now)
        if "description" in keys:
            audit.record(user, "listing.description_change", "listing", listing.id,
                         before={"description_chars": len(old_description or "")},
                         after={"description_chars": len(listing.description)})
        return listing, _warnings(listing, local(now).date()), False
    # the terms or the rights change: the listing goes back to review
    apply(user, listing, cleaned, now)
    _check_ready(listing, local(now).date(), now)
    old_price = before.get("price")
    _transition(listing, "revise")
    listing.submitted_at = now
    void_open_offers(listing, msg(N_("卖家修改了挂牌内容，挂牌重新审核")), now=now)
    audit.record(user, "listing.revise", "listing", listing.id, before={"status": "published", "price": old_price},
                 after={"status": listing.status, "price": listing.price, "changed": sorted(keys)})
    for operator_id in operator_ids():
        notify(operator_id, "listing", msg(N_("在售挂牌修改后重新待审：%(title)s"), title=listing.title),
               "修改了：" + "、".join(sorted(keys)), link="/operator/listings/review")
    db.session.flush()
    return listing, _warnings(listing, local(now).date()), True


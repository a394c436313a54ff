"""Two-way matching of wanted ads and listings, on the search index (Whoosh + jieba, synonyms).

Never in a user's request: the search outbox drain that matches saved searches (``flask search sync``,
``search.outbox.notify_saved_searches``) calls the two plain functions here:

* ``match_changed_listings(listing_ids, handle)``: each new or changed published listing against the open
  wanted ads (the outbox rows the index has applied);
* ``match_pending_ads(handle)``: each wanted ad published (or changed) since the last drain against the published
  listings. An ad waits in that queue (``WantedAd.match_pending``) until a drain has matched it.

A wanted ad becomes an index query: its keywords (or, without any, its title) parsed and expanded with
synonyms exactly as a search is, any word sufficing (more words rank higher), with the ad's kind and IPC
field as filters; within the ad's IPC field or Nice classes a listing also matches by its class alone (ranked
below the listings that share words). A listing then matches when it offers one of the deal types wanted and, for a trademark ad
with classes, one of its Nice classes; it is never the buyer's own side's listing. Each (ad, listing) is
recorded once (``DemandMatch``, unique) with its score and why it matched: the words shared, the class
(IPC code or Nice class), the deal types and whether the price is within the budget. The buyer and the
listing's seller are told of each new match (in-app, ``kind="wanted_match"``: precise push, 精准推送).
"""
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from listings.bidding import is_own_organisation
from listings.models import Listing
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import msg
from marketplace.kernel.notify import notify
from marketplace.kernel.timeutil import iso, utcnow

from .models import DemandMatch, WantedAd

log = logging.getLogger(__name__)
TOP = 10  # matches recorded per ad and run
AD_CHUNK = 200
CLASS_BONUS, BUDGET_BONUS, REGION_BONUS = 2.0, 1.0, 0.5


def ad_query(ad, restrict_ids=None):
    """The index query for ``ad`` and the clauses it was made of."""
    from search.index import IndexQuery, normalise_ipc
    from search.service import search_clauses

    text = " ".join(ad.keywords or []) or ad.title
    clauses, _also = search_clauses(text[:200])
    nice = ad.nice_classes or []
    return IndexQuery(clauses=clauses, kind=ad.kind, ipc=normalise_ipc(ad.ipc) if ad.ipc else None,
                      nice_class=nice[0] if len(nice) == 1 else None, restrict_ids=restrict_ids,
                      match_any=True), clauses


def _listing_text(listing):
    from search.index import listing_document

    doc = listing_document(listing)
    return f"{doc['title']}\n{doc['body']}".lower()


def reasons_for(ad, listing, clauses):
    """Why ``listing`` matches ``ad``: {"words", "classes", "deal_types", "in_budget", "same_region"};
    None when it does not qualify (no deal type in common, no Nice class in common, the buyer's own side)."""
    from search.index import listing_price

    if listing.status != "published" or listing.kind != ad.kind:
        return None
    buyer = ad.buyer
    if buyer is not None and is_own_organisation(listing, buyer):
        return None
    deal_types = [d for d in ad.deal_types or [] if d in (listing.deal_types or [])]
    if not deal_types:
        return None
    classes = []
    for right in listing.rights:
        if ad.ipc:
            classes += [code for code in right.ipc_codes or [] if "".join(code.split()).upper().startswith(ad.ipc)]
        if ad.nice_classes:
            classes += [f"第{int(c)}类" for c in right.nice_classes or [] if int(c) in ad.nice_classes]
    classes = list(dict.fromkeys(classes))
    if ad.nice_classes and not any(c.startswith("第") for c in classes):
        return None
    text = _listing_text(listing)
    words = []
    for clause in clauses:
        variants = [clause.words] + list(clause.alternatives or [])
        if any(all(w.lower() in text for w in variant) for variant in variants):
            words.append(clause.text or "".join(clause.words))
    if not words and not classes:
        return None
    price = listing_price(listing)
    in_budget = bool(price is not None and ad.budget_max is not None and price <= ad.budget_max
                     and (ad.budget_min is None or price >= ad.budget_min))
    return {"words": list(dict.fromkeys(words))[:10], "classes": classes[:10], "deal_types": deal_types,
            "in_budget": in_budget, "same_region": listing.region == ad.region}


def find_for_ad(ad, handle, restrict_ids=None, limit=TOP):
    """[(listing, score, reasons)] best first: the published listings matching ``ad`` (within ``restrict_ids``)."""
    from search.index import query_index
    from search.outbox import load_listings

    iq, clauses = ad_query(ad, restrict_ids)
    want = max(limit * 5, 50)
    found = query_index(handle, iq, sort="relevance", limit=want, facets=False)
    ids, scores = list(found.ids), dict(found.scores)
    if iq.clauses and (ad.ipc or ad.nice_classes):
        # Within the ad's field (IPC or Nice class) a listing matches by its class alone, below word matches.
        iq.clauses = []
        by_class = query_index(handle, iq, sort="newest", limit=want, facets=False)
        ids += [i for i in by_class.ids if i not in scores and i not in ids]
    if not ids:
        return []
    listings = load_listings(ids)
    out = []
    for listing_id in ids:
        listing = listings.get(listing_id)
        reasons = reasons_for(ad, listing, clauses) if listing is not None else None
        if reasons is None:
            continue
        score = float(scores.get(listing_id, 0.0)) + len(reasons["words"])
        score += CLASS_BONUS if reasons["classes"] else 0
        score += BUDGET_BONUS if reasons["in_budget"] else 0
        score += REGION_BONUS if reasons["same_region"] else 0
        out.append((listing, round(score, 3), reasons))
    out.sort(key=lambda item: (-item[1], item[0].id))
    return out[:limit]


def _record(ad, listing, score, reasons, now):
    """Record one match (once per pair, whichever drain gets there first) and tell both sides. True if new."""
    if db.session.scalar(select(DemandMatch.id).where(DemandMatch.wanted_id == ad.id,
                                                      DemandMatch.listing_id == listing.id)) is not None:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(DemandMatch(wanted_id=ad.id, listing_id=listing.id, score=score, reasons=reasons,
                                       created_at=now, notified_at=now))
    except IntegrityError:
        return False
    why = "、".join(reasons["words"] + reasons["classes"])[:150]
    notify(ad.buyer_id, "wanted_match", msg(N_("新挂牌符合您的求购「%(t)s」"), t=ad.title[:60]),
           msg("%(title)s\n%(why)s", title=listing.title, why=why), link=f"/wanted/{ad.id}#matches")
    notify(listing.seller_id, "wanted_match", msg(N_("有求购与您的挂牌匹配：%(t)s"), t=ad.title[:60]),
           msg("%(title)s\n%(why)s", title=listing.title, why=why), link=f"/wanted/{ad.id}")
    return True


def open_ads_query(now):
    return select(WantedAd).where(WantedAd.status == "published", WantedAd.expires_at > now)


def match_changed_listings(listing_ids, handle, now=None):
    """Match the listings ``listing_ids`` (those published among them) against every open wanted ad; returns new
    matches. Each ad on its own: one that fails is logged and skipped."""
    now = now or utcnow()
    ids = tuple(sorted(set(listing_ids)))
    if not ids:
        return 0
    published = db.session.scalars(select(Listing.id).where(Listing.id.in_(ids),
                                                            Listing.status == "published")).all()
    if not published:
        return 0
    written, last = 0, 0
    while True:
        ads = db.session.execute(open_ads_query(now).where(WantedAd.id > last).order_by(WantedAd.id)
                                 .limit(AD_CHUNK)).scalars().all()
        if not ads:
            break
        for ad in ads:
            try:
                for listing, score, reasons in find_for_ad(ad, handle, restrict_ids=tuple(published)):
                    written += _record(ad, listing, score, reasons, now)
            except Exception:  # noqa: BLE001 - one odd ad must not stop the others
                log.exception("wanted ad %s could not be matched; skipped", ad.id)
        db.session.commit()
        last = ads[-1].id
    return written


def match_pending_ads(handle, now=None, limit=200):
    """Match each queued wanted ad against the published listings, then take it off the queue. Returns new matches."""
    now = now or utcnow()
    ads = db.session.execute(select(WantedAd).where(WantedAd.match_pending.is_(True)).order_by(WantedAd.id)
                             .limit(limit)).scalars().all()
    written = 0
    for ad in ads:
        try:
            if ad.status == "published" and ad.expires_at > now:
                for listing, score, reasons in find_for_ad(ad, handle):
                    written += _record(ad, listing, score, reasons, now)
            ad.match_pending, ad.matched_at = False, now
            db.session.commit()
        except Exception:  # noqa: BLE001 - stays queued; the next drain tries again
            db.session.rollback()
            log.exception("wanted ad %s could not be matched; left queued", ad.id)
    return written


def run(listing_ids, handle):
    """What the outbox consumer calls: changed listings against open ads, then queued ads. Never raises."""
    written = 0
    try:
        written += match_changed_listings(listing_ids, handle)
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.exception("matching changed listings against wanted ads failed")
    try:
        written += match_pending_ads(handle)
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.exception("matching queued wanted ads failed")
    return written


# --- reading matches ---------------------------------------------------------------------------------

def matches_for_ad(ad, limit=TOP * 3):
    return db.session.execute(
        select(DemandMatch).join(Listing, Listing.id == DemandMatch.listing_id)
        .where(DemandMatch.wanted_id == ad.id, Listing.status == "published")
        .order_by(DemandMatch.score.desc(), DemandMatch.id).limit(limit)).scalars().all()


def matches_for_seller(user, limit=100):
    """Matches of open ads with the listings of ``user``'s side (its own, or its organisation's)."""
    side = Listing.seller_id == user.id
    if user.organization_id:
        side = side | (Listing.organization_id == user.organization_id)
    return db.session.execute(
        select(DemandMatch).join(Listing, Listing.id == DemandMatch.listing_id)
        .join(WantedAd, WantedAd.id == DemandMatch.wanted_id)
        .where(side, WantedAd.status == "published", WantedAd.expires_at > utcnow())
        .order_by(DemandMatch.id.desc()).limit(limit)).scalars().all()


def match_json(match, side="buyer"):
    body = {"id": match.id, "wanted_id": match.wanted_id, "listing_id": match.listing_id, "score": match.score,
            "reasons": match.reasons, "created_at": iso(match.created_at), "listing_title": match.listing.title}
    if side == "seller":
        body["wanted_title"] = match.wanted.title
    return body

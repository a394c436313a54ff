"""The demand side on ``/stats``: wanted ads posted (ever published), matched (with at least one match) and
converted (their buyer opened a deal, in any state, on a listing matched to the ad or answering it, after the
ad was published)."""
from sqlalchemy import func, select, union

from escrow.models import Deal
from marketplace.kernel.extensions import db

from .models import DemandMatch, WantedAd, WantedAnswer


def summary():
    posted = db.session.scalar(select(func.count(WantedAd.id)).where(WantedAd.published_at.isnot(None))) or 0
    matched = db.session.scalar(select(func.count(func.distinct(DemandMatch.wanted_id)))) or 0
    pairs = union(select(DemandMatch.wanted_id.label("wanted_id"), DemandMatch.listing_id.label("listing_id")),
                  select(WantedAnswer.wanted_id, WantedAnswer.listing_id)).subquery()
    converted = db.session.scalar(
        select(func.count(func.distinct(WantedAd.id)))
        .join(pairs, pairs.c.wanted_id == WantedAd.id)
        .join(Deal, (Deal.listing_id == pairs.c.listing_id) & (Deal.buyer_id == WantedAd.buyer_id))
        .where(WantedAd.published_at.isnot(None), Deal.created_at >= WantedAd.published_at)) or 0
    return {"posted": posted, "matched": matched, "converted": converted}

"""Saved searches: tell their owners when a newly published listing matches (called while draining the outbox)."""
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from listings.models import Listing
from marketplace.errors import ValidationError
from marketplace.extensions import db
from marketplace.notify import notify

from .index import query_index
from .models import SavedSearch, SavedSearchNotice

log = logging.getLogger(__name__)


def notify_matches(listing_ids, handle):
    """Notify owners of saved searches matching any of ``listing_ids`` (published since the search was saved).

    Each (search, listing) pair is told once, whichever process or host drains first.
    Returns the number of notifications sent.
    """
    from .service import index_query, saved_search_params

    searches = db.session.execute(select(SavedSearch).order_by(SavedSearch.id)).scalars().all()
    if not searches:
        return 0
    listings = {row.id: row for row in db.session.execute(
        select(Listing).where(Listing.id.in_(listing_ids), Listing.status == "published")).scalars()}
    if not listings:
        return 0
    sent = 0
    for saved in searches:
        try:
            params = saved_search_params(saved)
        except ValidationError:
            continue  # saved under older rules; nothing sensible to match
        found = query_index(handle, index_query(params, restrict_ids=tuple(listings)), sort="newest",
                            limit=len(listings), facets=False)
        for listing_id in found.ids:
            listing = listings[listing_id]
            if listing.seller_id == saved.user_id:
                continue
            if listing.published_at is not None and listing.published_at < saved.created_at:
                continue
            if _already_told(saved.id, listing_id):
                continue
            try:
                with db.session.begin_nested():
                    db.session.add(SavedSearchNotice(saved_search_id=saved.id, listing_id=listing_id))
            except IntegrityError:
                continue  # another process told them just now
            label = saved.q or "全部挂牌"
            notify(saved.user_id, "saved_search", f"新挂牌符合您保存的搜索「{label}」",
                   f"{listing.title}", link=f"/listings/{listing_id}", email=True)
            saved.last_notified_listing_id = listing_id
            sent += 1
    db.session.commit()
    return sent


def _already_told(saved_id, listing_id):
    return db.session.scalar(select(SavedSearchNotice.id).where(
        SavedSearchNotice.saved_search_id == saved_id, SavedSearchNotice.listing_id == listing_id)) is not None

"""Record every search-relevant listing change in the kernel's outbox, in the same transaction.

An ``after_flush`` hook sees new, changed and deleted listings, rights and
auctions and inserts one outbox row per touched listing on the flush's own
connection, so the row commits or rolls back together with the change.
The search package drains the outbox after commit (see ``search.outbox``).
"""
from sqlalchemy import event
from sqlalchemy.orm import Session

from marketplace.kernel.models import OutboxEvent
from marketplace.kernel.timeutil import utcnow

from .models import Auction, Encumbrance, Listing, ListingRight, Right, RightHolder

WATCHED = (Listing, Auction, ListingRight, Right, RightHolder, Encumbrance)


def _listing_ids(obj):
    """The listings whose search document shows ``obj`` (a register entry shows in all its listings)."""
    if isinstance(obj, Listing):
        return {obj.id}
    if isinstance(obj, (Auction, ListingRight)):
        return {obj.listing_id if obj.listing_id is not None else getattr(obj.listing, "id", None)}
    right = obj if isinstance(obj, Right) else getattr(obj, "right", None) if isinstance(
        obj, (RightHolder, Encumbrance)) else None
    if right is None:
        return set()
    return {link.listing_id for link in right.listing_links}


@event.listens_for(Session, "after_flush")
def _record_listing_changes(session, flush_context):
    touched = set()
    for obj in list(session.new) + list(session.deleted):
        if isinstance(obj, WATCHED):
            touched |= _listing_ids(obj)
    for obj in session.dirty:
        if isinstance(obj, WATCHED) and session.is_modified(obj, include_collections=False):
            touched |= _listing_ids(obj)
    touched.discard(None)
    if touched:
        from marketplace.kernel.pagecache import mark_stale

        mark_stale(session)  # the cached pages follow the same rows (marketplace.kernel.pagecache)
        now = utcnow()
        session.connection().execute(
            OutboxEvent.__table__.insert(),
            [{"listing_id": listing_id, "created_at": now} for listing_id in sorted(touched)],
        )

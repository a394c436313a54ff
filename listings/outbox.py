"""Record every search-relevant listing change in the kernel's outbox, in the same transaction.

An ``after_flush`` hook sees new, changed and deleted listings, rights and
auctions and inserts one outbox row per touched listing on the flush's own
connection, so the row commits or rolls back together with the change.
The search package drains the outbox after commit (see ``search.outbox``).
"""
from sqlalchemy import event
from sqlalchemy.orm import Session

from marketplace.models import OutboxEvent
from marketplace.timeutil import utcnow

from .models import Auction, Listing, Right


def _listing_id(obj):
    if isinstance(obj, Listing):
        return obj.id
    if isinstance(obj, (Right, Auction)):
        return obj.listing_id if obj.listing_id is not None else getattr(obj.listing, "id", None)
    return None


@event.listens_for(Session, "after_flush")
def _record_listing_changes(session, flush_context):
    touched = set()
    for obj in list(session.new) + list(session.deleted):
        touched.add(_listing_id(obj))
    for obj in session.dirty:
        if isinstance(obj, (Listing, Right, Auction)) and session.is_modified(obj, include_collections=False):
            touched.add(_listing_id(obj))
    touched.discard(None)
    if touched:
        now = utcnow()
        session.connection().execute(
            OutboxEvent.__table__.insert(),
            [{"listing_id": listing_id, "created_at": now} for listing_id in sorted(touched)],
        )

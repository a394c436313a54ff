"""Row locks for bidding and buying (docs/design.md "Price modes and bidding").

PostgreSQL: ``SELECT … FOR UPDATE`` on the listing row. SQLite has no row locks:
``BEGIN IMMEDIATE`` takes the database write lock before the read, so two
writers are serialised (the second waits on busy_timeout).
"""
from flask_babel import gettext as _

from marketplace.errors import NotFound
from marketplace.extensions import db

from .models import Listing


def lock_listing(listing_id):
    """Return the listing, locked for the rest of the transaction; 404 if missing."""
    session = db.session
    if session.get_bind().dialect.name == "sqlite":
        begin_immediate(session)
        listing = session.get(Listing, listing_id, populate_existing=True)
    else:
        listing = session.get(Listing, listing_id, with_for_update=True, populate_existing=True)
    if listing is None:
        raise NotFound(_("挂牌不存在"))
    return listing


def begin_immediate(session):
    """Upgrade the SQLite transaction to a write transaction (no-op elsewhere or if already writing)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    dbapi = connection.connection.dbapi_connection
    if not dbapi.in_transaction:
        dbapi.execute("BEGIN IMMEDIATE")

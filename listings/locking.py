"""Row locks for bidding and buying (docs/design.md "Price modes and bidding").

PostgreSQL: ``SELECT … FOR UPDATE`` on the listing row. SQLite has no row locks:
``BEGIN IMMEDIATE`` takes the database write lock before the read, so two
writers are serialised (the second waits on busy_timeout).
"""
from flask_babel import gettext as _

from marketplace.kernel.errors import NotFound
from marketplace.kernel.extensions import db

from .models import Listing


def lock_row(model, row_id, message):
    """Return the ``model`` row ``row_id``, locked for the rest of the transaction and freshly read;
    ``NotFound(message)`` (404) if missing. The one row-lock rule of the project (listings, deals,
    auction deposits): pending changes are flushed first, then PostgreSQL takes ``SELECT … FOR UPDATE``
    and SQLite, which has no row locks, ``BEGIN IMMEDIATE`` (the database write lock).

    Gateway calls and e-mail never happen while such a lock is held: they run after the commit
    (``escrow.gateway_calls``, ``marketplace.kernel.notify``)."""
    session = db.session
    session.flush()
    if session.get_bind().dialect.name == "sqlite":
        begin_immediate(session)
        row = session.get(model, row_id, populate_existing=True)
    else:
        row = session.get(model, row_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise NotFound(message)
    return row


def lock_listing(listing_id):
    """Return the listing, locked for the rest of the transaction; 404 if missing."""
    return lock_row(Listing, listing_id, _("挂牌不存在"))


def begin_immediate(session):
    """Upgrade the SQLite transaction to a write transaction (no-op elsewhere or if already writing)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    dbapi = connection.connection.dbapi_connection
    if not dbapi.in_transaction:
        dbapi.execute("BEGIN IMMEDIATE")

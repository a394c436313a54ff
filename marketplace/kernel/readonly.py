"""Read-only pages on PostgreSQL without ``BEGIN`` and ``ROLLBACK`` (issue 19, docs/performance.md "Pages",
session 8).

A request's statements run in a transaction: psycopg sends ``BEGIN`` before the first and the pool a
``ROLLBACK`` when the request gives its connection back, two round trips of the four a cached deal page made.
For a view that only reads, the transaction buys nothing at PostgreSQL's default isolation (READ COMMITTED):
there each statement sees the data committed before it began, in a transaction or not. So a GET or HEAD of a
view marked ``@read_only`` runs its statements (the signed-in user's load included) on a connection in
autocommit mode: no ``BEGIN``, no ``ROLLBACK``, the same answers.

What keeps it honest:

- only when the request's session has not begun yet (else, as before) and the database is PostgreSQL at READ
  COMMITTED (SQLite sends no ``BEGIN`` for a read anyway);
- a write in such a request is refused (``ReadOnlyRequest``) before it reaches the database, on every database,
  so a view marked by mistake fails loudly in its tests (SQLite's too) instead of writing outside a transaction;
- the request's end gives the connection back (``Session.rollback``: nothing to roll back, no round trip) and
  the pool restores its isolation level, so the next request gets an ordinary transaction.
"""
from flask import g, request
from sqlalchemy import event
from sqlalchemy.orm import Session

_FLAG = "read_only_request"


class ReadOnlyRequest(RuntimeError):
    """A request marked read-only tried to write."""


def read_only(view):
    """Mark ``view`` as one that never writes: its GET and HEAD run without a transaction (see above)."""
    view.read_only = True
    return view


def init_app(app, db):
    def _begin():
        if request.method not in ("GET", "HEAD"):
            return
        view = app.view_functions.get(request.endpoint)
        if not getattr(view, "read_only", False):
            return
        session = db.session()  # this request's Session (the scoped session's own)
        if session.in_transaction():
            return  # something already read or wrote in this session: as before
        session.info[_FLAG] = True  # writes refused on every database, so a mistake fails in the tests
        g.read_only_request = True
        dialect = db.engine.dialect
        if dialect.name == "postgresql" and \
                (getattr(dialect, "isolation_level", None) or getattr(dialect, "default_isolation_level", None)) \
                == "READ COMMITTED":
            # (the server's default level is known once a connection was made: the first request reads as before)
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    def _end(_exc):
        if g.pop("read_only_request", False):
            session = db.session()
            session.info.pop(_FLAG, None)
            session.rollback()  # gives the connection back; the pool restores its isolation level

    app.before_request_funcs.setdefault(None, []).insert(0, _begin)  # before anything reads
    app.teardown_request(_end)


@event.listens_for(Session, "before_flush")
def _refuse_flush(session, _context, _instances):
    if session.info.get(_FLAG) and (session.new or session.deleted
                                    or any(session.is_modified(item) for item in session.dirty)):
        raise ReadOnlyRequest("a request marked read-only tried to write (readonly.read_only)")


@event.listens_for(Session, "do_orm_execute")
def _refuse_write(state):
    if state.session.info.get(_FLAG) and (state.is_insert or state.is_update or state.is_delete):
        raise ReadOnlyRequest("a request marked read-only tried to write (readonly.read_only)")

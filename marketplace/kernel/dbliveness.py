"""Whether a pooled database connection is still alive, checked without a round trip when it can be (issue 19,
docs/performance.md "Pages", session 8).

SQLAlchemy's ``pool_pre_ping`` sends a statement to the server each time a request takes a connection from the
pool: on PostgreSQL one round trip of the four or five a cached page makes, and under load each round trip
waits for a backend to be scheduled. What it guards against is a connection the server has ended (a restart,
a failover, ``pg_terminate_backend``, an idle timeout): the server then sends its FATAL message and closes the
socket, so the socket of an ended connection is readable, while an idle live one has nothing to read. So, on
each checkout:

- the driver's own state (closed, a bad status, a transaction left open) or a readable socket: the connection
  is dropped (``DisconnectionError``: the pool opens a new one and the request never sees the old);
- a connection idle for longer than ``after_idle`` seconds is pinged as before (``dialect.do_ping``): a
  firewall or NAT that forgot a long-idle connection says so only once something is sent;
- otherwise nothing is sent.

A connection that is not psycopg's (SQLite) is not checked: a file has no server to go away.
"""
import select
import time

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError

_LAST_USED = "dbliveness.last_used"


def install(engine, after_idle=30.0):
    """Check ``engine``'s connections on checkout as above (instead of ``pool_pre_ping``)."""
    dialect = engine.dialect

    @event.listens_for(engine, "connect")
    def _connected(dbapi_connection, record):
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection, record):
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, proxy):
        pgconn = getattr(dbapi_connection, "pgconn", None)
        if pgconn is None:
            return
        if not alive(dbapi_connection, pgconn):
            raise DisconnectionError("the database server ended this connection while it was idle")
        if time.monotonic() - record.info.get(_LAST_USED, 0.0) > after_idle:
            try:
                dialect.do_ping(dbapi_connection)
            except Exception as exc:  # noqa: BLE001 - any failure: a new connection
                raise DisconnectionError(f"ping failed: {exc}") from exc


def alive(dbapi_connection, pgconn):
    """False when psycopg knows the connection is unusable or the server has written to (or closed) it."""
    from psycopg import pq

    if dbapi_connection.closed or pgconn.status != pq.ConnStatus.OK \
            or pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return False
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
    return not poller.poll(0)

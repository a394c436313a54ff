"""A pooled PostgreSQL connection the server ended is never handed to a request, and a live one costs no ping
(marketplace/kernel/dbliveness.py, which replaces ``pool_pre_ping``)."""
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from marketplace.kernel import dbliveness
from marketplace.kernel.extensions import db
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL: a server that can end a connection")


def _pid(engine):
    with engine.connect() as conn:  # taken from the pool and given back
        return conn.execute(text("select pg_backend_pid()")).scalar()


@pytest.fixture
def engine(app):
    db.session.close()  # the test's session gives its connection back: the pool holds one idle connection
    engine = db.engine
    engine.dispose()
    return engine


@pytest.fixture
def pings(engine, monkeypatch):
    sent = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection):
        sent.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return sent


def test_a_connection_the_server_ended_is_replaced_before_it_is_used(engine, pings):
    first = _pid(engine)
    assert _pid(engine) == first  # the pool gives the same connection back
    admin = create_engine(engine.url, poolclass=NullPool)
    try:
        with admin.begin() as conn:
            assert conn.execute(text("select pg_terminate_backend(:pid)"), {"pid": first}).scalar()
            deadline = time.monotonic() + 5
            while conn.execute(text("select count(*) from pg_stat_activity where pid = :pid"),
                               {"pid": first}).scalar() and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        admin.dispose()
    time.sleep(0.1)  # the server's goodbye reaches the pooled socket
    with engine.connect() as conn:  # no error: the ended connection was dropped, a new one opened
        assert conn.execute(text("select 1")).scalar() == 1
        assert conn.execute(text("select pg_backend_pid()")).scalar() != first
    assert not pings, "found without a ping"


def test_a_live_connection_is_pinged_only_after_it_was_idle(app, engine, pings, monkeypatch):
    _pid(engine)
    _pid(engine)
    assert pings == []  # used a moment ago: nothing sent to check it
    later = time.monotonic() + app.config["DB_PING_AFTER_IDLE"] + 1
    monkeypatch.setattr(dbliveness.time, "monotonic", lambda: later)
    _pid(engine)
    assert len(pings) == 1  # long idle: pinged as pool_pre_ping did (a forgotten connection answers nothing)

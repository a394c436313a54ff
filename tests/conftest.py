"""Fixtures: ``app``, ``client``, ``runner``, sign-in helpers; every test isolated.

SQLite by default (a fresh file per test). With ``TEST_DATABASE_URL`` the same
suite runs on PostgreSQL: the schema is created once per session and every
table is emptied after each test, so tests that commit (concurrency, live
servers) stay isolated too.
"""
import os
import shutil
import smtplib
import sqlite3

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from marketplace import create_app
from marketplace.kernel.extensions import db
from tests import factories, jobhelp
from tests.own_context import OwnContextClient


def _worker_database(url):
    """Under pytest-xdist each worker gets a database of its own (``<name>_gw0`` …), created if missing.

    The suite's databases are emptied after every test and thrown away, so a commit need not wait for the
    write-ahead log to reach the disk: ``synchronous_commit = off`` for the database (every session,
    including the workers and servers the job and crash tests start). Measured on this machine: 11 ms a
    commit with it on, 2–4 ms off, and the suite commits tens of thousands of times. A crash of the
    PostgreSQL server could lose the last commits; no test crashes the server (the crash tests kill the
    app's processes, whose commits PostgreSQL has already taken). Production keeps the server's setting.
    """
    if not url:
        return url
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(url)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    name = f"{base.database}_{worker}" if worker else base.database
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@event.listens_for(Engine, "connect")
def _sqlite_commits_without_fsync(dbapi_connection, _record):
    """SQLite: the same for the suite's throw-away files (``PRAGMA synchronous = OFF``; the app's WAL mode
    otherwise syncs the log at every commit). Production connections are not touched: this listener is
    registered by the test suite only."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous = OFF")
        cursor.close()


PG_URL = _worker_database(os.environ.get("TEST_DATABASE_URL"))
SUITE_ON_REDIS = os.environ.get("JOB_TEST_MODE") == "redis"


def _memoise_url_builders():
    """Compile each URL rule's builder once per test process, not once per app.

    Every test gets an app of its own, and Werkzeug compiles two builder functions for each of the ~330 URL
    rules (an ``ast`` walk and a ``compile`` each) whenever an app registers its blueprints: about two thirds
    of ``create_app``'s time. The builder is a pure function of the rule's text, its parsed trace and its
    defaults (converters are looked up on the rule at call time), so the same rule compiles to the same
    function in every app; it is bound to each rule as before. Production creates one app per process and
    is not touched by this.
    """
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    compiled = {}

    def memoised(self, append_unknown=True):
        key = (self.rule, tuple(self._trace), repr(sorted((self.defaults or {}).items())), append_unknown)
        if key not in compiled:
            compiled[key] = compile_builder(self, append_unknown)
        return compiled[key]

    Rule._compile_builder = memoised


_memoise_url_builders()
_schema_ready = False
_sqlite_template = None  # a file with the empty schema, copied for each test (create_all per test is slow)


def _base_config(tmp_path):
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": PG_URL or f"sqlite:///{tmp_path / 'test.sqlite3'}",
        "SECRET_KEY": "test-secret",
        "AUTO_MIGRATE": False,
        "DEMO_DATA": False,
        "DEMO_CATALOGUE_VOLUME": False,  # demo.seed() adds only the tour's listings (tests/search/test_judged.py: all)
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "STRIPE_SECRET_KEY": None,
        "STRIPE_WEBHOOK_SECRET": None,
        "SMTP_HOST": None,
        "SEARCH_SYNC_ON_COMMIT": True,
        # Tests change settings and rows mid-test (without a commit) and read the page again; the page cache
        # (marketplace.kernel.pagecache) has its own tests, which turn it on: tests/marketplace/test_page_cache.py.
        "PAGE_CACHE": False,
        # JOB_TEST_MODE=redis (.ci/run's PostgreSQL run): every test's background work goes through RQ on
        # Redis (queues of its own, each job run at enqueue: JOB_SYNC); the job tests start real workers
        **(_suite_redis_config() if SUITE_ON_REDIS else {}),
    }


def _suite_redis_config():
    return {**jobhelp.redis_config(), "JOB_SYNC": True}


def _prepare_schema():
    global _schema_ready
    if PG_URL and _schema_ready:
        return
    if PG_URL:
        # Whatever an earlier run left (an older schema whose foreign keys the models no longer know,
        # so drop_all cannot order the drops): start from an empty schema.
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    db.create_all()
    _schema_ready = True


def _sqlite_from_template(tmp_path, tmp_path_factory):
    """Give the test a copy of a once-built empty schema (triggers included)."""
    global _sqlite_template
    if _sqlite_template is None:
        folder = tmp_path_factory.mktemp("schema")
        template = folder / "template.sqlite3"
        application = create_app({**_base_config(folder), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{template}"})
        with application.app_context():
            db.create_all()
            db.session.remove()
            db.engine.dispose()
        _sqlite_template = template
    shutil.copyfile(_sqlite_template, tmp_path / "test.sqlite3")


def _empty_tables():
    """PostgreSQL: empty every table and restart the id sequences, as a fresh SQLite copy would be.

    ``DELETE`` (children first) rather than ``TRUNCATE``: TRUNCATE gives each of the ~60 tables a new file
    and syncs them, about 20× slower on these mostly empty tables. Triggers (the foreign keys' and the
    ledger's append-only guards) are off for this one transaction (``session_replication_role``).
    """
    db.session.remove()
    if PG_URL:
        with db.engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
            conn.execute(text(
                "SELECT setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'S' AND n.nspname = current_schema()"
            ))


@pytest.fixture
def app_config(tmp_path):
    """Override in a test module (or parametrize) to change settings."""
    return {}


@pytest.fixture
def app(tmp_path, tmp_path_factory, app_config, request):
    config = _base_config(tmp_path)
    config.update(app_config)
    if request.node.get_closest_marker("inline_jobs") is not None:
        config.update(REDIS_URL=None, JOB_SYNC=False)
    if not PG_URL and config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'test.sqlite3'}":
        _sqlite_from_template(tmp_path, tmp_path_factory)
    application = create_app(config)
    application.test_client_class = OwnContextClient  # each request in an app context of its own (tests/own_context.py)
    with application.app_context():
        if PG_URL:
            _prepare_schema()
        try:
            yield application
            if SUITE_ON_REDIS and request.node.get_closest_marker("job_fails") is None:
                failed = jobhelp.failed_job_errors(application)
                assert not failed, f"background jobs failed during the test: {failed}"
        finally:
            if SUITE_ON_REDIS:
                jobhelp.forget_keys(application)
            _empty_tables()
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def client(app):
    from tests.schema_check import DocumentedClient

    app.test_client_class = DocumentedClient  # every JSON answer checked against its documented schema
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def login(client, user):
    """Sign ``user`` in on ``client`` through the session (the login page is tested on its own)."""
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True
    return client


@pytest.fixture
def make_user(app):
    return factories.make_user


@pytest.fixture
def seller(app):
    user = factories.make_user("seller")
    db.session.commit()
    return user


@pytest.fixture
def buyer(app):
    user = factories.make_user("buyer")
    db.session.commit()
    return user


@pytest.fixture
def operator(app):
    user = factories.make_user("operator")
    db.session.commit()
    return user


@pytest.fixture
def as_user(client):
    """as_user(user) signs the test client in as ``user`` and returns it."""
    return lambda user: login(client, user)


class Outbox(list):
    """The e-mail messages sent, in order; ``connections``: (host, port) of each SMTP connection opened;
    ``failing``: addresses the server refuses (``SMTPRecipientsRefused``), and ``down``: the server drops every
    message (``SMTPServerDisconnected``), both of which a test may change; ``in_transaction``: for each message
    handed to the server, whether the sending session still held unsent mail of an open transaction."""

    def __init__(self):
        super().__init__()
        self.connections = []
        self.failing = set()
        self.down = False
        self.in_transaction = []

    def addressed(self):
        """(To, Subject) of each message sent."""
        return [(m["To"], m["Subject"]) for m in self]


@pytest.fixture
def outbox(monkeypatch):
    """The e-mail messages sent (``smtplib.SMTP`` replaced by a recorder; the app still needs an SMTP_HOST)."""
    sent = Outbox()

    class SMTP:
        def __init__(self, host=None, port=None, *args, **kwargs):
            sent.connections.append((host, port))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def send_message(self, msg):
            sent.in_transaction.append(bool(db.session.info.get("mail_after_commit")))
            if sent.down:
                raise smtplib.SMTPServerDisconnected("mail server down")
            if msg["To"] in sent.failing:
                raise smtplib.SMTPRecipientsRefused({msg["To"]: (550, b"mailbox unavailable")})
            sent.append(msg)

    monkeypatch.setattr(smtplib, "SMTP", SMTP)
    return sent

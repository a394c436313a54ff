"""The Alembic migrations build exactly the schema the models describe, and the app upgrades an empty database."""
import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from marketplace import create_app
from marketplace.kernel.extensions import db


@pytest.fixture
def empty_database_url(tmp_path):
    pg = os.environ.get("TEST_DATABASE_URL")
    if not pg:
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    name = "ipm_migr_" + uuid.uuid4().hex[:8]
    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_first_start_upgrades_an_empty_database_to_the_models(tmp_path, empty_database_url):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "SQLALCHEMY_DATABASE_URI": empty_database_url,
                      "DEMO_DATA": False, "TESTING": True, "SECRET_KEY": "x"})
    with app.app_context():
        try:
            tables = set(inspect(db.engine).get_table_names())
            assert {"users", "organizations", "listings", "deals", "outbox_events", "alembic_version"} <= tables
            with db.engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
            assert diff == [], f"models and migrations differ: {diff}"
        finally:
            db.session.remove()
            db.engine.dispose()


def _guards(conn):
    """The ledger's triggers (and on PostgreSQL their functions) as the database has them."""
    if conn.dialect.name == "sqlite":
        return sorted(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all())
    triggers = conn.execute(text("SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal "
                                 "ORDER BY tgname")).all()
    functions = conn.execute(text("SELECT proname, prosrc FROM pg_proc WHERE proname LIKE 'ledger_%' "
                                  "ORDER BY proname")).all()
    return sorted(triggers) + sorted(functions)


def test_the_migrations_install_the_ledger_guards_the_models_install(tmp_path, empty_database_url, app):
    """Migration 0001 carries the guards' SQL frozen (it imports no live code); escrow/ledger_guards.py installs
    them with create_all(). A change to the guards without a migration of its own fails here."""
    migrated = create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "SQLALCHEMY_DATABASE_URI": empty_database_url,
                           "DEMO_DATA": False, "TESTING": True, "SECRET_KEY": "x"})
    with migrated.app_context():
        try:
            with db.engine.connect() as conn:
                from_migrations = _guards(conn)
        finally:
            db.session.remove()
            db.engine.dispose()
    with db.engine.connect() as conn:  # the suite's own database: made by create_all()
        from_models = _guards(conn)
    assert from_migrations and from_migrations == from_models

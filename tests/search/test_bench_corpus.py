"""The benchmark's bulk corpus (bench/corpus.py) writes what the importer writes, row for row.

bench/corpus.py skips the importer's savepoints, rule book and ORM to load 1,000,000 listings in minutes; a
search or page figure measured on it only counts if the rows are the ones the importer would have made. The same
seeded rows are loaded both ways into two SQLite files and every column of every table a published listing needs
is compared (timestamps only as "the same offset": each side stamps its own ``now``).
"""
from datetime import datetime

import pytest
from sqlalchemy import create_engine, text

from bench import corpus
from bench.search_bench import generate_rows, load_corpus
from marketplace import create_app
from marketplace.kernel.extensions import db

SEED = 20260101
TABLES = {  # table -> columns that are stamped with each load's own clock
    "listings": ("created_at", "updated_at", "published_at"),
    "rights": ("created_at", "updated_at"),
    "right_holders": ("created_at",),
    "right_events": ("created_at",),
    "listing_rights": (),
    "auctions": (),
    "organizations": ("created_at",),
    "users": ("created_at", "password_hash", "session_token"),
}


def _app(tmp_path, name):
    return create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / name / "instance"),
                       "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / name / 'db.sqlite3'}",
                       "SECRET_KEY": "test", "AUTO_MIGRATE": False, "DEMO_DATA": False, "SMTP_HOST": None,
                       "SEARCH_SYNC_ON_COMMIT": False, "PAGE_CACHE": False, "STRIPE_SECRET_KEY": None})


def _rows(path, table):
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            result = conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))  # noqa: S608 - fixed names
            return [dict(r._mapping) for r in result]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("corpora")
    rows = generate_rows(230, SEED)  # 3 sellers of 100 rows; patents, trademarks, auctions
    importer_app = _app(tmp_path, "importer")
    load_corpus(importer_app, rows, SEED, chunk=100)
    bulk_app = _app(tmp_path, "bulk")
    report = corpus.bulk_load(bulk_app, rows, SEED, chunk=64, per_seller=100, log=None)
    for application in (importer_app, bulk_app):
        with application.app_context():
            db.engine.dispose()
    return tmp_path / "importer" / "db.sqlite3", tmp_path / "bulk" / "db.sqlite3", report, rows, bulk_app


@pytest.mark.parametrize("table", sorted(TABLES))
def test_bulk_corpus_rows_equal_the_importers_field_by_field(two_corpora, table):
    importer_db, bulk_db, report, rows, _app = two_corpora
    assert report["created"] == len(rows) and report["failed_rows"] == 0
    expected, got = _rows(importer_db, table), _rows(bulk_db, table)
    assert len(got) == len(expected) > 0
    stamped = TABLES[table]
    offsets = set()
    for want, have in zip(expected, got, strict=True):
        assert set(want) == set(have)
        for column in want:
            if column in stamped:
                continue
            assert have[column] == want[column], (table, want["id"], column)
        if table == "listings":
            # both sides publish with the same seeded draws: "now minus the same offset"
            offsets.add(datetime.fromisoformat(want["published_at"]) - datetime.fromisoformat(have["published_at"]))
    if table == "listings":
        assert len(offsets) == 1
        assert {r["status"] for r in got} == {"published"}
    if table == "auctions":
        assert len(got) == sum(1 for r in rows if r["price_mode"] == "auction")


def test_a_corpus_row_the_importer_refuses_is_refused_and_nothing_of_it_written(tmp_path):
    rows = generate_rows(3, SEED)
    rows[1] = dict(rows[1], deal_types="barter")  # not a deal type: the importer's cleaning refuses it
    app = _app(tmp_path, "refused")
    report = corpus.bulk_load(app, rows, SEED, log=None)
    assert report["created"] == 2 and report["failed_rows"] == 1
    assert "deal_types" in report["first_errors"][0]["fields"]
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM listings")).scalar() == 2
        assert db.session.execute(text("SELECT count(*) FROM rights")).scalar() == 2
        numbers = {r[0] for r in db.session.execute(text("SELECT number FROM rights"))}
        db.engine.dispose()
    refused = rows[1].get("application_number") or rows[1].get("registration_number")
    assert not any(refused.split(".")[0] in n for n in numbers)


def test_a_bulk_corpus_is_searchable_after_the_projects_reindex(two_corpora):
    from search.outbox import reindex

    *_, rows, bulk_app = two_corpora
    with bulk_app.app_context():
        assert reindex() == len(rows)
        title = next(r["title"] for r in rows if r["kind"] == "patent")
        body = bulk_app.test_client().get("/api/v1/search", query_string={"q": f'"{title}"'}).get_json()
        assert body["total"] >= 1
        assert title in {r["title"] for r in body["results"]}
        db.engine.dispose()

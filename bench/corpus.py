"""Bench-only bulk corpus: the search benchmark's seeded rows written with SQLAlchemy Core, published and graded.

    python3 bench/corpus.py --listings 100000 --database bench/out/corpus-100000.sqlite3   # a fresh SQLite file
    python3 bench/corpus.py --listings 100000 --database-url postgresql+psycopg://postgres@127.0.0.1/mydb

From another script (an app and its database already there, the schema made by ``create_all`` or migrations)::

    from bench.corpus import bulk_load
    from bench.search_bench import generate_rows
    report = bulk_load(app, generate_rows(100_000, 20260101), seed=20260101)

**Not a product path, and not the import.** ``listings.importer.import_rows`` (what ``flask listings import``
and ``POST`` of a CSV run) validates every row against the register and the rule book in a savepoint of its
own, through the ORM's unit of work and the outbox: 440 rows/s on a quiet 2-CPU machine, 14–32 rows/s on a
loaded one (docs/performance.md). This path exists so that a benchmark of *searching* or of *pages* can have
100,000 or 1,000,000 listings without spending hours on the import. What it keeps and what it skips:

- kept: the importer's own cleaning of a row (``importer.row_to_input`` then ``validation.parse_listing``:
  numbers canonical, money in fen, lists and dates parsed; a row it refuses is counted and skipped, as the
  importer reports it), the register entry's columns (``register.DATA_COLUMNS``), its holder (the seller's
  side, ``register.party_of``) and its ``registered`` event with the same detail, the listing-right link and
  the auction terms. A test (``tests/search/test_bench_corpus.py``) loads the same seeded rows both ways and
  compares every column of every one of those tables.
- skipped: the rule book (``rules.enforce``), the register look-up by number (the generator's numbers are new
  and unique by construction; an existing one fails on the ``uq_rights_kind_number`` constraint and rolls
  that chunk back), savepoints, the ORM, and the outbox (no ``outbox_events`` rows: build the index with
  ``search.outbox.reindex`` afterwards, as the benchmark does after the import anyway). Rows that declare a
  pledge or an exclusive licence (the generator makes none) are refused here: declared encumbrances are the
  register's rule (``register._declare_encumbrances``) and are not written twice.
- one seller (an organisation) per ``per_seller`` rows, as the benchmark's importer load; their password
  hash is computed once and shared (scrypt is ~0.1 s a seller: 5,000 sellers for 1M listings).
- the listings are written already published and graded, with the *same* seeded draws as the benchmark's
  publish-by-SQL step after the importer (``draw_publication``): same seed, same published time offsets and
  grades for the same listing.

IDs are assigned here (max + 1 …): one writer at a time. One transaction per chunk (``chunk`` rows,
``executemany`` per table).
"""
import argparse
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GRADES = ("A", "B", "C", "D")
GRADE_WEIGHTS = (10, 20, 20, 10, 40)  # A, B, C, D, none
GRADE_SCORES = {"A": 90.0, "B": 77.0, "C": 62.0, "D": 40.0, None: None}
SELLER_REGIONS = ("shenzhen", "guangzhou", "dongguan", "foshan", "zhuhai")
SELLER_PASSWORD = "correct-horse-battery"


def draw_publication(rng, now):
    """(published_at, grade, grade_score) for the next listing in id order: the benchmark's publish step."""
    grade = rng.choices(GRADES + (None,), weights=GRADE_WEIGHTS)[0]
    return now - timedelta(minutes=rng.randrange(365 * 24 * 60)), grade, GRADE_SCORES[grade]


def publication_rng(seed):
    return random.Random(seed + 1)


def seller_values(k):
    """The k-th benchmark seller: (email, name, organisation dict), as ``search_bench._seller`` registers it."""
    from marketplace.kernel.uscc import uscc_check_char

    body = "91440300" + f"{k + 1:09d}"
    return (f"bench-seller-{k}@example.com", f"基准卖家{k}",
            {"name": f"基准测试科技有限公司{k}", "uscc": body + uscc_check_char(body),
             "region": SELLER_REGIONS[k % len(SELLER_REGIONS)]})


def make_sellers(first, count):
    """Sellers ``first`` … ``first + count - 1`` with their organisations (ORM, one flush; one shared hash)."""
    from werkzeug.security import generate_password_hash

    from marketplace.kernel.extensions import db
    from marketplace.kernel.models import Organization, User

    password_hash = generate_password_hash(SELLER_PASSWORD, method="scrypt")
    users = []
    for k in range(first, first + count):
        email, name, org = seller_values(k)
        user = User(email=email, name=name, password_hash=password_hash)
        user.roles = ["seller"]
        user.organization = Organization(**org)
        users.append(user)
    db.session.add_all(users)
    db.session.flush()
    return users


class RowRefused(Exception):
    pass


def _no_register_fill(kind, body):
    return body


def _clean(row, now, default_region):
    """The importer's cleaning of one row, without the register look-up that fills a known number's data
    (``validation.fill_from_register``: one query a row, ~3 ms, 2/3 of the time here): the corpus's numbers
    are new, so the importer's look-up finds nothing for them either."""
    from listings import validation
    from listings.importer import row_to_input

    cleaned = validation.parse_listing(row_to_input(row), now=now, default_region=default_region)
    for values in cleaned["rights"]:
        if values.get("pledged") or values.get("exclusive_license_until"):
            raise RowRefused("declared encumbrances are not written by the bench corpus; use the importer")
    return cleaned


def _next_ids(conn, tables):
    from sqlalchemy import func, select

    return {t.name: (conn.execute(select(func.max(t.c.id))).scalar() or 0) + 1 for t in tables}


def bulk_load(app, rows, seed, *, chunk=2000, per_seller=200, progress_every=50_000, log=print):
    """Write ``rows`` (``search_bench.generate_rows`` dicts) as published listings. Returns a report dict.

    Seller k gets rows ``[k * per_seller, (k + 1) * per_seller)``; listings are published and graded with
    ``draw_publication`` in row order. Creates the tables if missing (``create_all``)."""
    from sqlalchemy import func, select

    from listings import register, validation
    from listings.models import Auction, Listing, ListingRight, Right, RightEvent, RightHolder
    from marketplace.kernel.errors import DomainError
    from marketplace.kernel.extensions import db
    from marketplace.kernel.models import User
    from marketplace.kernel.timeutil import utcnow

    tables = [Listing.__table__, Right.__table__, RightHolder.__table__, RightEvent.__table__,
              ListingRight.__table__, Auction.__table__]
    pub_rng = publication_rng(seed)
    report = {"rows": 0, "created": 0, "failed_rows": 0, "first_errors": []}
    started = time.perf_counter()
    with app.app_context(), mock.patch.object(validation, "fill_from_register", _no_register_fill):
        db.create_all()
        sellers_needed = (len(rows) + per_seller - 1) // per_seller
        # Sellers already there (a second load into the same database) are not made again: continue after them.
        first_seller = db.session.scalar(select(func.count(User.id)).where(User.email.like("bench-seller-%")))
        users = make_sellers(first_seller, sellers_needed)
        parties = [(u.id, u.organization_id, register.party_of(u), u.organization.region) for u in users]
        db.session.commit()
        publish_now = utcnow().replace(microsecond=0)
        is_madrid = register.ids.is_madrid
        data_columns = register.DATA_COLUMNS
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            now = utcnow()
            out = {t.name: [] for t in tables}
            with db.engine.begin() as conn:
                ids = _next_ids(conn, tables)
                for offset, row in enumerate(part):
                    number = start + offset
                    user_id, org_id, party, region = parties[number // per_seller]
                    report["rows"] += 1
                    try:
                        cleaned = _clean(row, now, region or "other")
                    except (DomainError, RowRefused) as exc:
                        report["failed_rows"] += 1
                        if len(report["first_errors"]) < 5:
                            report["first_errors"].append({"row": number + 2, "reason": str(exc),
                                                           "fields": getattr(exc, "fields", None)})
                        continue
                    listing_id = ids["listings"]
                    ids["listings"] += 1
                    published_at, grade, score = draw_publication(pub_rng, publish_now)
                    out["listings"].append({
                        "id": listing_id, "seller_id": user_id, "organization_id": org_id, "status": "published",
                        "currency": "CNY", "image": None, "created_at": now, "updated_at": now,
                        "published_at": published_at, "grade": grade, "grade_score": score,
                        **{key: cleaned[key] for key in (
                            "kind", "title", "description", "deal_types", "price_mode", "price", "deal_prices",
                            "region", "offer_floor", "license_territory", "license_field", "license_years",
                            "license_cap", "acts_for_holders")}})
                    for values in cleaned["rights"]:
                        right_id = ids["rights"]
                        ids["rights"] += 1
                        right = {"id": right_id, "kind": values["kind"], "number": values["number"],
                                 "madrid": is_madrid(values["number"]), "created_at": now, "updated_at": now}
                        right.update({c: values.get(c) for c in data_columns})
                        out["rights"].append(right)
                        out["right_holders"].append({
                            "id": _take(ids, "right_holders"), "right_id": right_id, "position": 0,
                            "holder_type": party["type"], "organization_id": party["organization_id"],
                            "user_id": party["user_id"], "name": party["name"], "created_at": now})
                        detail = {"holders": [party],
                                  "data": {c: values.get(c) for c in data_columns if values.get(c) is not None}}
                        out["right_events"].append({
                            "id": _take(ids, "right_events"), "right_id": right_id, "action": "registered",
                            "detail": register._plain(detail), "source": "seller", "actor_id": user_id,
                            "deal_id": None, "created_at": now})
                        out["listing_rights"].append({"id": _take(ids, "listing_rights"), "listing_id": listing_id,
                                                      "right_id": right_id, "position": values["position"]})
                    if cleaned["auction"]:
                        out["auctions"].append({"id": _take(ids, "auctions"), "listing_id": listing_id,
                                                **cleaned["auction"]})
                    report["created"] += 1
                for table in tables:  # parents first
                    if out[table.name]:
                        conn.execute(table.insert(), out[table.name])
            done = start + len(part)
            if log and (done % progress_every == 0 or done == len(rows)):
                elapsed = time.perf_counter() - started
                log(f"  bulk corpus: {done}/{len(rows)} rows ({done / elapsed:.0f} rows/s)", flush=True)
    elapsed = time.perf_counter() - started
    report.update({"seconds": elapsed, "rows_per_second": len(rows) / elapsed if elapsed else 0.0,
                   "sellers": sellers_needed, "path": "bench.corpus.bulk_load (Core, bench only)"})
    return report


def _take(ids, name):
    value = ids[name]
    ids[name] += 1
    return value


def make_app(database_url, instance=None):
    """An app on ``database_url`` (no migrations, no demo data, no index sync; SQLite without fsync per commit)."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from marketplace import create_app

    @event.listens_for(Engine, "connect")
    def _pragma(dbapi_connection, record):
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    config = {"SQLALCHEMY_DATABASE_URI": database_url, "AUTO_MIGRATE": False, "DEMO_DATA": False,
              "SEARCH_SYNC_ON_COMMIT": False, "SECRET_KEY": "bench"}
    if instance:
        config["INSTANCE_PATH"] = str(instance)
    return create_app(config)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Bench-only bulk corpus (see the module's docstring).")
    parser.add_argument("--listings", type=int, required=True)
    parser.add_argument("--seed", type=int, default=20260101)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--database", type=Path, help="a SQLite file (replaced if it exists)")
    where.add_argument("--database-url", help="an existing, empty database (tables made by create_all)")
    parser.add_argument("--chunk", type=int, default=2000, help="rows per transaction")
    parser.add_argument("--reindex", action="store_true", help="then build the search index (search.outbox.reindex)")
    parser.add_argument("--instance", type=Path, help="instance folder (the index goes in <instance>/search_index)")
    args = parser.parse_args(argv)
    from bench.search_bench import generate_rows

    if args.database:
        args.database = args.database.resolve()
        for suffix in ("", "-wal", "-shm"):
            Path(str(args.database) + suffix).unlink(missing_ok=True)
        args.database.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{args.database}"
    else:
        url = args.database_url
    instance = (args.instance or (args.database.parent / "instance" if args.database else None))
    started = time.perf_counter()
    rows = generate_rows(args.listings, args.seed)
    print(f"generated {len(rows)} rows in {time.perf_counter() - started:.1f}s", flush=True)
    app = make_app(url, instance)
    report = bulk_load(app, rows, args.seed, chunk=args.chunk)
    print(f"bulk corpus: {report['created']} published listings from {report['rows']} rows in "
          f"{report['seconds']:.1f}s = {report['rows_per_second']:.0f} rows/s ({report['failed_rows']} refused)",
          flush=True)
    if report["first_errors"]:
        print("  first refusals:", report["first_errors"][:3], flush=True)
    if args.reindex:
        from search.outbox import reindex

        with app.app_context():
            started = time.perf_counter()
            count = reindex(timeout=600)
            elapsed = time.perf_counter() - started
        print(f"search reindex: {count} listings in {elapsed:.1f}s = {count / elapsed:.0f} listings/s", flush=True)


if __name__ == "__main__":
    main()

"""CPU of the database part of a search results page: the three statements of ``search.service`` against the
five it used before session 7 (listings, rights' texts, first rights, holders, open licences), alternating; rows
fetched, not turned into results (that work is the same on both sides).

    python3 bench/floor_db_bench.py --listings 10000

On a corpus loaded by ``search_bench.py``; 300 random pages of 20 published listings.
"""
import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search_bench import make_app  # noqa: E402

_OLD_PUBLISHED = (
    "SELECT l.id, l.title, l.kind, l.grade, l.price, l.currency, l.price_mode, l.region, l.description, "
    "l.deal_types, l.deal_prices, a.current_price, a.start_price, a.bid_count, a.ends_at, a.closed_at "
    "FROM listings l LEFT JOIN auctions a ON a.listing_id = l.id WHERE l.status = 'published' AND l.id IN :ids")
_OLD_TEXTS = ("SELECT lr.listing_id, r.title, r.abstract FROM listing_rights lr JOIN rights r ON r.id = lr.right_id "
              "WHERE lr.listing_id IN :ids ORDER BY lr.listing_id, lr.position")
_OLD_FIRST = ("SELECT lr.listing_id, r.kind, r.number, r.patent_type, r.legal_status, r.tm_status, r.filing_date, "
              "r.registration_date, r.ipc_codes, r.locarno_class, r.nice_classes FROM listing_rights lr "
              "JOIN rights r ON r.id = lr.right_id WHERE lr.listing_id IN :ids ORDER BY lr.listing_id, lr.position")
_OLD_OPEN = "SELECT listing_id FROM open_licences WHERE listing_id IN :ids AND status = 'open'"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listings", type=int, required=True)
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args(argv)
    instance = ROOT / "bench" / "out" / f"search-{args.listings}" / "instance"
    app = make_app(instance, f"sqlite:///{instance / 'bench.sqlite3'}")
    with app.test_request_context():
        from sqlalchemy import bindparam, text

        from marketplace.kernel.extensions import db
        from search import service

        old = [text(q).bindparams(bindparam("ids", expanding=True))
               for q in (_OLD_PUBLISHED, _OLD_TEXTS, _OLD_FIRST, service._HOLDERS.text, _OLD_OPEN)]
        new = [service._PUBLISHED_ROWS, service._RIGHTS, service._HOLDERS]
        ids = [r[0] for r in db.session.execute(text("SELECT id FROM listings WHERE status = 'published'"))]
        rng = random.Random(1)
        before = after = 0.0
        for _ in range(args.pages):
            page = rng.sample(ids, 20)
            started = time.process_time()
            for statement in old:
                db.session.execute(statement, {"ids": page}).all()
            before += time.process_time() - started
            started = time.process_time()
            for statement in new:
                db.session.execute(statement, {"ids": page}).all()
            after += time.process_time() - started
        print(f"database part of a page of 20, CPU ms: before (5 statements) {before / args.pages * 1e3:.2f}, "
              f"after (3) {after / args.pages * 1e3:.2f}")


if __name__ == "__main__":
    main()

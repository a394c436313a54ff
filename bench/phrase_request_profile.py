"""Where a phrase request's CPU goes, phase by phase, against raw FTS5 on the same corpus (issue 18).

    python3 bench/phrase_request_profile.py --listings 10000 [--category phrase] [--rounds 5]

On a corpus loaded by ``search_bench.py``: the bench's warm-up, then for each measured query of the
category, ``--rounds`` times (the median of the rounds is kept per query): the whole request through
Flask's test client, and its parts in the order ``service.search`` runs them: parsing and expansion,
``query_index`` with and without facets, the database reads of the page, the results' JSON
(highlights, snippets), ``jsonify``; plus ``GET /healthz`` (the Flask floor) and raw FTS5 (count and top 20,
no facets). CPU time of this process (``time.process_time``), which a loaded machine inflates far less than
wall time. Prints median and p95 over the queries of each.
"""
import argparse
import sqlite3
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search_bench import fts_search, make_app, make_queries, percentile  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listings", type=int, required=True)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--category", default="phrase")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    workdir = ROOT / "bench" / "out" / f"search-{args.listings}"
    instance = workdir / "instance"
    app = make_app(instance, f"sqlite:///{instance / 'bench.sqlite3'}")
    app.config["PAGE_CACHE"] = False
    measured, warmup = make_queries(app, 250, args.seed)
    measured = [p for c, p in measured if c == args.category]
    client = app.test_client()
    con = sqlite3.connect(workdir / "fts.sqlite3")
    for _c, params in warmup:
        client.get("/api/v1/search", query_string=params)
        fts_search(con, params, facets=False)
    from flask import jsonify
    from werkzeug.datastructures import MultiDict

    from search import service, synonyms
    from search.executor import query_index
    from search.storage import current_handle

    phases = {}

    def timed(name, fn):
        started = time.process_time()
        out = fn()
        phases.setdefault(name, []).append(time.process_time() - started)
        return out

    def measure(params):  # one round of one query: every phase once
        timed("request (test client)", lambda: client.get("/api/v1/search", query_string=params))
        timed("GET /healthz (floor)", lambda: client.get("/healthz"))
        timed("raw FTS5", lambda: fts_search(con, params, facets=False))
        with app.test_request_context("/api/v1/search", query_string=params):
            handle = current_handle()
            parsed = timed("parse_params", lambda: service.parse_params(MultiDict(params)))

            def expand():
                clauses, _also = synonyms.expand(service.parse_query(parsed.q))
                clauses = service.drop_stop_words(clauses)
                return clauses, service._terms(clauses)

            clauses, terms = timed("parse query, expand, terms", expand)
            iq = service.index_query(parsed, clauses)
            timed("query_index, no facets", lambda: query_index(handle, iq, limit=2 * parsed.per_page, facets=False))
            found = timed("query_index, facets", lambda: query_index(handle, iq, limit=2 * parsed.per_page))

            def database():
                live = service._load_published(found.ids)
                ordered = [live[i] for i in found.ids if i in live][:parsed.per_page]
                ids = [row.id for row in ordered]
                texts, firsts, holders = service._rights(ids) if ids else ({}, {}, {})
                return ordered, texts, firsts, holders

            ordered, texts, firsts, holders = timed("database (the page's reads)", database)
            results = timed("result_json (highlights, snippets)", lambda: [
                service.result_json(row, terms, texts.get(row.id, ()), holders.get(row.id, ()), firsts.get(row.id))
                for row in ordered])
            page = service.SearchPage(params=parsed, total=found.total, results=results, facets=found.facets)
            timed("jsonify", lambda: jsonify(service.page_json(page)))
            timed("whole service.search", lambda: service.search(parsed))

    per_query = {}
    for params in measured:
        for _ in range(args.rounds):
            phases.clear()
            measure(params)
            for name, values in phases.items():
                per_query.setdefault(name, {}).setdefault(params["q"], []).extend(values)
    import os

    print(f"{len(measured)} {args.category} queries x {args.rounds} rounds; CPU ms, median of rounds per query; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'':40} {'median':>8} {'p95':>8}")
    for name, by_query in per_query.items():
        values = [statistics.median(v) for v in by_query.values()]
        print(f"{name:40} {percentile(values, .5) * 1e3:8.2f} {percentile(values, .95) * 1e3:8.2f}")


if __name__ == "__main__":
    main()

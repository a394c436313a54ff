"""CPU of the index alone (``search.executor.query_index``) for the search benchmark's phrase queries.

    python3 bench/phrase_index_bench.py --listings 10000

On a corpus loaded by ``search_bench.py``: the bench's own warm-up through ``service.search``, then each
phrase query's ``IndexQuery`` (as ``service.index_query`` builds it) run once (the first call in this process)
and 5 more times (warm, the mean). Without ``<index>/word_pairs_complete`` the executor checks phrases
by positions alone (the code before the word-pair fields), so moving that file aside compares the two.
"""
import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search_bench import make_app, make_queries, percentile  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listings", type=int, required=True)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--category", default="phrase")
    args = parser.parse_args(argv)
    instance = ROOT / "bench" / "out" / f"search-{args.listings}" / "instance"
    app = make_app(instance, f"sqlite:///{instance / 'bench.sqlite3'}")
    measured, warmup = make_queries(app, 250, args.seed)
    from werkzeug.datastructures import MultiDict

    with app.test_request_context():
        from search import service, synonyms
        from search.executor import query_index
        from search.storage import current_handle

        handle = current_handle()
        for _category, params in warmup:
            service.search(service.parse_params(MultiDict(params)))
        cold, warm = [], []
        for category, params in measured:
            if category != args.category:
                continue
            parsed = service.parse_params(MultiDict(params))
            clauses, _also = synonyms.expand(service.parse_query(parsed.q))
            iq = service.index_query(parsed, service.drop_stop_words(clauses))
            started = time.process_time()
            query_index(handle, iq, limit=2 * parsed.per_page)
            cold.append(time.process_time() - started)
            started = time.process_time()
            for _ in range(5):
                query_index(handle, iq, limit=2 * parsed.per_page)
            warm.append((time.process_time() - started) / 5)
        print(f"word pairs: {handle.snapshot().pairs}; {len(cold)} {args.category} queries; query_index CPU ms: "
              f"first call median {percentile(cold, .5) * 1e3:.2f}, p95 {percentile(cold, .95) * 1e3:.2f}; "
              f"warm median {percentile(warm, .5) * 1e3:.2f}, p95 {percentile(warm, .95) * 1e3:.2f}")


if __name__ == "__main__":
    main()

"""The search bench's 30 phrase queries, in-process, several passes in a row after its warm-up (issue 18,
docs/performance.md "Search performance", session 9): what a worker's first, second and later calls of each phrase
cost, so a one-off spike (a common word's whole position list decoded by one query) shows beside the steady state.

    python3 bench/phrase_passes.py --workdir bench/out/search-100000            # a corpus search_bench.py loaded
    python3 bench/phrase_passes.py --workdir … --whole-factor 1e9               # decode whole from the second use

Wall-clock milliseconds per request through the Flask test client (page cache off); run it on a quiet machine.
"""
import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search_bench import make_app, make_queries  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--whole-factor", type=float, help="PostingsCache.WHOLE_FACTOR for this run")
    args = parser.parse_args(argv)
    if args.whole_factor is not None:
        from search.executor import PostingsCache

        PostingsCache.WHOLE_FACTOR = args.whole_factor
    instance = args.workdir.resolve() / "instance"
    app = make_app(instance, f"sqlite:///{instance / 'bench.sqlite3'}")
    app.config["PAGE_CACHE"] = False
    measured, warmup = make_queries(app, 250, args.seed)
    client = app.test_client()
    for _category, params in warmup:
        client.get("/api/v1/search", query_string=params)
    phrases = [params for category, params in measured if category == "phrase"]
    for number in range(1, args.passes + 1):
        times = []
        for params in phrases:
            started = time.perf_counter()
            client.get("/api/v1/search", query_string=params)
            times.append((time.perf_counter() - started, params["q"]))
        slowest = sorted(times, reverse=True)[:3]
        ms = sorted(t for t, _q in times)
        print(f"pass {number}: median {ms[len(ms) // 2] * 1e3:.1f} p95 {ms[int(0.95 * len(ms))] * 1e3:.1f} "
              f"max {ms[-1] * 1e3:.1f} ms; slowest {[(round(t * 1e3, 1), q) for t, q in slowest]}")


if __name__ == "__main__":
    main()

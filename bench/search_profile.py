"""Profile the search service in-process on a corpus already loaded by ``search_bench.py``.

    python3 bench/search_profile.py --listings 100000            # per-query timings, slowest first
    python3 bench/search_profile.py --listings 100000 --cprofile # plus a cProfile of the whole mix

Runs the benchmark's own query mix (same seed, same warm-up) through the API view with
Flask's test client (no HTTP, no gunicorn), so the time left is the search path itself:
parsing, the index, the database re-check, highlighting and JSON.
"""
import argparse
import cProfile
import pstats
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
    parser.add_argument("--queries", type=int, default=250)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    workdir = (args.workdir or ROOT / "bench" / "out" / f"search-{args.listings}").resolve()
    instance = workdir / "instance"
    app = make_app(instance, f"sqlite:///{instance / 'bench.sqlite3'}")
    measured, warmup = make_queries(app, args.queries, args.seed)
    client = app.test_client()

    def run(params):
        started = time.perf_counter()
        response = client.get("/api/v1/search", query_string=params)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.get_data()[:300]
        return elapsed, response.get_json()["total"]

    for _category, params in warmup:
        run(params)
    profiler = cProfile.Profile() if args.cprofile else None
    timings = []
    if profiler:
        profiler.enable()
    for category, params in measured:
        elapsed, total = run(params)
        timings.append((elapsed, category, params, total))
    if profiler:
        profiler.disable()
    times = [t[0] for t in timings]
    print(f"in-process: median {percentile(times, 0.5) * 1000:.1f} ms, p95 {percentile(times, 0.95) * 1000:.1f} ms, "
          f"max {max(times) * 1000:.1f} ms over {len(times)} queries")
    for elapsed, category, params, total in sorted(timings, key=lambda t: t[0], reverse=True)[:args.top]:
        print(f"  {elapsed * 1000:8.1f} ms  {category:13} total={total:<6} {params}")
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()

"""Profile the search service in-process on a corpus already loaded by ``search_bench.py``.

    python3 bench/search_profile.py --listings 100000            # per-query timings, slowest first
    python3 bench/search_profile.py --listings 100000 --cprofile # plus a cProfile of the whole mix
    python3 bench/search_profile.py --listings 10000 --category phrase --fts [--code DIR]   # phrases vs raw FTS5

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
CODE = Path(sys.argv[sys.argv.index("--code") + 1]).resolve() if "--code" in sys.argv else ROOT
sys.path.insert(0, str(CODE))  # --code DIR: profile another tree's search code (e.g. a `git archive` of a commit)

from bench.search_bench import fts_search, make_app, make_queries, percentile  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listings", type=int, required=True)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--queries", type=int, default=250)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--code", type=Path, help="the tree whose search code runs (default: this one)")
    parser.add_argument("--category", help="only this category of the mix (e.g. phrase), after the same warm-up")
    parser.add_argument("--fts", action="store_true",
                        help="also time raw FTS5 (no facets) on <workdir>/fts.sqlite3 as search_bench built it")
    args = parser.parse_args(argv)
    workdir = (args.workdir or ROOT / "bench" / "out" / f"search-{args.listings}").resolve()
    instance = workdir / "instance"
    app = make_app(instance, f"sqlite:///{instance / 'bench.sqlite3'}")
    app.config["PAGE_CACHE"] = False  # each query is measured once anyway; no answer comes from a cache
    measured, warmup = make_queries(app, args.queries, args.seed)
    client = app.test_client()
    cpu_times = []

    def run(params):
        started, cpu = time.perf_counter(), time.process_time()
        response = client.get("/api/v1/search", query_string=params)
        elapsed = time.perf_counter() - started
        cpu_times.append(time.process_time() - cpu)
        assert response.status_code == 200, response.get_data()[:300]
        return elapsed, response.get_json()["total"]

    for _category, params in warmup:
        run(params)
    cpu_times.clear()
    if args.category:
        measured = [(c, p) for c, p in measured if c == args.category]
    fts_wall, fts_cpu = [], []
    if args.fts:
        import sqlite3

        con = sqlite3.connect(workdir / "fts.sqlite3")
        for _category, params in warmup:
            fts_search(con, params, facets=False)
        for _category, params in measured:
            started, cpu = time.perf_counter(), time.process_time()
            fts_search(con, params, facets=False)
            fts_wall.append(time.perf_counter() - started)
            fts_cpu.append(time.process_time() - cpu)
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
    print(f"code: {CODE}; load average {' '.join(f'{x:.1f}' for x in __import__('os').getloadavg())}")
    print(f"in-process: median {percentile(times, 0.5) * 1000:.1f} ms, p95 {percentile(times, 0.95) * 1000:.1f} ms, "
          f"max {max(times) * 1000:.1f} ms over {len(times)} queries; CPU median "
          f"{percentile(cpu_times, 0.5) * 1000:.1f} ms, p95 {percentile(cpu_times, 0.95) * 1000:.1f} ms")
    if fts_wall:
        print(f"FTS5 raw: median {percentile(fts_wall, 0.5) * 1000:.2f} ms, p95 {percentile(fts_wall, 0.95) * 1000:.2f} "
              f"ms; CPU median {percentile(fts_cpu, 0.5) * 1000:.2f} ms, p95 {percentile(fts_cpu, 0.95) * 1000:.2f} ms; "
              f"p95 ratio API in-process / FTS5 raw: wall {percentile(times, 0.95) / percentile(fts_wall, 0.95):.1f}x, "
              f"CPU {percentile(cpu_times, 0.95) / percentile(fts_cpu, 0.95):.1f}x")
    for elapsed, category, params, total in sorted(timings, key=lambda t: t[0], reverse=True)[:args.top]:
        print(f"  {elapsed * 1000:8.1f} ms  {category:13} total={total:<6} {params}")
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()

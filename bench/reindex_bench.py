"""Index build benchmark (issue 18, 1M listings): ``search.outbox.reindex`` of the same corpus by the code before and
after, in one run.

    python3 bench/reindex_bench.py                       # 5,000 listings, baseline main, 2 rounds
    python3 bench/reindex_bench.py --listings 20000 --rounds 1 --baseline <commit>
    python3 bench/reindex_bench.py --profile             # cProfile of this tree's reindex, top 35 by own time

1. Loads a seeded corpus of ``--listings`` published listings once (``bench/corpus.py``: the search benchmark's rows,
   bulk-inserted) into ``bench/out/reindex-<N>/bench.sqlite3``, reused by later runs.
2. Extracts the baseline commit's tree (``git archive``) next to this working tree.
3. For each round, runs the *same* worker once on each tree, alternating which goes first: the tree's app on the
   shared corpus (read only), a fresh index folder, then the tree's ``reindex()`` (what ``flask search reindex``
   runs). It times wall and CPU (the process and its children: a multi-process writer's work counts) and the
   index's size, and checks both trees indexed every listing.
4. Prints both sides with the load average. The machine is shared: compare the two columns of one run, and the CPU
   figures, which contention inflates less than wall time.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORKER = r'''
import json, os, resource, sys, time
tree, database, instance, profile = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
sys.path.insert(0, tree)
os.chdir(tree)
from marketplace import create_app
app = create_app({"INSTANCE_PATH": instance, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
                  "AUTO_MIGRATE": False, "DEMO_DATA": False, "SECRET_KEY": "bench", "SEARCH_SYNC_ON_COMMIT": False})
from search.analysis import initialise
from search.index import current_handle
from search.outbox import reindex
initialise()  # jieba's dictionary: loaded at start-up by the app, not part of a reindex
with app.app_context():
    def cpu():
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    wall, cpu0 = time.perf_counter(), cpu()
    if profile:
        import cProfile, pstats
        profiler = cProfile.Profile()
        count = profiler.runcall(reindex, timeout=600)
    else:
        count = reindex(timeout=600)
    wall, cpu_s = time.perf_counter() - wall, cpu() - cpu0
    path = current_handle().path
    size = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
    segments = len([f for f in os.listdir(path) if f.endswith(".seg")])
    with current_handle().open().searcher() as searcher:
        docs = searcher.doc_count()
    if profile:
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(35)
        stats.sort_stats("cumulative").print_stats(35)
    print(json.dumps({"count": count, "docs": docs, "seconds": wall, "cpu_seconds": cpu_s, "index_mb": size / 1e6,
                      "segments": segments}))
'''


def extract(ref, target):
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)


def ensure_corpus(database, listings, seed):
    if database.exists():
        return
    subprocess.run([sys.executable, str(ROOT / "bench" / "corpus.py"), "--listings", str(listings), "--seed", str(seed),
                    "--database", str(database)], check=True, cwd=ROOT)


def run_side(tree, database, workdir, name, round_no, profile=False):
    instance = workdir / f"{name}-{round_no}"
    shutil.rmtree(instance, ignore_errors=True)
    instance.mkdir(parents=True)
    done = subprocess.run([sys.executable, str(workdir / "reindex_worker.py"), str(tree), str(database), str(instance),
                           "1" if profile else "0"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{name} worker failed:\n{done.stderr[-3000:]}")
    if profile:
        print(done.stderr[-12000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    shutil.rmtree(instance, ignore_errors=True)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listings", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", default="main", help="commit or branch to compare with")
    parser.add_argument("--profile", action="store_true", help="profile this tree's reindex once instead")
    args = parser.parse_args(argv)
    workdir = ROOT / "bench" / "out" / f"reindex-{args.listings}"
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "bench.sqlite3"
    ensure_corpus(database, args.listings, args.seed)
    (workdir / "reindex_worker.py").write_text(WORKER)
    if args.profile:
        result = run_side(ROOT, database, workdir, "profile", 0, profile=True)
        print(json.dumps(result), f"load average {os.getloadavg()}")
        return
    base_tree = workdir / "baseline-tree"
    extract(args.baseline, base_tree)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    sides = {"before": base_tree, "after": ROOT}
    results = {name: [] for name in sides}
    loads = []
    for round_no in range(args.rounds):
        order = list(sides) if round_no % 2 == 0 else list(reversed(sides))
        for name in order:
            loads.append(os.getloadavg()[0])
            result = run_side(sides[name], database, workdir, name, round_no)
            results[name].append(result)
            print(f"round {round_no + 1} {name:6}: {result['count']} listings, {result['seconds']:.1f} s wall "
                  f"({result['count'] / result['seconds']:.0f}/s), {result['cpu_seconds']:.1f} s CPU "
                  f"({result['count'] / result['cpu_seconds']:.0f}/s), index {result['index_mb']:.1f} MB, "
                  f"{result['segments']} segment(s), load {os.getloadavg()[0]:.1f}", flush=True)
    loads.append(os.getloadavg()[0])
    print()
    print(f"{args.listings} listings (bench/corpus.py, seed {args.seed}); before = {args.baseline}, "
          f"after = {head}{' + uncommitted changes' if dirty else ''}; {args.rounds} round(s), medians; "
          f"1-min load average {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} CPUs")
    rows = {}
    for name, runs in results.items():
        assert all(r["docs"] == r["count"] == args.listings for r in runs), (name, runs)
        rows[name] = {"wall": statistics.median(r["count"] / r["seconds"] for r in runs),
                      "cpu": statistics.median(r["count"] / r["cpu_seconds"] for r in runs),
                      "mb": statistics.median(r["index_mb"] for r in runs)}
    print(f"{'':28} {'before':>10} {'after':>10} {'after/before':>13}")
    for key, label in (("wall", "listings/s, wall"), ("cpu", "listings/s, CPU (with children)"),
                       ("mb", "index size, MB")):
        b, a = rows["before"][key], rows["after"][key]
        print(f"{label:28} {b:10.1f} {a:10.1f} {a / b:12.2f}x")


if __name__ == "__main__":
    main()

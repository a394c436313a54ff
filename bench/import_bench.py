"""Bulk import benchmark (issue 18): `flask listings import` of the same CSV by the code before and after, in one run.

    python3 bench/import_bench.py                      # 2,000 rows, baseline 8a90e42, 2 rounds
    python3 bench/import_bench.py --rows 5000 --rounds 3 --baseline <commit>

1. Writes a CSV of ``--rows`` rows from the search benchmark's seeded generator (real CNIPA titles and IPC
   codes, 80 % patents, 20 % trademarks; ``bench.search_bench.generate_rows``).
2. Extracts the baseline commit's tree (``git archive``) next to this working tree.
3. For each round, runs the *same* worker (``import_worker.py``, written to the work folder) once on each tree,
   alternating which goes first: a fresh SQLite database (WAL, the app's own settings), one seller, an empty
   search index, ``SEARCH_SYNC_ON_COMMIT`` on as deployed, then ``flask listings import FILE --seller EMAIL``
   through Click's runner (the CLI as a seller would run it, progress bar and all). It times the command
   (wall and CPU of the process) and reads the outbox rows the search index has not applied afterwards.
4. Prints both sides side by side with the load average (the machine is shared: compare the two columns of
   one run, and the CPU figures, which contention inflates less than wall time).
"""
import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORKER = r'''
import json, os, sys, time
tree, csv_path, instance = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, tree)
os.chdir(tree)
from marketplace import create_app
from marketplace.kernel.extensions import db
app = create_app({"INSTANCE_PATH": instance, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/import.sqlite3",
                  "AUTO_MIGRATE": False, "DEMO_DATA": False, "SECRET_KEY": "bench", "SEARCH_SYNC_ON_COMMIT": True})
with app.app_context():
    from marketplace.kernel.accounts import register_user
    from marketplace.kernel.models import OutboxEvent
    from marketplace.kernel.uscc import uscc_check_char
    from search.index import current_handle
    from search.outbox import pending_count, read_position
    db.create_all()
    body = "91440300" + "000000001"
    register_user("bench-importer@example.com", "correct-horse-battery", "导入卖家", ["seller"],
                  {"name": "导入基准科技有限公司", "uscc": body + uscc_check_char(body), "region": "shenzhen"})
    db.session.commit()
    current_handle().open()
    runner = app.test_cli_runner()
    wall, cpu = time.perf_counter(), time.process_time()
    result = runner.invoke(args=["listings", "import", csv_path, "--seller", "bench-importer@example.com"])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    db.session.rollback()
    last = [l for l in result.output.splitlines() if l.startswith("rows:")]
    print(json.dumps({"exit": result.exit_code, "summary": last[-1] if last else result.output[-300:],
                      "seconds": wall, "cpu_seconds": cpu, "outbox_rows": db.session.query(OutboxEvent).count(),
                      "index_waiting": pending_count(), "index_position": read_position(current_handle())}))
'''


def write_csv(path, rows):
    from listings.importer import COLUMNS

    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: v for k, v in row.items() if k in COLUMNS})


def extract(ref, target):
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)


def run_side(tree, csv_path, workdir, name, round_no):
    instance = workdir / f"{name}-{round_no}"
    shutil.rmtree(instance, ignore_errors=True)
    instance.mkdir(parents=True)
    done = subprocess.run([sys.executable, str(workdir / "import_worker.py"), str(tree), str(csv_path), str(instance)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tree)})
    if done.returncode != 0:
        raise SystemExit(f"{name} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--baseline", default="8a90e42", help="commit of the code before (default: issue 18's base)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "import")
    args = parser.parse_args(argv)
    from bench.search_bench import generate_rows

    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "import_worker.py").write_text(WORKER)
    csv_path = workdir / f"rows-{args.rows}.csv"
    write_csv(csv_path, generate_rows(args.rows, args.seed))
    baseline = workdir / "baseline-tree"
    extract(args.baseline, baseline)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    sides = {"before": baseline, "after": ROOT}
    print(f"uptime at start: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f} "
          f"(1/5/15 min), {os.cpu_count()} CPUs; {args.rows} rows; before = {args.baseline}, "
          f"after = {head}{' + uncommitted changes' if dirty else ''}", flush=True)
    results = {name: [] for name in sides}
    loads = []
    for round_no in range(args.rounds):
        order = list(sides) if round_no % 2 == 0 else list(reversed(sides))
        for name in order:
            loads.append(os.getloadavg()[0])
            result = run_side(sides[name], csv_path, workdir, name, round_no)
            results[name].append(result)
            print(f"  round {round_no + 1} {name:6}: {args.rows / result['seconds']:7.0f} rows/s wall, "
                  f"{args.rows / result['cpu_seconds']:7.0f} rows/s CPU; {result['summary']}; outbox rows "
                  f"{result['outbox_rows']}, not applied to the index {result['index_waiting']}  "
                  f"(load {loads[-1]:.1f})", flush=True)
    print()
    print(f"{'':34} {'before':>12} {'after':>12} {'after/before':>13}")
    figures = {}
    for label, key in (("rows/s, wall (median of rounds)", "seconds"), ("rows/s, CPU of the process", "cpu_seconds")):
        before = args.rows / statistics.median(r[key] for r in results["before"])
        after = args.rows / statistics.median(r[key] for r in results["after"])
        figures[key] = (before, after)
        print(f"{label:34} {before:12.0f} {after:12.0f} {after / before:12.2f}x")
    for label, key in (("outbox rows written", "outbox_rows"), ("rows left for the index at the end", "index_waiting")):
        print(f"{label:34} {results['before'][-1][key]:12} {results['after'][-1][key]:12}")
    print(f"load average (1 min) before each side: {min(loads):.1f}–{max(loads):.1f}; at the end: "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    (workdir / "results.json").write_text(json.dumps({"rows": args.rows, "baseline": args.baseline, "after": head,
                                                      "results": results, "loads": loads,
                                                      "started": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1))


if __name__ == "__main__":
    main()

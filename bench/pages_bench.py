"""Page-speed benchmark (issue 19): the storefront's main pages under gunicorn, side by side with a bare Flask
app under the same gunicorn settings, in one run, measured with wrk (Debian's ``wrk`` package).

    python3 bench/pages_bench.py                       # SQLite, the demo catalogue
    python3 bench/pages_bench.py --listings 100000     # SQLite, 100,000 generated listings (slow to load)
    python3 bench/pages_bench.py --listings 100000 --bulk   # the same, loaded by bench/corpus.py (minutes)
    python3 bench/pages_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench_pages

For each page: requests per second, p50 and p99 latency, and the ratio of its req/s to the bare Flask
endpoint's (``return jsonify(ok=True)``), which is the floor this machine, gunicorn and Flask set. The floor is
measured again right before each page (both servers run side by side, each idle while the other is measured),
so each ratio compares two runs under the same load. The
targets (issue 19): anonymous pages >= 0.3x, signed-in pages >= 0.15x, JSON reads >= 0.4x. The signed-in
page is a deal page seen by its buyer (a session cookie signed with the benchmark's secret key).

Before any page is measured, every URL gets a one-second wrk warm-up run that is not reported (a worker's
first requests load the search index, jieba's dictionary and the templates: measured right after start-up,
the first page lost one request per connection to wrk's timeout). ``--pages deal`` measures only the pages
whose name contains "deal". The load
average is printed with the results, since other work on the machine lowers every figure (the ratios less).
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search_bench import free_port  # noqa: E402

TARGETS = {"anonymous": 0.3, "signed-in": 0.15, "json": 0.4}
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def wrk(url, duration, connections, threads, headers=()):
    """(requests/s, p50 seconds, p99 seconds, failed: non-2xx answers plus timeouts) for ``url`` under wrk."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    for header in headers:
        cmd += ["-H", header]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M).groups()
        return float(value) * UNITS[unit]

    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    return rps, pct(50), pct(99), (int(bad.group(1)) if bad else 0) + (int(timeouts.group(1)) if timeouts else 0)


def start(module, instance, database_url, workers, log_path):
    port = free_port()
    env = dict(os.environ, INSTANCE_PATH=str(instance), DATABASE_URL=database_url, DEMO_DATA="0",
               SECRET_KEY="bench", PYTHONPATH=str(ROOT), LOG_ACCESS="0")
    log = open(log_path, "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
                             "--timeout", "120", module], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    import http.client

    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited; see {log_path}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not start; see {log_path}")


def stop(proc):
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def prepare(instance, database_url, listings, seed, bulk=False):
    """Load the catalogue; return the app (for picking URLs) after the search index is built. ``bulk``: the
    generated listings written by ``bench/corpus.py``'s ``bulk_load`` (the importer's cleaning, no rule book,
    savepoints or ORM: ~30x faster than ``load_corpus``'s ``import_rows``) instead of the importer."""
    from bench.search_bench import build_index, generate_rows, load_corpus, make_app

    if listings:
        app = make_app(instance, database_url)
        from marketplace.web.app import prepare_database

        with app.app_context():
            prepare_database(app)
        if bulk:
            from bench.corpus import bulk_load

            bulk_load(app, generate_rows(listings, seed), seed=seed)
        else:
            load_corpus(app, generate_rows(listings, seed), seed)
        build_index(app)
    else:
        from marketplace import create_app

        app = create_app({"INSTANCE_PATH": str(instance), "SQLALCHEMY_DATABASE_URI": database_url,
                          "DEMO_DATA": True, "SECRET_KEY": "bench"})
    return app


def pages(app):
    """[(name, kind, path, needs the buyer's cookie)] for the main pages, chosen from the loaded data."""
    from sqlalchemy import select

    from escrow.models import Deal
    from listings.models import Listing
    from marketplace.kernel.extensions import db

    with app.app_context():
        def first(**where):
            query = select(Listing).filter_by(status="published", **where).order_by(Listing.id)
            return db.session.scalars(query.limit(1)).first()

        patent, trademark = first(kind="patent"), first(kind="trademark")
        auction = first(price_mode="auction")
        deal = db.session.scalars(select(Deal).order_by(Deal.id.desc()).limit(1)).first()
        if deal is None:
            deal = _open_a_deal(first(price_mode="fixed"))
        right = patent.rights[0]
        found = [
            ("home /", "anonymous", "/", False),
            ("search /search?q=电池", "anonymous", "/search?q=%E7%94%B5%E6%B1%A0", False),
            ("listing (patent)", "anonymous", f"/listings/{patent.id}", False),
            ("listing (trademark)", "anonymous", f"/listings/{trademark.id}", False) if trademark else None,
            ("listing (auction)", "anonymous", f"/listings/{auction.id}", False) if auction else None,
            ("right page", "anonymous", f"/rights/{right.kind}/{right.number}", False),
            ("stats /stats", "anonymous", "/stats", False),
            ("deal page (buyer)", "signed-in", f"/deals/{deal.id}", True) if deal else None,
            ("API search", "json", "/api/v1/search?q=%E7%94%B5%E6%B1%A0", False),
            ("API listing", "json", f"/api/v1/listings/{patent.id}", False),
        ]
        cookie = None
        if deal is not None:
            from marketplace.kernel.models import User

            buyer = db.session.get(User, deal.buyer_id)
            cookie = f"{app.config.get('SESSION_COOKIE_NAME', 'session')}=" + signed_in_session(app, buyer)
    return [p for p in found if p], cookie


def signed_in_session(app, user):
    """The session cookie's value a browser holds after signing in as ``user`` and viewing a page, as wrk
    sends it (from 127.0.0.1, no User-Agent): Flask-Login's user id, freshness and session identifier (without
    the identifier of this client, Flask-Login marks the session not fresh on every request), and the CSRF
    token the first page put in it. With it the app has nothing to write back, as for a real browser's second
    view; a cookie without them made every answer carry a new ``Set-Cookie`` (sessions 7 and 8 measured that)."""
    from flask import session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.1"}) as ctx:
        ctx.request.environ.pop("HTTP_USER_AGENT", None)
        login_user(user)
        generate_csrf()
        return app.session_interface.get_signing_serializer(app).dumps(dict(session))


def _open_a_deal(listing):
    """A deal awaiting payment on ``listing``, bought by a buyer of the catalogue (or a new one)."""
    from sqlalchemy import select

    from escrow.deals import open_deal
    from marketplace.kernel.accounts import register_user
    from marketplace.kernel.extensions import db
    from marketplace.kernel.models import User

    buyer = db.session.scalars(select(User).where(User.email == "buyer@demo.ipmart.cn")).first() \
        or register_user("bench-buyer@example.com", "correct-horse-battery", "基准买家", ["buyer"], None)
    deal = open_deal(listing, buyer, listing.price, listing.deal_types[0], "purchase")
    db.session.commit()
    return deal


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listings", type=int, default=0, help="generated listings instead of the demo catalogue")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in the work folder")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10, help="seconds per page")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--reuse", action="store_true", help="reuse the catalogue already in --workdir")
    parser.add_argument("--bulk", action="store_true",
                        help="with --listings: load them with bench/corpus.py's bulk path instead of the importer")
    parser.add_argument("--pages", help="only the pages whose name contains this")
    parser.add_argument("--floor", choices=("each", "once"), default="each",
                        help="measure bare Flask before each page (default) or once, first")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    workdir = (args.workdir or ROOT / "bench" / "out" / f"pages-{args.listings or 'demo'}").resolve()
    instance = workdir / "instance"
    database_url = args.database_url or f"sqlite:///{instance / 'bench.sqlite3'}"
    if not args.reuse:
        shutil.rmtree(workdir, ignore_errors=True)
        instance.mkdir(parents=True)
        started = time.perf_counter()
        app = prepare(instance, database_url, args.listings, args.seed, args.bulk)
        print(f"catalogue ready in {time.perf_counter() - started:.0f}s", flush=True)
    else:
        from bench.search_bench import make_app

        app = make_app(instance, database_url)
    urls, cookie = pages(app)
    if args.pages:
        urls = [u for u in urls if args.pages in u[0]]

    # Both servers run side by side (idle while the other is measured), and each page is measured right after a
    # floor run of its own: on a shared machine the load drifts within minutes, and a ratio is only as good as
    # the floor measured under the same load (``--floor once``: one floor run first, as before).
    rows = []
    bare, bare_base = start("bench.bare_wsgi:app", instance, database_url, args.workers, workdir / "bare.log")
    try:
        server, base = start("bench.search_wsgi:app", instance, database_url, args.workers, workdir / "app.log")
    except BaseException:
        stop(bare)
        raise
    try:
        wrk(bare_base + "/", 1, args.connections, args.threads)
        for _name, _kind, path, signed_in in urls:  # warm every page first
            wrk(base + path, 1, args.connections, args.threads, [f"Cookie: {cookie}"] if signed_in and cookie else [])
        floor = wrk(bare_base + "/", args.duration, args.connections, args.threads)
        for name, kind, path, signed_in in [("/healthz", "json", "/healthz", False), *urls]:
            headers = [f"Cookie: {cookie}"] if signed_in and cookie else []
            if args.floor == "each":
                floor = wrk(bare_base + "/", args.duration, args.connections, args.threads)
            rows.append((name, kind, floor, *wrk(base + path, args.duration, args.connections, args.threads, headers)))
    finally:
        stop(server)
        stop(bare)

    db_kind = database_url.split(":", 1)[0].split("+", 1)[0]
    print(f"\npages on {db_kind}, {'demo catalogue' if not args.listings else f'{args.listings:,} listings'}; "
          f"gunicorn -w {args.workers}; wrk -t{args.threads} -c{args.connections} -d{args.duration}s; "
          f"floor: {'before each page' if args.floor == 'each' else 'once'}; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'page':28} {'kind':10} {'floor/s':>8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6} {'target':>7}"
          "  failed")
    for name, kind, floor, rps, p50, p99, bad in rows:
        ratio = rps / floor[0]
        target = TARGETS[kind] if name != "/healthz" else None
        mark = "" if target is None else "ok" if ratio >= target else "below"
        print(f"{name:28} {kind:10} {floor[0]:8.0f} {rps:9.0f} {p50 * 1e3:8.1f} {p99 * 1e3:8.1f} {ratio:6.2f} "
              f"{target or 0:5.2f} {mark:5} {bad}")


if __name__ == "__main__":
    main()

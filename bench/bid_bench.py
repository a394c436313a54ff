"""Bid benchmark: K concurrent bidders on one auction against the running app on PostgreSQL.

    python bench/bid_bench.py                       # starts gunicorn on a PostgreSQL database itself
    python bench/bid_bench.py --url http://127.0.0.1:8000 --database-url postgresql+psycopg://…

It seeds a seller, K buyers (with API tokens) and one published auction straight into the
database (``--database-url``, the same one the app uses), then releases K threads
together. Each bidder keeps bidding the minimum it last heard of: a 201 tells it the
next minimum, a 409 carries ``minimum_amount``; so most bids collide and lose, which is
the point. It prints accepted and refused bids per second and latency, then checks the
final state: current price = highest accepted bid, bid_count = number accepted, every
bid beats the previous one by at least the increment, and the public history agrees.
Exit status 1 if any check fails.

Without ``--url`` the app is started under gunicorn (``--workers`` processes ×
``--threads`` threads) with rate limiting off, so the numbers measure bidding, not the
limiter; against ``--url`` the server's own limits apply and 429s are counted apart.
"""
import argparse
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1/ipmart_bench"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="target a running app instead of starting gunicorn")
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
                   or DEFAULT_DB, help=f"the app's database (default {DEFAULT_DB}; created if missing)")
    p.add_argument("--bidders", "-k", type=int, default=16, help="concurrent bidders (default 16)")
    p.add_argument("--bids", "-n", type=int, default=40, help="bid attempts per bidder (default 40)")
    p.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (default 4)")
    p.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    p.add_argument("--port", type=int, default=0, help="port for the started gunicorn (default: a free one)")
    p.add_argument("--no-search-sync", action="store_true",
                   help="start gunicorn with SEARCH_SYNC_ON_COMMIT=0 (each accepted bid changes the auction, and by "
                        "default the search index is brought up to date right after that commit)")
    return p.parse_args(argv)


# --- database: create, migrate, seed -------------------------------------------------------------

def ensure_database(url):
    """Create the PostgreSQL database if it does not exist (the bench never drops anything)."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if not u.drivername.startswith("postgresql"):
        raise SystemExit("the benchmark runs on PostgreSQL: pass a postgresql+psycopg:// URL")
    admin = psycopg.connect(host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username or "postgres",
                            password=u.password, dbname="postgres", autocommit=True)
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (u.database,)).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{u.database}"')


def make_app(database_url, instance):
    from marketplace import create_app

    # The app's own start-up path: Alembic upgrades an empty database to the current schema.
    return create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": instance, "DEMO_DATA": False,
                       "SECRET_KEY": "bench"})


def seed(app, bidders):
    """One seller, ``bidders`` buyers with tokens, one auction closing in a day. Returns ids and tokens."""
    from werkzeug.security import generate_password_hash

    from listings.models import Auction, Listing, Right
    from marketplace.kernel.extensions import db
    from marketplace.kernel.models import ApiToken, Organization, User
    from marketplace.kernel.timeutil import utcnow
    from marketplace.kernel.uscc import uscc_check_char

    run = secrets.token_hex(4)
    with app.app_context():
        body = "91440300" + f"{secrets.randbelow(10**9):09d}"
        org = Organization(name=f"压测科技有限公司 {run}", uscc=body + uscc_check_char(body), region="shenzhen",
                           verified=True)
        password_hash = generate_password_hash(secrets.token_urlsafe(16), method="scrypt")
        seller = User(email=f"bench-seller-{run}@example.com", name="压测卖家", password_hash=password_hash,
                      organization=org)
        seller.roles = ["seller"]
        db.session.add_all([org, seller])
        buyers = []
        for i in range(bidders):
            user = User(email=f"bench-buyer-{run}-{i}@example.com", name=f"压测买家{i}", password_hash=password_hash)
            user.roles = ["buyer"]
            buyers.append(user)
        db.session.add_all(buyers)
        db.session.flush()
        tokens = [ApiToken.issue(user)[1] for user in buyers]
        now = utcnow()
        listing = Listing(kind="patent", title=f"一种锂离子电池正极材料及其制备方法（压测 {run}）", description="压测挂牌",
                          status="published", seller_id=seller.id, organization_id=org.id, deal_types=["assignment"],
                          price_mode="auction", region="shenzhen", published_at=now)
        listing.rights.append(Right(kind="patent", number="201710601862.3", title=listing.title,
                                    patent_type="invention", legal_status="granted"))
        listing.auction = Auction(start_price=10_000_00, min_increment=100_00, reserve_price=50_000_00,
                                  ends_at=now + timedelta(days=1))
        db.session.add(listing)
        db.session.commit()
        return {"listing_id": listing.id, "auction_id": listing.auction.id, "increment": 100_00,
                "start_price": 10_000_00, "tokens": tokens}


# --- the server ----------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(args, instance):
    port = args.port or free_port()
    env = {**os.environ, "DATABASE_URL": args.database_url, "INSTANCE_PATH": instance, "DEMO_DATA": "0",
           "SECRET_KEY": "bench", "PYTHONPATH": str(ROOT),
           "AUTO_MIGRATE": "1"}  # a bench database is upgraded on start (a deployment runs `flask db upgrade`)
    if args.no_search_sync:
        env["SEARCH_SYNC_ON_COMMIT"] = "0"
    app_spec = "marketplace:create_app({'RATELIMIT_ENABLED': False})"
    cmd = [sys.executable, "-m", "gunicorn", "--workers", str(args.workers), "--threads", str(args.threads),
           "--worker-class", "gthread", "--bind", f"127.0.0.1:{port}", "--log-level", "warning", app_spec]
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # workers start one after another (schema check under a lock)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {proc.returncode}")
        try:
            status, _body = request(url, "GET", "/healthz")
            if status == 200:
                return proc, url
        except OSError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 300 s")


def request(base, method, path, body=None, token=None, conn=None):
    parts = urlsplit(base)
    own = conn is None
    conn = conn or http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=60)
    headers = {"Accept": "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body)
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else None)
    finally:
        if own:
            conn.close()


# --- bidders -------------------------------------------------------------------------------------

class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.accepted = []  # amounts
        self.refused = 0
        self.limited = 0
        self.errors = []
        self.latencies = []

    def add(self, status, body, seconds):
        with self.lock:
            self.latencies.append(seconds)
            if status == 201:
                self.accepted.append(body["bid"]["amount"])
            elif status == 409:
                self.refused += 1
            elif status == 429:
                self.limited += 1
            else:
                self.errors.append((status, body))


def bidder(url, listing_id, token, attempts, start_price, barrier, tally):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=60)
    path = f"/api/v1/listings/{listing_id}/bids"
    minimum = start_price
    barrier.wait()
    for _ in range(attempts):
        started = time.perf_counter()
        try:
            status, body = request(url, "POST", path, {"amount": minimum}, token, conn)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=60)
            tally.add(0, str(exc), time.perf_counter() - started)
            continue
        tally.add(status, body, time.perf_counter() - started)
        if status == 201:
            minimum = body["auction"]["minimum_next_bid"]
        elif status == 409 and body and "minimum_amount" in body.get("error", {}):
            minimum = body["error"]["minimum_amount"]
    conn.close()


# --- checks --------------------------------------------------------------------------------------

def check_final_state(app, url, seeded, tally):
    from sqlalchemy import select

    from listings.models import Auction, Bid
    from marketplace.kernel.extensions import db

    problems = []
    with app.app_context():
        auction = db.session.get(Auction, seeded["auction_id"])
        bids = db.session.execute(select(Bid).where(Bid.auction_id == auction.id).order_by(Bid.id)).scalars().all()
        accepted = sorted(tally.accepted)
        if sorted(b.amount for b in bids) != accepted:
            problems.append(f"bid rows {len(bids)} differ from the {len(accepted)} bids answered 201")
        if auction.bid_count != len(accepted):
            problems.append(f"bid_count {auction.bid_count} != accepted {len(accepted)}")
        if accepted and auction.current_price != accepted[-1]:
            problems.append(f"current_price {auction.current_price} != highest accepted {accepted[-1]}")
        if bids and auction.leader_id != bids[-1].bidder_id:
            problems.append("leader is not the bidder of the last accepted bid")
        for earlier, later in zip(bids, bids[1:], strict=False):
            if later.amount < earlier.amount + seeded["increment"]:
                problems.append(f"bid {later.id} ({later.amount}) does not beat bid {earlier.id} "
                                f"({earlier.amount}) by the increment")
                break
        if bids and bids[0].amount < seeded["start_price"]:
            problems.append("first bid below the start price")
        current_price, bid_count = auction.current_price, auction.bid_count
    status, body = request(url, "GET", f"/api/v1/listings/{seeded['listing_id']}/bids")
    if status != 200 or len(body["bids"]) != min(len(tally.accepted), 200):
        problems.append(f"public history answers {status} with {len(body['bids']) if body else '?'} bids")
    return problems, current_price, bid_count


def percentile(values, q):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main(argv=None):
    args = parse_args(argv)
    instance = tempfile.mkdtemp(prefix="ipmart-bench-")
    ensure_database(args.database_url)
    app = make_app(args.database_url, instance)
    seeded = seed(app, args.bidders)
    proc = None
    url = args.url
    if url is None:
        proc, url = start_gunicorn(args, instance)
    try:
        tally = Tally()
        barrier = threading.Barrier(args.bidders + 1)
        threads = [threading.Thread(target=bidder, args=(url, seeded["listing_id"], token, args.bids,
                                                         seeded["start_price"], barrier, tally))
                   for token in seeded["tokens"]]
        for t in threads:
            t.start()
        barrier.wait()
        started = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        problems, current_price, bid_count = check_final_state(app, url, seeded, tally)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)

    total = len(tally.latencies)
    if proc:
        server = f"started gunicorn: {args.workers} workers x {args.threads} threads"
        server += ", search sync on commit off" if args.no_search_sync else ""
    else:
        server = "running app"
    print(f"target: {url} ({server})")
    print(f"bidders: {args.bidders}, attempts: {total} in {elapsed:.2f} s ({total / elapsed:.1f} requests/s)")
    print(f"accepted: {len(tally.accepted)} ({len(tally.accepted) / elapsed:.1f} bids/s)")
    print(f"refused:  {tally.refused} ({tally.refused / elapsed:.1f} bids/s, 409 with minimum_amount)")
    if tally.limited:
        print(f"rate-limited: {tally.limited} (429)")
    print(f"latency: p50 {percentile(tally.latencies, .5) * 1000:.1f} ms, p95 {percentile(tally.latencies, .95) * 1000:.1f} ms, "
          f"max {max(tally.latencies, default=0) * 1000:.1f} ms")
    print(f"final state: current_price={current_price} bid_count={bid_count} "
          f"max accepted={max(tally.accepted, default=None)}")
    if tally.errors:
        problems.append(f"{len(tally.errors)} unexpected answers, e.g. {tally.errors[:3]}")
    if problems:
        print("CHECK FAILED:\n  " + "\n  ".join(problems))
        return 1
    print("CHECK OK: current price = highest accepted bid, bid_count = accepted, increments respected")
    return 0


if __name__ == "__main__":
    sys.exit(main())

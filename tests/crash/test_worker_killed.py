"""Crash test: the app under gunicorn on PostgreSQL takes concurrent bids and deal actions over HTTP
while workers are killed with SIGKILL, then the whole server is killed and started again.

Afterwards, read from the database and through the restarted server:

* the ledger balances and every deal is whole (``tests.invariants.checks.check_books``: balanced
  entries, no negative balance, terminal deals hold nothing, money received = released + fees +
  refunded + held, one unbroken event chain, the listing follows its deal);
* every auction is consistent: bid count, current price and leader agree with its bids, each
  accepted bid beat the one before by the increment, and no bid was accepted below the minimum;
* nothing acknowledged was lost: every bid and every deal step that got a 2xx is in the database;
* no lock outlived its worker: every auction takes a new bid and every open deal takes a step.
"""
import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from escrow.models import Deal, DealEvent
from listings.models import Auction, Bid, Listing
from marketplace.kernel.extensions import db
from tests import factories
from tests.conftest import PG_URL
from tests.factories import PDF, free_port
from tests.invariants import checks

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LOAD_SECONDS = float(os.environ.get("CRASH_LOAD_SECONDS", "20"))
WORKERS = 3
KILLS = 4


@pytest.fixture
def app_config():
    return {"SEARCH_SYNC_ON_COMMIT": False}


class Server:
    """gunicorn serving tests/crash/crash_wsgi.py on a free loopback port (our own processes only)."""

    def __init__(self, instance):
        self.instance = instance
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        env = {**os.environ, "DATABASE_URL": PG_URL, "INSTANCE_PATH": str(self.instance), "SECRET_KEY": "crash-test",
               "DEMO_DATA": "0", "PYTHONWARNINGS": "ignore"}
        log = open(self.instance / "gunicorn.log", "ab")  # noqa: SIM115 (kept open for the process's life)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", str(WORKERS),
             "--timeout", "30", "--graceful-timeout", "2", "tests.crash.crash_wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError((self.instance / "gunicorn.log").read_text(errors="replace")[-3000:])
            try:
                if requests.get(f"{self.base}/healthz", timeout=1).ok and len(self.workers()) == WORKERS:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError("gunicorn did not start")

    def workers(self):
        """Pids of the master's children (read from /proc: the master is ours, so are they)."""
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                children.append(int(entry.name))
        return children

    def kill_all(self):
        """The host dies: SIGKILL the workers and the master."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for pid in self.workers():
            _kill(pid)
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill_all()


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Load:
    """Concurrent clients; keeps every answer that said "done" so it can be checked after the crash."""

    def __init__(self, base, people, auctions, listings):
        self.base = base
        self.people = people  # {"buyers": [(user, token)], "seller": token, "operator": token}
        self.auctions = auctions
        self.listings = listings
        self.acked_bids = []  # (bid id, auction listing id, amount)
        self.acked_steps = []  # (deal id, state the answer reported)
        self.errors = itertools.count()
        self.answers = itertools.count()
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def call(self, method, path, token, **kwargs):
        try:
            response = requests.request(method, f"{self.base}{path}", headers={"Authorization": f"Bearer {token}"},
                                        timeout=15, **kwargs)
        except requests.RequestException:
            next(self.errors)  # the worker died under this request: no answer, so no promise
            return None
        next(self.answers)
        assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
        return response

    def bidder(self, n):
        rng = random.Random(n)
        _bidder_id, token = self.people["buyers"][n % len(self.people["buyers"])]
        while not self.stop.is_set():
            listing_id = rng.choice(self.auctions)
            state = self.call("GET", f"/api/v1/listings/{listing_id}", token)
            if state is None or state.status_code != 200:
                continue
            auction = state.json()["listing"]["auction"]
            base = auction["current_price"] or auction["start_price"]
            amount = base + auction["min_increment"] * rng.randint(0 if not auction["current_price"] else 1, 3)
            response = self.call("POST", f"/api/v1/listings/{listing_id}/bids", token, json={"amount": amount})
            if response is not None and response.status_code == 201:
                with self.lock:
                    self.acked_bids.append((response.json()["bid"]["id"], listing_id, amount))

    def dealer(self, n):
        rng = random.Random(1000 + n)
        _buyer_id, token = self.people["buyers"][n % len(self.people["buyers"])]
        seller, operator = self.people["seller"], self.people["operator"]
        while not self.stop.is_set():
            listing_id = rng.choice(self.listings)
            response = self.call("POST", f"/api/v1/listings/{listing_id}/purchase", token,
                                 json={"deal_type": "assignment"})
            if response is None or response.status_code != 201:
                continue
            deal = response.json()["deal"]
            self.ack(deal)
            path = f"/api/v1/deals/{deal['id']}"
            today = (datetime.now(timezone.utc) + timedelta(hours=8)).date().isoformat()
            sign = {"json": {"password": factories.PASSWORD}}
            steps = [("POST", "/contract/sign", seller, sign),
                     ("POST", "/contract/sign", token, sign),
                     ("POST", "/pay", token, {}),
                     ("POST", "/confirm-payment", operator,
                      {"json": {"reference": deal["payment_reference"], "amount": deal["price"]}}),
                     ("POST", "/transfer-filed", seller, {"files": {"document": ("r.pdf", PDF, "application/pdf")}}),
                     ("POST", "/transfer-recorded", seller, {"files": {"document": ("n.pdf", PDF, "application/pdf")},
                                                             "data": {"notice_number": "2026120400012345",
                                                                      "notice_date": today}}),
                     ("POST", "/recordal/verify", operator, {}),
                     ("POST", "/accept", token, {}),
                     ("POST", "/payout-paid", operator, {"json": {"reference": f"BOC{deal['id']:08d}"}})]
            stop_at = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9])
            for method, suffix, who, kwargs in steps[:stop_at]:
                if rng.random() < 0.08:  # now and then: a dispute, or the buyer walks away
                    alt = (("/dispute", {"json": {"reason": "卖方提交的材料有误"}})
                           if suffix not in ("/pay", "/contract/sign") else ("/cancel", {}))
                    answer = self.call("POST", path + alt[0], token, **alt[1])
                    if answer is not None and answer.status_code == 200:
                        self.ack(answer.json()["deal"])
                    break
                answer = self.call(method, path + suffix, who, **kwargs)
                if answer is None:
                    break  # killed mid-request: leave this deal where the database says it is
                if answer.status_code == 200 and "deal" in answer.json():
                    self.ack(answer.json()["deal"])

    def ack(self, deal):
        with self.lock:
            self.acked_steps.append((deal["id"], deal["state"]))


def _seed():
    seller = factories.make_user("seller")
    operator = factories.make_user("operator")
    buyers = [factories.make_user("buyer") for _ in range(6)]
    auctions = [factories.make_listing(seller, price_mode="auction", auction={"min_increment": 1_000_00}).id
                for _ in range(3)]
    listings = [factories.make_listing(seller, price=random.randint(1, 500) * 10_000_00).id for _ in range(40)]
    people = {"buyers": [(b.id, factories.token_for(b)) for b in buyers], "seller": factories.token_for(seller),
              "operator": factories.token_for(operator)}
    db.session.commit()
    return people, auctions, listings


def _check_auctions(auction_listing_ids):
    for listing_id in auction_listing_ids:
        auction = db.session.execute(select(Auction).where(Auction.listing_id == listing_id)).scalar_one()
        bids = db.session.execute(select(Bid).where(Bid.auction_id == auction.id).order_by(Bid.id)).scalars().all()
        assert auction.bid_count == len(bids), (listing_id, auction.bid_count, len(bids))
        if not bids:
            assert auction.current_price is None
            continue
        assert bids[0].amount >= auction.start_price
        for before, after in itertools.pairwise(bids):
            assert after.amount >= before.amount + auction.min_increment, (listing_id, before.amount, after.amount)
        assert auction.current_price == bids[-1].amount, (listing_id, auction.current_price, bids[-1].amount)
        assert auction.leader_id == bids[-1].bidder_id


@pytest.mark.skipif(not PG_URL, reason="the crash test runs on PostgreSQL: set TEST_DATABASE_URL")
def test_killed_workers_lose_nothing_and_leave_the_books_whole(app, tmp_path):
    people, auctions, listings = _seed()
    server = Server(tmp_path)
    try:
        server.start()
        load = Load(server.base, people, auctions, listings)
        killed = []

        def killer():
            rng = random.Random(7)
            for _ in range(KILLS):
                time.sleep(LOAD_SECONDS / (KILLS + 1))
                workers = server.workers()
                if workers:
                    victim = rng.choice(workers)
                    _kill(victim)
                    killed.append(victim)

        with ThreadPoolExecutor(max_workers=12) as pool:
            futures = [pool.submit(load.bidder, n) for n in range(6)] + [pool.submit(load.dealer, n) for n in range(5)]
            futures.append(pool.submit(killer))
            time.sleep(LOAD_SECONDS)
            answers_before_crash = next(load.answers)
            server.kill_all()  # the host goes down with requests in flight
            load.stop.set()
            for future in futures:
                future.result()
        assert len(killed) == KILLS
        assert answers_before_crash > 50, "the load barely ran"
        assert load.acked_bids and load.acked_steps, "no bid or deal step was acknowledged"

        server = Server(tmp_path)  # restart on the same database
        server.start()
        db.session.remove()
        db.session.expire_all()

        # the books and every deal of the run
        deal_ids = db.session.execute(select(Deal.id).where(Deal.listing_id.in_(listings))).scalars().all()
        deals = checks.check_books(deal_ids)
        assert len(deals) >= 5, f"only {len(deals)} deals were opened"
        _check_auctions(auctions)

        # nothing acknowledged was lost
        for bid_id, listing_id, amount in load.acked_bids:
            bid = db.session.get(Bid, bid_id)
            assert bid is not None and bid.amount == amount, (bid_id, listing_id, amount)
        for deal_id, state in load.acked_steps:
            reached = db.session.execute(select(DealEvent.id).where(DealEvent.deal_id == deal_id,
                                                                     DealEvent.to_state == state)).first()
            assert reached is not None, f"deal {deal_id} was acknowledged as {state} but never got there"

        # the restarted server agrees with the database, and no lock outlived its worker
        buyer_token = people["buyers"][0][1]
        for deal in list(deals.values())[:10]:
            answer = requests.get(f"{server.base}/api/v1/deals/{deal.id}", timeout=15,
                                  headers={"Authorization": f"Bearer {people['operator']}"})
            assert answer.status_code == 200 and answer.json()["deal"]["state"] == deal.state
        for listing_id in auctions:
            state = requests.get(f"{server.base}/api/v1/listings/{listing_id}", timeout=15).json()["listing"]["auction"]
            amount = (state["current_price"] or state["start_price"]) + state["min_increment"]
            answer = requests.post(f"{server.base}/api/v1/listings/{listing_id}/bids", json={"amount": amount},
                                   headers={"Authorization": f"Bearer {buyer_token}"}, timeout=15)
            assert answer.status_code == 201, answer.text
        open_deals = [d for d in deals.values() if d.state == "awaiting_payment"]
        for deal in open_deals[:5]:
            token = next(t for user_id, t in people["buyers"] if user_id == deal.buyer_id)
            answer = requests.post(f"{server.base}/api/v1/deals/{deal.id}/cancel", timeout=15,
                                   headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text
        db.session.expire_all()
        checks.check_books(deal_ids)
        _check_auctions(auctions)
        sold = db.session.execute(select(Listing.id).where(Listing.id.in_(listings), Listing.status == "sold"))
        print(f"crash test: {len(load.acked_bids)} bids and {len(load.acked_steps)} deal steps acknowledged, "
              f"{next(load.errors)} requests cut off by {KILLS} worker kills and a server crash; "
              f"{len(deals)} deals, {len(sold.all())} listings sold; books whole after restart")
    finally:
        server.stop()
        db.session.remove()

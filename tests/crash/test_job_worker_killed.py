"""Crash test for the background worker (issue 21): ``flask worker`` (RQ on Redis) is killed with SIGKILL, work
horse and all, in the middle of the deadlines job that cancels a batch of unpaid deals. Then:

* nothing is half-done: every deal is either untouched (awaiting payment, no cancel event, its listing still
  reserved) or wholly cancelled (state, one event, the listing back on the market, the books whole:
  ``tests.invariants.checks.check_books``), because each deal is one transaction and a dead connection's
  transaction is rolled back;
* the job is not lost: it stays in RQ's started registry, and a worker started again finds it abandoned once its
  heartbeat lapses (about a minute) and runs it again (it has retries left);
* the retry reaches the same final state as a run without a crash: every deal cancelled exactly once.

On PostgreSQL (``TEST_DATABASE_URL``) or SQLite, with the machine's Redis; slow (``RUN_SLOW=1``).
"""
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from escrow import deals
from escrow.models import Deal, DealEvent
from marketplace.kernel import jobs
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow
from tests import factories
from tests.invariants import checks
from tests.jobhelp import forget_keys, redis_available, redis_config

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEALS = int(os.environ.get("CRASH_JOB_DEALS", "40"))


@pytest.fixture
def app_config():
    if not redis_available():
        pytest.skip("no Redis")
    return {**redis_config(), "SEARCH_SYNC_ON_COMMIT": False, "MAX_OPEN_RESERVATIONS": 10**6,
            "UNPAID_STRIKES": 10**6, "JOB_RETRY_INTERVALS": "1,1,1"}


@pytest.fixture(autouse=True)
def _clean(app):
    yield
    forget_keys(app)


class WorkerProcess:
    def __init__(self, app, log_path, slow):
        tmp_instance = log_path.parent / "worker-instance"
        tmp_instance.mkdir(exist_ok=True)
        env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
               "INSTANCE_PATH": str(tmp_instance), "SECRET_KEY": "crash-test", "DEMO_DATA": "0",
               "REDIS_URL": app.config["REDIS_URL"], "JOB_QUEUE_PREFIX": app.config["JOB_QUEUE_PREFIX"],
               "WORKER_HOST": app.config["WORKER_HOST"], "JOB_RETRY_INTERVALS": app.config["JOB_RETRY_INTERVALS"],
               "CRASH_SLOW_FLUSH": str(slow), "PYTHONWARNINGS": "ignore", "LOG_FORMAT": "text"}
        self.log = open(log_path, "ab")  # noqa: SIM115 (kept open for the process's life)
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.crash.crash_worker"], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=self.log)

    def children(self):
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                    found.append(int(entry.name))
        return found

    def kill(self):
        """The host dies: SIGKILL the work horse (and the scheduler) and the worker itself."""
        for pid in self.children():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def _cancelled():
    db.session.expire_all()
    return db.session.scalar(select(func.count(Deal.id)).where(Deal.state == "cancelled"))


def _wait(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_mid_job_leaves_no_half_done_deal_and_the_job_is_recovered(app, tmp_path):
    buyer, seller = factories.make_user("buyer"), factories.make_user("seller")
    db.session.commit()
    opened = utcnow() - timedelta(days=app.config["PAYMENT_DAYS"] + 1)
    deal_ids = []
    for _ in range(DEALS):
        listing = factories.make_listing(seller)
        db.session.commit()
        deal_ids.append(deals.open_deal(listing, buyer, listing.price, "assignment", "purchase", now=opened).id)
        db.session.commit()

    rq_job = jobs.enqueue("deadlines")
    registry = jobs.queue(False, app).started_job_registry
    worker = WorkerProcess(app, tmp_path / "worker1.log", slow=0.05)
    try:
        _wait(lambda: rq_job.id in registry.get_job_ids() and _cancelled() >= 2, 90, "the job to be under way")
        worker.kill()
    finally:
        worker.stop()
    done_at_kill = _cancelled()
    rq_job.refresh()
    print(f"killed mid-job: {done_at_kill} of {DEALS} deals cancelled, job {rq_job.get_status()}")
    assert rq_job.get_status() == "started" and rq_job.id in registry.get_job_ids()  # abandoned, not finished
    assert 0 < done_at_kill < DEALS, "the kill did not land mid-job; raise CRASH_JOB_DEALS"
    db.session.expire_all()
    checks.check_books(deal_ids)  # each deal whole: untouched or wholly cancelled

    started = time.monotonic()
    worker = WorkerProcess(app, tmp_path / "worker2.log", slow=0)
    try:
        _wait(lambda: rq_job.get_status(refresh=True) == "finished", 200, "the abandoned job to be run again")
    finally:
        worker.stop()
    print(f"recovered after {time.monotonic() - started:.1f}s")
    db.session.expire_all()
    assert _cancelled() == DEALS
    checks.check_books(deal_ids)
    cancels = dict(db.session.execute(
        select(DealEvent.deal_id, func.count(DealEvent.id)).where(DealEvent.to_state == "cancelled")
        .group_by(DealEvent.deal_id)).all())
    assert cancels == dict.fromkeys(deal_ids, 1)  # once each: the retry redid nothing the first run had done
    assert jobs.queue(False, app).failed_job_registry.count == 0

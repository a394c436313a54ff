"""Two web hosts on one PostgreSQL database (issue 21): each runs gunicorn and ``flask search follow`` with an
index folder of its own. A listing an operator approves through host A is found by a search on host B within
the outbox lag; withdrawn through B, it disappears from A's results. (docs/operations.md, "Several hosts".)"""
import os
import subprocess
import sys
import time

import pytest
import requests

from marketplace.kernel.extensions import db
from tests import factories
from tests.conftest import PG_URL

from .test_worker_killed import ROOT, Server

pytestmark = pytest.mark.slow
FOLLOW_INTERVAL = 1.0
LAG_SECONDS = 20  # the follower's interval plus start-up and a busy CI machine


@pytest.fixture
def app_config():
    return {"SEARCH_SYNC_ON_COMMIT": False}


class Host(Server):
    """gunicorn plus this host's outbox follower, sharing the database, each with its own instance folder."""

    def start(self):
        super().start()
        env = {**os.environ, "DATABASE_URL": PG_URL, "INSTANCE_PATH": str(self.instance), "SECRET_KEY": "two-hosts",
               "DEMO_DATA": "0", "AUTO_MIGRATE": "0", "PYTHONWARNINGS": "ignore"}
        log = open(self.instance / "follow.log", "ab")  # noqa: SIM115 (kept open for the process's life)
        self.follower = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "tests.crash.crash_wsgi", "search", "follow",
             "--interval", str(FOLLOW_INTERVAL)], cwd=ROOT, env=env, stdout=log, stderr=log)

    def stop(self):
        follower = getattr(self, "follower", None)
        if follower is not None and follower.poll() is None:
            follower.terminate()
            follower.wait(timeout=15)
        super().stop()

    def found(self, word):
        response = requests.get(f"{self.base}/api/v1/search", params={"q": word}, timeout=10)
        response.raise_for_status()
        return [row["id"] for row in response.json()["results"]]


def _until(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return predicate()


@pytest.mark.skipif(not PG_URL, reason="two hosts share a PostgreSQL database (TEST_DATABASE_URL)")
def test_a_listing_published_on_one_host_is_found_on_the_other(app, tmp_path):
    seller, operator = factories.make_user("seller"), factories.make_user("operator")
    listing = factories.make_listing(seller, status="pending_review", title="一种双主机石墨烯导热膜")
    seller_token, operator_token = factories.token_for(seller), factories.token_for(operator)
    db.session.commit()
    hosts = [Host(tmp_path / name) for name in ("host-a", "host-b")]
    for host in hosts:
        host.instance.mkdir()
    a, b = hosts
    try:
        for host in hosts:
            host.start()
        assert a.found("双主机") == [] and b.found("双主机") == []

        approved = requests.post(f"{a.base}/api/v1/listings/{listing.id}/review", json={"decision": "approve"},
                                 headers={"Authorization": f"Bearer {operator_token}"}, timeout=10)
        assert approved.status_code == 200, approved.text
        started = time.monotonic()
        assert _until(lambda: b.found("双主机") == [listing.id], LAG_SECONDS), "host B never saw the listing"
        lag = time.monotonic() - started
        assert _until(lambda: a.found("双主机") == [listing.id], LAG_SECONDS)

        withdrawn = requests.post(f"{b.base}/api/v1/listings/{listing.id}/withdraw",
                                  headers={"Authorization": f"Bearer {seller_token}"}, timeout=10)
        assert withdrawn.status_code == 200, withdrawn.text
        assert _until(lambda: a.found("双主机") == [], LAG_SECONDS), "host A still shows a withdrawn listing"
        print(f"outbox lag from host A to host B: {lag:.1f}s")
    finally:
        for host in hosts:
            host.stop()

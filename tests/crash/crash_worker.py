"""``flask worker`` as the worker crash test runs it (tests/crash/test_job_worker_killed.py): the test's schema
(no migration), no anti-cornering limits (the test opens many unpaid deals for one buyer), maintenance every
few seconds (so an abandoned job is found soon after its heartbeat lapses), and, with ``CRASH_SLOW_FLUSH``
seconds, a pause after every flush: the real deadline code, slowed so the test can kill the worker mid-job."""
import os
import time

from sqlalchemy import event
from sqlalchemy.orm import Session

from marketplace import create_app
from marketplace.kernel import jobs

app = create_app({"AUTO_MIGRATE": False, "RATELIMIT_ENABLED": False, "DEMO_DATA": False,
                  "SEARCH_SYNC_ON_COMMIT": False, "MAX_OPEN_RESERVATIONS": 10**6, "UNPAID_STRIKES": 10**6,
                  "JOB_MAINTENANCE_INTERVAL": 3})

PAUSE = float(os.environ.get("CRASH_SLOW_FLUSH") or 0)
if PAUSE:
    @event.listens_for(Session, "after_flush")
    def _slow(session, flush_context):
        time.sleep(PAUSE)

if __name__ == "__main__":
    jobs.work(app, with_cron=False)

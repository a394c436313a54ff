"""Background jobs in tests: the two modes, and a burst worker to drain the queues.

``JOB_MODES`` parametrizes a test over ``inline`` (no ``REDIS_URL``: jobs run in-process after commit, the
embedded default) and ``redis`` (RQ on the machine's Redis). Redis mode uses ``TEST_REDIS_URL`` (default db 14 of
127.0.0.1:6379) and queue names of its own per test (``JOB_QUEUE_PREFIX=t<uuid>``), so xdist workers, parallel
runs and other users of that Redis never see each other's jobs; the test's keys are deleted afterwards.
``.ci/run`` runs the job tests once more with ``JOB_TEST_MODE=redis`` only.
"""
import os
import uuid

import pytest

REDIS_URL = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/14"


def redis_available():
    try:
        from redis import Redis

        return Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception:  # noqa: BLE001
        return False


def job_modes():
    only = os.environ.get("JOB_TEST_MODE")
    return [only] if only else ["inline", "redis"]


def redis_config(prefix=None):
    return {"REDIS_URL": REDIS_URL, "JOB_QUEUE_PREFIX": prefix or f"t{uuid.uuid4().hex[:12]}",
            "WORKER_HOST": "testhost", "JOB_RETRY_INTERVALS": "0,0", "JOB_RESULT_TTL": 600,
            "JOB_FAILURE_TTL": 600, "JOB_SYNC": False}


def config_for(mode):
    if mode == "inline":
        return {"REDIS_URL": None}
    if not redis_available():
        pytest.skip(f"no Redis at {REDIS_URL}")
    return redis_config()


def failed_job_errors(app):
    """The error text of every job of this test that failed (empty when none did)."""
    from marketplace.kernel import jobs

    if not jobs.enabled(app):
        return []
    errors = []
    for host in (False, True):
        q = jobs.queue(host, app)
        for job_id in q.failed_job_registry.get_job_ids():
            rq_job = q.fetch_job(job_id)
            errors.append(f"{job_id}: {jobs.last_error(rq_job) if rq_job else '(gone)'}")
    return errors


def forget_keys(app):
    """Delete this test's queues, registries and counters (its job hashes expire by their TTL)."""
    from marketplace.kernel import jobs

    if not jobs.enabled(app):
        return
    conn = jobs.connection(app)
    prefix = app.config["JOB_QUEUE_PREFIX"]
    ids = set()
    for host in (False, True):
        q = jobs.queue(host, app)
        ids.update(q.get_job_ids())
        for registry in (q.failed_job_registry, q.finished_job_registry, q.started_job_registry,
                         q.scheduled_job_registry, q.deferred_job_registry, q.canceled_job_registry):
            ids.update(registry.get_job_ids())
    for job_id in ids:
        conn.delete(f"rq:job:{job_id}", f"rq:results:{job_id}", f"rq:executions:{job_id}")
    for key in conn.scan_iter(match=f"*{prefix}*", count=500):
        conn.delete(key)


def run_jobs(app):
    """Run every job waiting in this app's queues (a burst SimpleWorker in this process); returns the count
    of jobs the queues held before."""
    from marketplace.kernel import jobs

    if not jobs.enabled(app):
        return 0
    jobs.set_app(app)
    waiting = jobs.queue(False, app).count + jobs.queue(True, app).count
    jobs.make_worker(app, simple=True).work(burst=True, with_scheduler=False, logging_level="WARNING")
    return waiting

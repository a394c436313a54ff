"""Background jobs: RQ on Redis when ``REDIS_URL`` is set, in-process after commit when it is not.

**Two modes.** Without ``REDIS_URL`` (the embedded default) nothing changes: the after-commit hooks drain
the search outbox and send e-mail in the process that committed, ``flask deadlines run`` / ``search sync`` are
run by a timer. With ``REDIS_URL`` the same work becomes RQ jobs (``enqueue``), run by ``flask worker``, and the
worker schedules the periodic work itself (``PERIODIC``: index catch-up and saved-search matching, deadlines,
retention, the statistics report) with RQ's own cron scheduler. No system cron.

**Queues.** ``<JOB_QUEUE_PREFIX>`` (default ``ipmart``) is shared by every host: e-mail, deadlines, retention,
reports. ``<JOB_QUEUE_PREFIX>-host-<WORKER_HOST>`` is this host's own: the search index is a folder per host, so
its catch-up (and the saved-search matching that reads it) must run on the host that owns it. Run one
``flask worker`` per host; it listens on its host queue and the shared one.

**Every job** is a registered name (``@job("name")``), defined beside the rule it runs: ``index_drain`` in
search.outbox, ``deadlines`` in escrow.deadlines, ``mail`` in marketplace.kernel.notify, ``retention`` in
marketplace.web.privacy, ``stats_report`` in marketplace.web.stats (the application factory imports each). This
module is the machinery only and imports no domain package. A job is run through ``run(name, *args)``, which

* pushes an app context and tags every log line with the request id of the request that enqueued the job
  (job meta ``request_id``; ``job-<id>`` for periodic work);
* treats ``Stale`` (the payload no longer matches the data: a listing deleted, a user gone, a deal settled) as
  a logged no-op, never an error, so it is not retried into a crash loop;
* on any other exception rolls back and re-raises: RQ retries it with backoff (``JOB_RETRY_INTERVALS``), and
  after the last try the job stays in the failed job registry (``flask jobs failed``, metric
  ``ipmart_jobs_failed``);
* counts its outcome in Redis (``ipmart_jobs_total``), so ``/metrics`` on any host sees every worker's runs.

Each job is idempotent: it re-reads the database and acts on what is there (the outbox drain from its saved
position, deadlines by their due dates, deliveries by their ``*_at`` marks). A worker killed mid-job leaves its
database transaction uncommitted (so nothing half-done) and the job in RQ's started registry; the next worker's
maintenance finds it abandoned and puts it back on the queue (retries left) or in the failed registry.
"""
import functools
import logging
import os
import socket
import threading
import time

from flask import current_app, has_app_context
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .extensions import db
from .observability import current_request_id, run_with_request_id

log = logging.getLogger("ipmart.jobs")

JOBS = {}  # name -> function(*args)
WORKER_START = []  # functions run once when `flask worker` starts, before the work horses fork
_app = None  # the Flask app a worker process runs its jobs in (set by `flask worker` or a test)


class Stale(Exception):
    """The job's payload no longer matches the data; the job is a no-op (logged, not retried)."""


def job(name):
    def register(func):
        JOBS[name] = func
        return func
    return register


def on_worker_start(func):
    """Run ``func()`` once when a worker starts, before it forks (search.analysis loads jieba's dictionary)."""
    if func not in WORKER_START:
        WORKER_START.append(func)
    return func


# ---- settings and connections ----------------------------------------------------------------------------
# redis and rq are imported inside the functions that use them: only worker mode (REDIS_URL) needs them, so
# the embedded default, every web worker without Redis and each `flask` command start without loading them.
def enabled(app=None):
    app = app or (current_app if has_app_context() else _app)
    return bool(app is not None and app.config.get("REDIS_URL"))


def connection(app=None):
    from redis import Redis

    app = app or current_app._get_current_object()
    conn = app.extensions.get("ipmart_redis")
    if conn is None:
        conn = Redis.from_url(app.config["REDIS_URL"], socket_timeout=5, socket_connect_timeout=5)
        app.extensions["ipmart_redis"] = conn
    return conn


def host_name(app=None):
    app = app or current_app
    return app.config.get("WORKER_HOST") or socket.gethostname()


def shared_queue_name(app=None):
    return (app or current_app).config.get("JOB_QUEUE_PREFIX") or "ipmart"


def host_queue_name(app=None):
    app = app or current_app
    return f"{shared_queue_name(app)}-host-{host_name(app)}"


def queue(host=False, app=None):
    from rq import Queue

    app = app or current_app._get_current_object()
    name = host_queue_name(app) if host else shared_queue_name(app)
    if app.config.get("JOB_SYNC") and not app.testing:  # jobs inside requests: never on a deployment
        raise RuntimeError("JOB_SYNC exists for the test suite only (TESTING)")
    return Queue(name, connection=connection(app), default_timeout=app.config.get("JOB_TIMEOUT", 300),
                 is_async=not app.config.get("JOB_SYNC"))


def retry_policy(app=None):
    from rq import Retry

    app = app or current_app
    intervals = [int(x) for x in str(app.config.get("JOB_RETRY_INTERVALS") or "10,60,300,900,3600").split(",")
                 if x.strip()]
    return Retry(max=len(intervals), interval=intervals) if intervals else None


def _key(suffix, app=None):
    return f"{shared_queue_name(app)}:{suffix}"


# ---- enqueueing ------------------------------------------------------------------------------------------
def enqueue(name, *args, host=False, retry=True, request_id=None):
    """Put job ``name(*args)`` on the shared (or this host's) queue, carrying the current request id."""
    if name not in JOBS:
        raise KeyError(name)
    app = current_app._get_current_object()
    meta = {"request_id": request_id or current_request_id()}
    rq_job = queue(host, app).enqueue(run, name, *args, meta=meta, retry=retry_policy(app) if retry else None,
                                      result_ttl=app.config.get("JOB_RESULT_TTL", 3600),
                                      failure_ttl=app.config.get("JOB_FAILURE_TTL", 30 * 86400),
                                      description=f"{name}{tuple(args)!r}"[:200])
    log.info("job enqueued", extra={"job": name, "job_id": rq_job.id, "queue": rq_job.origin})
    return rq_job


def enqueue_quietly(app, name, *args, host=False, request_id=None):
    """Enqueue from an after-commit hook: never raises (Redis down: logged; the periodic run catches up)."""
    request_id = request_id or current_request_id()  # before the new app context (its own `g`)
    try:
        with app.app_context():
            return run_with_request_id(request_id, functools.partial(enqueue, host=host, request_id=request_id),
                                       name, *args)
    except Exception:  # noqa: BLE001 - the user's change is committed; the catch-up job redoes this work
        log.exception("could not enqueue job %s; the periodic catch-up will do it", name)
        return None


def request_index_drain(app):
    """After a commit that touched listings: one pending drain job for this host (not one per commit)."""
    try:
        marker = _key(f"drain-pending:{host_name(app)}", app)
        if not connection(app).set(marker, "1", nx=True, ex=int(app.config.get("JOB_TIMEOUT", 300))):
            return None  # a drain is already waiting; it will apply this commit's rows too
    except Exception:  # noqa: BLE001
        log.exception("Redis unavailable; the index catch-up job will apply these rows")
        return None
    request_id = current_request_id()
    return enqueue_quietly(app, "index_drain", host=True, request_id=request_id)


def index_drain_started():
    """The pending drain job runs: a commit from now on may request the next one (never raises)."""
    if not enabled():
        return
    try:
        connection().delete(_key(f"drain-pending:{host_name()}"))
    except Exception:  # noqa: BLE001
        pass


# ---- running ---------------------------------------------------------------------------------------------
def set_app(app):
    global _app
    _app = app


def _worker_app():
    global _app
    if _app is None:
        # An RQ process started without `flask worker` (which hands its app to set_app): build the app the way
        # wsgi.py does. The kernel names only the package's factory, looked up here (PEP 562 in
        # marketplace/__init__.py), never the shell's modules.
        from .. import create_app

        _app = create_app()
    return _app


def run(name, *args):
    """What RQ executes: job ``name`` in an app context, under the enqueuing request's id."""
    from rq import get_current_job

    rq_job = get_current_job()
    meta = rq_job.meta if rq_job is not None else {}
    request_id = meta.get("request_id") or (f"job-{rq_job.id}" if rq_job is not None else None)
    # JOB_SYNC (RQ runs the job inside enqueue): the enqueuing app; a worker: the app it was started with
    app = current_app._get_current_object() if has_app_context() else _worker_app()
    with app.app_context():
        _own_connections()
        return run_with_request_id(request_id, execute, name, *args)


_pool_pid = os.getpid()


def _own_connections():
    """In a forked work horse: drop the database connections inherited from the worker (without closing
    them, they are the parent's), so this process opens its own and never shares a socket."""
    global _pool_pid
    if _pool_pid == os.getpid():
        return
    for engine in db.engines.values():
        engine.dispose(close=False)
    _pool_pid = os.getpid()


def execute(name, *args):
    """Run job ``name`` now, in this app context (the in-process mode calls this too). Returns its result,
    or ``"noop"`` when the payload was stale."""
    func = JOBS[name]
    started = time.perf_counter()
    try:
        result = func(*args)
    except Stale as exc:
        db.session.rollback()
        log.info("job %s is a no-op: %s", name, exc, extra={"job": name, "outcome": "noop"})
        _count(name, "noop")
        return "noop"
    except Exception:
        db.session.rollback()
        log.exception("job %s failed", name, extra={"job": name, "outcome": "error"})
        _count(name, "error")
        raise
    finally:
        db.session.remove()
    log.info("job %s done", name, extra={"job": name, "outcome": "ok",
                                         "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
    _count(name, "ok")
    return result


def _count(name, outcome):
    if not enabled():
        return
    try:
        conn = connection()
        with conn.pipeline() as pipe:
            pipe.hincrby(_key("runs"), f"{name}|{outcome}", 1)
            if outcome == "ok":
                pipe.hset(_key("last-ok"), name, f"{time.time():.3f}")
            pipe.execute()
    except Exception:  # noqa: BLE001 - counting never fails a job
        log.warning("could not count job %s", name, exc_info=True)


# ---- periodic work ---------------------------------------------------------------------------------------
# name -> (setting with the interval in seconds, default, host queue?)
PERIODIC = {
    "index_drain": ("JOB_INDEX_INTERVAL", 5, True),
    "deadlines": ("JOB_DEADLINES_INTERVAL", 60, False),
    "retention": ("JOB_RETENTION_INTERVAL", 3600, False),
    "stats_report": ("JOB_REPORT_INTERVAL", 86400, False),
}


def periodic(name):
    """A cron tick: run job ``name`` unless another worker's tick already ran it this period (so every host may
    run a scheduler; the shared work is still done once per period)."""
    app = _worker_app()
    setting, default, host = PERIODIC[name]
    interval = int(app.config.get(setting, default))
    scope = host_name(app) if host else "all"
    with app.app_context():
        if not connection(app).set(_key(f"periodic:{name}:{scope}", app), "1", nx=True, ex=max(1, interval - 1)):
            return "skipped"
    return run(name)


def cron_scheduler(app):
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=connection(app), name=f"ipmart:{host_name(app)}:{os.getpid()}")
    for name, (setting, default, host) in PERIODIC.items():
        interval = int(app.config.get(setting, default))
        if interval <= 0:
            continue
        target = host_queue_name(app) if host else shared_queue_name(app)
        scheduler.register(periodic, target, args=(name,), interval=interval, name=f"{target}:{name}",
                           job_timeout=app.config.get("JOB_TIMEOUT", 300), result_ttl=600)
    return scheduler


def run_cron(scheduler, stop):
    """The cron loop in a thread of ``flask worker`` (RQ's own ``start()`` wants the main thread's signals)."""
    scheduler.register_birth()
    try:
        while not stop.is_set():
            try:
                scheduler.enqueue_jobs()
                scheduler.heartbeat()
            except Exception:  # noqa: BLE001 - Redis hiccup: try again next tick
                log.exception("cron scheduler tick failed")
            stop.wait(max(0.2, min(scheduler.calculate_sleep_interval(), 5)))
    finally:
        try:
            scheduler.register_death()
        except Exception:  # noqa: BLE001
            pass


def make_worker(app, *, simple=False, queues=None):
    from rq import SimpleWorker, Worker

    conn = connection(app)
    names = queues or [host_queue_name(app), shared_queue_name(app)]
    cls = SimpleWorker if simple else Worker
    maintenance = max(1, int(app.config.get("JOB_MAINTENANCE_INTERVAL", 60)))
    # An idle worker blocks on the queue for worker_ttl - 15 s before it looks at maintenance (RQ's default
    # is 405 s): tie it to the maintenance interval, so abandoned jobs are found about that often.
    return cls(names, connection=conn, name=f"ipmart-{host_name(app)}-{os.getpid()}-{threading.get_ident() % 10000}",
               maintenance_interval=maintenance, worker_ttl=maintenance + 15,
               job_monitoring_interval=min(30, maintenance))


def work(app, *, burst=False, with_cron=True, simple=False):
    """``flask worker``: run jobs (and the cron scheduler) until stopped. The host queue and the shared one are
    served in turn (round robin), so neither starves the other."""
    from rq.worker import DequeueStrategy

    set_app(app)
    for start in WORKER_START:
        start()
    stop = threading.Event()
    thread = None
    if with_cron and not burst:
        thread = threading.Thread(target=run_cron, args=(cron_scheduler(app), stop), daemon=True,
                                  name="ipmart-cron")
        thread.start()
    try:
        return make_worker(app, simple=simple).work(burst=burst, with_scheduler=True,
                                                    logging_level=app.config.get("JOB_LOG_LEVEL", "INFO"),
                                                    dequeue_strategy=DequeueStrategy.ROUND_ROBIN)
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=5)


# ---- what an operator sees -------------------------------------------------------------------------------
def failed_jobs(app=None, limit=100):
    """``[(job, exc_info last line)]`` in the failed registries of the shared and this host's queue."""
    from rq.job import Job

    app = app or current_app._get_current_object()
    found = []
    for host in (False, True):
        q = queue(host, app)
        ids = q.failed_job_registry.get_job_ids(0, limit - 1)
        for job_obj in Job.fetch_many(ids, connection=q.connection):
            if job_obj is not None:
                found.append(job_obj)
    return found


def job_label(job_obj):
    args = job_obj.args or ()
    return args[0] if job_obj.func_name.endswith(".run") and args else job_obj.func_name


def last_error(job_obj):
    try:
        text = job_obj.latest_result().exc_string if job_obj.latest_result() else ""
    except Exception:  # noqa: BLE001
        text = ""
    text = (text or getattr(job_obj, "exc_info", "") or "").strip()
    return text.splitlines()[-1] if text else ""


def requeue_failed(app=None, job_ids=None):
    app = app or current_app._get_current_object()
    count = 0
    for host in (False, True):
        registry = queue(host, app).failed_job_registry
        for job_id in registry.get_job_ids():
            if job_ids is None or job_id in job_ids:
                registry.requeue(job_id)
                count += 1
    return count


def console_summary(limit=10):
    """For the operator console: None without REDIS_URL; else queue depths, failed jobs (the newest ``limit``),
    or ``{"error": ...}`` when Redis does not answer."""
    if not enabled():
        return None
    try:
        queues = [(q.name, q.count, q.failed_job_registry.count) for q in (queue(False), queue(True))]
        failed = [{"id": j.id, "job": job_label(j), "queue": j.origin, "ended_at": j.ended_at,
                   "request_id": j.meta.get("request_id"), "error": last_error(j)[:200]}
                  for j in failed_jobs(limit=limit)]
        return {"queues": queues, "failed": failed}
    except Exception as exc:  # noqa: BLE001 - the console must open without Redis
        log.warning("job summary unavailable", exc_info=True)
        return {"error": type(exc).__name__}


def metric_families():
    """Gauges for /metrics, read from Redis when scraped: queue depth, failed and scheduled jobs per queue,
    job runs by name and outcome (every worker's), and the time of each job's last success."""
    if not enabled():
        return []
    depth = GaugeMetricFamily("ipmart_job_queue_depth", "Jobs waiting in a queue.", labels=["queue"])
    failed = GaugeMetricFamily("ipmart_jobs_failed", "Jobs in the failed job registry (retries used up).",
                               labels=["queue"])
    scheduled = GaugeMetricFamily("ipmart_jobs_scheduled", "Jobs waiting for a retry or a scheduled time.",
                                  labels=["queue"])
    runs = CounterMetricFamily("ipmart_jobs", "Job runs by job and outcome (ok / noop / error), all workers.",
                               labels=["job", "outcome"])
    last = GaugeMetricFamily("ipmart_job_last_success_timestamp_seconds", "When each job last succeeded.",
                             labels=["job"])
    try:
        for host in (False, True):
            q = queue(host)
            depth.add_metric([q.name], q.count)
            failed.add_metric([q.name], q.failed_job_registry.count)
            scheduled.add_metric([q.name], q.scheduled_job_registry.count)
        conn = connection()
        for field, value in sorted(conn.hgetall(_key("runs")).items()):
            name, _, outcome = field.decode().partition("|")
            runs.add_metric([name, outcome], int(value))
        for name, value in sorted(conn.hgetall(_key("last-ok")).items()):
            last.add_metric([name.decode()], float(value))
    except Exception:  # noqa: BLE001 - Redis down: the metrics say so by their absence; /readyz is the probe
        log.warning("job metrics unavailable", exc_info=True)
        return []
    return [depth, failed, scheduled, runs, last]

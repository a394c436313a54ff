"""What an operator watches: request ids, structured (JSON) logs, Prometheus metrics, readiness.

- **Request id.** Every request gets one: the caller's ``X-Request-ID`` when it is a short token
  (``[A-Za-z0-9._-]{1,64}``, as nginx's ``$request_id`` or a load balancer sends it), otherwise a new
  uuid4. It is returned in the ``X-Request-ID`` response header and put on every log record written
  while the request runs (``request_id``), so one line in a user's complaint finds all the others.
- **Logs.** ``LOG_FORMAT=json`` (the default) writes one JSON object per line to stderr through
  python-json-logger; ``text`` keeps the plain format for a developer's terminal. ``LOG_ACCESS=1`` adds one
  JSON access line per request (method, path, endpoint, status, duration, user id, request id); it costs
  about 0.1–0.2 ms a request, so by default gunicorn's access log (with the ``X-Request-ID`` response header
  in its format, docs/operations.md) writes those lines instead.
- **Metrics** (prometheus-client) at ``/metrics``, served only to the addresses in ``METRICS_ALLOW_FROM``
  (CIDRs; loopback by default) or to a caller presenting ``METRICS_TOKEN`` as a bearer token; to anyone
  else the route does not exist (404). Counters and histograms live in the process; gauges that describe
  the database (outbox lag, escrow held) are read when scraped. Under gunicorn with several workers set
  ``PROMETHEUS_MULTIPROC_DIR`` so the workers' counters are summed (prometheus-client's multiprocess mode).
- **Readiness.** ``/healthz`` stays a constant answer (the process is up). ``/readyz`` checks that the
  database answers, that the search index opens, and that the outbox lag (rows the index has not applied)
  is below ``READY_MAX_OUTBOX_LAG``; 503 with the failing check otherwise, for a load balancer to act on.

The gauges read from the domains at scrape time and the /readyz checks (the search index, escrow) are
marketplace.web.health, which registers both routes: this module imports no domain package.
docs/operations.md lists every metric and what to do when it moves.
"""
import hmac
import ipaddress
import logging
import os
import re
import time
from contextvars import ContextVar

from flask import current_app, g, has_request_context, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from pythonjsonlogger.json import JsonFormatter

log = logging.getLogger("ipmart.access")
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# ---- metrics kept in the process (module level: one set per process, whatever number of apps) ----------
REQUEST_SECONDS = Histogram(
    "ipmart_http_request_duration_seconds", "Time to answer a request, by endpoint (the Flask route name).",
    ["endpoint", "method"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
REQUESTS = Counter("ipmart_http_requests_total", "Requests answered, by endpoint and status class.",
                   ["endpoint", "method", "status"])
DEADLINE_RUNS = Counter("ipmart_deadline_runs_total", "Runs of the deadlines job, by outcome (ok / error).",
                        ["outcome"])
DEADLINE_ACTIONS = Counter("ipmart_deadline_actions_total",
                           "What deadline runs did (auctions closed, deals expired, ...), by kind.", ["kind"])
GATEWAY_CALLS = Counter("ipmart_gateway_calls_total",
                        "Calls to a payment gateway, by gateway, operation and outcome (ok / error).",
                        ["gateway", "operation", "outcome"])
SEARCH_SECONDS = Histogram("ipmart_search_duration_seconds", "Time to run one search (index and re-check).",
                           buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))


# A job started by a request carries the request's id (set by whoever runs the job).
_job_request_id: ContextVar[str | None] = ContextVar("ipmart_job_request_id", default=None)


def new_request_id(offered=None):
    """The caller's id when it is a short plain token, otherwise a fresh one (never trust a long or odd value:
    it ends up in every log line)."""
    if offered and _REQUEST_ID.fullmatch(offered):
        return offered
    return os.urandom(16).hex()  # 128 random bits as 32 hex digits, as uuid4().hex (at a fifth of its cost)


def current_request_id():
    """The id of the request (or job) this code runs for, or None outside both."""
    if has_request_context():
        found = g.get("request_id")
        if found:
            return found
    return _job_request_id.get()




def run_with_request_id(request_id, func, *args, **kwargs):
    """Run ``func`` with log records tagged ``request_id`` (a job continuing a request's work)."""
    token = _job_request_id.set(request_id)
    try:
        return func(*args, **kwargs)
    finally:
        _job_request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (None outside a request or job)."""

    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


_HANDLER_MARK = "_ipmart_handler"


def configure_logging(app):
    """Install one stderr handler on the root logger (once per process; a second app reuses it)."""
    root = logging.getLogger()
    fmt = (app.config.get("LOG_FORMAT") or "json").lower()
    for handler in root.handlers:
        if getattr(handler, _HANDLER_MARK, None) == fmt:
            return
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_MARK, None)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    setattr(handler, _HANDLER_MARK, fmt)
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s %(request_id)s",
                                           rename_fields={"levelname": "level", "name": "logger"},
                                           timestamp="time",  # ISO 8601, UTC
                                           json_ensure_ascii=False))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)


def init_app(app):
    configure_logging(app)

    @app.before_request
    def _start():
        g.request_id = new_request_id(request.headers.get(REQUEST_ID_HEADER))
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response):
        response.headers[REQUEST_ID_HEADER] = g.get("request_id") or new_request_id()
        started = g.get("request_started")
        if started is None:
            return response
        seconds = time.perf_counter() - started
        endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        timer, counter = _series(endpoint, method, response.status_code // 100)
        timer.observe(seconds)
        counter.inc()
        if app.config.get("LOG_ACCESS"):
            user = g.get("_login_user")
            log.info("request", extra={
                "request_id": g.get("request_id"), "method": request.method, "path": request.path[:200], "endpoint": endpoint,
                "status": response.status_code, "duration_ms": round(seconds * 1000, 2),
                "user_id": getattr(user, "id", None), "remote_addr": request.remote_addr})
        return response



_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_SERIES = {}


def _series(endpoint, method, status_class):
    """The histogram and counter children for one endpoint, method and status class, looked up once
    (``labels()`` takes a lock and checks every label value on each call). Bounded: endpoints are the app's
    routes (or "unmatched"), methods the seven above, status classes 1–5."""
    key = (endpoint, method, status_class)
    found = _SERIES.get(key)
    if found is None:
        found = _SERIES[key] = (REQUEST_SECONDS.labels(endpoint, method),
                                REQUESTS.labels(endpoint, method, f"{status_class}xx"))
    return found


# ---- /metrics -----------------------------------------------------------------------------------------
def metrics_allowed():
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        offered = request.headers.get("Authorization", "")
        if offered.startswith("Bearer ") and hmac.compare_digest(offered[7:].encode(), token.encode()):
            return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in allowed_networks(current_app.config.get("METRICS_ALLOW_FROM")))


def allowed_networks(value):
    """``"127.0.0.1/32, 10.0.0.0/8"`` → networks; an entry that is not a network is ignored (and logged)."""
    networks = []
    for part in (value if value is not None else "127.0.0.1/32,::1/128").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            logging.getLogger(__name__).warning("METRICS_ALLOW_FROM: %r is not an address or network", part)
    return networks


def process_registry():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY

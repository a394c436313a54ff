"""``/metrics`` and ``/readyz``: what an operator watches that reads the domains (the search index and its
outbox lag, money held in escrow, the job queue). The process-level parts (request ids, logs, counters, who may
scrape) are marketplace.kernel.observability; docs/operations.md lists every metric.
"""
from flask import Response, abort, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text

from escrow.ledger import account_balances
from search.index import current_handle
from search.outbox import NOTIFY_POSITION_FILE, POSITION_FILE, read_position

from ..kernel.extensions import db
from ..kernel.jobs import metric_families
from ..kernel.models import OutboxEvent
from ..kernel.observability import metrics_allowed, process_registry


def init_app(app):
    app.add_url_rule("/metrics", "metrics", metrics_view)
    app.add_url_rule("/readyz", "readyz", readyz_view)


def metrics_view():
    if not metrics_allowed():
        abort(404)
    body = generate_latest(process_registry())
    scrape = CollectorRegistry(auto_describe=True)
    scrape.register(DatabaseCollector())
    body += generate_latest(scrape)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


class DatabaseCollector:
    """Gauges read from the database and the index at scrape time (so every worker tells the same)."""

    def collect(self):
        lag = GaugeMetricFamily("ipmart_outbox_lag_rows", "Outbox rows this host's consumer has not applied yet.",
                                labels=["consumer"])
        for consumer, rows in outbox_lag().items():
            lag.add_metric([consumer], rows)
        yield lag
        held = GaugeMetricFamily("ipmart_escrow_held", "Money held in escrow (ledger account 'escrow'), in fen.",
                                 labels=["currency"])
        for currency, amount in escrow_held().items():
            held.add_metric([currency], amount)
        yield held
        yield from job_metrics()

    def describe(self):
        return []


def outbox_lag():
    """Rows after each consumer's position: ``index`` (the search index) and ``notify`` (saved searches)."""
    handle = current_handle()
    result = {}
    for consumer, name in (("index", POSITION_FILE), ("notify", NOTIFY_POSITION_FILE)):
        position = read_position(handle, name)
        result[consumer] = db.session.scalar(select(func.count(OutboxEvent.id)).where(OutboxEvent.id > position))
    return result


def escrow_held():
    return account_balances().get("escrow", {}) or {"CNY": 0}


def job_metrics():
    """Job queue depth, failures, runs (marketplace.kernel.jobs; nothing without REDIS_URL)."""
    return metric_families()


# ---- /readyz ------------------------------------------------------------------------------------------
def readiness():
    """``(ready, checks)``: each check is ``{"ok": bool, ...details}``."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; the reason is reported
        db.session.rollback()
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    try:
        current_handle().snapshot()
        checks["search_index"] = {"ok": True}
    except Exception as exc:  # noqa: BLE001
        checks["search_index"] = {"ok": False, "error": type(exc).__name__}
    if checks["database"]["ok"] and checks["search_index"]["ok"]:
        limit = int(current_app.config.get("READY_MAX_OUTBOX_LAG", 1000))
        rows = outbox_lag()["index"]
        checks["outbox_lag"] = {"ok": rows <= limit, "rows": rows, "limit": limit}
    return all(check["ok"] for check in checks.values()), checks


def readyz_view():
    ready, checks = readiness()
    return jsonify({"status": "ready" if ready else "not_ready", "checks": checks}), 200 if ready else 503

"""Request ids, JSON logs, /metrics and /readyz (issue 21, docs/operations.md)."""
import json
import logging

import pytest

from escrow.gateways import get_gateway
from marketplace.kernel.extensions import db
from marketplace.kernel.models import OutboxEvent
from marketplace.kernel.observability import RequestIdFilter, configure_logging, new_request_id, run_with_request_id
from tests import factories


def _metric(client, name, **labels):
    """The value of one sample in /metrics (0.0 when absent)."""
    wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(wanted + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


class TestRequestId:
    def test_every_response_carries_a_fresh_id(self, client):
        first = client.get("/healthz").headers["X-Request-ID"]
        second = client.get("/healthz").headers["X-Request-ID"]
        assert len(first) == 32 and first != second

    def test_a_plain_incoming_id_is_kept(self, client):
        assert client.get("/healthz", headers={"X-Request-ID": "nginx-4f2a.9"}).headers["X-Request-ID"] == "nginx-4f2a.9"

    @pytest.mark.parametrize("offered", ["x" * 65, "a b", "id;forged=1", "<script>", "", "é"])
    def test_an_odd_or_long_incoming_id_is_replaced(self, client, offered):
        returned = client.get("/healthz", headers={"X-Request-ID": offered}).headers["X-Request-ID"]
        assert returned != offered and len(returned) == 32

    def test_a_job_carries_the_request_id_into_its_log_records(self, app):
        record = logging.LogRecord("job", logging.INFO, __file__, 1, "done", (), None)
        run_with_request_id("req-42", RequestIdFilter().filter, record)
        assert record.request_id == "req-42"
        assert new_request_id("req-42") == "req-42"


class TestJsonLogs:
    @pytest.fixture
    def app_config(self):
        return {"LOG_ACCESS": True}

    def test_access_record_names_the_request(self, app, client, caplog):
        caplog.set_level(logging.INFO, logger="ipmart.access")
        client.get("/search?q=锂电池", headers={"X-Request-ID": "trace-1"})
        record = [r for r in caplog.records if r.name == "ipmart.access"][-1]
        assert (record.request_id, record.status, record.path, record.endpoint) == (
            "trace-1", 200, "/search", "search.search_page")
        assert record.duration_ms >= 0

    def test_the_handler_writes_one_json_object_per_line(self, app):
        configure_logging(app)
        handler = next(h for h in logging.getLogger().handlers if getattr(h, "_ipmart_handler", None) == "json")
        record = logging.LogRecord("ipmart.test", logging.WARNING, __file__, 1, "付款失败 %s", ("deal 7",), None)
        run_with_request_id("req-7", handler.filter, record)
        line = json.loads(handler.format(record))
        assert line["message"] == "付款失败 deal 7" and line["level"] == "WARNING"
        assert line["request_id"] == "req-7" and line["logger"] == "ipmart.test" and line["time"].endswith("+00:00")


class TestAccessLogByDefaultOff:
    def test_no_access_record(self, app, client, caplog):
        caplog.set_level(logging.INFO, logger="ipmart.access")
        client.get("/healthz")
        assert not [r for r in caplog.records if r.name == "ipmart.access"]


class TestMetrics:
    def test_served_to_loopback(self, client):
        response = client.get("/metrics")
        assert response.status_code == 200 and response.mimetype == "text/plain"
        text = response.get_data(as_text=True)
        for name in ("ipmart_http_request_duration_seconds", "ipmart_outbox_lag_rows", "ipmart_escrow_held",
                     "ipmart_gateway_calls_total", "ipmart_deadline_runs_total", "ipmart_search_duration_seconds"):
            assert name in text, name

    def test_hidden_from_other_addresses(self, client):
        response = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
        assert response.status_code == 404 and b"ipmart_" not in response.data

    def test_requests_are_counted_by_endpoint(self, app):

        client = app.test_client()
        before = _metric(client, "ipmart_http_requests_total", endpoint="healthz", method="GET", status="2xx")
        client.get("/healthz")
        client.get("/healthz")
        assert _metric(client, "ipmart_http_requests_total", endpoint="healthz", method="GET",
                       status="2xx") == before + 2

    def test_gateway_calls_are_counted(self, app, client):
        from escrow.gateways.fake import FakeStripeGateway

        gateway = get_gateway("fake_stripe")
        assert isinstance(gateway, FakeStripeGateway)  # counting keeps the gateway's own class
        before = _metric(client, "ipmart_gateway_calls_total", gateway="fake_stripe", operation="list_transfers",
                         outcome="ok")
        gateway.list_transfers("deal-1")
        assert _metric(client, "ipmart_gateway_calls_total", gateway="fake_stripe", operation="list_transfers",
                       outcome="ok") == before + 1

    def test_deadline_runs_are_counted(self, app, client, runner):
        before = _metric(client, "ipmart_deadline_runs_total", outcome="ok")
        assert runner.invoke(args=["deadlines", "run"]).exit_code == 0
        assert _metric(client, "ipmart_deadline_runs_total", outcome="ok") == before + 1


class TestMetricsRestricted:
    @pytest.fixture
    def app_config(self):
        return {"METRICS_ALLOW_FROM": "10.0.0.0/8", "METRICS_TOKEN": "scrape-secret-123"}

    def test_token_or_allowed_network(self, client):
        outside = {"REMOTE_ADDR": "203.0.113.9"}

        def metrics(expected, **kw):
            r = client.get("/metrics", **kw)
            assert r.status_code == expected
            assert ("# TYPE" in r.get_data(as_text=True)) == (expected == 200)  # the figures, or none of them

        metrics(404)  # loopback is no longer listed
        metrics(200, environ_base={"REMOTE_ADDR": "10.1.2.3"})
        metrics(404, environ_base=outside, headers={"Authorization": "Bearer wrong"})
        metrics(200, environ_base=outside, headers={"Authorization": "Bearer scrape-secret-123"})



class TestReadiness:
    def test_ready(self, client):
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.json["status"] == "ready"
        assert set(response.json["checks"]) == {"database", "search_index", "outbox_lag"}

    def test_healthz_stays_cheap_and_up(self, client):
        assert client.get("/healthz").json == {"status": "ok"}


class TestNotReady:
    @pytest.fixture
    def app_config(self):
        return {"READY_MAX_OUTBOX_LAG": 1, "SEARCH_SYNC_ON_COMMIT": False}  # nothing drains the outbox

    def test_outbox_lag_and_escrow_held_are_read_from_the_database(self, app, client):
        factories.make_listing()
        db.session.add(OutboxEvent(listing_id=999_999))  # a row no consumer applied yet
        db.session.commit()
        assert _metric(client, "ipmart_outbox_lag_rows", consumer="index") >= 1
        assert _metric(client, "ipmart_escrow_held", currency="CNY") == 0

    def test_not_ready_when_the_index_lags(self, app, client):
        db.session.add_all([OutboxEvent(listing_id=999_998), OutboxEvent(listing_id=999_999)])
        db.session.commit()
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json["checks"]["outbox_lag"] == {"ok": False, "rows": 2, "limit": 1}

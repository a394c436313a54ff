"""Fixtures for the Stripe tests: a real stateful stand-in (localstripe), a live app server, the fake.

What runs against what (see docs/payments.md):

* ``localstripe`` — started once per test session on a free loopback port — serves
  PaymentIntents, confirmation with test cards, refunds and *its own signed webhooks*,
  which it POSTs about a second later to the URL registered at
  ``/_config/webhooks/<name>``. The app talks to it through ``STRIPE_API_BASE``; the
  webhooks reach the app through ``live_server`` (the Flask app served by werkzeug in
  a thread), on SQLite (a file database) and on PostgreSQL (``TEST_DATABASE_URL``).
* localstripe has no Connect transfers, ignores idempotency keys and has no pending
  refunds: those paths run against ``FakeStripeGateway`` (``escrow.gateways.fake``)
  behind the same interface, with events signed by the test.

No test reaches the real Stripe: the secret key is a made-up ``sk_test_`` key and
``api.stripe.com`` is refused by ``_no_real_stripe``.
"""
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import requests
from werkzeug.serving import make_server

from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow
from tests import factories
from tests.factories import free_port

WEBHOOK_SECRET = "whsec_test_ipmart_payments"
SECRET_KEY = "sk_test_ipmart_payments"

# localstripe bound to 127.0.0.1 only, without its habit of pickling its store to /tmp on every write
_SERVER = """
import logging, sys
from aiohttp import web
import localstripe.resources as resources
resources.Store.dump_to_disk = lambda self: None
from localstripe.server import app
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def wait_until(predicate, timeout=10.0, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory):
    """Base URL of a localstripe server of our own (started here, stopped at the end of the session)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-c", _SERVER, str(port)], stdout=log_file, stderr=log_file,
                                env={**os.environ, "PYTHONWARNINGS": "ignore"})
    url = f"http://127.0.0.1:{port}"

    def up():
        if proc.poll() is not None:
            raise RuntimeError(f"localstripe exited: {log_path.read_text(errors='replace')}")
        try:
            return requests.get(f"{url}/js.stripe.com/v3/", timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        wait_until(up, timeout=20, message="localstripe to start")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(autouse=True)
def _no_real_stripe(monkeypatch):
    """A test that would reach api.stripe.com fails instead (the kernel's rule: no real Stripe in tests)."""
    import stripe

    real_request = stripe.RequestsClient._request_internal

    def guarded(self, method, url, headers, post_data, is_streaming):
        assert "stripe.com" not in url, f"a test tried to call the real Stripe: {url}"
        return real_request(self, method, url, headers, post_data, is_streaming)

    monkeypatch.setattr(stripe.RequestsClient, "_request_internal", guarded)


def stripe_settings(api_base):
    return {"STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_PUBLISHABLE_KEY": "pk_test_ipmart_payments",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "STRIPE_API_BASE": api_base,
            "STRIPE_PAYMENT_METHOD_TYPES": ["card"], "STRIPE_MAX_NETWORK_RETRIES": 0}


@pytest.fixture
def live_server(app):
    """The app served over HTTP on a free loopback port, in a thread, for webhooks sent by localstripe."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def localstripe_webhook(localstripe, live_server):
    """localstripe sends its signed events to this test's live server."""
    r = requests.post(f"{localstripe}/_config/webhooks/ipmart",
                      data={"url": f"{live_server}/api/v1/webhooks/stripe", "secret": WEBHOOK_SECRET}, timeout=5)
    r.raise_for_status()
    return live_server


@pytest.fixture
def stripe_client(localstripe):
    """The SDK as the buyer's browser (Stripe.js) would use it: confirm a PaymentIntent with a test card."""
    import stripe

    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe}, max_network_retries=0)


@pytest.fixture
def fake_stripe():
    from escrow.gateways.fake import FakeStripeGateway

    fake = FakeStripeGateway.instance()
    fake.reset()
    yield fake
    fake.reset()


def make_deal(price=500_000_00, gateway="stripe", seller=None, buyer=None, stripe_account_id=None):
    """A deal awaiting payment (through escrow's own entry point), its contract signed, committed."""
    from escrow.deals import open_deal

    seller = seller or factories.make_user("seller")
    if stripe_account_id:
        seller.organization.stripe_account_id = stripe_account_id
    buyer = buyer or factories.make_user("buyer")
    listing = factories.make_listing(seller, price=price)
    deal = open_deal(listing, buyer, price, "assignment", "purchase", now=utcnow() - timedelta(minutes=1))
    deal.gateway = gateway
    factories.sign_contract(deal)  # payment is due once both have signed (escrow.contracts)
    db.session.commit()
    return deal


def refresh(obj):
    """Read ``obj`` again from the database (other threads — the live server — changed it)."""
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


class _Capture:
    """A tiny HTTP endpoint that keeps what localstripe sends, so a test can deliver it when and as often as it likes."""

    def __init__(self):
        self.deliveries = []  # (raw body, Stripe-Signature header)
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size)
        with self._lock:
            self.deliveries.append((body, environ.get("HTTP_STRIPE_SIGNATURE")))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def of_type(self, event_type, object_id):
        """Deliveries of ``event_type`` about ``object_id`` (localstripe is shared: other tests' events pass by)."""
        import json

        with self._lock:
            events = [(json.loads(body), body, sig) for body, sig in self.deliveries]
        return [(body, sig) for event, body, sig in events
                if event["type"] == event_type and event["data"]["object"].get("id") == object_id]

    def wait_for(self, event_type, object_id, count=1, timeout=10):
        return wait_until(lambda: len(self.of_type(event_type, object_id)) >= count
                          and self.of_type(event_type, object_id),
                          timeout=timeout, message=f"{count} × {event_type} about {object_id} from localstripe")


@pytest.fixture
def captured_webhooks(localstripe):
    """localstripe's signed events, caught instead of delivered (for duplicate and out-of-order delivery)."""
    capture = _Capture()
    server = make_server("127.0.0.1", 0, capture, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="webhook-capture", daemon=True)
    thread.start()
    r = requests.post(f"{localstripe}/_config/webhooks/ipmart",
                      data={"url": f"http://127.0.0.1:{server.server_port}/", "secret": WEBHOOK_SECRET}, timeout=5)
    r.raise_for_status()
    try:
        yield capture
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()

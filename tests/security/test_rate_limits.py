"""Rate limits on sign-in, registration, bids, offers and purchases, with in-memory storage and with Redis.

The limits are lowered for the test (same settings as production: ``RATELIMIT_LOGIN`` …).
The Redis runs use ``RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379`` (the machine's Redis,
as ``.ci/run`` starts it) under a key prefix of their own (``ipmart-test-…``), and delete only
keys with that prefix. (The limiter is one object for the process and keeps the first prefix it
was given, so every test here deletes the whole ``ipmart-test-<xdist worker>-`` family after it runs.)
Sign-in and registration are limited per address; bids, offers and purchases per signed-in user, so
bidders sharing an office address do not use up each other's budget.
"""
import os
import uuid

import pytest

from listings.models import Bid
from marketplace.kernel.extensions import db
from tests import factories
from tests.factories import PASSWORD
from tests.probes import nothing_changes

from .conftest import World

REDIS_URI = "redis://127.0.0.1:6379"
FAMILY = f"ipmart-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-"  # xdist workers never clear each other's keys
LIMITS = {"RATELIMIT_LOGIN": "3/minute", "RATELIMIT_REGISTER": "2/minute", "RATELIMIT_BID": "3/minute",
          "RATELIMIT_OFFER": "2/minute", "RATELIMIT_BUY": "2/minute",
          "RATELIMIT_RESET": "4/minute", "RATELIMIT_RESET_PER_EMAIL": "2/hour"}


def _redis_up():
    try:
        import redis

        return redis.Redis.from_url(REDIS_URI, socket_connect_timeout=1).ping()
    except Exception:
        return False


@pytest.fixture(params=["memory", "redis"])
def app_config(request):
    prefix = f"{FAMILY}{uuid.uuid4().hex[:12]}"
    if request.param == "redis":
        if not _redis_up():
            pytest.skip(f"no Redis at {REDIS_URI}")
        _forget()
        request.addfinalizer(_forget)
        storage = REDIS_URI
    else:
        storage = "memory://"
    return {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": storage, "RATELIMIT_KEY_PREFIX": prefix, **LIMITS}


def _forget():
    import redis

    client = redis.Redis.from_url(REDIS_URI)
    keys = list(client.scan_iter(match=f"LIMITS:LIMITER/{FAMILY}*", count=1000))
    if keys:
        client.delete(*keys)


def _storage_is(app, kind):
    from marketplace.kernel.extensions import limiter

    name = type(limiter.storage).__name__.lower()
    assert kind in name, f"the limiter uses {name}, not {kind}"


def _hits(client, n, method, path, **kwargs):
    return [client.open(path, method=method, **kwargs).status_code for _ in range(n)]


def _storage_kind(app):
    return "redis" if app.config["RATELIMIT_STORAGE_URI"].startswith("redis") else "memory"


def test_sign_in_is_limited_per_address(app):
    _storage_is(app, _storage_kind(app))
    world = World()
    client = app.test_client()
    wrong = {"email": world.buyer.email, "password": "wrong-password-1"}
    statuses = _hits(client, 3, "POST", "/login", data=wrong)
    assert 429 not in statuses
    assert client.post("/login", data={"email": world.buyer.email, "password": PASSWORD}).status_code == 429
    # the API's token exchange has a budget of its own, limited the same way
    api = _hits(client, 3, "POST", "/api/v1/auth/token", json=wrong)
    assert api == [401, 401, 401]
    blocked = client.post("/api/v1/auth/token", json={"email": world.buyer.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.get_json()["error"]["code"] == "rate_limited"
    assert "Retry-After" in blocked.headers
    # another address is not affected
    other = app.test_client()
    ok = other.post("/api/v1/auth/token", json={"email": world.buyer.email, "password": PASSWORD},
                    environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert ok.status_code == 200


def test_registration_is_limited(app):
    client = app.test_client()

    def body(n):
        return {"email": f"reg{uuid.uuid4().hex[:8]}@example.com", "password": "long-enough-password",
                "name": f"用户{n}", "roles": ["buyer"], "accept_terms": True}

    assert [client.post("/api/v1/auth/register", json=body(n)).status_code for n in range(2)] == [201, 201]
    blocked = client.post("/api/v1/auth/register", json=body(3))
    assert blocked.status_code == 429
    from marketplace.kernel.models import User

    assert db.session.query(User).filter(User.email == body(3)["email"]).count() == 0
    page = _hits(client, 2, "POST", "/register", data={"email": "x@example.com", "password": "short",
                                                         "name": "x", "roles": "buyer"})
    assert 429 not in page
    assert client.post("/register", data={"email": "y@example.com"}).status_code == 429


def test_password_reset_requests_are_limited_per_mailbox_and_per_address(app):
    world = World()
    db.session.commit()
    client = app.test_client()
    mine = {"email": world.buyer.email}
    assert _hits(client, 2, "POST", "/password/forgot", data=mine) == [200, 200]
    assert client.post("/password/forgot", data=mine).status_code == 429, "one mailbox gets few links"
    # an unregistered address is limited alike: a 429 tells nothing about who is registered
    nobody = {"email": "nobody@example.com"}
    assert _hits(client, 1, "POST", "/password/forgot", data=nobody) == [200]
    assert client.post("/password/forgot", data={"email": "second@example.com"}).status_code == 429, \
        "the client address's own budget (4/minute) is spent"
    # another client, another mailbox: its own budget
    other = app.test_client()
    assert other.post("/password/forgot", data={"email": "third@example.com"},
                      environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200


def test_bids_are_limited_per_user(app):
    world = World()
    listing = world.auction()
    headers = factories.auth_header(world.buyer)
    other = factories.auth_header(world.other_buyer)
    db.session.commit()
    client = app.test_client()
    start = listing.auction.start_price
    step = listing.auction.min_increment
    statuses = [client.post(f"/api/v1/listings/{listing.id}/bids", json={"amount": start + i * step},
                            headers=headers).status_code for i in range(3)]
    assert statuses == [201, 201, 201]
    blocked = client.post(f"/api/v1/listings/{listing.id}/bids", json={"amount": start + 10 * step}, headers=headers)
    assert blocked.status_code == 429
    db.session.expire_all()
    assert listing.auction.bid_count == 3 and listing.auction.current_price == start + 2 * step
    # same address, another bidder: their own budget
    assert client.post(f"/api/v1/listings/{listing.id}/bids", json={"amount": start + 20 * step},
                       headers=other).status_code == 201


def test_offers_and_counters_are_limited(app):
    world = World()
    listing = world.listing(price_mode="negotiable", price=None)
    headers = factories.auth_header(world.buyer)
    db.session.commit()
    client = app.test_client()
    path = f"/api/v1/listings/{listing.id}/offers"
    statuses = [client.post(path, json={"amount": 10_000_00 + n, "deal_type": "assignment"},
                            headers=headers).status_code for n in range(2)]
    assert statuses == [201, 201]
    assert client.post(path, json={"amount": 20_000_00, "deal_type": "assignment"},
                       headers=headers).status_code == 429


def test_html_bids_are_limited_too(app):
    world = World()
    listing = world.auction()
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = world.buyer.get_id()
        sess["_fresh"] = True
    start = listing.auction.start_price
    step = listing.auction.min_increment
    for i in range(3):
        yuan = (start + i * step) // 100
        assert client.post(f"/listings/{listing.id}/bid", data={"amount": str(yuan)}).status_code == 302
    assert db.session.query(Bid).filter_by(auction_id=listing.auction.id).count() == 3
    with nothing_changes():  # the fourth bid is not placed
        assert client.post(f"/listings/{listing.id}/bid", data={"amount": str((start + 9 * step) // 100)}
                           ).status_code == 429


def test_purchases_are_limited_per_user(app):
    """Buy-now (issue 14): RATELIMIT_BUY per user; a refused purchase opens no deal and reserves nothing."""
    from escrow.models import Deal

    world = World()
    listings = [world.listing() for _ in range(3)]
    headers = factories.auth_header(world.buyer)
    other = factories.auth_header(world.other_buyer)
    db.session.commit()
    client = app.test_client()
    statuses = [client.post(f"/api/v1/listings/{listing.id}/purchase", json={"deal_type": "assignment"},
                            headers=headers).status_code for listing in listings[:2]]
    assert statuses == [201, 201]  # under MAX_OPEN_RESERVATIONS (3): only the rate limit stops the next
    blocked = client.post(f"/api/v1/listings/{listings[2].id}/purchase", json={"deal_type": "assignment"},
                          headers=headers)
    assert blocked.status_code == 429
    db.session.expire_all()
    assert db.session.query(Deal).filter_by(buyer_id=world.buyer.id).count() == 2
    assert listings[2].status == "published"
    # same address, another buyer: their own budget
    assert client.post(f"/api/v1/listings/{listings[2].id}/purchase", json={"deal_type": "assignment"},
                       headers=other).status_code == 201


def test_html_purchases_are_limited_too(app):
    from escrow.models import Deal

    world = World()
    listings = [world.listing() for _ in range(3)]
    db.session.commit()
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = world.buyer.get_id()
        sess["_fresh"] = True
    for listing in listings[:2]:
        assert client.post(f"/listings/{listing.id}/buy", data={"deal_type": "assignment"}).status_code == 302
    assert client.post(f"/listings/{listings[2].id}/buy", data={"deal_type": "assignment"}).status_code == 429
    db.session.expire_all()
    assert db.session.query(Deal).filter_by(buyer_id=world.buyer.id).count() == 2
    assert listings[2].status == "published"

"""Cached pages for anonymous visitors (issue 19, marketplace/kernel/pagecache.py): what a visitor sees is never stale
after a commit (price, status), on one host's several workers and on several hosts sharing a cache; what is
per visitor (signed-in state, flashes, language, CSRF) never comes from, nor goes into, the cache."""
import os
import time
import uuid

import pytest
from flask import has_request_context
from sqlalchemy import event, update

from listings.lifecycle import withdraw_listing
from listings.models import Listing
from marketplace import create_app
from marketplace.kernel.extensions import db
from marketplace.kernel.models import User
from marketplace.kernel.money import format_yuan
from tests import factories
from tests.conftest import login

NEW_PRICE = 1_234_567_00  # ¥123.46万, unlike the factory's ¥100万
SEARCH = "/search?q=%E9%94%82%E7%94%B5%E6%B1%A0"  # 锂电池: every factory patent's title
API_SEARCH = "/api/v1/search?q=%E9%94%82%E7%94%B5%E6%B1%A0"


@pytest.fixture
def app_config():
    return {"PAGE_CACHE": True, "CACHE_TYPE": "SimpleCache"}


@pytest.fixture
def listing(app):
    item = factories.make_listing()
    db.session.commit()
    return item


def pages(listing):
    return ["/", SEARCH, f"/listings/{listing.id}", API_SEARCH, f"/api/v1/listings/{listing.id}"]


def shows(response, listing_id, price=None):
    """Whether the page (HTML or JSON) shows the listing, and at ``price`` when given."""
    if response.is_json:
        body = response.get_json()
        items = [body["listing"]] if "listing" in body else body.get("results", [])
        found = [item for item in items if item["id"] == listing_id]
        return bool(found) and (price is None or found[0]["price"] == price)
    text = response.get_data(as_text=True)
    return f"/listings/{listing_id}" in text and (price is None or format_yuan(price) in text)


class SqlCounter:
    """The SQL statements requests make (not the test's own reads of its objects, which expire at each request)."""

    def __init__(self):
        self.count = 0

    def __call__(self, *args):
        if has_request_context():
            self.count += 1

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self)


def test_a_second_anonymous_request_is_served_from_the_cache(client, listing):
    for path in pages(listing) + ["/stats", f"/rights/patent/{listing.rights[0].number}"]:
        first = client.get(path)
        assert first.status_code == 200, path
        with SqlCounter() as sql:
            again = client.get(path)
        assert again.status_code == 200
        assert again.data == first.data, path
        assert sql.count == 0, f"{path}: {sql.count} SQL statements on a cached page"
        assert "Set-Cookie" not in again.headers


def test_a_new_price_shows_at_once_on_the_cached_pages(client, listing):
    old = listing.price
    for path in pages(listing):
        assert shows(client.get(path), listing.id, old), path
    listing.price = NEW_PRICE
    db.session.commit()
    for path in pages(listing):
        response = client.get(path)
        assert shows(response, listing.id, NEW_PRICE), path
        assert format_yuan(old) not in response.get_data(as_text=True)


def test_a_bulk_update_also_invalidates(client, listing):
    client.get(f"/listings/{listing.id}")
    db.session.execute(update(Listing).where(Listing.id == listing.id).values(price=NEW_PRICE))
    db.session.commit()
    assert format_yuan(NEW_PRICE) in client.get(f"/listings/{listing.id}").get_data(as_text=True)


def test_a_withdrawn_listing_leaves_every_cached_page(client, listing):
    seller = db.session.get(User, listing.seller_id)
    for path in pages(listing):
        assert shows(client.get(path), listing.id), path
    withdraw_listing(seller, listing.id)
    db.session.commit()
    for path in ["/", SEARCH, API_SEARCH]:
        assert not shows(client.get(path), listing.id), path
    assert client.get(f"/listings/{listing.id}").status_code == 404
    assert client.get(f"/api/v1/listings/{listing.id}").status_code == 404


def test_a_sold_listing_shows_as_sold(client, listing):
    assert "已售" not in client.get(f"/listings/{listing.id}").get_data(as_text=True)
    listing.status = "sold"
    db.session.commit()
    response = client.get(f"/listings/{listing.id}")
    assert response.status_code == 200
    assert 'status-sold' in response.get_data(as_text=True)
    assert not shows(client.get(SEARCH), listing.id)


def test_a_commit_that_changes_nothing_public_keeps_the_cache(client, app, listing):
    from marketplace.kernel import pagecache

    client.get("/")
    generation = pagecache._read_local_generation(app)
    factories.make_user("buyer")  # a user: public (seller names), so it does invalidate
    db.session.commit()
    assert pagecache._read_local_generation(app) != generation
    generation = pagecache._read_local_generation(app)
    db.session.commit()  # nothing written
    assert pagecache._read_local_generation(app) == generation


def test_a_rebuilt_index_invalidates_the_cached_pages(app, client, listing):
    from marketplace.kernel import pagecache
    from search.outbox import reindex

    client.get(SEARCH)
    generation = pagecache._read_local_generation(app)
    reindex()
    assert pagecache._read_local_generation(app) != generation


def test_several_workers_of_one_host_see_a_change_at_once(app, client, listing, tmp_path):
    """Two app objects on one instance folder: two gunicorn workers, each with its own SimpleCache."""
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "TESTING", "DEMO_DATA",
                                               "RATELIMIT_ENABLED", "SEARCH_INDEX_PATH", "PAGE_CACHE", "CACHE_TYPE")}
    other = create_app({**config, "INSTANCE_PATH": app.instance_path, "AUTO_MIGRATE": False})
    other_client = other.test_client()
    path = f"/listings/{listing.id}"
    assert format_yuan(listing.price) in other_client.get(path).get_data(as_text=True)
    listing.price = NEW_PRICE  # committed by the first worker
    db.session.commit()
    assert format_yuan(NEW_PRICE) in other_client.get(path).get_data(as_text=True)


def test_a_host_with_its_own_cache_sees_another_hosts_change_when_its_indexer_follows(app, listing, tmp_path):
    """Several hosts without a shared cache: host B's `search follow` applies host A's outbox rows, and that
    drain invalidates B's pages (the same rows, the same moment as B's index)."""
    from search.outbox import drain

    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "TESTING", "DEMO_DATA",
                                               "RATELIMIT_ENABLED", "PAGE_CACHE", "CACHE_TYPE")}
    host_b = create_app({**config, "INSTANCE_PATH": str(tmp_path / "host-b"), "AUTO_MIGRATE": False,
                         "SEARCH_SYNC_ON_COMMIT": False})
    b = host_b.test_client()
    with host_b.app_context():
        drain()
    path = f"/listings/{listing.id}"
    assert shows(b.get(path), listing.id, listing.price)
    listing.price = NEW_PRICE  # committed on host A
    db.session.commit()
    with host_b.app_context():
        assert drain().applied  # what `flask search follow` does on host B every --interval seconds
    assert shows(b.get(path), listing.id, NEW_PRICE)
    assert shows(b.get(SEARCH), listing.id, NEW_PRICE)


def _shared_hosts_test(app, listing, tmp_path, shared):
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "TESTING", "DEMO_DATA",
                                               "RATELIMIT_ENABLED", "PAGE_CACHE")}
    host_b = create_app({**config, **shared, "INSTANCE_PATH": str(tmp_path / "host-b"), "AUTO_MIGRATE": False})
    b = host_b.test_client()
    path = f"/listings/{listing.id}"
    assert format_yuan(listing.price) in b.get(path).get_data(as_text=True)
    listing.price = NEW_PRICE  # committed on host A: host B's own generation file is untouched
    db.session.commit()
    assert format_yuan(NEW_PRICE) in b.get(path).get_data(as_text=True)
    listing.status = "withdrawn"
    db.session.commit()
    assert b.get(path).status_code == 404


@pytest.mark.parametrize("app_config", [{"PAGE_CACHE": True, "CACHE_TYPE": "FileSystemCache",
                                          "CACHE_DIR": f"/tmp/ipmart-test-cache-{uuid.uuid4().hex}"}])
def test_hosts_sharing_a_cache_see_a_change_at_once(app, listing, tmp_path, app_config):
    _shared_hosts_test(app, listing, tmp_path, app_config)


def _redis_url():
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except Exception:  # noqa: BLE001
        return None
    return url


REDIS = _redis_url()


@pytest.mark.skipif(REDIS is None, reason="no Redis at TEST_REDIS_URL / 127.0.0.1:6379 (.ci/run starts one)")
@pytest.mark.parametrize("app_config", [{"PAGE_CACHE": True, "CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": REDIS,
                                          "CACHE_KEY_PREFIX": f"ipmart-test-{uuid.uuid4().hex}:"}])
def test_hosts_sharing_redis_see_a_change_at_once(app, listing, tmp_path, app_config):
    _shared_hosts_test(app, listing, tmp_path, app_config)


# --- what is per visitor never comes from the cache ----------------------------------------------------------

def test_signed_in_pages_bypass_the_cache(client, listing):
    anonymous = client.get("/").get_data(as_text=True)
    user = factories.make_user("buyer", name="缓存测试买家")
    db.session.commit()
    login(client, user)
    page = client.get("/")
    assert "缓存测试买家" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "private, no-cache"
    with client.session_transaction() as sess:
        sess.clear()
    again = client.get("/").get_data(as_text=True)
    assert "缓存测试买家" not in again
    assert "缓存测试买家" not in anonymous


def test_a_waiting_flash_message_is_shown_not_a_cached_page(client, listing):
    client.get("/")
    with client.session_transaction() as sess:
        sess["_flashes"] = [("success", "闪现消息测试")]
    assert "闪现消息测试" in client.get("/").get_data(as_text=True)
    assert "闪现消息测试" not in client.get("/").get_data(as_text=True)  # shown once, never cached


def test_each_language_has_its_own_cached_page(client, listing):
    chinese = client.get("/").get_data(as_text=True)
    client.get("/lang/en")
    english = client.get("/").get_data(as_text=True)
    assert "最新挂牌" in chinese and "最新挂牌" not in english
    with client.session_transaction() as sess:
        sess.pop("locale")
    assert "最新挂牌" in client.get("/").get_data(as_text=True)
    api_en = client.get(API_SEARCH, headers={"Accept-Language": "en"})
    assert "Accept-Language" in api_en.headers["Vary"]


@pytest.mark.parametrize("app_config", [{"PAGE_CACHE": True, "WTF_CSRF_ENABLED": True}])
def test_anonymous_listing_pages_carry_no_csrf_token_and_set_no_cookie(client, listing, app_config):
    first = client.get(f"/listings/{listing.id}")
    assert "csrf_token" not in first.get_data(as_text=True)
    assert "Set-Cookie" not in first.headers
    with SqlCounter() as sql:
        client.get(f"/listings/{listing.id}")
    assert sql.count == 0


def test_api_token_requests_bypass_the_cache(client, listing):
    path = f"/api/v1/listings/{listing.id}"
    client.get(path)
    seller = db.session.get(User, listing.seller_id)
    with SqlCounter() as sql:
        response = client.get(path, headers=factories.auth_header(seller))
    assert response.status_code == 200
    assert sql.count > 0
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_an_open_auction_page_is_kept_at_most_a_second(client, app):
    from marketplace.kernel.extensions import cache

    item = factories.make_listing(price_mode="auction")
    db.session.commit()
    client.get(f"/listings/{item.id}")
    backend = cache.cache
    entries = [k for k in backend._cache if "listings.detail" in k]
    assert entries
    expires = backend._cache[entries[0]][0]
    assert expires - time.time() <= 1.01


def test_the_page_cache_can_be_turned_off(app, client, listing):
    app.config["PAGE_CACHE"] = False
    client.get("/")
    with SqlCounter() as sql:
        client.get("/")
    assert sql.count > 0

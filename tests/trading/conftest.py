"""Fixtures for buying, offers and auctions."""
import itertools
from datetime import timedelta

import pytest

from marketplace.kernel.extensions import db
from marketplace.kernel.models import User
from marketplace.kernel.timeutil import utcnow
from tests import factories

_n = itertools.count(1)


def quick_buyer(**kw):
    """A buyer without an organisation (with the test users' password, ``factories.hash_of``)."""
    n = next(_n)
    user = User(email=f"bidder{n}@example.com", name=f"竞买人{n}", password_hash=factories.hash_of(factories.PASSWORD), **kw)
    user.roles = ["buyer"]
    db.session.add(user)
    db.session.flush()
    return user


@pytest.fixture(autouse=True)
def request_ctx(app):
    """Services translate their error messages, which needs a request (as in a real call)."""
    with app.test_request_context():
        yield


@pytest.fixture
def now():
    return utcnow().replace(microsecond=0)


@pytest.fixture
def auction_listing(seller, now):
    """A published auction: start ¥1,000, increment ¥100, reserve ¥2,000, closing in an hour."""
    listing = factories.make_listing(seller, price_mode="auction", auction={
        "start_price": 1_000_00, "min_increment": 100_00, "reserve_price": 2_000_00,
        "ends_at": now + timedelta(hours=1)})
    db.session.commit()
    return listing


@pytest.fixture
def fixed_listing(seller):
    listing = factories.make_listing(seller, price_mode="fixed", price=50_000_00)
    db.session.commit()
    return listing


@pytest.fixture
def negotiable_listing(seller):
    listing = factories.make_listing(seller, price_mode="negotiable", price=None, offer_floor=10_000_00)
    db.session.commit()
    return listing


@pytest.fixture
def buyers(app):
    users = [quick_buyer() for _ in range(3)]
    db.session.commit()
    return users


def api(client, user, method, url, json=None):
    headers = factories.auth_header(user)
    db.session.commit()
    return getattr(client, method)(url, json=json, headers=headers)

"""Sending messages is limited per user (RATELIMIT_MESSAGE): the allowed sends go through, the next is a 429
and writes nothing; signing in again does not reset the count (keyed on the user id)."""
import pytest
from sqlalchemy import func, select

from marketplace.kernel.extensions import db
from messaging.models import Message
from tests import factories
from tests.conftest import login


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True, "RATELIMIT_MESSAGE": "2/minute"}


def _messages():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Message))


def test_messages_are_limited_per_user(app):
    seller = factories.make_user("seller")
    buyer = factories.make_user("buyer")
    listing = factories.make_listing(seller)
    db.session.commit()
    client = login(app.test_client(), buyer)
    for text in ("第一条", "第二条"):
        assert client.post(f"/listings/{listing.id}/messages", data={"message": text}).status_code == 302
    assert _messages() == 2
    again = login(app.test_client(), buyer)  # a new session: the same user, the same count
    assert again.post(f"/listings/{listing.id}/messages", data={"message": "第三条"}).status_code == 429
    headers = factories.auth_header(buyer)
    db.session.commit()
    response = app.test_client().post(f"/api/v1/listings/{listing.id}/messages", json={"message": "第三条"},
                                      headers=headers)
    assert response.status_code == 429 and response.get_json()["error"]["code"] == "rate_limited"
    assert _messages() == 2

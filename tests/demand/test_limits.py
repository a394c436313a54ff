"""RATELIMIT_WANTED bounds posting wanted ads, answers, messages and data-room requests per user (API and pages):
the requests within the limit act, the next is a 429 that writes nothing, and another user is not affected."""
import uuid

import pytest
from sqlalchemy import func, select

from demand.models import WantedAd
from marketplace.kernel.extensions import db
from tests import factories
from tests.conftest import login

from .conftest import ad_body


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
            "RATELIMIT_KEY_PREFIX": f"ipmart-test-demand-{uuid.uuid4().hex[:12]}", "RATELIMIT_WANTED": "2/minute"}


def _ads():
    db.session.expire_all()
    return db.session.scalar(select(func.count(WantedAd.id)))


def test_posting_is_limited_per_user(client, people):
    headers = factories.auth_header(people.buyer)
    other = factories.auth_header(people.other_buyer)
    db.session.commit()
    for _ in range(2):
        assert client.post("/api/v1/wanted", json=ad_body(), headers=headers).status_code == 201
    response = client.post("/api/v1/wanted", json=ad_body(), headers=headers)
    assert response.status_code == 429 and response.get_json()["error"]["code"] == "rate_limited"
    assert _ads() == 2
    assert client.post("/api/v1/wanted", json=ad_body(), headers=other).status_code == 201


def test_the_page_form_is_limited_too(app, people):
    client = app.test_client()
    login(client, people.buyer)
    form = {**ad_body(), "keywords": "锂电池", "deal_types": "assignment", "negotiable": "1"}
    for _ in range(2):
        assert client.post("/wanted/new", data=form).status_code == 302
    assert client.post("/wanted/new", data=form).status_code == 429
    assert _ads() == 2
    assert client.get("/wanted/new").status_code == 200  # showing the form is not counted

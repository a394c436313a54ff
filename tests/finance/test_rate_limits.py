"""Creating valuations is rate limited (RATELIMIT_FINANCE): past the limit a 429, and nothing written."""
import pytest

from finance.models import Valuation
from marketplace.kernel.extensions import db

from .conftest import api


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True, "RATELIMIT_FINANCE": "2/minute"}


def test_valuations_past_the_limit_are_refused(client, desk):
    body = {"rights": desk.rights(desk.patent), "revenues": [1_000_00], "royalty_rate": "5", "discount_rate": "10",
            "life_years": 1}
    assert [api(client, desk.sme, "POST", "/valuations", json=body).status_code for _ in range(2)] == [201, 201]
    r = api(client, desk.sme, "POST", "/valuations", json=body)
    assert r.status_code == 429 and r.get_json()["error"]["code"] == "rate_limited"
    assert db.session.query(Valuation).count() == 2

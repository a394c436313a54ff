"""Every page of the operator area renders for the role that may see it."""
import pytest

from marketplace.extensions import db
from tests import factories


@pytest.fixture
def world(app, seller, buyer, operator):
    factories.make_listing(seller)
    factories.make_listing(seller, kind="trademark", number="23456789")
    db.session.commit()
    return {"seller": seller, "buyer": buyer, "operator": operator}


@pytest.mark.parametrize("path", ["/operator/", "/operator/kyc", "/operator/accounts?q=user", "/operator/credit",
                                  "/operator/audit", "/operator/stats", "/operator/stats.csv"])
def test_operator_pages_render(client, as_user, world, path):
    as_user(world["operator"])
    r = client.get(path)
    assert r.status_code == 200, r.get_data(as_text=True)[:2000]


@pytest.mark.parametrize("path", ["/stats", "/stats.csv"])
def test_public_pages_render(client, world, path):
    r = client.get(path)
    assert r.status_code == 200, r.get_data(as_text=True)[:2000]


@pytest.mark.parametrize("path", ["/notifications", "/account/organization", "/account/credit"])
def test_account_pages_render(client, as_user, world, path):
    as_user(world["seller"])
    r = client.get(path)
    assert r.status_code == 200, r.get_data(as_text=True)[:2000]

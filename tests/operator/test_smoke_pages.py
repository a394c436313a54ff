"""Every page of the operator area renders for the role that may see it."""
import pytest

from marketplace.kernel.extensions import db
from tests import factories


@pytest.fixture
def world(app, seller, buyer, operator):
    factories.make_listing(seller)
    factories.make_listing(seller, kind="trademark", number="23456789")
    db.session.commit()
    return {"seller": seller, "buyer": buyer, "operator": operator}


# each page, and what shows that it rendered as itself (not an error page or a sign-in form)
PAGES = {
    "/operator/": "<h1>运营后台</h1>", "/operator/kyc": "<h1>单位核验</h1>", "/operator/accounts?q=user": "<h1>查找用户和单位</h1>",
    "/operator/credit": "<h1>信用记录</h1>", "/operator/audit": "<h1>操作日志</h1>", "/operator/stats": "<h1>运营统计</h1>",
    "/operator/stats.csv": "dimension,key,label,count,value_cny", "/stats": "<h1>市场统计</h1>",
    "/stats.csv": "dimension,key,label,count,value_cny", "/notifications": "<h1>消息中心</h1>",
    "/account/organization": "<h1>单位认证</h1>", "/account/credit": "<h1>信用记录</h1>",
}


def _renders(client, path):
    r = client.get(path)
    assert r.status_code == 200, r.get_data(as_text=True)[:2000]
    assert PAGES[path] in r.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/operator/", "/operator/kyc", "/operator/accounts?q=user", "/operator/credit",
                                  "/operator/audit", "/operator/stats", "/operator/stats.csv"])
def test_operator_pages_render(client, as_user, world, path):
    as_user(world["operator"])
    _renders(client, path)


@pytest.mark.parametrize("path", ["/stats", "/stats.csv"])
def test_public_pages_render(client, world, path):
    _renders(client, path)


@pytest.mark.parametrize("path", ["/notifications", "/account/organization", "/account/credit"])
def test_account_pages_render(client, as_user, world, path):
    as_user(world["seller"])
    _renders(client, path)

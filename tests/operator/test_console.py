"""The console: who may enter, and whether each queue's count matches the database."""
import pytest

from marketplace.kernel.extensions import db
from marketplace.kernel.models import Organization
from tests import factories
from tests.operator.conftest import make_deal
from tests.probes import nothing_changes

# each operator page, and what shows that it is that page
OPERATOR_PAGES = {
    "/operator/": "<h1>运营后台</h1>", "/operator/kyc": "<h1>单位核验</h1>", "/operator/accounts?q=x": "<h1>查找用户和单位</h1>",
    "/operator/credit": "<h1>信用记录</h1>", "/operator/credit?appeal=open": "<h1>信用记录</h1>",
    "/operator/audit": "<h1>操作日志</h1>", "/operator/stats": "<h1>运营统计</h1>",
    "/operator/stats.csv": "dimension,key,label,count,value_cny",
}


@pytest.mark.parametrize("path", OPERATOR_PAGES)
def test_operator_may_enter(client, as_user, operator, path):
    as_user(operator)
    r = client.get(path)
    assert r.status_code == 200 and OPERATOR_PAGES[path] in r.get_data(as_text=True)


@pytest.mark.parametrize("role", ["buyer", "seller"])
@pytest.mark.parametrize("path", OPERATOR_PAGES)
def test_buyers_and_sellers_are_refused(client, as_user, role, path, app):
    user = factories.make_user(role)
    db.session.commit()
    as_user(user)
    r = client.get(path)
    assert r.status_code == 403 and OPERATOR_PAGES[path] not in r.get_data(as_text=True)


@pytest.mark.parametrize("path", OPERATOR_PAGES)
def test_anonymous_is_sent_to_sign_in(client, path):
    r = client.get(path)
    assert r.status_code == 302
    assert "/login" in r.headers["Location"]


@pytest.mark.parametrize("method,path", [
    ("post", "/operator/organizations/1/verification"), ("post", "/operator/credit"),
    ("post", "/operator/credit/1/appeal"), ("get", "/operator/organizations/1"), ("get", "/operator/users/1"),
    ("get", "/operator/organizations/1/licence"), ("get", "/operator/credit/1/evidence"),
])
def test_operator_actions_refused_to_sellers(client, as_user, seller, method, path):
    as_user(seller)
    with nothing_changes():  # no verification, no credit record, no appeal decided, no audit entry
        r = getattr(client, method)(path)
    assert r.status_code == 403 and r.mimetype == "text/html" and seller.email not in r.get_data(as_text=True)


def test_counts_match_the_database(client, as_user, operator, seller, buyer):
    make = factories.make_listing
    for _ in range(3):
        make(seller, status="pending_review")
    make(seller, status="draft")
    make(seller, status="published")  # ungraded: grading queue
    make(seller, status="published", grade="B", grade_score=72.0)  # graded: not in the queue
    make(seller, status="published", grade="C", grade_score=60.0, grade_needs_review=True)  # 待复核
    make(seller, status="rejected")
    org_waiting = factories.make_org(verified=False)
    org_waiting.business_licence = "a" * 32 + ".pdf"
    factories.make_org(verified=False)  # no licence yet: not in the KYC queue
    done = factories.make_org(verified=True)
    done.business_licence = "b" * 32 + ".pdf"
    listing = make(seller, status="reserved")
    make_deal(listing, buyer, state="awaiting_payment", gateway="offline")
    make_deal(listing, buyer, state="awaiting_payment", gateway="offline")
    make_deal(listing, buyer, state="awaiting_payment", gateway="stripe")
    make_deal(listing, buyer, state="released")
    make_deal(listing, buyer, state="disputed")
    make_deal(listing, buyer, state="disputed")
    make_deal(listing, buyer, state="completed")
    db.session.commit()

    from marketplace.web.operator import queue_counts

    counts = queue_counts()
    assert counts["review"] == 3
    assert counts["grading"] == 2
    assert counts["kyc"] == 1
    assert counts["payments"] == 2
    assert counts["payouts"] == 1
    assert counts["disputes"] == 2
    assert counts["appeals"] == 0
    assert counts["watched"] == 0

    as_user(operator)
    html = client.get("/operator/").get_data(as_text=True)
    for key, expected in counts.items():
        assert f'id="count-{key}">{expected}<' in html


def test_deals_with_a_blacklisted_party_are_watched(client, as_user, operator, seller, buyer):
    listing = factories.make_listing(seller, status="reserved")
    deal = make_deal(listing, buyer, state="funded")
    make_deal(listing, buyer, state="completed")  # closed deals are not watched
    buyer.credit_level = "blacklisted"
    db.session.commit()
    from marketplace.web.operator import queue_counts

    assert queue_counts()["watched"] == 1
    as_user(operator)
    html = client.get("/operator/").get_data(as_text=True)
    assert f"#{deal.id}" in html and "重点监管交易" in html


def test_queue_links_appear_only_for_existing_endpoints(client, as_user, operator, app):
    as_user(operator)
    html = client.get("/operator/").get_data(as_text=True)
    assert 'href="/operator/kyc"' in html
    if "escrow.payment_queue" in app.view_functions:
        from flask import url_for

        with app.test_request_context():
            assert f'href="{url_for("escrow.payment_queue")}"' in html


def test_find_users_and_organisations(client, as_user, operator, app):
    org = factories.make_org(name="深圳市星河电子有限公司")
    factories.make_user("seller", org=org, email="lin@xinghe.example", name="林小姐")
    factories.make_user("buyer", email="wang@example.com", name="王先生")
    db.session.commit()
    as_user(operator)
    html = client.get("/operator/accounts", query_string={"q": "星河"}).get_data(as_text=True)
    assert "深圳市星河电子有限公司" in html and "王先生" not in html
    html = client.get("/operator/accounts", query_string={"q": "WANG@"}).get_data(as_text=True)
    assert "王先生" in html
    html = client.get("/operator/accounts", query_string={"q": org.uscc[:10].lower()}).get_data(as_text=True)
    assert "深圳市星河电子有限公司" in html
    html = client.get("/operator/accounts", query_string={"q": "林"}).get_data(as_text=True)
    assert "lin@xinghe.example" in html
    # LIKE wildcards are taken literally
    html = client.get("/operator/accounts", query_string={"q": "%"}).get_data(as_text=True)
    assert "王先生" not in html
    assert db.session.query(Organization).count() >= 2

"""Errors raised by the services read in the user's language.

How the language is chosen (marketplace/kernel/i18n.py ``select_locale``):
* HTML pages: ``?lang=en`` (remembered in the session) or the session set by the language switch;
* the JSON API (bearer tokens, no session): ``?lang=en`` or the ``Accept-Language`` header;
* anything else, and everything outside a request (CLI, jobs): Chinese (zh_CN), the default.
Messages are translated when the service raises, so the locale of the request applies.
"""
from datetime import timedelta

import pytest

from listings.identifiers import InvalidIdentifier, normalize_nice_class
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow
from tests.factories import auth_header, make_listing, make_user
from tests.listings.conftest import patent_payload

VALID = {
    "email": "chen@example.com", "password": "a-long-password", "name": "陈经理", "roles": ["seller"],
    "org_name": "深圳市星河科技有限公司", "org_uscc": "91440300MA5F7YRE78", "org_region": "shenzhen",
}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def test_registration_form_errors_in_english(client):
    html = client.post("/register?lang=en", data={**VALID, "password": "short",
                                                  "org_uscc": "91440300MA5F7YRE77"}).get_data(as_text=True)
    assert "The password must be at least 10 characters" in html
    assert "Wrong check character: expected 8, got 7" in html
    assert "密码至少" not in html and "校验位错误" not in html


def test_registration_form_errors_in_chinese_by_default(client):
    html = client.post("/register", data={**VALID, "password": "short",
                                          "org_uscc": "91440300MA5F7YRE77"}).get_data(as_text=True)
    assert "密码至少 10 个字符" in html and "校验位错误：应为 8，实际为 7" in html
    assert "Wrong check character" not in html


def test_wrong_password_in_english_then_chinese(client):
    make_user("buyer", email="wang@example.com")
    db.session.commit()
    html = client.post("/login?lang=en", data={"email": "wang@example.com", "password": "wrong-password"}
                       ).get_data(as_text=True)
    assert "Incorrect email or password" in html and "邮箱或密码不正确" not in html
    client.get("/lang/zh_CN")
    html = client.post("/login", data={"email": "wang@example.com", "password": "wrong-password"}
                       ).get_data(as_text=True)
    assert "邮箱或密码不正确" in html and "Incorrect email or password" not in html


def test_api_register_errors_follow_accept_language(client):
    body = {"email": "x", "password": "short", "name": "", "roles": ["buyer"], "accept_terms": True}
    res = client.post("/api/v1/auth/register", json=body, headers=EN)
    assert res.status_code == 422
    error = res.json["error"]
    assert error["message"] == "The registration has errors; please check the marked fields"
    assert error["fields"] == {"email": "Not a valid email address",
                               "password": "The password must be at least 10 characters", "name": "Required"}
    # Without English: Chinese, the default (also for a language the platform does not offer).
    for headers in ({}, {"Accept-Language": "fr"}, {"Accept-Language": "zh-CN,en;q=0.5"}):
        error = client.post("/api/v1/auth/register", json=body, headers=headers).json["error"]
        assert error["message"] == "注册信息有误，请检查标注的字段"
        assert error["fields"]["password"] == "密码至少 10 个字符"
    res = client.post("/api/v1/auth/register?lang=en", json=body)  # ?lang= works on the API too
    assert res.json["error"]["fields"]["email"] == "Not a valid email address"


def test_api_wrong_password_in_english(client):
    make_user("buyer", email="wang@example.com")
    db.session.commit()
    body = {"email": "wang@example.com", "password": "wrong-password"}
    res = client.post("/api/v1/auth/token", json=body, headers=EN)
    assert res.status_code == 401 and res.json["error"]["message"] == "Incorrect email or password"
    res = client.post("/api/v1/auth/token", json=body)
    assert res.json["error"]["message"] == "邮箱或密码不正确"


def _listing_body(**overrides):
    return patent_payload(price=None, patent={"application_number": "201710601862.4", "title": ""}, **overrides)


def test_api_listing_errors_in_english_and_chinese(client):
    seller = make_user("seller")
    headers = auth_header(seller)
    db.session.commit()
    res = client.post("/api/v1/listings", json=_listing_body(), headers={**headers, **EN})
    assert res.status_code == 422, res.json
    error = res.json["error"]
    assert error["code"] == "validation_error"
    assert error["message"] == "The listing has errors; please check the marked fields"
    fields = error["fields"]
    assert fields["price"] == "A fixed-price listing needs a price"
    assert fields["rights[0].patent.title"] == "Required"
    assert fields["rights[0].patent.application_number"] == "Wrong check character: expected 3, got 4"
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in str(error))
    # The same request without English: Chinese.
    error = client.post("/api/v1/listings", json=_listing_body(), headers=headers).json["error"]
    assert error["message"] == "挂牌信息有误，请检查标注的字段"
    assert error["fields"]["price"] == "一口价须填写价格"
    assert error["fields"]["rights[0].patent.application_number"] == "校验位错误：应为 3，实际为 4"


def test_api_too_low_bid_in_english_and_chinese(client):
    seller, buyer = make_user("seller"), make_user("buyer")
    listing = make_listing(seller, price_mode="auction", auction={
        "start_price": 1_000_00, "min_increment": 100_00, "ends_at": utcnow() + timedelta(hours=1)})
    headers = auth_header(buyer)
    db.session.commit()
    url = f"/api/v1/listings/{listing.id}/bids"
    res = client.post(url, json={"amount": 500_00}, headers={**headers, **EN})
    assert res.status_code == 409
    assert res.json["error"]["message"] == "The bid is below the current minimum bid of ¥1,000"
    res = client.post(url, json={"amount": 500_00}, headers=headers)
    assert res.json["error"]["message"] == "出价低于当前最低可出价 ¥1,000"


def test_services_outside_a_request_speak_chinese(app):
    with pytest.raises(InvalidIdentifier, match="尼斯分类只有第1–45类，没有第46类"):
        normalize_nice_class(46)


def test_api_deal_action_refusals_in_english_and_chinese(client):
    from escrow import deals

    seller, buyer = make_user("seller"), make_user("buyer")
    listing = make_listing(seller, price=1_000_000_00)
    deal = deals.open_deal(listing, buyer, 1_000_000_00, "assignment", "purchase")
    as_buyer, as_seller = auth_header(buyer), auth_header(seller)
    db.session.commit()
    url = f"/api/v1/deals/{deal.id}/accept"
    res = client.post(url, headers={**as_buyer, **EN})
    assert res.status_code == 409
    assert res.json["error"]["message"] == 'The deal is "Awaiting payment": "Accept" is not possible'
    res = client.post(url, headers={**as_seller, **EN})
    assert res.status_code == 403 and res.json["error"]["message"] == 'You are not allowed to "Accept"'
    res = client.post(f"/api/v1/deals/{deal.id}/dispute", json={"reason": "x"}, headers={**as_buyer, **EN})
    assert res.status_code in (409, 422)
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in res.json["error"]["message"])
    res = client.post(url, headers=as_buyer)
    assert res.json["error"]["message"] == "交易当前状态为“待付款”，不能执行“确认验收”"


def test_api_search_errors_in_english_and_chinese(client):
    res = client.get("/api/v1/search?sort=cheapest&nice_class=99", headers=EN)
    assert res.status_code == 422
    error = res.json["error"]
    assert error["message"] == "Invalid search parameters"
    assert error["fields"]["nice_class"] == "Nice classes run from 1 to 45"
    assert error["fields"]["sort"].startswith("Unknown sort order; options: relevance")
    error = client.get("/api/v1/search?sort=cheapest&nice_class=99").json["error"]
    assert error["message"] == "搜索参数有误" and error["fields"]["nice_class"] == "尼斯分类为 1–45"
    html = client.get("/search?nice_class=99&lang=en").get_data(as_text=True)
    assert "Nice classes run from 1 to 45" in html

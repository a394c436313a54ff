"""The demand API's bodies and browsing query are validated by the schemas that document them
(demand/schemas.py): each rule has an allowed and a refused case, and a refusal changes nothing."""
import pytest

from demand.models import DataRoom, DemandMessage, WantedAd, WantedAnswer
from marketplace.kernel.extensions import db
from tests import factories
from tests.demand.conftest import ad_body
from tests.probes import count, nothing_changes


def _h(user):
    headers = factories.auth_header(user)
    db.session.commit()
    return headers


@pytest.mark.parametrize("changes, field, reason", [
    ({"colour": "red"}, "colour", "不认识的字段"),
    ({"title": None}, "title", "必填"),
    ({"title": "求购"}, "title", "至少 4 个字符"),
    ({"title": "求" * 121}, "title", "最多 120 个字符"),
    ({"description": ["a"]}, "description", "应为文本"),
    ({"keywords": "锂电池 正极材料"}, "keywords", "应为列表"),
    ({"keywords": [f"词{i}" for i in range(9)]}, "keywords", "最多 8 个关键词"),
    ({"keywords": ["长" * 21]}, "keywords", "每个关键词最多 20 个字符"),
    ({"ipc": "H" * 21}, "ipc", "最多 20 个字符"),
    ({"kind": "trademark", "ipc": None, "nice_classes": [46]}, "nice_classes", "不能大于 45"),
    ({"kind": "trademark", "ipc": None, "nice_classes": list(range(1, 12))}, "nice_classes", "最多 10 个尼斯分类"),
    ({"deal_types": []}, "deal_types", "至少选择一种交易方式"),
    ({"deal_types": ["rental"]}, "deal_types",
     "应为以下之一：assignment、exclusive_license、sole_license、non_exclusive_license"),
    ({"budget_min": 0}, "budget_min", "不能小于 1"),
    ({"budget_max": 10**13 + 1}, "budget_max", "不能大于 10000000000000"),
    ({"negotiable": "yes"}, "negotiable", "应为 true 或 false"),
    ({"hide_name": 1}, "hide_name", "应为 true 或 false"),
    ({"region": "mars"}, "region", "未知地区"),
    ({"expires_at": "2027/01/31"}, "expires_at", "日期格式应为 YYYY-MM-DD"),
])
def test_a_wanted_ad_refused_by_the_schema_is_not_posted(client, people, changes, field, reason):
    headers = _h(people.buyer)
    with nothing_changes():
        response = client.post("/api/v1/wanted", json=ad_body(**changes), headers=headers)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and error["fields"][field] == reason


@pytest.mark.parametrize("changes", [
    {},
    {"kind": "trademark", "ipc": None, "keywords": [], "nice_classes": list(range(1, 11))},
    {"title": "求购专利", "keywords": [f"词{i}" for i in range(8)], "budget_min": None, "budget_max": None,
     "negotiable": True, "hide_name": True, "region": None, "description": None},
    {"budget_min": 1, "budget_max": 10**13, "deal_types": ["assignment", "non_exclusive_license"]},
])
def test_a_wanted_ad_within_the_schema_is_posted(client, people, changes):
    response = client.post("/api/v1/wanted", json=ad_body(**changes), headers=_h(people.buyer))
    assert response.status_code == 201, response.get_json()
    assert count(WantedAd) == 1 and response.get_json()["status"] == "pending_review"


def test_the_service_still_checks_what_needs_several_fields(client, people):
    """After the schema: a budget's order (two fields) is the service's, with the same error shape."""
    with nothing_changes():
        response = client.post("/api/v1/wanted", json=ad_body(budget_min=9_000_00, budget_max=1_000_00),
                               headers=_h(people.buyer))
    assert response.status_code == 422 and response.get_json()["error"]["fields"] == {"budget_max": "最高预算不能低于最低预算"}


@pytest.mark.parametrize("body, field, reason", [
    ({"decision": "maybe"}, "decision", "应为以下之一：approve、reject"),
    ({"decision": "reject", "reason": "x" * 501}, "reason", "最多 500 个字符"),
    ({"decision": "approve", "note": "ok"}, "note", "不认识的字段"),
])
def test_a_review_refused_by_the_schema_changes_nothing(client, people, body, field, reason):
    from demand import wanted

    ad = wanted.post(people.buyer, ad_body())
    db.session.commit()
    with nothing_changes():
        response = client.post(f"/api/v1/wanted/{ad.id}/review", json=body, headers=_h(people.operator))
    assert response.status_code == 422 and response.get_json()["error"]["fields"][field] == reason
    assert db.session.get(WantedAd, ad.id).status == "pending_review"
    response = client.post(f"/api/v1/wanted/{ad.id}/review", json={"decision": "reject", "reason": "x" * 500},
                           headers=_h(people.operator))
    assert response.status_code == 200 and response.get_json()["status"] == "rejected"


@pytest.mark.parametrize("body, field, reason", [
    ({"listing_id": "第一个", "message": "您好"}, "listing_id", "应为整数"),
    ({"listing_id": True, "message": "您好"}, "listing_id", "应为整数"),
    ({"message": "您好"}, "listing_id", "必填"),
    ({"listing_id": 1, "message": ""}, "message", "必填"),
    ({"listing_id": 1, "message": "长" * 1001}, "message", "最多 1000 个字符"),
])
def test_an_answer_refused_by_the_schema_changes_nothing(client, people, published_ad, body, field, reason):
    ad = published_ad()
    listing = factories.make_listing(people.seller)
    db.session.commit()
    headers = _h(people.seller)
    with nothing_changes():
        response = client.post(f"/api/v1/wanted/{ad.id}/answers", json=body, headers=headers)
    assert response.status_code == 422 and response.get_json()["error"]["fields"][field] == reason
    response = client.post(f"/api/v1/wanted/{ad.id}/answers", json={"listing_id": listing.id, "message": "长" * 1000},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    assert count(WantedAnswer) == 1 and count(DemandMessage) == 1


def test_a_thread_message_refused_by_the_schema_changes_nothing(client, people, published_ad):
    from demand import answers

    ad = published_ad()
    listing = factories.make_listing(people.seller)
    db.session.commit()
    row = answers.answer(ad.id, people.seller, listing.id, "我方挂牌符合要求")
    db.session.commit()
    headers = _h(people.buyer)
    with nothing_changes():
        response = client.post(f"/api/v1/wanted/answers/{row.id}/messages", json={"message": 42}, headers=headers)
    assert response.status_code == 422 and response.get_json()["error"]["fields"]["message"] == "应为文本"
    response = client.post(f"/api/v1/wanted/answers/{row.id}/messages", json={"message": "请报价"}, headers=headers)
    assert response.status_code == 201 and count(DemandMessage) == 2


@pytest.mark.parametrize("body, field, reason", [
    ({"nda_text": "保密" * 20, "operator_may_grant": "yes"}, "operator_may_grant", "应为 true 或 false"),
    ({"nda_text": "太短"}, "nda_text", "至少 20 个字符"),
    ({"operator_may_grant": True}, "nda_text", "必填"),
])
def test_an_nda_refused_by_the_schema_changes_nothing(client, people, body, field, reason):
    listing = factories.make_listing(people.seller)
    db.session.commit()
    headers = _h(people.seller)
    with nothing_changes():
        response = client.put(f"/api/v1/listings/{listing.id}/dataroom/nda", json=body, headers=headers)
    assert response.status_code == 422 and response.get_json()["error"]["fields"][field] == reason
    response = client.put(f"/api/v1/listings/{listing.id}/dataroom/nda",
                          json={"nda_text": "保密" * 20, "operator_may_grant": True}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["operator_may_grant"] is True and count(DataRoom) == 1


def test_an_access_request_with_a_password_of_the_wrong_type_changes_nothing(client, people):
    listing = factories.make_listing(people.seller)
    db.session.commit()
    with nothing_changes():
        response = client.post(f"/api/v1/listings/{listing.id}/dataroom/access", json={"password": 12345678},
                               headers=_h(people.buyer))
    assert response.status_code == 422 and response.get_json()["error"]["fields"]["password"] == "应为文本"


@pytest.mark.parametrize("query, field", [
    ("kind=plane", "kind"), ("ipc_section=Z", "ipc_section"), ("nice_class=46", "nice_class"),
    ("nice_class=九", "nice_class"), ("page=0", "page"), ("page=1001", "page"), ("deal_type=rent", "deal_type"),
    ("region=mars", "region"), ("q=" + "词" * 101, "q"),
])
def test_browsing_refuses_what_the_query_schema_refuses(client, people, query, field):
    response = client.get(f"/api/v1/wanted?{query}")
    assert response.status_code == 422 and field in response.get_json()["error"]["fields"]
    page = client.get(f"/wanted?{query}")  # the page reads the same schema: the filter is dropped, said why
    assert page.status_code == 200


@pytest.mark.parametrize("query", ["kind=patent", "ipc_section=H", "nice_class=45", "page=1000", "kind=&page=",
                                   "deal_type=assignment&region=shenzhen", "q=" + "词" * 100])
def test_browsing_takes_what_the_query_schema_takes(client, people, published_ad, query):
    published_ad()
    response = client.get(f"/api/v1/wanted?{query}")
    assert response.status_code == 200, response.get_json()


def test_the_document_is_the_schema(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    post = doc["paths"]["/api/v1/wanted"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert post["additionalProperties"] is False
    assert post["properties"]["keywords"]["maxItems"] == 8
    assert post["properties"]["nice_classes"]["items"]["maximum"] == 45
    params = {p["name"]: p for p in doc["paths"]["/api/v1/wanted"]["get"]["parameters"]}
    assert set(params) == {"q", "kind", "ipc_section", "nice_class", "deal_type", "region", "page"}
    assert params["page"]["schema"]["maximum"] == 1000

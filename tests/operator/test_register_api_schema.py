"""The rights register's API bodies are validated by the schemas that document them (listings/register_schemas.py):
each rule has an allowed and a refused case, and a refusal changes nothing."""
import pytest

from listings.models import Right, RightClaim
from marketplace.kernel.extensions import db
from tests import factories
from tests.operator.test_register_console import _claim, _fresh, _snapshot
from tests.probes import nothing_changes


@pytest.fixture
def right(seller):
    listing = factories.make_listing(seller)
    db.session.commit()
    return listing.rights[0]


def _patch(client, right, operator, body):
    return client.patch(f"/api/v1/operator/rights/{right.kind}/{right.number}", json=body,
                        headers=factories.auth_header(operator))


@pytest.mark.parametrize("body, field, reason", [
    ({"changes": {"claims_count": 5}, "reason": "公告", "extra": 1}, "extra", "不认识的字段"),
    ({"changes": [["claims_count", 5]], "reason": "公告"}, "changes", "应为对象"),
    ({"changes": {"claims_count": 5}, "reason": 2024}, "reason", "应为文本"),
    ({"changes": {"claims_count": 5}, "reason": "x" * 2001}, "reason", "最多 2000 个字符"),
    ({"changes": {"claims_count": 5}}, "reason", "必填"),
    ({"changes": {"colour": "red"}, "reason": "公告"}, "colour", "未知或不可更正的字段"),
    ({"changes": {"claims_count": "十二"}, "reason": "公告"}, "claims_count", "应为整数"),
    ({"changes": {"claims_count": 100_001}, "reason": "公告"}, "claims_count", "不能大于 100000"),
    ({"changes": {"filing_date": "2020/01/02"}, "reason": "公告"}, "filing_date", "日期格式应为 YYYY-MM-DD"),
    ({"changes": {"title": "x" * 301}, "reason": "公告"}, "title", "最多 300 个字符"),
    ({"changes": {"legal_status": "gone"}, "reason": "公告"}, "legal_status",
     "应为以下之一：pending、granted、lapsed、invalidated、expired"),
])
def test_a_correction_refused_by_the_schema_changes_nothing(client, operator, right, body, field, reason):
    before = _snapshot(right.id)
    with nothing_changes():
        res = _patch(client, right, operator, body)
    assert res.status_code == 422, res.json
    assert res.json["error"]["code"] == "validation_error" and res.json["error"]["fields"][field] == reason
    assert _snapshot(right.id) == before


def test_a_correction_within_the_bounds_is_made(client, operator, right):
    res = _patch(client, right, operator, {"changes": {"claims_count": 100_000, "title": "一种改进的电池"},
                                           "reason": "公告"})
    assert res.status_code == 200, res.json
    assert res.json["right"]["title"] == "一种改进的电池"
    assert _fresh(Right, right.id).claims_count == 100_000


def test_a_field_of_the_other_kind_is_refused_by_the_service(client, operator, right):
    with nothing_changes():
        res = _patch(client, right, operator, {"changes": {"disputes": 1}, "reason": "公告"})
    assert res.status_code == 422 and res.json["error"]["fields"]["disputes"] == "未知或不可更正的字段"


@pytest.mark.parametrize("body, field, reason", [
    ({"decision": "maybe", "reason": "看看"}, "decision", "应为 uphold（支持）或 dismiss（驳回）"),
    ({"decision": True, "reason": "看看"}, "decision", "应为文本"),
    ({"decision": "dismiss", "reason": "看"}, "reason", "必填"),
    ({"decision": "dismiss", "reason": "证据不足", "notify": False}, "notify", "不认识的字段"),
])
def test_a_decision_refused_by_the_schema_changes_nothing(client, operator, other_seller, right, body, field, reason):
    claim = _claim(right, other_seller)
    with nothing_changes():
        res = client.post(f"/api/v1/operator/rights/claims/{claim.id}/decision", json=body,
                          headers=factories.auth_header(operator))
    assert res.status_code == 422 and res.json["error"]["fields"][field] == reason
    assert _fresh(RightClaim, claim.id).status == "open"


def test_a_decision_with_a_short_reason_is_taken(client, operator, other_seller, right):
    claim = _claim(right, other_seller)
    res = client.post(f"/api/v1/operator/rights/claims/{claim.id}/decision",
                      json={"decision": "dismiss", "reason": "不足"}, headers=factories.auth_header(operator))
    assert res.status_code == 200 and res.json["claim"]["status"] == "dismissed"


def test_the_document_is_the_schema(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    body = doc["paths"]["/api/v1/operator/rights/{kind}/{number}"]["patch"]["requestBody"]["content"][
        "application/json"]["schema"]
    changes = body["properties"]["changes"]
    assert changes["additionalProperties"] is False and changes["properties"]["claims_count"]["maximum"] == 100_000
    assert body["properties"]["reason"]["maxLength"] == 2000
    decision = doc["paths"]["/api/v1/operator/rights/claims/{claim_id}/decision"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert decision["properties"]["decision"]["enum"] == ["uphold", "dismiss"]
    right = doc["paths"]["/api/v1/rights/{kind}/{number}"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"]
    assert right["properties"]["right"]["properties"]["holders"]["items"]["properties"]["type"]["enum"] == \
        ["organization", "person", "outside"]

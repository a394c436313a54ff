"""POST /listings/{id}/grade is validated by the schema that documents it (listings/grading_schemas.py):
each rule of the body has an allowed and a refused case, and a refusal changes nothing."""
import pytest

from listings.models import GradeAssessment, Listing
from marketplace.kernel.extensions import db
from tests import factories
from tests.grading.conftest import RATIONALE, full_scores
from tests.probes import nothing_changes


@pytest.fixture
def op_headers(operator):
    headers = factories.auth_header(operator)
    db.session.commit()
    return headers


def _grade(client, listing, headers, body):
    return client.post(f"/api/v1/listings/{listing.id}/grade", headers=headers, json=body)


@pytest.mark.parametrize("body, field, reason", [
    ({"scores": full_scores("patent"), "rationale": RATIONALE, "grade": "A"}, "grade", "不认识的字段"),
    ({"scores": list(full_scores("patent").values()), "rationale": RATIONALE}, "scores", "应为对象"),
    ({"scores": full_scores("patent"), "rationale": 42}, "rationale", "应为文本"),
    ({"scores": {**full_scores("patent"), "stability": True}, "rationale": RATIONALE}, "stability",
     "评分必须是 0 到 10 之间的数字"),
    ({"scores": {**full_scores("patent"), "stability": -1}, "rationale": RATIONALE}, "stability",
     "评分必须在 0 到 10 之间"),
    ({"scores": {**full_scores("patent"), "nonsense": 5}, "rationale": RATIONALE}, "nonsense", "未知指标"),
    ({"scores": full_scores("patent"), "rationale": "x" * 4001}, "rationale", "评级理由最多 4000 个字符"),
    ({"scores": full_scores("patent"), "rationale": "不到二十个字"}, "rationale", "请填写评级理由，至少 20 个字符"),
])
def test_refused_by_the_schema_changes_nothing(client, patent_listing, op_headers, body, field, reason):
    with nothing_changes():
        r = _grade(client, patent_listing, op_headers, body)
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert error["code"] == "validation_error" and error["fields"][field] == reason
    assert db.session.get(Listing, patent_listing.id).grade is None


def test_refused_in_english(client, patent_listing, op_headers):
    r = client.post(f"/api/v1/listings/{patent_listing.id}/grade?lang=en", headers=op_headers,
                    json={"scores": {**full_scores("patent"), "stability": "high"}, "rationale": RATIONALE})
    assert r.status_code == 422 and r.get_json()["error"]["fields"]["stability"] == \
        "the score must be a number from 0 to 10"


@pytest.mark.parametrize("value", [0, 10, 7.5])
def test_scores_within_bounds_are_taken(client, patent_listing, op_headers, value):
    r = _grade(client, patent_listing, op_headers, {"scores": full_scores("patent", value), "rationale": RATIONALE})
    assert r.status_code == 200, r.get_json()
    assert db.session.query(GradeAssessment).count() == 1
    assert db.session.get(Listing, patent_listing.id).grade is not None


def test_a_trademark_indicator_on_a_patent_is_refused_by_the_service(client, patent_listing, op_headers):
    """The schema knows every rubric's indicators; which ones a listing takes follows from its kind."""
    with nothing_changes():
        r = _grade(client, patent_listing, op_headers,
                   {"scores": {**full_scores("patent"), "registration_status": 5}, "rationale": RATIONALE})
    assert r.status_code == 422 and r.get_json()["error"]["fields"]["registration_status"] == "未知指标"


def test_the_document_is_the_schema(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    body = doc["paths"]["/api/v1/listings/{listing_id}/grade"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert body["additionalProperties"] is False
    assert body["properties"]["rationale"]["minLength"] == 20 and body["properties"]["rationale"]["maxLength"] == 4000
    assert [s["title"] for s in body["properties"]["scores"]["oneOf"]] == ["patent scores", "trademark scores"]

"""Grades over the JSON API: shapes per docs/api.md, status codes, nothing changes on refusal."""
import pytest

from listings import grading
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


def headers_for(*roles, org=None):
    user = factories.make_user(*roles, org=org)
    headers = factories.auth_header(user)
    db.session.commit()
    return headers


def test_proposal_shape(client, patent_listing, op_headers):
    r = client.get(f"/api/v1/listings/{patent_listing.id}/grade/proposal", headers=op_headers)
    assert r.status_code == 200
    body = r.get_json()
    assert [i["key"] for i in body["indicators"]] == grading.indicator_keys("patent")
    for item in body["indicators"]:
        assert set(item) == {"key", "dimension", "label", "score", "reason", "needs_judgement"}
        assert item["dimension"] in ("legal", "technical", "economic")
    assert body["kind"] == "patent"
    assert [(d["key"], d["weight"]) for d in body["dimensions"]] == [("legal", 40), ("technical", 30),
                                                                     ("economic", 30)]
    stability = body["indicators"][0]
    assert stability["label"] == "权利稳定性" and stability["score"] == 8 and not stability["needs_judgement"]


def test_proposal_in_english(client, trademark_listing, op_headers):
    r = client.get(f"/api/v1/listings/{trademark_listing.id}/grade/proposal?lang=en", headers=op_headers)
    labels = {i["key"]: i["label"] for i in r.get_json()["indicators"]}
    assert labels["registration_status"] == "Registration status"


def test_grade_shape_and_effect(client, patent_listing, op_headers):
    r = client.post(f"/api/v1/listings/{patent_listing.id}/grade", headers=op_headers,
                    json={"scores": full_scores("patent", 8), "rationale": RATIONALE})
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"grade": "B", "score": 80.0,
                            "dimensions": {"legal": 80.0, "technical": 80.0, "economic": 80.0}}
    assert db.session.get(Listing, patent_listing.id, populate_existing=True).grade == "B"
    r = client.get(f"/api/v1/listings/{patent_listing.id}/grades", headers=op_headers)
    body = r.get_json()
    assert body["grade"] == "B" and body["needs_review"] is False
    assert len(body["assessments"]) == 1 and body["assessments"][0]["rationale"] == RATIONALE
    assert body["assessments"][0]["created_at"].endswith("+00:00")


def test_unauthenticated_401(client, patent_listing):
    assert client.get(f"/api/v1/listings/{patent_listing.id}/grade/proposal").status_code == 401
    r = client.post(f"/api/v1/listings/{patent_listing.id}/grade", json={})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("roles", [("buyer",), ("seller",)])
def test_buyer_or_seller_403(client, patent_listing, roles):
    headers = headers_for(*roles)
    r = client.post(f"/api/v1/listings/{patent_listing.id}/grade", headers=headers,
                    json={"scores": full_scores("patent"), "rationale": RATIONALE})
    assert r.status_code == 403
    assert client.get(f"/api/v1/listings/{patent_listing.id}/grade/proposal", headers=headers).status_code == 403
    assert client.get(f"/api/v1/listings/{patent_listing.id}/grades", headers=headers).status_code == 403
    assert db.session.get(Listing, patent_listing.id, populate_existing=True).grade is None


def test_operator_of_listing_organisation_403(client, patent_listing):
    headers = headers_for("operator", org=patent_listing.organization)
    r = client.post(f"/api/v1/listings/{patent_listing.id}/grade", headers=headers,
                    json={"scores": full_scores("patent"), "rationale": RATIONALE})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"


def test_missing_listing_404(client, op_headers):
    _missing(client, op_headers, "/api/v1/listings/9999")


def _missing(client, headers, base):
    for path in (base + "/grade/proposal", base + "/grades"):
        r = client.get(path, headers=headers)
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found", path
    with nothing_changes():  # no assessment stored
        r = client.post(base + "/grade", headers=headers, json={"scores": full_scores("patent"), "rationale": RATIONALE})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("listing_id", [2**31, 2**63 + 5])
def test_ids_beyond_integer_range_404(client, op_headers, listing_id):
    _missing(client, op_headers, f"/api/v1/listings/{listing_id}")


def test_not_published_409(client, app, seller, op_headers):
    listing = factories.make_listing(seller, status="pending_review")
    db.session.commit()
    r = client.post(f"/api/v1/listings/{listing.id}/grade", headers=op_headers,
                    json={"scores": full_scores("patent"), "rationale": RATIONALE})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "conflict"


@pytest.mark.parametrize("body, field", [
    ({"scores": {**full_scores("patent"), "stability": 10.5}, "rationale": RATIONALE}, "stability"),
    ({"scores": {**full_scores("patent"), "maturity": "high"}, "rationale": RATIONALE}, "maturity"),
    ({"scores": {**full_scores("patent"), "unknown": 3}, "rationale": RATIONALE}, "unknown"),
    ({"scores": {k: v for k, v in full_scores("patent").items() if k != "policy_fit"}, "rationale": RATIONALE},
     "policy_fit"),
    ({"scores": full_scores("patent"), "rationale": "太短"}, "rationale"),
    ({"scores": full_scores("patent")}, "rationale"),
    ({"rationale": RATIONALE}, "scores"),
])
def test_bad_input_422_names_field(client, patent_listing, op_headers, body, field):
    r = client.post(f"/api/v1/listings/{patent_listing.id}/grade", headers=op_headers, json=body)
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]
    assert db.session.query(GradeAssessment).count() == 0
    assert db.session.get(Listing, patent_listing.id, populate_existing=True).grade is None


def test_non_json_body_422(client, patent_listing, op_headers):
    with nothing_changes():  # not graded
        r = client.post(f"/api/v1/listings/{patent_listing.id}/grade", headers=op_headers, data="nope",
                        content_type="text/plain")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "validation_error"


def test_openapi_documents_grade_routes(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/listings/{listing_id}/grade/proposal", "/api/v1/listings/{listing_id}/grade",
                 "/api/v1/listings/{listing_id}/grades"):
        for op in doc["paths"][path].values():
            assert "x-undocumented" not in op
    post = doc["paths"]["/api/v1/listings/{listing_id}/grade"]["post"]
    assert set(post["requestBody"]["content"]["application/json"]["schema"]["required"]) == {"scores", "rationale"}
    assert set(post["responses"]["200"]["content"]["application/json"]["schema"]["required"]) == \
        {"grade", "score", "dimensions"}


def test_responses_match_documented_schemas(client, patent_listing, op_headers):
    import jsonschema

    from tests.schema_check import json_schema  # OpenAPI's nullable as JSON Schema (what schemathesis does)

    doc = client.get("/api/v1/openapi.json").get_json()
    base = "/api/v1/listings/{listing_id}"

    def schema(path, method, status="200"):
        return json_schema(doc["paths"][base + path][method]["responses"][status]["content"]["application/json"]
                           ["schema"])

    r = client.get(f"/api/v1/listings/{patent_listing.id}/grade/proposal", headers=op_headers)
    jsonschema.validate(r.get_json(), schema("/grade/proposal", "get"))
    r = client.post(f"/api/v1/listings/{patent_listing.id}/grade", headers=op_headers,
                    json={"scores": full_scores("patent", 9), "rationale": RATIONALE})
    jsonschema.validate(r.get_json(), schema("/grade", "post"))
    r = client.get(f"/api/v1/listings/{patent_listing.id}/grades", headers=op_headers)
    jsonschema.validate(r.get_json(), schema("/grades", "get"))

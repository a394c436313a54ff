"""The search API answers exactly what its OpenAPI document says (schemas and documented parameters)."""
import jsonschema
import pytest

from marketplace.kernel.extensions import db
from tests import factories
from tests.schema_check import json_schema as _json_schema
from tests.search.conftest import make_search_listing


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").get_json()


def _response_schema(spec, path, method, status):
    schema = spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return _json_schema(schema)


def test_search_is_documented_with_every_query_parameter(spec):
    op = spec["paths"]["/api/v1/search"]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert names == {"q", "kind", "grade", "patent_type", "ipc", "nice_class", "deal_type", "price_mode",
                     "price_min", "price_max", "region", "open_licence", "sort", "page", "per_page"}
    assert op["security"] == []
    for path in ("/api/v1/saved-searches", "/api/v1/notifications"):
        assert path in spec["paths"]


@pytest.mark.parametrize("params", [{}, {"q": "电池"}, {"q": "不存在"}, {"kind": "trademark", "sort": "price_asc"},
                                    {"q": '"图像识别方法"', "grade": "A,B"}, {"page": "3"}])
def test_search_responses_match_the_schema(client, spec, params):
    seller = factories.make_user("seller")
    make_search_listing(seller, title="一种锂电池正极材料", grade="A")
    make_search_listing(seller, title="面议的电池专利", price_mode="negotiable", price=None)
    make_search_listing(seller, title="电池", kind="trademark", price_mode="auction", price=3_0000_00)
    db.session.commit()
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 200
    jsonschema.validate(response.get_json(), _response_schema(spec, "/api/v1/search", "get", "200"))


def test_error_matches_the_error_schema(client, spec):
    response = client.get("/api/v1/search?kind=x")
    assert response.status_code == 422 and "kind" in response.get_json()["error"]["fields"]
    jsonschema.validate(response.get_json(), _response_schema(spec, "/api/v1/search", "get", "422"))


def test_saved_search_and_notification_responses_match(client, spec, buyer, runner):
    headers = factories.auth_header(buyer)
    db.session.commit()
    created = client.post("/api/v1/saved-searches", json={"q": "电池", "filters": {"nice_class": 9}}, headers=headers)
    assert created.status_code == 201
    jsonschema.validate(created.get_json(), _response_schema(spec, "/api/v1/saved-searches", "post", "201"))
    listed = client.get("/api/v1/saved-searches", headers=headers)
    jsonschema.validate(listed.get_json(), _response_schema(spec, "/api/v1/saved-searches", "get", "200"))
    make_search_listing(title="电池", kind="trademark", nice_classes=[9])
    db.session.commit()
    assert runner.invoke(args=["search", "sync"]).exit_code == 0  # saved searches are matched here
    notes = client.get("/api/v1/notifications", headers=headers)
    assert notes.get_json()["notifications"]
    jsonschema.validate(notes.get_json(), _response_schema(spec, "/api/v1/notifications", "get", "200"))

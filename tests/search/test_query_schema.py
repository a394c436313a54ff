"""The search query, the saved-search body and the notifications query are read by the schemas that document
them (search/schemas.py): each rule has an allowed and a refused case; the page reads the same schema; a refused
saved search changes nothing; every reason is a message id (English with ?lang=en)."""
import pytest

from marketplace.kernel.extensions import db
from search import service
from search.models import SavedSearch
from tests import factories
from tests.probes import count, nothing_changes


@pytest.fixture
def buyer_headers(buyer):
    headers = factories.auth_header(buyer)
    db.session.commit()
    return headers


REFUSED = [
    ({"q": "电" * 201}, "q", "搜索词最长 200 个字符"),
    ({"kind": "software"}, "kind", "未知取值，可选：patent、trademark"),
    ({"grade": "A,E"}, "grade", "未知等级，可选：A, B, C, D（可用逗号分隔多个）"),
    ({"patent_type": "plant"}, "patent_type", "未知取值，可选：invention、utility_model、design"),
    ({"ipc": "Z99"}, "ipc", "IPC 分类格式不对，例如 H、H01、H01M 或 H01M 4/36"),
    ({"nice_class": "46"}, "nice_class", "尼斯分类为 1–45"),
    ({"nice_class": "²"}, "nice_class", None),
    ({"deal_type": "rent"}, "deal_type", None),
    ({"price_mode": "free"}, "price_mode", None),
    ({"open_licence": "yes"}, "open_licence", "未知取值，可选：1"),
    ({"price_min": "-1"}, "price_min", None),
    ({"price_max": str(10**15 + 1)}, "price_max", "价格（分）超出范围"),
    ({"price_min": "500", "price_max": "100"}, "price_max", "最高价不能低于最低价"),
    ({"region": "mars"}, "region", None),
    ({"sort": "random"}, "sort", None),
    ({"page": "0"}, "page", "页码为 1–1000"),
    ({"page": "1001"}, "page", "页码为 1–1000"),
    ({"per_page": "101"}, "per_page", "每页条数为 1–100"),
]
ALLOWED = [
    ({"q": "电" * 200}, "q", "电" * 200),
    ({"q": '  "图像识别" 电池  '}, "q", '"图像识别" 电池'),
    ({"kind": "trademark"}, "kind", "trademark"),
    ({"grade": "a, b,A"}, "grade", ("A", "B")),
    ({"patent_type": "design"}, "patent_type", "design"),
    ({"ipc": "h01m 4/36"}, "ipc", "h01m4/36"),
    ({"nice_class": "45"}, "nice_class", 45),
    ({"deal_type": "assignment"}, "deal_type", "assignment"),
    ({"price_mode": "auction"}, "price_mode", "auction"),
    ({"open_licence": "1"}, "open_licence", "1"),
    ({"price_min": "0", "price_max": str(10**15)}, "price_max", 10**15),
    ({"price_min": "100", "price_max": "100"}, "price_min", 100),
    ({"region": "shenzhen"}, "region", "shenzhen"),
    ({"sort": "ending_soon"}, "sort", "ending_soon"),
    ({"sort": ""}, "sort", "relevance"),
    ({"page": "1000"}, "page", 1000),
    ({"per_page": "100"}, "per_page", 100),
    ({"kind": "", "page": " "}, "page", 1),
]


@pytest.mark.parametrize("args, field, reason", REFUSED)
def test_the_api_refuses_what_the_schema_refuses(client, args, field, reason):
    response = client.get("/api/v1/search", query_string=args)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]
    if reason:
        assert error["fields"][field] == reason


@pytest.mark.parametrize("args, field, value", ALLOWED)
def test_the_schema_takes_and_normalises(app, args, field, value):
    with app.test_request_context():
        assert getattr(service.parse_params(args), field) == value


@pytest.mark.parametrize("args, field, value", ALLOWED[:6])
def test_the_api_answers_what_the_schema_takes(client, args, field, value):
    assert client.get("/api/v1/search", query_string=args).status_code == 200


def test_reasons_are_message_ids(client):
    response = client.get("/api/v1/search", query_string={"lang": "en", "page": "0", "grade": "E"})
    fields = response.get_json()["error"]["fields"]
    assert fields["page"] == "The page number runs from 1 to 1000"
    assert not any("\u4e00" <= ch <= "\u9fff" for reason in fields.values() for ch in reason), fields


def test_the_page_drops_what_the_schema_refuses_and_says_so(client):
    page = client.get("/search", query_string={"q": "电池", "kind": "software", "page": "0"}).get_data(as_text=True)
    assert "已忽略参数 kind" in page and "已忽略参数 page" in page


@pytest.mark.parametrize("body, field, reason", [
    ({"q": "电池", "filters": {"colour": "red"}}, "filters.colour", "未知筛选条件"),
    ({"q": "电池", "filters": ["kind"]}, "filters", "应为对象"),
    ({"q": 5}, "q", "应为文本"),
    ({"q": "电池", "filters": {"nice_class": 46}}, "filters.nice_class", "尼斯分类为 1–45"),
    ({"q": "电池", "filters": {"nice_class": True}}, "filters.nice_class", None),
    ({"q": "电池", "filters": {"price_min": 9, "price_max": 1}}, "filters.price_max", "最高价不能低于最低价"),
    ({"q": "电池", "sort": "newest"}, "sort", "不认识的字段"),
])
def test_a_saved_search_refused_by_the_schema_changes_nothing(client, buyer_headers, body, field, reason):
    with nothing_changes():
        response = client.post("/api/v1/saved-searches", json=body, headers=buyer_headers)
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert field in fields and (reason is None or fields[field] == reason), fields


@pytest.mark.parametrize("filters, stored", [
    ({"nice_class": 9}, {"nice_class": "9"}),
    ({"nice_class": "9", "kind": ""}, {"nice_class": "9"}),
    ({"grade": ["a", "B"], "price_min": 0}, {"grade": "A,B", "price_min": "0"}),
    ({"ipc": "h01m", "kind": None}, {"ipc": "H01M"}),
])
def test_a_saved_search_within_the_schema_is_saved(client, buyer_headers, filters, stored):
    response = client.post("/api/v1/saved-searches", json={"q": "电池", "filters": filters}, headers=buyer_headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["saved_search"]["filters"] == stored and count(SavedSearch) == 1


@pytest.mark.parametrize("query, status", [("unread=1", 200), ("unread=0&page=1000", 200), ("", 200),
                                           ("unread=yes", 422), ("page=0", 422), ("page=²", 422),
                                           ("page=1001", 422)])
def test_the_notifications_query(client, buyer_headers, query, status):
    assert client.get(f"/api/v1/notifications?{query}", headers=buyer_headers).status_code == status


def test_the_document_is_the_schema(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"]: p for p in doc["paths"]["/api/v1/search"]["get"]["parameters"]}
    assert params["page"]["schema"]["maximum"] == service.MAX_PAGE
    assert params["per_page"]["schema"]["maximum"] == service.MAX_PER_PAGE
    assert params["q"]["schema"]["maxLength"] == service.MAX_QUERY_CHARS
    assert params["sort"]["schema"]["default"] == "relevance"
    body = doc["paths"]["/api/v1/saved-searches"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["additionalProperties"] is False
    assert body["properties"]["filters"]["additionalProperties"] is False
    assert set(body["properties"]["filters"]["properties"]) == set(service.FILTER_KEYS)
    notes = {p["name"]: p for p in doc["paths"]["/api/v1/notifications"]["get"]["parameters"]}
    assert notes["unread"]["schema"]["enum"][:2] == ["0", "1"]

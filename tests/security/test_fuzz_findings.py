"""Regression tests for what the API fuzzing (security/api_fuzz.sh, schemathesis) found."""
import pytest

from marketplace.kernel.extensions import db
from tests import factories

HUGE = "30596889849367265280"  # > 2**64: SQLite's driver raised OverflowError (a 500)


@pytest.mark.parametrize("path", [
    f"/api/v1/deals/1/documents/{HUGE}", f"/api/v1/listings/{HUGE}/grade/proposal", f"/api/v1/deals/{HUGE}",
    f"/api/v1/listings/{HUGE}", f"/api/v1/listings/{HUGE}/bids", f"/listings/{HUGE}", f"/deals/{HUGE}",
    f"/api/v1/listings/{2**63}", f"/listings/{2**63}", f"/api/v1/listings/{2**31}", f"/deals/{2**31}",
])
def test_an_id_too_large_for_the_database_is_not_found(app, path):
    user = factories.make_user("operator")
    headers = factories.auth_header(user)
    db.session.commit()
    response = app.test_client().get(path, headers=headers)
    assert response.status_code == 404, (path, response.status_code)
    if path.startswith("/api/"):  # the API's error shape, not a bare 404 page
        assert response.get_json()["error"]["code"] == "not_found"


def test_the_largest_database_id_is_still_a_plain_404(app):
    """ids are INTEGER columns (int4 on PostgreSQL, where 2**63 - 1 was a 500)."""
    response = app.test_client().get(f"/api/v1/listings/{2**31 - 1}")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("body", [
    {"email": "", "password": ["secret"]}, {"email": ["a@example.com"], "password": "x"},
    {"email": 42, "password": 42}, {"email": None, "password": {"a": 1}}, {"email": True, "password": None},
])
def test_token_exchange_with_non_text_credentials_is_422_and_issues_no_token(app, body):
    """Was a 401 from the service (it read anything but text as ""); since issue 20 the route's schema refuses a
    wrong JSON type up front, as on every converted route: a 422 naming the field, never a 500, no token."""
    from marketplace.kernel.models import ApiToken

    response = app.test_client().post("/api/v1/auth/token", json=body)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and set(error["fields"]) & {"email", "password"}
    assert db.session.query(ApiToken).count() == 0


def test_sign_in_page_with_odd_fields_is_not_a_500(app):
    client = app.test_client()
    response = client.post("/login", data={"email": ["a", "b"], "password": ""})
    assert response.status_code == 200 and 'name="password"' in response.get_data(as_text=True)  # the form again
    with client.session_transaction() as sess:
        assert "_user_id" not in sess  # nobody signed in


@pytest.mark.parametrize("body,field", [
    ({"email": [None, None], "name": "", "password": "long-enough-password", "roles": []}, "email"),
    ({"email": "a@example.com", "name": ["x"], "password": "long-enough-password", "roles": ["buyer"]}, "name"),
    ({"email": "a@example.com", "name": "x", "password": 1234567890123, "roles": ["buyer"]}, "password"),
    ({"email": "a@example.com", "name": "x", "password": "long-enough-password", "roles": 7}, "roles"),
    ({"email": "a@example.com", "name": "x", "password": "long-enough-password", "roles": ["seller"],
      "organization": {"name": ["x"], "uscc": 5, "region": {}}}, "organization.name"),
])
def test_registration_with_non_text_fields_is_422_naming_the_field(app, body, field):
    response = app.test_client().post("/api/v1/auth/register", json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("kind,path,kwargs,field", [
    ("json", "/api/v1/saved-searches", {"json": {"q": "a\u0000b", "filters": {}}}, "q"),
    ("json", "/api/v1/auth/register", {"json": {"email": "x\u0000@example.com", "password": "long-enough-pass",
                                                 "name": "n", "roles": ["buyer"]}}, "email"),
    ("json", "/api/v1/auth/token", {"json": {"email": "x@example.com", "password": "p\u0000"}}, "password"),
    ("json-key", "/api/v1/saved-searches", {"json": {"q": "x", "filters": {"kind\u0000": "patent"}}}, "filters.kind"),
    ("form", "/register", {"data": {"email": "y@example.com", "password": "long-enough-pass", "name": "n\x00"}},
     "name"),
])
def test_nul_characters_in_a_request_body_are_a_422(app, kind, path, kwargs, field):
    """PostgreSQL refuses NUL in text: it was a 500 at the INSERT; now every body is checked up front."""
    from marketplace.kernel.models import User

    user = factories.make_user("buyer")
    headers = factories.auth_header(user)
    db.session.commit()
    users = db.session.query(User).count()
    response = app.test_client().post(path, headers=headers, **kwargs)
    assert response.status_code == 422, (kind, response.status_code)
    if path.startswith("/api/"):
        assert field in response.get_json()["error"]["fields"]
    db.session.rollback()
    assert db.session.query(User).count() == users


def test_nul_characters_in_query_strings_never_fail(app):
    operator = factories.make_user("operator")
    db.session.commit()
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = operator.get_id()
        sess["_fresh"] = True
    for path in ("/api/v1/search?q=%E7%94%B5%00", "/search?q=a%00b", "/operator/accounts?q=a%00b",
                 "/operator/credit?appeal=%00", "/notifications?unread=%00", "/api/v1/notifications?page=%00"):
        response = client.get(path, headers=factories.auth_header(operator))
        db.session.commit()
        assert response.status_code < 500, (path, response.status_code)

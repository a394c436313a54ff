"""The account API: register, token, me, revoke; the error shape everywhere under /api/."""
import pytest

from marketplace.kernel.extensions import db
from marketplace.kernel.models import ApiToken, User
from tests.factories import PASSWORD, make_user

BODY = {"email": "li@example.com", "password": "a-long-password", "name": "李工", "roles": ["seller", "buyer"], "accept_terms": True,
        "organization": {"name": "广州知识产权服务有限公司", "uscc": "91440300MA5F7YRE78", "region": "guangzhou"}}


def test_register_returns_user_and_working_token(client):
    r = client.post("/api/v1/auth/register", json=BODY)
    assert r.status_code == 201
    data = r.get_json()
    assert data["user"]["roles"] == ["seller", "buyer"]
    assert data["user"]["organization"]["uscc"] == "91440300MA5F7YRE78"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {data['token']}"})
    assert me.status_code == 200 and me.get_json()["user"]["email"] == "li@example.com"


def test_register_errors_name_the_fields_and_store_nothing(client):
    bad = {**BODY, "password": "short", "organization": {**BODY["organization"], "uscc": "91440300MA5F7YRE77"}}
    r = client.post("/api/v1/auth/register", json=bad)
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["code"] == "validation_error"
    assert "password" in err["fields"] and "organization.uscc" in err["fields"]
    assert "应为 8" in err["fields"]["organization.uscc"]
    assert db.session.query(User).count() == 0


def test_register_missing_fields(client):
    r = client.post("/api/v1/auth/register", json={})
    assert r.status_code == 422
    assert {"email", "password", "name", "roles"} <= set(r.get_json()["error"]["fields"])


def test_register_not_json(client):
    r = client.post("/api/v1/auth/register", data="nope", content_type="text/plain")
    assert r.status_code == 422 and r.get_json()["error"]["fields"]["body"]


def test_token_flow_and_revocation(client):
    make_user("buyer", email="li@example.com")
    db.session.commit()
    r = client.post("/api/v1/auth/token", json={"email": "li@example.com", "password": PASSWORD})
    token = r.get_json()["token"]
    assert db.session.query(ApiToken).filter_by(token_hash=token).count() == 0  # only the hash is stored
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/revoke", headers=headers).get_json() == {"revoked": True}
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_token_wrong_password_is_401_without_hint(client):
    make_user("buyer", email="li@example.com")
    db.session.commit()
    a = client.post("/api/v1/auth/token", json={"email": "li@example.com", "password": "wrong-password"})
    b = client.post("/api/v1/auth/token", json={"email": "no@example.com", "password": "wrong-password"})
    assert a.status_code == b.status_code == 401
    assert a.get_json() == b.get_json()


def test_me_without_token_is_401_in_error_shape(client):
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401
    assert r.get_json()["error"]["code"] == "unauthenticated"


def test_api_404_and_405_use_the_error_shape(client):
    r = client.get("/api/v1/no-such-route")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    r = client.get("/api/v1/auth/token")
    assert r.status_code == 405 and r.get_json()["error"]["code"] == "method_not_allowed"


def test_api_500_uses_the_error_shape(app, client):
    @app.get("/api/v1/_boom")
    def boom():
        raise RuntimeError("boom")

    r = client.get("/api/v1/_boom")
    assert r.status_code == 500
    assert r.get_json()["error"]["code"] == "internal_error"
    assert "boom" not in r.get_data(as_text=True)


def test_register_records_consent(client):
    from marketplace.kernel.legal import TERMS_VERSION

    assert client.post("/api/v1/auth/register", json=BODY).status_code == 201
    user = db.session.query(User).filter_by(email="li@example.com").one()
    assert user.terms_version == TERMS_VERSION and user.terms_accepted_at is not None


@pytest.mark.parametrize("answer", [None, False, "yes", 1, "true"])
def test_register_without_consent_is_422_and_stores_nothing(client, answer):
    body = {k: v for k, v in BODY.items()}
    if answer is None:
        body.pop("accept_terms")
    else:
        body["accept_terms"] = answer
    r = client.post("/api/v1/auth/register", json=body)
    assert r.status_code == 422 and "accept_terms" in r.get_json()["error"]["fields"]
    assert db.session.query(User).count() == 0


# --- issue 20: the sign-up's and the token's schemas (marketplace/web/account_schemas.py) -----------------

@pytest.mark.parametrize("change,field", [
    ({"roles": "buyer"}, "roles"),  # a list, as documented (a bare string was read as one role before issue 20)
    ({"roles": ["operator"]}, "roles"),  # operators are never self-registered
    ({"nickname": "李"}, "nickname"),  # an unknown key
    ({"organization": {"name": "广州知识产权服务有限公司", "uscc": "91440300MA5F7YRE78", "region": "paris"}},
     "organization.region"),
    ({"organization": {"name": "广州知识产权服务有限公司", "uscc": "91440300MA5F7YRE78", "phone": "1"}},
     "organization.phone"),
    ({"email": "li@example"}, "email"),
    ({"name": "李" * 101}, "name"),
])
def test_a_sign_up_the_schema_refuses_creates_nothing(client, change, field):
    r = client.post("/api/v1/auth/register", json={**BODY, **change})
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    assert field in error["fields"] and error["message"] == "注册信息有误，请检查标注的字段"
    assert db.session.query(User).count() == 0
    assert client.post("/api/v1/auth/register", json=BODY).status_code == 201
    assert db.session.query(User).count() == 1


def test_a_sign_up_without_an_organisation_region_is_in_other(client):
    body = {**BODY, "organization": {"name": "广州知识产权服务有限公司", "uscc": "91440300MA5F7YRE78", "region": None}}
    r = client.post("/api/v1/auth/register", json=body)
    assert r.status_code == 201 and r.get_json()["user"]["organization"]["region"] == "other"


def test_a_token_request_with_an_unknown_key_issues_nothing(client):
    make_user("buyer", email="li@example.com")
    db.session.commit()
    r = client.post("/api/v1/auth/token", json={"email": "li@example.com", "password": PASSWORD, "remember": True})
    assert r.status_code == 422 and "remember" in r.get_json()["error"]["fields"]
    assert db.session.query(ApiToken).count() == 0
    r = client.post("/api/v1/auth/token", json={"email": " LI@example.com ", "password": PASSWORD})
    assert r.status_code == 200 and db.session.query(ApiToken).count() == 1


def test_a_password_over_the_bound_is_refused_before_any_hash_and_stores_nothing(app, client, monkeypatch):
    from marketplace.kernel import accounts
    from marketplace.kernel.models import User as UserModel

    hashed = []
    monkeypatch.setattr(UserModel, "check_password", lambda self, pw: hashed.append(pw) or False)
    make_user("buyer", email="li@example.com")
    db.session.commit()
    long = "x" * (accounts.MAX_PASSWORD + 1)
    r = client.post("/api/v1/auth/register", json={**BODY, "email": "new@example.com", "password": long})
    assert r.status_code == 422 and "200" in r.get_json()["error"]["fields"]["password"]
    assert db.session.query(User).filter_by(email="new@example.com").count() == 0
    r = client.post("/api/v1/auth/token", json={"email": "li@example.com", "password": long})
    assert r.status_code == 422 and "password" in r.get_json()["error"]["fields"] and hashed == []
    assert db.session.query(ApiToken).count() == 0
    at_bound = client.post("/api/v1/auth/register",
                           json={**BODY, "email": "new@example.com", "password": "y" * accounts.MAX_PASSWORD})
    assert at_bound.status_code == 201

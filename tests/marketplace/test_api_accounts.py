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

"""Registration, sign-in and passwords through the HTML pages."""
import pytest

from marketplace.kernel.extensions import db
from marketplace.kernel.models import Organization, User
from tests.factories import PASSWORD, make_user

VALID = {
    "email": "chen@example.com", "password": "a-long-password", "name": "陈经理", "roles": ["seller"],
    "org_name": "深圳市星河科技有限公司", "org_uscc": "91440300MA5F7YRE78", "org_region": "shenzhen",
    "accept_terms": "y",
}


def _count():
    return db.session.query(User).count(), db.session.query(Organization).count()


def test_register_seller_with_organisation_signs_in(client):
    r = client.post("/register", data=VALID)
    assert r.status_code == 302
    user = db.session.query(User).filter_by(email="chen@example.com").one()
    assert user.roles == ["seller"]
    assert user.organization.uscc == "91440300MA5F7YRE78"
    assert user.organization.region == "shenzhen"
    assert user.organization.verified is False
    assert user.password_hash.startswith("scrypt:")
    page = client.get("/").get_data(as_text=True)
    assert "陈经理" in page  # signed in


@pytest.mark.parametrize("field,value,message", [
    ("org_uscc", "91440300MA5F7YRE77", "校验位错误：应为 8"),
    ("org_uscc", "91440300MA5F7YRE7", "应为18位"),
    ("org_uscc", "91440300MA5F7YRI78", "不允许的字符"),
    ("password", "short", "至少 10 个字符"),
    ("email", "not-an-email", "邮箱格式不正确"),
    ("name", "", "必填"),
])
def test_register_refuses_bad_field_and_stores_nothing(client, field, value, message):
    before = _count()
    r = client.post("/register", data={**VALID, field: value})
    assert r.status_code == 200
    assert message in r.get_data(as_text=True)
    assert _count() == before


def test_register_refuses_duplicate_email(client):
    make_user("buyer", email="chen@example.com")
    db.session.commit()
    before = _count()
    r = client.post("/register", data=VALID)
    assert "该邮箱已注册" in r.get_data(as_text=True)
    assert _count() == before


def test_a_seller_without_an_organisation_is_a_natural_person_buyer_too(client):
    # Issue 13: natural persons may sell; an organisation is optional for sellers as for buyers.
    r = client.post("/register", data={**VALID, "org_name": "", "org_uscc": ""})
    assert r.status_code == 302
    user = db.session.query(User).filter_by(email="chen@example.com").one()
    assert user.organization is None and user.has_role("seller")
    r = client.post("/register", data={**VALID, "email": "li@example.com", "roles": ["buyer"], "org_name": "",
                                       "org_uscc": ""})
    assert r.status_code == 302
    assert db.session.query(User).filter_by(email="li@example.com").one().organization is None


def test_half_an_organisation_is_refused(client):
    before = _count()
    r = client.post("/register", data={**VALID, "org_name": "", "org_uscc": "91440300MA5F7YRE78"})
    assert r.status_code == 200 and "必填" in r.get_data(as_text=True)
    assert _count() == before


def test_operator_role_cannot_be_self_registered(client):
    before = _count()
    r = client.post("/register", data={**VALID, "roles": ["operator"]})
    assert r.status_code == 200
    assert _count() == before


def test_login_wrong_password_and_unknown_email_say_the_same(client):
    make_user("buyer", email="wang@example.com")
    db.session.commit()
    a = client.post("/login", data={"email": "wang@example.com", "password": "wrong-password"})
    b = client.post("/login", data={"email": "nobody@example.com", "password": "wrong-password"})
    assert "邮箱或密码不正确" in a.get_data(as_text=True)
    assert "邮箱或密码不正确" in b.get_data(as_text=True)


def test_login_then_logout(client):
    make_user("buyer", email="wang@example.com", name="王采购")
    db.session.commit()
    r = client.post("/login", data={"email": "WANG@example.com", "password": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert "王采购" in client.get("/").get_data(as_text=True)
    client.post("/logout")
    assert "王采购" not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("target,expected", [
    ("/search?q=电池", "/search?q=%E7%94%B5%E6%B1%A0"),
    ("/listings/3", "/listings/3"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
])
def test_login_next_only_redirects_to_a_local_path(client, target, expected):
    make_user("buyer", email="wang@example.com")
    db.session.commit()
    r = client.post("/login", query_string={"next": target},
                    data={"email": "wang@example.com", "password": PASSWORD})
    assert r.status_code == 302
    assert r.headers["Location"] == expected


def test_change_password(client, as_user):
    user = make_user("buyer")
    db.session.commit()
    as_user(user)
    r = client.post("/account/password", data={"current_password": "nope-nope-nope", "new_password": "new-password-1"})
    assert "当前密码不正确" in r.get_data(as_text=True)
    r = client.post("/account/password", data={"current_password": PASSWORD, "new_password": "short"})
    assert "至少 10 个字符" in r.get_data(as_text=True)
    r = client.post("/account/password", data={"current_password": PASSWORD, "new_password": "new-password-1"})
    assert r.status_code == 302
    db.session.refresh(user)
    assert user.check_password("new-password-1")


def test_session_cookie_flags(client):
    make_user("buyer", email="wang@example.com")
    db.session.commit()
    r = client.post("/login", data={"email": "wang@example.com", "password": PASSWORD})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_cli_creates_operator(runner):
    result = runner.invoke(args=["users", "create", "--email", "op@example.com", "--password", "operator-pass-1",
                                 "--name", "运营", "--role", "operator"])
    assert result.exit_code == 0, result.output
    assert db.session.query(User).filter_by(email="op@example.com").one().roles == ["operator"]


def test_cli_refuses_bad_uscc(runner):
    result = runner.invoke(args=["users", "create", "--email", "s@example.com", "--password", "seller-pass-1",
                                 "--name", "卖家", "--role", "seller", "--org-name", "某公司",
                                 "--uscc", "91440300MA5F7YRE77"])
    assert result.exit_code != 0
    assert "校验位错误" in result.output
    assert db.session.query(User).count() == 0


def test_registration_records_the_version_of_the_terms_agreed_to(client):
    from marketplace.kernel.legal import TERMS_VERSION

    assert client.post("/register", data=VALID).status_code == 302
    user = db.session.query(User).filter_by(email="chen@example.com").one()
    assert user.terms_version == TERMS_VERSION and user.terms_accepted_at is not None


def test_registration_without_consent_is_refused_and_creates_nothing(client):
    data = {k: v for k, v in VALID.items() if k != "accept_terms"}
    r = client.post("/register", data=data)
    assert r.status_code == 200
    assert "请阅读并同意《用户协议》和《隐私政策》" in r.get_data(as_text=True)
    assert _count() == (0, 0)


def test_the_register_page_links_the_terms_and_privacy_policy(client):
    page = client.get("/register").get_data(as_text=True)
    assert 'href="/terms"' in page and 'href="/privacy-policy"' in page and 'name="accept_terms"' in page


def test_the_forms_refuse_a_password_over_the_bound_and_change_nothing(client, as_user):
    from marketplace.kernel.accounts import MAX_PASSWORD

    user = make_user("buyer", email="zhao@example.com")
    db.session.commit()
    long = "x" * (MAX_PASSWORD + 1)
    page = client.post("/login", data={"email": "zhao@example.com", "password": long})
    assert page.status_code != 302 and "200" in page.get_data(as_text=True)
    as_user(user)
    old_hash = user.password_hash
    page = client.post("/account/password", data={"current_password": PASSWORD, "new_password": long})
    assert page.status_code != 302 and "200" in page.get_data(as_text=True)
    db.session.refresh(user)
    assert user.password_hash == old_hash

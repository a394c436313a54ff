"""Password reset by e-mail (marketplace.kernel.password_reset): a signed, expiring, single-use link, mailed after the
commit; the page never tells whether an address is registered; a reset ends every session and API token."""
import re

import pytest

from marketplace.kernel import password_reset
from marketplace.kernel.extensions import db
from marketplace.kernel.models import ApiToken
from tests.factories import PASSWORD, make_user

NEW_PASSWORD = "a-brand-new-password"


@pytest.fixture
def app_config():
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": 2525}


@pytest.fixture
def user(app):
    user = make_user("buyer")
    db.session.commit()
    return user


def _link(msg):
    body = msg.get_content()
    match = re.search(r"https?://\S+/password/reset/(\S+)", body)
    assert match, body
    return match.group(1)


def _signed_in(client):
    return client.get("/account/password").status_code == 200


def test_a_registered_address_gets_a_link_and_the_page_says_the_same_as_for_an_unknown_one(client, user, outbox):
    known = client.post("/password/forgot", data={"email": user.email.upper()})
    assert len(outbox) == 1 and outbox[0]["To"] == user.email
    unknown = client.post("/password/forgot", data={"email": "nobody@example.com"})
    assert len(outbox) == 1, "no mail for an address nobody registered"
    assert known.status_code == unknown.status_code == 200
    assert "如果该邮箱已在知产超市注册" in known.get_data(as_text=True)
    assert known.get_data(as_text=True).split("<main")[1] == unknown.get_data(as_text=True).split("<main")[1]


def test_the_link_sets_a_new_password_and_ends_every_session_and_token(app, client, user, outbox):
    phone = app.test_client()
    assert phone.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    assert _signed_in(phone)
    token_row, _ = ApiToken.issue(user)
    db.session.commit()
    client.post("/password/forgot", data={"email": user.email})
    token = _link(outbox[0])
    assert client.get(f"/password/reset/{token}").status_code == 200
    r = client.post(f"/password/reset/{token}", data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].endswith("/")
    db.session.refresh(user)
    assert user.check_password(NEW_PASSWORD)
    assert _signed_in(client), "the browser that used the link is signed in"
    assert not _signed_in(phone), "the other browser is signed out"
    db.session.refresh(token_row)
    assert token_row.revoked_at is not None
    assert client.post("/login", data={"email": user.email, "password": NEW_PASSWORD}).status_code == 302


def test_the_link_works_once(client, user, outbox):
    client.post("/password/forgot", data={"email": user.email})
    token = _link(outbox[0])
    client.post(f"/password/reset/{token}", data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    again = client.post(f"/password/reset/{token}", data={"new_password": "yet-another-password",
                                                           "confirm_password": "yet-another-password"})
    assert again.status_code == 400 and "链接无效或已过期" in again.get_data(as_text=True)
    db.session.refresh(user)
    assert user.check_password(NEW_PASSWORD)


def test_a_password_change_by_other_means_voids_an_older_link(client, user, outbox, as_user):
    client.post("/password/forgot", data={"email": user.email})
    token = _link(outbox[0])
    as_user(user)
    client.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    r = client.get(f"/password/reset/{token}")
    assert r.status_code == 400


def test_the_link_expires(client, user, outbox, app, monkeypatch):
    import time

    from itsdangerous import TimestampSigner

    client.post("/password/forgot", data={"email": user.email})
    token = _link(outbox[0])
    later = int(time.time()) + app.config["PASSWORD_RESET_MINUTES"] * 60 + 5
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    r = client.post(f"/password/reset/{token}", data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert r.status_code == 400 and "链接无效或已过期" in r.get_data(as_text=True)
    db.session.refresh(user)
    assert user.check_password(PASSWORD)


def test_the_link_still_works_just_before_it_expires(client, user, outbox, app, monkeypatch):
    import time

    from itsdangerous import TimestampSigner

    client.post("/password/forgot", data={"email": user.email})
    token = _link(outbox[0])
    later = int(time.time()) + app.config["PASSWORD_RESET_MINUTES"] * 60 - 30
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    assert client.get(f"/password/reset/{token}").status_code == 200


@pytest.mark.parametrize("token", ["garbage", "x" * 600, "eyJ1IjoxfQ.AAAA.BBBB"])
def test_a_forged_or_malformed_link_is_refused(client, user, token):
    r = client.post(f"/password/reset/{token}", data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert r.status_code == 400
    db.session.refresh(user)
    assert user.check_password(PASSWORD)


def test_a_link_signed_for_another_purpose_is_refused(client, user, app):
    from itsdangerous import URLSafeTimedSerializer

    other = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="something-else")
    token = other.dumps({"u": user.id, "p": password_reset._fingerprint(user)})
    assert client.get(f"/password/reset/{token}").status_code == 400


@pytest.mark.parametrize("new,confirm,message", [
    ("short", "short", "密码至少 10 个字符"),
    (NEW_PASSWORD, NEW_PASSWORD + "x", "两次输入的密码不一致"),
    ("", "", "必填"),
])
def test_a_bad_new_password_is_refused_and_the_link_still_works(client, user, outbox, new, confirm, message):
    client.post("/password/forgot", data={"email": user.email})
    token = _link(outbox[0])
    session_token = user.session_token
    r = client.post(f"/password/reset/{token}", data={"new_password": new, "confirm_password": confirm})
    assert r.status_code == 200 and message in r.get_data(as_text=True)
    db.session.refresh(user)
    assert user.check_password(PASSWORD) and user.session_token == session_token
    assert client.get(f"/password/reset/{token}").status_code == 200


def test_no_link_for_a_deleted_or_deactivated_account(client, user, outbox):
    user.active = False
    db.session.commit()
    r = client.post("/password/forgot", data={"email": user.email})
    assert r.status_code == 200 and outbox == []


def test_a_link_for_a_deactivated_account_stops_working(client, user, outbox):
    client.post("/password/forgot", data={"email": user.email})
    token = _link(outbox[0])
    user.active = False
    db.session.commit()
    assert client.get(f"/password/reset/{token}").status_code == 400


def test_the_mail_goes_out_only_after_the_commit(app, user, outbox):
    with app.test_request_context():
        password_reset.request_reset(user.email)
        assert outbox == []
        db.session.rollback()
    assert outbox == [], "a rolled-back request sends nothing"
    with app.test_request_context():
        password_reset.request_reset(user.email)
        db.session.commit()
    assert len(outbox) == 1


def test_no_in_app_notification_carries_the_link(client, user, outbox):
    from marketplace.kernel.models import Notification

    client.post("/password/forgot", data={"email": user.email})
    assert db.session.query(Notification).count() == 0


def test_the_login_page_links_to_the_reset(client):
    assert "/password/forgot" in client.get("/login").get_data(as_text=True)


def test_the_reset_page_sends_no_referrer(client, user, outbox):
    client.post("/password/forgot", data={"email": user.email})
    r = client.get(f"/password/reset/{_link(outbox[0])}")
    assert r.headers["Referrer-Policy"] == "no-referrer"


def test_an_overlong_address_is_refused(client, outbox):
    r = client.post("/password/forgot", data={"email": "a" * 300 + "@example.com"})
    assert r.status_code == 200 and "发送重置链接" in r.get_data(as_text=True), "the form again, with its error"
    assert outbox == []

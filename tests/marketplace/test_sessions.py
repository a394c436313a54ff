"""Sessions end when they should: a password change or a sign-out ends every web session and
remember-me cookie of that user (Flask-Login's alternative id, ``users.session_token``)."""
import pytest

from marketplace.kernel.extensions import db
from tests.factories import PASSWORD, make_user

NEW_PASSWORD = "a-brand-new-password"


def _signed_in(client):
    """True when ``client`` is signed in: the password page is shown, not a redirect to sign-in."""
    return client.get("/account/password").status_code == 200


def _sign_in(app, user, remember=False):
    client = app.test_client()
    data = {"email": user.email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    assert client.post("/login", data=data).status_code == 302
    assert _signed_in(client)
    return client


def _remember_cookie_only(app, client):
    """A new browser holding only ``client``'s remember-me cookie (its session has expired)."""
    cookie = client.get_cookie("remember_token")
    assert cookie is not None
    fresh = app.test_client()
    fresh.set_cookie("remember_token", cookie.value)
    return fresh


@pytest.fixture
def user(app):
    user = make_user("buyer")
    db.session.commit()
    return user


def test_a_remember_cookie_alone_signs_in_until_the_sessions_end(app, user):
    laptop = _sign_in(app, user, remember=True)
    assert _signed_in(_remember_cookie_only(app, laptop))


def test_changing_the_password_signs_out_every_other_browser(app, user):
    laptop = _sign_in(app, user)
    phone = _sign_in(app, user, remember=True)
    remembered = phone.get_cookie("remember_token").value
    r = laptop.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 302
    assert _signed_in(laptop), "the browser that changed the password stays signed in"
    assert not _signed_in(phone)
    stale = app.test_client()
    stale.set_cookie("remember_token", remembered)
    assert not _signed_in(stale), "the remember-me cookie from before the change no longer works"


def test_the_browser_that_changed_the_password_keeps_a_working_remember_cookie(app, user):
    laptop = _sign_in(app, user, remember=True)
    laptop.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert _signed_in(_remember_cookie_only(app, laptop))


def test_a_refused_password_change_ends_no_session(app, user):
    token = user.session_token
    laptop = _sign_in(app, user)
    phone = _sign_in(app, user, remember=True)
    r = laptop.post("/account/password", data={"current_password": "not-the-password", "new_password": NEW_PASSWORD})
    assert r.status_code == 200 and "当前密码不正确" in r.get_data(as_text=True)
    db.session.refresh(user)
    assert user.session_token == token and user.check_password(PASSWORD)
    assert _signed_in(phone) and _signed_in(_remember_cookie_only(app, phone))


def test_signing_out_signs_out_every_browser(app, user):
    laptop = _sign_in(app, user)
    phone = _sign_in(app, user, remember=True)
    remembered = phone.get_cookie("remember_token").value
    assert laptop.post("/logout").status_code == 302
    assert not _signed_in(laptop)
    assert not _signed_in(phone)
    stale = app.test_client()
    stale.set_cookie("remember_token", remembered)
    assert not _signed_in(stale)
    assert _signed_in(_sign_in(app, user)), "signing in again works"


def test_signing_out_of_one_user_leaves_other_users_signed_in(app, user):
    other = make_user("buyer")
    db.session.commit()
    mine, theirs = _sign_in(app, user), _sign_in(app, other)
    mine.post("/logout")
    assert _signed_in(theirs)


def test_changing_the_password_also_ends_api_tokens_but_signing_out_does_not(app, user):
    r = app.test_client().post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD})
    token = {"Authorization": f"Bearer {r.get_json()['token']}"}
    browser = _sign_in(app, user)
    browser.post("/logout")
    me = app.test_client().get("/api/v1/me", headers=token)
    assert me.status_code == 200 and me.get_json()["user"]["email"] == user.email, me.get_json()
    browser = _sign_in(app, user)
    browser.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    gone = app.test_client().get("/api/v1/me", headers=token)
    assert gone.status_code == 401 and user.email not in gone.get_data(as_text=True)


@pytest.mark.parametrize("value", ["{id}", "{id}:", "{id}:wrong-token", "x:{token}", "²:{token}", "99999999999:{token}", ""])
def test_a_session_naming_a_bare_id_or_a_wrong_token_is_signed_out(app, user, value):
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = value.format(id=user.id, token=user.session_token)
        sess["_fresh"] = True
    assert not _signed_in(client)


def test_the_session_and_cookie_hold_the_id_and_the_token(app, user):
    assert user.get_id() == f"{user.id}:{user.session_token}"
    assert len(user.session_token) >= 40
    assert make_user("buyer").session_token != user.session_token

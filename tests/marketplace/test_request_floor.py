"""What every request pays before its view runs was cut (issue 19, docs/performance.md "Pages"); these are the
rules those cuts must keep: the templates' ``_()`` follows the request's language and ``force_locale``; a body
with a NUL is still refused; CSRF still guards every unsafe method and never a safe one; a route's own rate
limit still applies; an anonymous page sets no cookie and a sign-in still does."""
import pytest
from flask import render_template_string
from flask_babel import force_locale

from tests import factories
from tests.conftest import login


def test_template_translations_follow_the_request_language_and_force_locale(app):
    template = "{{ _('交易') }}"
    with app.app_context(), app.test_request_context("/?lang=en"):  # each request in a context of its own
        app.preprocess_request()
        assert render_template_string(template) == "Deal"
        with force_locale("zh_CN"):
            assert render_template_string(template) == "交易"
        assert render_template_string(template) == "Deal"
    with app.app_context(), app.test_request_context("/"):
        app.preprocess_request()
        assert render_template_string(template) == "交易"


def test_a_body_holding_nul_is_still_refused_and_a_plain_get_is_not_read(client):
    refused = client.post("/api/v1/listings", json={"title": "a\x00b"})
    assert refused.status_code == 422
    assert "title" in refused.get_json()["error"]["fields"]
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_csrf_guards_unsafe_methods_only(app, client, seller):
    login(client, seller)  # signs in with the form's token
    assert client.get("/").status_code == 200
    refused = client.post("/logout")
    assert refused.status_code == 400  # no token: refused before the view
    assert client.get("/deals").status_code == 200  # still signed in: nothing happened


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
                                         "RATELIMIT_LOGIN": "2/minute"}])
def test_a_routes_own_limit_still_applies(client):
    statuses = [client.post("/login", data={"email": "x@example.com", "password": "wrong"}).status_code
                for _ in range(3)]
    assert statuses[:2] != [429, 429] and statuses[2] == 429


def test_an_anonymous_page_sets_no_cookie_and_signing_in_does(client, seller):
    assert "Set-Cookie" not in client.get("/").headers
    assert "Cookie" in client.get("/").headers.get("Vary", "")
    assert client.get("/deals").status_code == 302  # not signed in
    signed_in = client.post("/login", data={"email": seller.email, "password": factories.PASSWORD})
    assert signed_in.status_code == 302 and "session=" in signed_in.headers.get("Set-Cookie", "")
    assert client.get("/deals").status_code == 200


def test_template_translations_escape_their_values_as_before(app):
    with app.test_request_context("/"):
        app.preprocess_request()
        html = render_template_string("{{ _('请在 %(when)s 前付款，逾期交易自动取消。', when='<b>x</b>') }}")
        assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>" not in html
        assert render_template_string("{{ _('100%%') }}") == "100%"

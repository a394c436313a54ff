"""Open redirects, session cookie flags, security headers, and a CSP the pages actually work under."""
import re
from urllib.parse import urlsplit

import pytest

from marketplace.kernel.extensions import db
from tests.factories import PASSWORD

from .conftest import World

EVIL = [
    "//evil.example/", "https://evil.example/", "http:evil.example", "http:/evil.example", "/\\evil.example",
    "\\\\evil.example", "\\/evil.example", "/\t/evil.example", " //evil.example", "///evil.example",
    "javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "http://localhost@evil.example/",
    "https:///evil.example", "/%09/evil.example", "%2F%2Fevil.example", "\n//evil.example", "ftp://evil.example",
]


def _is_local(location):
    parts = urlsplit(location)
    return (parts.netloc in ("", "localhost") and parts.scheme in ("", "http")
            and not location.startswith(("//", "/\\", "\\")) and "evil" not in parts.netloc)


def _signed_in(app, user):
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True
    return client


@pytest.mark.parametrize("target", EVIL)
def test_login_never_redirects_off_site(app, target):
    world = World()
    response = app.test_client().post("/login", query_string={"next": target},
                                      data={"email": world.buyer.email, "password": PASSWORD})
    assert response.status_code == 302
    assert _is_local(response.headers["Location"]), response.headers["Location"]


def test_login_keeps_a_local_next(app):
    world = World()
    response = app.test_client().post("/login", query_string={"next": "/deals?x=1"},
                                      data={"email": world.buyer.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/deals?x=1")


@pytest.mark.parametrize("target", EVIL)
def test_language_switch_never_redirects_off_site(app, target):
    response = app.test_client().get("/lang/en", query_string={"next": target})
    assert response.status_code == 302 and _is_local(response.headers["Location"]), response.headers["Location"]


def test_notification_links_and_next_never_leave_the_site(app):
    world = World()
    client = _signed_in(app, world.buyer)
    for target in EVIL:
        note = world.notification(link=target)
        followed = client.post(f"/notifications/{note.id}/read", data={"follow": "1", "next": target})
        assert followed.status_code == 302 and _is_local(followed.headers["Location"]), (target, followed.headers)


def test_offer_answers_never_redirect_off_site(app):
    world = World()
    client = _signed_in(app, world.seller)
    for target in EVIL[:6]:
        offer = world.offer()
        response = client.post(f"/offers/{offer.id}/decline", data={"next": target})
        assert response.status_code == 302 and _is_local(response.headers["Location"]), (target, response.headers)


def test_deal_actions_return_only_to_known_pages(app):
    world = World()
    deal = world.deal()
    client = _signed_in(app, world.buyer)
    response = client.post(f"/deals/{deal.id}/cancel", data={"next": "//evil.example/"})
    assert response.status_code == 302 and _is_local(response.headers["Location"])


def test_anonymous_is_sent_to_sign_in_with_a_local_next(app):
    response = app.test_client().get("/notifications")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "/login" in location and _is_local(location)


# --- cookies ----------------------------------------------------------------------------------

def _cookie_headers(response):
    return [v for k, v in response.headers.items() if k.lower() == "set-cookie"]


def _flags(header):
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}


def test_session_and_remember_cookies_are_httponly_and_samesite(app):
    world = World()
    response = app.test_client().post("/login", data={"email": world.buyer.email, "password": PASSWORD,
                                                      "remember": "y"})
    cookies = {h.split("=")[0]: h for h in _cookie_headers(response)}
    assert {"session", "remember_token"} <= set(cookies), cookies
    for name in ("session", "remember_token"):
        flags = _flags(cookies[name])
        assert "httponly" in flags, cookies[name]
        assert "samesite=lax" in cookies[name].lower().replace(" ", ""), cookies[name]


class TestBehindHttps:
    @pytest.fixture
    def app_config(self):
        return {"SESSION_COOKIE_SECURE": True, "REMEMBER_COOKIE_SECURE": True}

    def test_cookies_are_secure_and_hsts_is_sent(self, app):
        world = World()
        response = app.test_client().post("/login", base_url="https://localhost",
                                          data={"email": world.buyer.email, "password": PASSWORD, "remember": "y"})
        for header in _cookie_headers(response):
            assert "secure" in _flags(header), header
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_secure_cookie_setting_covers_the_remember_cookie(monkeypatch, tmp_path):
    """SESSION_COOKIE_SECURE=1 in the environment must make *both* login cookies Secure."""
    from marketplace.kernel.config import load_settings

    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")
    settings = load_settings(tmp_path)
    assert settings["SESSION_COOKIE_SECURE"] is True and settings["REMEMBER_COOKIE_SECURE"] is True
    monkeypatch.delenv("SESSION_COOKIE_SECURE")
    settings = load_settings(tmp_path)
    assert settings["SESSION_COOKIE_SECURE"] is False and settings["REMEMBER_COOKIE_SECURE"] is False


def test_logout_forgets_the_remember_cookie(app):
    world = World()
    client = app.test_client()
    client.post("/login", data={"email": world.buyer.email, "password": PASSWORD, "remember": "y"})
    response = client.post("/logout")
    cleared = [h for h in _cookie_headers(response) if h.startswith("remember_token=")]
    assert cleared and ("expires=thu, 01 jan 1970" in cleared[0].lower() or "max-age=0" in cleared[0].lower())
    assert client.get("/notifications").status_code == 302


# --- headers and the CSP ----------------------------------------------------------------------------

HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Referrer-Policy": "strict-origin-when-cross-origin"}


def test_security_headers_everywhere(app):
    world = World()
    deal = world.deal()
    client = _signed_in(app, world.buyer)
    for path in ("/", "/search?q=专利", f"/listings/{deal.listing_id}", f"/deals/{deal.id}", "/static/css/app.css",
                 "/api/v1/openapi.json", "/api/v1/nope", "/nope", "/healthz"):
        response = client.get(path)
        for name, value in HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
        csp = response.headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
        assert directives["style-src"] == "'self'" and directives["object-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'" and directives["base-uri"] == "'self'"
        assert directives["form-action"] == "'self'"
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp


class TestWithStripe:
    @pytest.fixture
    def app_config(self):
        return {"STRIPE_SECRET_KEY": "sk_test_csp", "STRIPE_PUBLISHABLE_KEY": "pk_test_csp"}

    def test_csp_admits_stripe_js_and_nothing_else(self, app):
        csp = app.test_client().get("/").headers["Content-Security-Policy"]
        assert "script-src 'self' https://js.stripe.com" in csp
        assert "frame-src https://js.stripe.com https://hooks.stripe.com" in csp
        assert "unsafe-inline" not in csp


def test_every_script_and_stylesheet_a_page_links_exists(app):
    """The CSP allows only 'self': so every asset must be served by the app itself, and exist."""
    world = World()
    deal = world.deal()
    auction = world.auction()
    client = _signed_in(app, world.buyer)
    assets = set()
    for path in ("/", "/search?q=专利", f"/listings/{auction.id}", f"/deals/{deal.id}", "/notifications", "/stats"):
        html = client.get(path).get_data(as_text=True)
        assets |= set(re.findall(r'<script[^>]+src="([^"]+)"', html))
        assets |= set(re.findall(r'<link[^>]+href="([^"]+\.css[^"]*)"', html))
        assets |= set(re.findall(r'<link[^>]+href="([^"]+)"[^>]+rel="stylesheet"', html))
    assert assets, "no scripts or stylesheets found"
    for asset in sorted(assets):
        assert asset.startswith("/"), f"off-site asset {asset} (the CSP would block it)"
        response = client.get(asset)
        assert response.status_code == 200, asset
        db.session.rollback()

"""CSRF, with ``WTF_CSRF_ENABLED=True``: every HTML POST without a token is refused (400) and changes
nothing; the only POSTs that need none are under ``/api/`` (bearer tokens, never the session cookie),
including the signed Stripe webhook.

The routes, the objects they act on, who may act and what would change all come from the
permission matrix (``test_permission_matrix.MATRIX``): each HTML route is called by a visitor
who is allowed to act, so a 400 is the token's doing and not a permission refusal.
"""
import re

import pytest

from marketplace.kernel.extensions import db

from .conftest import ROLES, World, client_for
from .test_permission_matrix import MATRIX, STATE_CHANGING, _path, routes_to_classify


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def _allowed_role(case):
    for role, outcome in zip(ROLES, case.expect, strict=True):
        if outcome == "done" or (isinstance(outcome, int) and (200 <= outcome < 300 or outcome == 422)):
            return role
    for role, outcome in zip(ROLES, case.expect, strict=True):
        if outcome == "page":  # a route whose act shows a page (the password-reset request: the same for all)
            return role
    raise AssertionError("no visitor may use this route")


def _html_posts(app):
    return sorted((m, e) for m, e in routes_to_classify(app)
                  if m in STATE_CHANGING and not app.url_map._rules_by_endpoint[e][0].rule.startswith("/api/"))


def test_only_api_routes_are_exempt(app):
    """Whatever is exempt from CSRF lives under /api/ (and API blueprints are all exempt)."""
    csrf = app.extensions["csrf"]
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        blueprint = rule.endpoint.rpartition(".")[0]
        exempt = (app.blueprints.get(blueprint) in csrf._exempt_blueprints
                  or f"{view.__module__}.{view.__name__}" in csrf._exempt_views)
        if rule.rule.startswith("/api/"):
            assert exempt, f"{rule.rule} is an API route but not exempt (bearer tokens need no CSRF token)"
        else:
            assert not exempt, f"{rule.rule} ({rule.endpoint}) is exempt from CSRF but is not an API route"


def test_every_html_post_without_a_token_is_refused_and_changes_nothing(app):
    failures = []
    for method, endpoint in _html_posts(app):
        case = MATRIX.get((method, endpoint))
        if case is None:
            failures.append(f"{method} {endpoint}: not classified in the permission matrix")
            continue
        world = World()
        role = _allowed_role(case)
        user = world.user(role)
        obj = case.setup(world)
        path = _path(app, method, endpoint, case.args(obj))
        before = case.probe(world, obj, user) if case.probe else None
        client, _headers = client_for(app, user, api=False)
        response = client.open(path, method=method, **case.body(world, obj, user))
        db.session.rollback()
        if response.status_code != 400:
            failures.append(f"{method} {path} as {role} without a CSRF token: {response.status_code}")
        elif "CSRF" not in response.get_data(as_text=True) and "csrf" not in response.get_data(as_text=True):
            failures.append(f"{method} {path}: 400 but not for the missing token")
        if case.probe and case.probe(world, obj, user) != before:
            failures.append(f"{method} {path} as {role} without a CSRF token changed something")
    assert not failures, "\n".join(failures)


def test_a_wrong_token_is_refused_too(app):
    world = World()
    listing = world.listing(status="draft")
    client, _ = client_for(app, world.seller, api=False)
    response = client.post(f"/listings/{listing.id}/submit", data={"csrf_token": "forged.token.value"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(type(listing), listing.id).status == "draft"


def test_a_real_token_from_the_form_is_accepted(app):
    from tests.factories import PASSWORD

    world = World()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    assert token, "the login form carries no CSRF token"
    response = client.post("/login", data={"csrf_token": token.group(1), "email": world.buyer.email,
                                           "password": PASSWORD})
    assert response.status_code == 302


def test_api_ignores_the_session_cookie(app):
    """Why the API may skip CSRF: a browser's cookie does not authenticate it, only a bearer token does."""
    world = World()
    listing = world.listing()
    client, _ = client_for(app, world.buyer, api=False)
    assert client.get("/notifications").status_code == 200  # the cookie does sign the buyer in on pages
    response = client.post(f"/api/v1/listings/{listing.id}/purchase", json={"deal_type": "assignment"})
    assert response.status_code == 401
    db.session.expire_all()
    assert db.session.get(type(listing), listing.id).status == "published"


def test_signed_webhook_needs_no_csrf_token_but_a_signature(app):
    client = app.test_client()
    response = client.post("/api/v1/webhooks/stripe", data=b'{"id": "evt_1", "type": "x"}',
                           content_type="application/json", headers={"Stripe-Signature": "t=1,v1=00"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_signature"

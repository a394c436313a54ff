"""Each request through the test client runs in an application context of its own, as under a real server
(tests/own_context.py): its own ``g`` and its own database session, never the test body's. Nothing in
production clears what an earlier request left on ``g`` any more; these tests show it need not."""
import pytest
from flask import g, request
from flask_login import current_user
from sqlalchemy import inspect

from listings.models import Listing
from marketplace.kernel.extensions import db
from marketplace.kernel.models import User
from tests import factories
from tests.conftest import login


@pytest.fixture
def seen(app):
    """``GET /_probe?listing=<id>``, a view added for these tests: it records what it saw (its session, the
    names on ``g``, the signed-in user and the listing as it loaded them) and leaves a name on ``g``."""
    seen = []

    def probe():
        user = current_user._get_current_object() if current_user.is_authenticated else None
        listing_id = request.args.get("listing", type=int)
        seen.append({"session": db.session(), "g": set(vars(g)), "user": user,
                     "user_name": user.name if user else None,
                     "listing": db.session.get(Listing, listing_id) if listing_id else None})
        g.left_by_the_view = True
        return "ok"

    app.add_url_rule("/_probe", "probe", probe)
    return seen


@pytest.fixture
def listing(seller):
    listing = factories.make_listing(seller)
    db.session.commit()
    return listing


def test_a_view_loads_its_own_objects_in_its_own_session_and_leaves_none_behind(app, client, seen, listing):
    title = listing.title  # loaded in the test's session
    assert client.get(f"/_probe?listing={listing.id}").status_code == 200
    view = seen[-1]
    assert view["session"] is not db.session()
    assert view["listing"] is not listing and view["listing"].id == listing.id and view["listing"].title == title
    # the request's session was closed with its context: what the view loaded is in no session, not the test's
    assert inspect(view["listing"]).detached
    assert view["listing"] not in db.session and listing in db.session


def test_g_is_the_requests_own(app, client, seen):
    g.left_by_the_test = True
    client.get("/_probe")
    client.get("/_probe")
    assert "left_by_the_test" not in seen[0]["g"]
    assert "left_by_the_view" not in seen[1]["g"]  # the second request does not inherit the first's g
    assert "left_by_the_view" not in g and g.left_by_the_test


def test_a_request_does_not_see_what_the_test_has_not_committed(app, client, seen, listing):
    old_title = listing.title
    listing.title = "尚未提交的标题"
    client.get(f"/_probe?listing={listing.id}")
    assert seen[-1]["listing"].title == old_title
    db.session.commit()
    client.get(f"/_probe?listing={listing.id}")
    assert seen[-1]["listing"].title == "尚未提交的标题"


def test_a_user_changed_or_signed_out_between_two_requests_is_seen_fresh(app, client, seen, buyer):
    login(client, buyer)
    client.get("/_probe")
    first = seen[-1]["user"]
    assert first.id == buyer.id and first is not buyer
    db.session.get(User, buyer.id).name = "改过名的买方"
    db.session.commit()
    client.get("/_probe")
    assert seen[-1]["user"] is not first and seen[-1]["user_name"] == "改过名的买方"
    assert client.get("/account/password").status_code == 200  # signed in
    buyer.end_sessions()  # signed out everywhere (as a password change does)
    db.session.commit()
    client.get("/_probe")
    assert seen[-1]["user"] is None
    assert client.get("/account/password").status_code == 302  # to the sign-in page

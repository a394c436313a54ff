"""Saved searches and the notifications they produce; the notifications API."""

import pytest

from marketplace.kernel.extensions import db
from marketplace.kernel.models import Notification
from marketplace.kernel.timeutil import utcnow
from search.models import SavedSearch
from tests import factories
from tests.probes import nothing_changes
from tests.search.conftest import make_search_listing


@pytest.fixture
def buyer_headers(buyer):
    headers = factories.auth_header(buyer)
    db.session.commit()
    return headers


def save(client, headers, q, filters=None):
    return client.post("/api/v1/saved-searches", json={"q": q, "filters": filters or {}}, headers=headers)


def test_save_a_search(client, buyer, buyer_headers):
    response = save(client, buyer_headers, "电池", {"kind": "patent", "grade": "A"})
    assert response.status_code == 201
    saved = response.get_json()["saved_search"]
    assert saved["q"] == "电池" and saved["filters"] == {"kind": "patent", "grade": "A"}
    again = save(client, buyer_headers, "电池", {"kind": "patent", "grade": "A"})
    assert again.get_json()["saved_search"]["id"] == saved["id"]  # identical: not saved twice
    listed = client.get("/api/v1/saved-searches", headers=buyer_headers).get_json()["saved_searches"]
    assert [s["id"] for s in listed] == [saved["id"]]


@pytest.mark.parametrize(("body", "field"), [
    ({"q": "电池", "filters": {"kind": "software"}}, "filters.kind"),
    ({"q": "电池", "filters": {"colour": "red"}}, "filters.colour"),
    ({"q": "电" * 201}, "q"),
    ({"q": "电池", "filters": ["kind"]}, "filters"),
    ({"q": 5}, "q"),
])
def test_bad_saved_search_is_422(client, buyer_headers, body, field):
    response = client.post("/api/v1/saved-searches", json=body, headers=buyer_headers)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_saving_needs_a_token(client, app):
    with nothing_changes():
        r = save(client, {}, "电池")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthenticated"


@pytest.mark.inline_jobs  # the embedded mode's split: indexed in the request, matched at the next sync
def test_matching_new_listing_notifies_the_owner_once(client, buyer, buyer_headers, runner):
    save(client, buyer_headers, "电池", {"kind": "patent"})
    seller = factories.make_user("seller")
    match = make_search_listing(seller, title="一种锂电池正极材料")
    make_search_listing(seller, title="一种图像识别方法")  # does not match the words
    make_search_listing(seller, title="电池", kind="trademark")  # does not match the filter
    db.session.commit()
    # never in the request that published the listing: `flask search sync` (cron) matches saved searches
    assert db.session.query(Notification).filter_by(user_id=buyer.id).count() == 0
    assert runner.invoke(args=["search", "sync"]).exit_code == 0

    notes = db.session.query(Notification).filter_by(user_id=buyer.id, kind="saved_search").all()
    assert len(notes) == 1
    assert notes[0].link == f"/listings/{match.id}"
    assert "一种锂电池正极材料" in notes[0].body

    # Re-applying the outbox (a second sync, another host) does not notify again; nor does an edit.
    match.description = "改进版"
    db.session.commit()
    assert runner.invoke(args=["search", "sync"]).exit_code == 0
    assert db.session.query(Notification).filter_by(user_id=buyer.id, kind="saved_search").count() == 1


def test_listing_published_after_review_notifies(client, buyer, buyer_headers, runner):
    save(client, buyer_headers, "逆变器")
    seller = factories.make_user("seller")
    listing = make_search_listing(seller, title="一种光伏逆变器", status="pending_review")
    db.session.commit()
    assert runner.invoke(args=["search", "sync"]).exit_code == 0
    assert db.session.query(Notification).filter_by(user_id=buyer.id).count() == 0
    listing.status = "published"
    listing.published_at = utcnow()
    db.session.commit()
    assert runner.invoke(args=["search", "sync"]).exit_code == 0
    assert db.session.query(Notification).filter_by(user_id=buyer.id, kind="saved_search").count() == 1


def test_listings_published_before_saving_do_not_notify(client, buyer, buyer_headers, runner):
    seller = factories.make_user("seller")
    old = make_search_listing(seller, title="一种光伏逆变器", age_days=3)
    db.session.commit()
    save(client, buyer_headers, "逆变器")
    old.description = "价格可谈"
    db.session.commit()
    assert runner.invoke(args=["search", "sync"]).exit_code == 0
    assert db.session.query(Notification).filter_by(user_id=buyer.id).count() == 0


@pytest.mark.inline_jobs  # the embedded mode's split: indexed in the request, matched at the next sync
class TestEmail:
    @pytest.fixture
    def app_config(self):
        return {"SMTP_HOST": "smtp.test", "SMTP_PORT": 2525}

    def test_email_is_sent_when_smtp_is_set(self, client, buyer, buyer_headers, outbox, runner):
        save(client, buyer_headers, "逆变器")
        make_search_listing(title="一种光伏逆变器")
        db.session.commit()
        assert outbox == [], "no mail from the request that published the listing"
        assert runner.invoke(args=["search", "sync"]).exit_code == 0
        assert outbox.connections[0] == ("smtp.test", 2525)
        assert outbox[0]["To"] == buyer.email


def test_notifications_api_newest_first_with_unread_flag(client, buyer, buyer_headers):
    from datetime import timedelta

    old = Notification(user_id=buyer.id, kind="offer", title="旧", created_at=utcnow() - timedelta(days=1),
                       read_at=utcnow())
    new = Notification(user_id=buyer.id, kind="saved_search", title="新")
    other = factories.make_user("buyer")
    db.session.add_all([old, new, Notification(user_id=other.id, kind="offer", title="别人的")])
    db.session.commit()
    body = client.get("/api/v1/notifications", headers=buyer_headers).get_json()
    assert [n["title"] for n in body["notifications"]] == ["新", "旧"]
    assert [n["unread"] for n in body["notifications"]] == [True, False]
    assert body["unread_count"] == 1 and body["total"] == 2
    unread = client.get("/api/v1/notifications?unread=1", headers=buyer_headers).get_json()
    assert [n["title"] for n in unread["notifications"]] == ["新"]
    assert client.get("/api/v1/notifications?page=0", headers=buyer_headers).status_code == 422
    assert client.get("/api/v1/notifications").status_code == 401


def test_delete_saved_search(client, buyer, buyer_headers):
    saved_id = save(client, buyer_headers, "电池").get_json()["saved_search"]["id"]
    other = factories.auth_header(factories.make_user("buyer"))
    db.session.commit()
    assert client.delete(f"/api/v1/saved-searches/{saved_id}", headers=other).status_code == 404
    assert client.delete(f"/api/v1/saved-searches/{saved_id}", headers=buyer_headers).status_code == 200
    assert db.session.get(SavedSearch, saved_id) is None


def test_a_failed_notification_is_retried_by_the_next_sync(client, buyer, buyer_headers, runner, monkeypatch):
    from search import saved

    save(client, buyer_headers, "逆变器")
    real = saved.notify_matches

    def broken(*args, **kwargs):
        raise RuntimeError("mail queue down")

    monkeypatch.setattr(saved, "notify_matches", broken)
    listing = make_search_listing(title="一种光伏逆变器")
    db.session.commit()  # never fails the user's request
    assert db.session.query(Notification).filter_by(user_id=buyer.id).count() == 0
    assert client.get("/api/v1/search?q=逆变器").get_json()["total"] == 1  # the index write itself went through
    monkeypatch.setattr(saved, "notify_matches", real)
    assert runner.invoke(args=["search", "sync"]).exit_code == 0
    note = db.session.query(Notification).filter_by(user_id=buyer.id).one()
    assert note.link == f"/listings/{listing.id}"

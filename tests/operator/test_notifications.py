"""The notification centre: list, unread count, mark one or all read (POST with CSRF)."""
import re

import pytest

from marketplace.kernel.extensions import db
from marketplace.kernel.models import Notification
from marketplace.kernel.notify import notify, unread_count
from tests.probes import nothing_changes


@pytest.fixture
def inbox(app, buyer):
    rows = [notify(buyer, "outbid", "您的出价已被超越", "当前价 ¥12万", link="/listings/7"),
            notify(buyer, "deal", "交易 #3：卖方已提交变更", link="/deals/3"),
            notify(buyer, "saved_search", "有新挂牌符合您的订阅", link="https://evil.example/")]
    db.session.commit()
    return rows


def test_unread_count_in_header_and_page(client, as_user, buyer, inbox):
    as_user(buyer)
    html = client.get("/notifications").get_data(as_text=True)
    assert 'class="badge-count"' in html and ">3</span>" in html
    for row in inbox:
        assert row.title in html
    assert "未读 3 条" in html
    assert 'href="https://evil.example/"' not in html  # links are only ever local paths


def test_mark_one_read(client, as_user, buyer, inbox):
    as_user(buyer)
    r = client.post(f"/notifications/{inbox[0].id}/read", data={"next": "/notifications?unread=1"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/notifications?unread=1")
    assert unread_count(buyer.id) == 2
    db.session.refresh(inbox[0])
    assert inbox[0].read_at is not None
    unread_page = client.get("/notifications?unread=1").get_data(as_text=True)
    assert inbox[0].title not in unread_page and inbox[1].title in unread_page
    # marking again changes nothing and does not fail
    first = inbox[0].read_at
    client.post(f"/notifications/{inbox[0].id}/read")
    db.session.refresh(inbox[0])
    assert inbox[0].read_at == first


def test_follow_marks_read_and_goes_to_the_link(client, as_user, buyer, inbox):
    as_user(buyer)
    r = client.post(f"/notifications/{inbox[1].id}/read", data={"follow": "1"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/deals/3")
    r = client.post(f"/notifications/{inbox[2].id}/read", data={"follow": "1"})
    assert "evil.example" not in r.headers["Location"]


def test_mark_all_read(client, as_user, buyer, inbox, seller):
    notify(seller, "offer", "新报价")
    db.session.commit()
    as_user(buyer)
    r = client.post("/notifications/read-all", follow_redirects=True)
    assert "已将 3 条消息标为已读" in r.get_data(as_text=True)
    assert unread_count(buyer.id) == 0
    assert unread_count(seller.id) == 1


def test_someone_elses_notification_is_404(client, as_user, seller, inbox):
    as_user(seller)
    assert client.post(f"/notifications/{inbox[0].id}/read").status_code == 404
    assert inbox[0].title not in client.get("/notifications").get_data(as_text=True)
    assert db.session.query(Notification).filter(Notification.read_at.isnot(None)).count() == 0


def test_needs_sign_in(client, buyer, inbox):
    for method in ("GET", "POST"):
        with nothing_changes():  # the notice stays unread
            r = client.open("/notifications" if method == "GET" else "/notifications/read-all", method=method)
        assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert unread_count(buyer.id) == 3


def test_pages(client, as_user, buyer):
    for i in range(25):
        notify(buyer, "deal", f"消息{i:02d}")
    db.session.commit()
    as_user(buyer)
    first = client.get("/notifications").get_data(as_text=True)
    second = client.get("/notifications?page=2").get_data(as_text=True)
    assert "消息24" in first and "消息00" not in first and "消息00" in second
    assert "第 1 / 2 页" in first


class TestCSRF:
    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_mark_read_needs_the_token(self, client, as_user, buyer, inbox):
        as_user(buyer)
        assert client.post(f"/notifications/{inbox[0].id}/read").status_code == 400
        assert client.post("/notifications/read-all").status_code == 400
        assert unread_count(buyer.id) == 3
        html = client.get("/notifications").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        r = client.post(f"/notifications/{inbox[0].id}/read", data={"csrf_token": token})
        assert r.status_code == 302
        assert unread_count(buyer.id) == 2

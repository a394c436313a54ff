"""Nothing stuck by one bad row: the outbox drain saves its position before notifying; each saved-search notice
(in-app, e-mail) is delivered on its own, retried, never blocking the others; matching runs in `search sync`,
not in the request; control characters are refused in saved searches and stripped from mail headers; saved
searches per user are capped (MAX_SAVED_SEARCHES)."""

import pytest
from sqlalchemy import func, select

from marketplace.kernel.extensions import db
from marketplace.kernel.models import Notification, OutboxEvent, User
from marketplace.kernel.notify import clean_header
from search import saved as saved_module
from search.index import current_handle
from search.models import SavedSearch, SavedSearchNotice
from search.outbox import NOTIFY_POSITION_FILE, read_position
from tests import factories
from tests.search.conftest import make_search_listing


def _sync(runner):
    result = runner.invoke(args=["search", "sync"])
    assert result.exit_code == 0, result.output
    return result


def _notes(user):
    return db.session.query(Notification).filter_by(user_id=user.id, kind="saved_search").all()


def _saved(user, q):
    """A saved search written directly (as one saved under older rules could be)."""
    row = SavedSearch(user_id=user.id, q=q, filters={})
    db.session.add(row)
    db.session.commit()
    return row


def _searchable(client, q):
    return client.get("/api/v1/search", query_string={"q": q}).get_json()["total"]


@pytest.mark.inline_jobs  # the embedded mode's split: indexed in the request, matched at the next sync
class TestMatchingIsNotInTheRequest:
    def test_publishing_indexes_at_once_and_notifies_at_the_next_sync(self, app, client, runner):
        buyer = factories.make_user("buyer")
        _saved(buyer, "逆变器")
        make_search_listing(title="一种光伏逆变器")
        db.session.commit()
        assert _searchable(client, "逆变器") == 1, "the request's own drain still indexes"
        assert _notes(buyer) == []
        assert db.session.query(SavedSearchNotice).count() == 0
        _sync(runner)
        assert len(_notes(buyer)) == 1


@pytest.mark.inline_jobs  # the embedded mode's split: indexed in the request, matched at the next sync
class TestPositionIsSavedBeforeNotifying:
    def test_failed_matching_leaves_the_index_position_moved_and_retries_the_matching(self, app, client, runner,
                                                                                       monkeypatch):
        buyer = factories.make_user("buyer")
        _saved(buyer, "逆变器")
        make_search_listing(title="一种光伏逆变器")
        db.session.commit()
        real = saved_module.notify_matches

        def broken(*args, **kwargs):
            raise RuntimeError("matching broke")

        monkeypatch.setattr(saved_module, "notify_matches", broken)
        _sync(runner)
        handle = current_handle()
        newest = db.session.scalar(select(func.max(OutboxEvent.id)))
        assert read_position(handle) == newest, "the index position moved before any notification"
        assert read_position(handle, NOTIFY_POSITION_FILE) < newest, "the matching is still to do"
        assert _notes(buyer) == []
        monkeypatch.setattr(saved_module, "notify_matches", real)
        _sync(runner)
        assert len(_notes(buyer)) == 1
        assert read_position(handle, NOTIFY_POSITION_FILE) == newest
        _sync(runner)
        assert len(_notes(buyer)) == 1, "told once"


@pytest.mark.inline_jobs  # the embedded mode's split: indexed in the request, matched at the next sync
class TestEachNoticeOnItsOwn:
    @pytest.fixture
    def app_config(self):
        return {"SMTP_HOST": "smtp.test", "NOTIFY_MAX_ATTEMPTS": 3}

    def test_a_failing_mail_is_retried_and_does_not_stop_the_others(self, app, client, runner, outbox):
        unlucky, lucky = factories.make_user("buyer"), factories.make_user("buyer")
        _saved(unlucky, "逆变器")
        _saved(lucky, "逆变器")
        outbox.failing = {unlucky.email}
        make_search_listing(title="一种光伏逆变器")
        db.session.commit()
        _sync(runner)
        assert [m["To"] for m in outbox] == [lucky.email]
        assert len(_notes(lucky)) == 1 and len(_notes(unlucky)) == 1, "the in-app notification is not held back"
        notice = db.session.query(SavedSearchNotice).join(SavedSearch).filter(SavedSearch.user_id == unlucky.id).one()
        assert notice.mailed_at is None and notice.attempts == 1
        outbox.failing = set()
        _sync(runner)
        assert [m["To"] for m in outbox] == [lucky.email, unlucky.email]
        assert len(_notes(unlucky)) == 1, "a retried mail does not repeat the in-app notification"
        _sync(runner)
        assert len(outbox) == 2, "nothing sent twice"

    def test_a_mail_that_always_fails_is_given_up_after_the_set_attempts(self, app, client, runner, outbox):
        unlucky = factories.make_user("buyer")
        _saved(unlucky, "逆变器")
        outbox.failing = {unlucky.email}
        make_search_listing(title="一种光伏逆变器")
        db.session.commit()
        for _ in range(5):
            _sync(runner)
        notice = db.session.query(SavedSearchNotice).one()
        assert notice.attempts == 3 and notice.mailed_at is None
        assert saved_module.pending_notices() == []

    def test_a_failing_in_app_notification_is_retried_without_blocking_the_next(self, app, client, runner, outbox,
                                                                                monkeypatch):
        first, second = factories.make_user("buyer"), factories.make_user("buyer")
        _saved(first, "逆变器")
        _saved(second, "逆变器")
        make_search_listing(title="一种光伏逆变器")
        db.session.commit()
        real = saved_module.notify
        calls = []

        def flaky(user_id, *args, **kwargs):
            calls.append(user_id)
            if user_id == first.id and calls.count(first.id) == 1:
                raise RuntimeError("database hiccup")
            return real(user_id, *args, **kwargs)

        monkeypatch.setattr(saved_module, "notify", flaky)
        _sync(runner)
        assert _notes(first) == [] and len(_notes(second)) == 1
        _sync(runner)
        assert len(_notes(first)) == 1 and len(_notes(second)) == 1
        assert sorted(m["To"] for m in outbox) == sorted([first.email, second.email])


class TestOneBadRowStopsNothing:
    @pytest.fixture
    def app_config(self):
        return {"SMTP_HOST": "smtp.test", "MAIL_FROM": "IP Mart <noreply@ipmart.test>\r\nBcc: spy@evil.test"}

    def test_control_characters_and_a_failing_mail_stop_neither_indexing_nor_the_others(self, app, client, runner,
                                                                                       outbox):
        hostile, bounced, fine = (factories.make_user("buyer") for _ in range(3))
        _saved(hostile, "逆变器\r\n\x1b\u202e\x07\t")  # matches; its subject must not break the mail
        _saved(fine, "逆变器")
        _saved(bounced, "逆变器")
        long_words = _saved(factories.make_user("buyer"), "逆变器 " + "光" * 190)  # a 200-character saved search
        outbox.failing = {bounced.email}
        listing = make_search_listing(title="一种光伏逆变器 " + "光" * 10)
        db.session.commit()
        _sync(runner)
        assert _searchable(client, "逆变器") == 1
        long_words_owner = db.session.get(SavedSearch, long_words.id).user_id
        to = sorted(m["To"] for m in outbox)
        assert to == sorted([hostile.email, fine.email, db.session.get(User, long_words_owner).email])
        for msg in outbox:
            for name in ("Subject", "To", "From"):
                assert "\r" not in msg[name] and "\n" not in msg[name] and "\x1b" not in msg[name], msg[name]
            assert msg["Bcc"] is None and "spy@evil.test" not in (msg["Bcc"] or "")
            raw = msg.as_string()
            assert "\nBcc:" not in raw
        assert all(len(n.title) <= 200 for n in db.session.query(Notification))
        assert {n.user_id for n in db.session.query(Notification)} >= {hostile.id, fine.id, bounced.id}
        assert all(n.link == f"/listings/{listing.id}" for n in db.session.query(Notification))

    def test_headers_are_stripped_of_control_characters(self):
        assert clean_header("电池\r\nBcc: x@y") == "电池 Bcc: x@y"
        assert clean_header("a\x00b\x1b[31m\u2028c\u202ed\x85") == "a b [31m c d"
        assert clean_header("  一种  电池 ") == "一种 电池"


class TestControlCharactersInSavedSearches:
    @pytest.mark.parametrize("q", ["电池\n", "电\r池", "电池\t锂", "\x1b[31m电池", "电池\u202e", "电池\u2028", "电池\x85"])
    def test_refused_with_a_field_error_and_nothing_saved(self, app, client, q):
        buyer = factories.make_user("buyer")
        headers = factories.auth_header(buyer)
        db.session.commit()
        r = client.post("/api/v1/saved-searches", json={"q": q}, headers=headers)
        assert r.status_code == 422
        assert "控制字符" in r.get_json()["error"]["fields"]["q"]
        assert db.session.query(SavedSearch).count() == 0

    def test_a_control_character_in_a_filter_is_refused_too(self, app, client):
        buyer = factories.make_user("buyer")
        headers = factories.auth_header(buyer)
        db.session.commit()
        r = client.post("/api/v1/saved-searches", json={"q": "电池", "filters": {"region": "shenzhen\n"}},
                        headers=headers)
        assert r.status_code == 422 and "filters.region" in r.get_json()["error"]["fields"]
        assert db.session.query(SavedSearch).count() == 0

    def test_ordinary_text_is_saved(self, app, client):
        buyer = factories.make_user("buyer")
        headers = factories.auth_header(buyer)
        db.session.commit()
        r = client.post("/api/v1/saved-searches", json={"q": "锂电池 正极材料 “高镍” Li-ion"}, headers=headers)
        assert r.status_code == 201
        db.session.expire_all()
        assert [s.q for s in db.session.query(SavedSearch).filter_by(user_id=buyer.id)] == ["锂电池 正极材料 “高镍” Li-ion"]

    def test_the_page_says_why_and_saves_nothing(self, app, client, as_user):
        buyer = factories.make_user("buyer")
        db.session.commit()
        as_user(buyer)
        r = client.post("/search/save", data={"q": "电池\t锂"}, follow_redirects=True)
        assert r.status_code == 200 and "控制字符" in r.get_data(as_text=True)
        assert db.session.query(SavedSearch).count() == 0


class TestSavedSearchCap:
    @pytest.fixture
    def app_config(self):
        return {"MAX_SAVED_SEARCHES": 2}

    def test_at_the_cap_a_new_search_is_refused_and_nothing_changes(self, app, client):
        buyer = factories.make_user("buyer")
        headers = factories.auth_header(buyer)
        db.session.commit()
        ids = [client.post("/api/v1/saved-searches", json={"q": q}, headers=headers).get_json()["saved_search"]["id"]
               for q in ("电池", "逆变器")]
        r = client.post("/api/v1/saved-searches", json={"q": "芯片"}, headers=headers)
        assert r.status_code == 409 and "最多保存 2 条搜索" in r.get_json()["error"]["message"]
        assert sorted(s.id for s in db.session.query(SavedSearch)) == sorted(ids)
        again = client.post("/api/v1/saved-searches", json={"q": "电池"}, headers=headers)
        assert again.status_code == 201 and again.get_json()["saved_search"]["id"] == ids[0], "an identical one is fine"
        other = factories.auth_header(factories.make_user("buyer"))
        db.session.commit()
        assert client.post("/api/v1/saved-searches", json={"q": "芯片"}, headers=other).status_code == 201
        assert client.delete(f"/api/v1/saved-searches/{ids[0]}", headers=headers).status_code == 200
        assert client.post("/api/v1/saved-searches", json={"q": "芯片"}, headers=headers).status_code == 201

    def test_the_page_says_so(self, app, client, as_user):
        buyer = factories.make_user("buyer")
        db.session.commit()
        as_user(buyer)
        for q in ("电池", "逆变器"):
            client.post("/search/save", data={"q": q})
        r = client.post("/search/save", data={"q": "芯片"}, follow_redirects=True)
        assert "最多保存 2 条搜索" in r.get_data(as_text=True)
        assert db.session.query(SavedSearch).filter_by(user_id=buyer.id).count() == 2


def test_the_default_cap_is_20(tmp_path, monkeypatch):
    from marketplace.kernel.config import load_settings

    monkeypatch.setenv("SECRET_KEY", "x")
    for name in ("MAX_SAVED_SEARCHES", "NOTIFY_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(tmp_path)
    assert settings["MAX_SAVED_SEARCHES"] == 20 and settings["NOTIFY_MAX_ATTEMPTS"] == 5


class TestInEnglish:
    @pytest.fixture
    def app_config(self):
        return {"MAX_SAVED_SEARCHES": 1}

    def test_the_refusals_read_in_english(self, app, client):
        buyer = factories.make_user("buyer")
        headers = {**factories.auth_header(buyer), "Accept-Language": "en"}
        db.session.commit()
        r = client.post("/api/v1/saved-searches", json={"q": "battery\n"}, headers=headers)
        assert r.get_json()["error"]["fields"]["q"] == "must not contain control characters such as line breaks or tabs"
        assert client.post("/api/v1/saved-searches", json={"q": "battery"}, headers=headers).status_code == 201
        r = client.post("/api/v1/saved-searches", json={"q": "chip"}, headers=headers)
        assert r.get_json()["error"]["message"] == ("You can keep at most 1 saved searches; delete one you no longer "
                                                    "need first")

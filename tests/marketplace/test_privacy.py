"""Personal data (PIPL): export of one's own data, account deletion (allowed and refused), retention."""
import json
from datetime import timedelta

import pytest

from escrow import deals
from escrow.models import Deal
from marketplace.kernel.extensions import db
from marketplace.kernel.models import ApiToken, AuditLog, Notification, User
from marketplace.kernel.notify import notify
from marketplace.kernel.timeutil import utcnow
from marketplace.web import privacy
from search.models import SavedSearch
from tests import factories
from tests.factories import PASSWORD


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": False}


def sign_in(client, user):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def _state(user_id):
    db.session.expire_all()
    user = db.session.get(User, user_id)
    return (user.email, user.name, user.active, user.deleted_at, user.password_hash,
            db.session.query(Notification).filter_by(user_id=user_id).count())


def test_the_export_is_the_users_own_data_without_secrets(app, client):
    buyer, other = factories.make_user("buyer"), factories.make_user("buyer")
    notify(buyer, "deal", "给买方的通知")
    notify(other, "deal", "给别人的通知")
    factories.token_for(buyer)
    db.session.add(SavedSearch(user_id=buyer.id, q="锂电池", filters={}))
    db.session.commit()
    sign_in(client, buyer)
    response = client.get("/account/privacy/export")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["email"] == buyer.email and "password_hash" not in data["account"]
    assert "session_token" not in data["account"]
    assert [n["title"] for n in data["records"]["notifications"]] == ["给买方的通知"]
    assert [s["q"] for s in data["records"]["saved_searches"]] == ["锂电池"]
    assert all("token_hash" not in t for t in data["records"]["api_tokens"])
    assert other.email not in response.get_data(as_text=True)


def test_the_export_and_privacy_pages_need_sign_in(client, app):
    for path in ("/account/privacy", "/account/privacy/export"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_deleting_an_account_anonymises_it_and_keeps_the_deal_records(app, client):
    buyer, seller = factories.make_user("buyer"), factories.make_user("seller")
    listing = factories.make_listing(seller)
    db.session.commit()
    deal = deals.open_deal(listing, buyer, listing.price, "assignment", "purchase")
    db.session.commit()
    deals.cancel_deal(deal.id, buyer)
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    assert deal.state == "cancelled"
    factories.token_for(buyer)
    db.session.add(SavedSearch(user_id=buyer.id, q="电池", filters={}))
    db.session.commit()
    email = buyer.email
    sign_in(client, buyer)
    page = client.get("/account/privacy")
    assert page.status_code == 200 and "注销账号" in page.get_data(as_text=True)
    response = client.post("/account/privacy", data={"password": PASSWORD, "confirm": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, buyer.id)
    assert user.deleted_at is not None and not user.active
    assert user.email != email and email not in user.email and user.name == privacy.DELETED_NAME
    assert db.session.query(Notification).filter_by(user_id=user.id).count() == 0
    assert db.session.query(SavedSearch).filter_by(user_id=user.id).count() == 0
    assert all(t.revoked_at is not None for t in db.session.query(ApiToken).filter_by(user_id=user.id))
    kept = db.session.get(Deal, deal.id)
    assert kept is not None and kept.buyer_id == user.id and kept.state == "cancelled"  # the law keeps it
    assert db.session.query(AuditLog).filter_by(action="account.delete", object_id=user.id).count() == 1
    # signed out, and the old address and password no longer open anything
    assert client.get("/account/privacy").status_code == 302
    again = client.post("/login", data={"email": email, "password": PASSWORD})
    assert again.status_code == 200


def test_deletion_is_refused_while_a_deal_is_open_and_changes_nothing(app, client):
    buyer, seller = factories.make_user("buyer"), factories.make_user("seller")
    listing = factories.make_listing(seller)
    db.session.commit()
    deals.open_deal(listing, buyer, listing.price, "assignment", "purchase")
    notify(buyer, "deal", "订单已创建")
    db.session.commit()
    before = _state(buyer.id)
    sign_in(client, buyer)
    page = client.get("/account/privacy").get_data(as_text=True)
    assert "尚未完成" in page
    response = client.post("/account/privacy", data={"password": PASSWORD, "confirm": "y"})
    assert response.status_code == 200 and "尚未完成" in response.get_data(as_text=True)
    assert _state(buyer.id) == before


@pytest.mark.parametrize("form", [{"password": "wrong-password-123", "confirm": "y"}, {"password": PASSWORD}])
def test_deletion_needs_the_password_and_the_confirmation(app, client, form):
    buyer = factories.make_user("buyer")
    db.session.commit()
    before = _state(buyer.id)
    sign_in(client, buyer)
    response = client.post("/account/privacy", data=form)
    assert response.status_code == 200
    assert _state(buyer.id) == before


def test_a_seller_with_a_listing_on_the_market_and_an_operator_are_refused(app):
    seller, operator = factories.make_user("seller"), factories.make_user("operator")
    factories.make_listing(seller)
    db.session.commit()
    assert any("挂牌" in r for r in privacy.deletion_blockers(seller))
    assert any("运营" in r for r in privacy.deletion_blockers(operator))
    before = _state(seller.id)
    with pytest.raises(Exception) as refused:
        privacy.delete_account(seller)
    assert "挂牌" in json.dumps(refused.value.fields, ensure_ascii=False)
    db.session.rollback()
    assert _state(seller.id) == before


def test_cli_export_and_delete(app, tmp_path):
    buyer, seller = factories.make_user("buyer"), factories.make_user("seller")
    listing = factories.make_listing(seller)
    db.session.commit()
    runner = app.test_cli_runner()
    target = tmp_path / "export.json"
    result = runner.invoke(args=["privacy", "export", buyer.email, "--to", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["account"]["id"] == buyer.id
    deals.open_deal(listing, buyer, listing.price, "assignment", "purchase")
    db.session.commit()
    before = _state(buyer.id)
    refused = runner.invoke(args=["privacy", "delete", str(buyer.id), "--yes"])
    assert refused.exit_code != 0 and "refused" in refused.output
    assert _state(buyer.id) == before
    other = factories.make_user("buyer")
    db.session.commit()
    done = runner.invoke(args=["privacy", "delete", other.email, "--yes"])
    assert done.exit_code == 0, done.output
    assert _state(other.id)[3] is not None
    assert runner.invoke(args=["privacy", "export", "nobody@example.com"]).exit_code != 0


def test_retention_purges_old_read_notifications_and_old_revoked_tokens_only(app):
    user = factories.make_user("buyer")
    db.session.commit()
    now = utcnow()
    old = now - timedelta(days=app.config["NOTIFICATION_RETENTION_DAYS"] + 1)
    rows = {
        "old_read": Notification(user_id=user.id, kind="deal", title="旧的已读", created_at=old, read_at=old),
        "old_unread": Notification(user_id=user.id, kind="deal", title="旧的未读", created_at=old),
        "new_read": Notification(user_id=user.id, kind="deal", title="新的已读", created_at=now, read_at=now),
    }
    db.session.add_all(rows.values())
    old_token, _ = ApiToken.issue(user)
    old_token.revoked_at = now - timedelta(days=app.config["TOKEN_RETENTION_DAYS"] + 1)
    live_token, _ = ApiToken.issue(user)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["privacy", "purge"])
    assert result.exit_code == 0 and "notifications: 1" in result.output and "api_tokens: 1" in result.output
    db.session.expire_all()
    left = {n.title for n in db.session.query(Notification).filter_by(user_id=user.id)}
    assert left == {"旧的未读", "新的已读"}
    assert [t.id for t in db.session.query(ApiToken).filter_by(user_id=user.id)] == [live_token.id]
    assert privacy.purge_expired() == {"notifications": 0, "api_tokens": 0, "outbox_rows": 0}  # twice: no-op


def test_the_account_page_links_download_and_closure(client, as_user):
    from tests.factories import make_user

    user = make_user("buyer")
    db.session.commit()
    as_user(user)
    page = client.get("/account/credit").get_data(as_text=True)
    assert 'href="/account/privacy/export"' in page and 'href="/account/privacy#close"' in page
    privacy = client.get("/account/privacy").get_data(as_text=True)
    assert 'id="close"' in privacy and 'href="/privacy-policy"' in privacy

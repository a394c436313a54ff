"""Messages between a prospective buyer and the seller, and between the parties of a deal (issue 17): who may
read and write, bounds, contact details hidden until a deal exists, operators and disputes, unread counts."""
import pytest
from sqlalchemy import func, select

from escrow import deals
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditLog, Notification
from messaging import service
from messaging.models import Message, MessageThread
from tests import factories
from tests.conftest import login


def _count(model, *where):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def world(app):
    seller = factories.make_user("seller")
    colleague = factories.make_user("seller", org=seller.organization)  # shares the organisation's listings
    buyer = factories.make_user("buyer")
    stranger = factories.make_user("buyer")
    operator = factories.make_user("operator")
    listing = factories.make_listing(seller)
    db.session.commit()
    return type("W", (), dict(seller=seller, colleague=colleague, buyer=buyer, stranger=stranger,
                              operator=operator, listing=listing))


def _client(app, user):
    client = app.test_client()
    if user is not None:
        login(client, user)
    return client


def test_a_buyer_asks_the_seller_and_the_seller_side_answers(app, world):
    buyer = _client(app, world.buyer)
    page = buyer.get(f"/listings/{world.listing.id}")
    assert "咨询卖方" in page.get_data(as_text=True)
    assert f"/listings/{world.listing.id}/messages" in page.get_data(as_text=True)
    response = buyer.post(f"/listings/{world.listing.id}/messages", data={"message": "请问专利年费缴到哪年？"})
    assert response.status_code == 302
    thread = db.session.scalars(select(MessageThread)).one()
    assert response.headers["Location"].startswith(f"/messages/{thread.id}")
    # the seller is told, and the header's count (the notification count) shows it
    seller = _client(app, world.seller)
    home = seller.get("/").get_data(as_text=True)
    assert 'class="badge-count"' in home
    inbox = seller.get("/messages").get_data(as_text=True)
    assert world.listing.title in inbox and 'aria-label="未读">1<' in inbox
    # a colleague of the seller's organisation reads and answers the same thread
    colleague = _client(app, world.colleague)
    page = colleague.get(f"/messages/{thread.id}").get_data(as_text=True)
    assert "请问专利年费缴到哪年？" in page
    assert colleague.post(f"/messages/{thread.id}", data={"message": "已缴至 2027 年。"}).status_code == 302
    # a second message from the buyer goes into the same thread (one per listing and buyer)
    buyer.post(f"/listings/{world.listing.id}/messages", data={"message": "好的，谢谢"})
    assert _count(MessageThread) == 1 and _count(Message) == 3
    # one unread notice per thread and reader, however many messages
    assert _count(Notification, Notification.user_id == world.seller.id, Notification.kind == "message",
                  Notification.read_at.is_(None)) == 1
    # reading the thread marks the notice read and the thread's unread count is 0
    seller.get(f"/messages/{thread.id}")
    assert _count(Notification, Notification.user_id == world.seller.id, Notification.read_at.is_(None)) == 0
    assert [n for _t, n in service.inbox(world.seller)] == [0]
    assert [n for _t, n in service.inbox(world.buyer)] == [0]  # writing is reading
    colleague.post(f"/messages/{thread.id}", data={"message": "欢迎来电咨询"})
    assert [n for _t, n in service.inbox(world.buyer)] == [1]


def test_others_can_neither_read_nor_write(app, world):
    message = service.write_about_listing(world.listing.id, world.buyer, "询价")
    db.session.commit()
    thread_id = message.thread_id
    before = _count(Message)
    for user in (world.stranger, world.operator, factories.make_user("seller")):
        db.session.commit()
        client = _client(app, user)
        assert client.get(f"/messages/{thread_id}").status_code == 404
        assert client.post(f"/messages/{thread_id}", data={"message": "我也来"}).status_code == 404
    assert _client(app, None).get(f"/messages/{thread_id}").status_code == 302  # sign in first
    assert _count(Message) == before
    # nobody else's inbox lists it
    assert service.inbox(world.stranger) == [] and service.inbox(world.operator) == []


def test_the_seller_cannot_ask_about_its_own_listing_and_sellers_only_accounts_cannot_ask(app, world):
    from marketplace.kernel.errors import PermissionDenied

    for user in (world.seller, world.colleague):
        with pytest.raises(PermissionDenied):
            service.write_about_listing(world.listing.id, user, "自问自答")
        db.session.rollback()
    other_seller = factories.make_user("seller")
    db.session.commit()
    with pytest.raises(PermissionDenied):
        service.write_about_listing(world.listing.id, other_seller, "你好")
    db.session.rollback()
    assert _count(MessageThread) == 0 and _count(Message) == 0


def test_listings_off_the_market_take_no_new_threads_and_hidden_ones_are_not_found(app, world):
    from marketplace.kernel.errors import Conflict, NotFound

    sold = factories.make_listing(world.seller, status="sold")
    draft = factories.make_listing(world.seller, status="draft")
    db.session.commit()
    with pytest.raises(Conflict):
        service.write_about_listing(sold.id, world.buyer, "还卖吗")
    db.session.rollback()
    with pytest.raises(NotFound):
        service.write_about_listing(draft.id, world.buyer, "草稿")
    db.session.rollback()
    assert _client(app, world.buyer).get(f"/listings/{draft.id}/messages").status_code == 404
    assert _count(MessageThread) == 0


@pytest.mark.parametrize("body, field", [("", "message"), ("   ", "message"), ("x" * 2001, "message"),
                                         ("hi\x00there", "message"), ("bidi\u202eevil", "message"), (None, "message"),
                                         (42, "message")])
def test_bad_messages_are_refused_with_nothing_written(app, world, body, field):
    client = _client(app, world.buyer)
    response = client.post(f"/api/v1/listings/{world.listing.id}/messages", json={"message": body},
                           headers=factories.auth_header(world.buyer))
    assert response.status_code in (400, 422)
    assert field in response.get_json()["error"].get("fields", {})
    assert _count(MessageThread) == 0 and _count(Message) == 0 and _count(Notification) == 0


def test_the_longest_message_and_new_lines_are_taken(app, world):
    message = service.write_about_listing(world.listing.id, world.buyer, "第一行\n" + "长" * 1996)
    db.session.commit()
    assert len(message.body) == 2000 and "\n" in message.body


def test_html_is_shown_as_text(app, world):
    service.write_about_listing(world.listing.id, world.buyer, '<script>alert(1)</script><img src=x onerror=alert(2)>')
    db.session.commit()
    thread = db.session.scalars(select(MessageThread)).one()
    page = _client(app, world.seller).get(f"/messages/{thread.id}").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_contact_details_are_hidden_until_a_deal_exists(app, world):
    text = "电话 138 0013 8000，邮箱 boss@example.com，微信: wx_boss88，座机 0755-86001234，专利号 201710601862.3"
    service.write_about_listing(world.listing.id, world.buyer, text)
    db.session.commit()
    thread = db.session.scalars(select(MessageThread)).one()
    seller = _client(app, world.seller)
    page = seller.get(f"/messages/{thread.id}").get_data(as_text=True)
    for secret in ("138 0013 8000", "boss@example.com", "wx_boss88", "0755-86001234"):
        assert secret not in page
    assert "201710601862.3" in page  # a patent number is not a phone number
    assert world.buyer.email not in page and world.seller.email not in page
    api = seller.get(f"/api/v1/threads/{thread.id}", headers=factories.auth_header(world.seller)).get_json()
    assert "boss@example.com" not in str(api) and api["thread"]["contacts"] is None
    notice = db.session.scalars(select(Notification).where(Notification.kind == "message")).one()
    assert "boss@example.com" not in notice.body
    # the listing page shows no contact details either
    listing_page = _client(app, world.buyer).get(f"/listings/{world.listing.id}").get_data(as_text=True)
    assert world.seller.email not in listing_page
    # once the buyer has a deal on the listing, both see them (and the deal page names the other's e-mail)
    deal = deals.open_deal(world.listing, world.buyer, world.listing.price, "assignment", "purchase")
    db.session.commit()
    page = seller.get(f"/messages/{thread.id}").get_data(as_text=True)
    assert "boss@example.com" in page and "138 0013 8000" in page and world.buyer.email in page
    deal_page = _client(app, world.buyer).get(f"/deals/{deal.id}").get_data(as_text=True)
    assert world.seller.email in deal_page


def test_deal_threads_belong_to_the_deal_parties_and_operators_read_them_once_disputed(app, world):
    deal = deals.open_deal(world.listing, world.buyer, world.listing.price, "assignment", "purchase")
    db.session.commit()
    buyer = _client(app, world.buyer)
    assert buyer.get(f"/deals/{deal.id}/messages").status_code == 200  # the form before the first message
    assert buyer.post(f"/deals/{deal.id}/messages", data={"message": "合同已签，请确认"}).status_code == 302
    thread = db.session.scalars(select(MessageThread).where(MessageThread.kind == "deal")).one()
    seller = _client(app, world.seller)
    assert seller.post(f"/messages/{thread.id}", data={"message": "收到"}).status_code == 302
    # the colleague is not a party to the deal (the deal names one seller)
    assert _client(app, world.colleague).get(f"/messages/{thread.id}").status_code == 404
    assert _client(app, world.stranger).get(f"/deals/{deal.id}/messages").status_code == 404
    operator = _client(app, world.operator)
    assert operator.get(f"/messages/{thread.id}").status_code == 404  # no dispute: not the operator's to read
    # the dispute names the deal's thread: operators read it (and the reading is audited), never write
    factories.sign_contract(deal)
    deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, world.operator)
    deals.open_dispute(deal.id, world.buyer, "卖方不按时提交变更材料")
    db.session.commit()
    page = operator.get(f"/messages/{thread.id}")
    assert page.status_code == 200 and "合同已签，请确认" in page.get_data(as_text=True)
    assert _count(AuditLog, AuditLog.action == "thread.read", AuditLog.object_id == thread.id) == 1
    before = _count(Message)
    assert operator.post(f"/messages/{thread.id}", data={"message": "运营留言"}).status_code == 302
    assert _count(Message) == before


def test_a_listing_thread_is_shown_to_operators_only_when_a_party_names_it_in_a_dispute(app, world):
    from marketplace.kernel.errors import Conflict

    service.write_about_listing(world.listing.id, world.buyer, "口头承诺含 3 年维护")
    db.session.commit()
    thread = db.session.scalars(select(MessageThread)).one()
    with pytest.raises(Conflict):  # no disputed deal yet: nothing to name it in
        service.disclose(thread.id, world.buyer)
    db.session.rollback()
    assert db.session.get(MessageThread, thread.id).disclosed_deal_id is None
    deal = deals.open_deal(world.listing, world.buyer, world.listing.price, "assignment", "purchase")
    factories.sign_contract(deal)
    deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, world.operator)
    deals.open_dispute(deal.id, world.buyer, "与咨询时承诺不符")
    db.session.commit()
    operator = _client(app, world.operator)
    assert operator.get(f"/messages/{thread.id}").status_code == 404
    stranger = _client(app, world.stranger)
    assert stranger.post(f"/messages/{thread.id}/disclose").status_code == 404
    buyer = _client(app, world.buyer)
    assert "在争议中出示本对话" in buyer.get(f"/messages/{thread.id}").get_data(as_text=True)
    assert buyer.post(f"/messages/{thread.id}/disclose").status_code == 302
    assert db.session.get(MessageThread, thread.id, populate_existing=True).disclosed_deal_id == deal.id
    page = operator.get(f"/messages/{thread.id}").get_data(as_text=True)
    assert "口头承诺含 3 年维护" in page


def test_the_api_lists_threads_with_unread_counts_and_reads_them(app, world):
    client = app.test_client()
    as_buyer, as_seller = factories.auth_header(world.buyer), factories.auth_header(world.seller)
    db.session.commit()
    created = client.post(f"/api/v1/listings/{world.listing.id}/messages", json={"message": "可以开发票吗"},
                          headers=as_buyer)
    assert created.status_code == 201
    thread_id = created.get_json()["thread"]["id"]
    inbox = client.get("/api/v1/threads", headers=as_seller).get_json()
    assert inbox["unread"] == 1 and inbox["threads"][0]["unread"] == 1 and inbox["threads"][0]["side"] == "seller"
    read = client.get(f"/api/v1/threads/{thread_id}", headers=as_seller).get_json()
    assert read["thread"]["messages"][0]["body"] == "可以开发票吗" and read["thread"]["messages"][0]["mine"] is False
    assert client.get("/api/v1/threads", headers=as_seller).get_json()["unread"] == 0
    answer = client.post(f"/api/v1/threads/{thread_id}/messages", json={"message": "可以"}, headers=as_seller)
    assert answer.status_code == 201 and len(answer.get_json()["thread"]["messages"]) == 2
    assert client.get("/api/v1/threads", headers=as_buyer).get_json()["unread"] == 1
    stranger = factories.auth_header(world.stranger)
    db.session.commit()
    assert client.get(f"/api/v1/threads/{thread_id}", headers=stranger).status_code == 404
    assert client.post(f"/api/v1/threads/{thread_id}/messages", json={"message": "x"}, headers=stranger).status_code == 404
    assert client.get("/api/v1/threads").status_code == 401


def test_a_thread_holds_at_most_max_messages(app, world, monkeypatch):
    from marketplace.kernel.errors import Conflict

    monkeypatch.setattr(service, "MAX_MESSAGES", 2)
    service.write_about_listing(world.listing.id, world.buyer, "一")
    service.write_about_listing(world.listing.id, world.buyer, "二")
    db.session.commit()
    with pytest.raises(Conflict):
        service.write_about_listing(world.listing.id, world.buyer, "三")
    db.session.rollback()
    assert _count(Message) == 2


def test_a_blacklisted_buyer_cannot_write(app, world):
    from marketplace.kernel.errors import PermissionDenied

    world.buyer.credit_level = "blacklisted"
    db.session.commit()
    with pytest.raises(PermissionDenied):
        service.write_about_listing(world.listing.id, world.buyer, "你好")
    db.session.rollback()
    assert _count(Message) == 0


def test_the_inbox_reads_with_a_fixed_number_of_queries(app, world):
    """The inbox's unread counts come from one grouped query, however many threads (no query per row)."""
    from sqlalchemy import event

    for _ in range(6):
        listing = factories.make_listing(world.seller)
        db.session.commit()
        service.write_about_listing(listing.id, world.buyer, "询价")
    db.session.commit()
    statements = []

    def count(*args, **kwargs):
        statements.append(args[2])

    client = _client(app, world.seller)
    client.get("/messages")  # warm up
    db.session.expire_all()
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        page = client.get("/messages")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert page.status_code == 200 and page.get_data(as_text=True).count("thread-row") == 6
    few = len(statements)
    statements.clear()
    for _ in range(6):
        listing = factories.make_listing(world.seller)
        db.session.commit()
        service.write_about_listing(listing.id, world.buyer, "询价")
    db.session.commit()
    db.session.expire_all()
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        client.get("/messages")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) <= few + 2, statements  # not one more per thread


def test_a_thread_started_twice_at_once_is_one_thread(app, world):
    """Two first messages racing: the second insert meets the unique key and joins the first thread."""
    first = service.write_about_listing(world.listing.id, world.buyer, "第一条").thread
    db.session.commit()
    twin = MessageThread(key=first.key, kind="listing", listing_id=world.listing.id, buyer_id=world.buyer.id,
                         seller_id=world.seller.id, seller_org_id=world.seller.organization_id)
    assert service._create(twin).id == first.id
    db.session.commit()
    assert _count(MessageThread) == 1

"""Stored text in the reader's language (issue 17): notifications, deal history and ledger memos are stored as
message keys with parameters (``marketplace.kernel.messages``) and read in the language of whoever reads them, amounts
formatted for that language ("¥220,000" in English, "¥22万" in Chinese). Rows written before are shown as stored."""
from escrow import deals, ledger
from escrow.ledger import Leg
from escrow.models import DealEvent, JournalEntry
from marketplace.kernel.extensions import db
from marketplace.kernel.messages import money, msg, render
from marketplace.kernel.models import Notification
from marketplace.kernel.notify import notify
from marketplace.kernel.timeutil import utcnow
from tests import factories
from tests.conftest import login

PRICE = 220_000_00  # fen: ¥220,000, "¥22万" in Chinese


def _funded(open_deal, parties):
    """A deal of ¥220,000 whose payment an operator confirmed while every page was in Chinese."""
    deal = open_deal(price=PRICE)
    deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, parties.operator)
    db.session.commit()
    return deal


def _buyers_notice(deal):
    return db.session.query(Notification).filter(
        Notification.user_id == deal.buyer_id, Notification.title.contains("付款已到账")).one()


def test_notification_event_and_memo_written_in_chinese_read_in_english(app, client, open_deal, parties):
    deal = _funded(open_deal, parties)
    notice = _buyers_notice(deal)
    # stored: the Chinese text as written, and the key with its parameters (the amount as integer fen)
    assert notice.title == f"交易 #{deal.id}：付款已到账，资金由平台托管"
    assert notice.body_msg["params"]["amount"] == {"fen": PRICE, "currency": "CNY"}
    event = db.session.query(DealEvent).filter_by(deal_id=deal.id, action="confirm_payment").one()
    assert event.note_msg["key"] == "%(gateway)s %(reference)s"
    entry = ledger.find_entry(f"deal:{deal.id}:fund")
    assert entry.memo == "买方付款进入托管" and entry.memo_msg == {"key": "买方付款进入托管", "params": {}}

    login(client, parties.buyer)
    page = client.get("/notifications").get_data(as_text=True)  # the buyer reads in Chinese first
    assert "付款已到账，资金由平台托管" in page and "¥22万 已进入托管账户" in page
    page = client.get("/notifications?lang=en").get_data(as_text=True)  # then switches to English
    assert f"Deal #{deal.id}: Payment received and held in escrow" in page
    assert "¥220,000 is held in escrow" in page and "¥22万" not in page and "已进入托管账户" not in page

    page = client.get(f"/deals/{deal.id}").get_data(as_text=True)  # the session now remembers English
    assert f"Bank transfer {deal.payment_reference}" in page and "Buyer payment into escrow" in page
    assert "买方付款进入托管" not in page and f"银行转账 {deal.payment_reference}" not in page
    # the ledger's accounts and the asides in brackets read in English too
    assert "Payment gateway clearing (Bank transfer)" in page and "支付通道清算" not in page
    assert "（" not in page.split('id="history-h"')[1].split("</aside>")[0]

    zh = client.get(f"/deals/{deal.id}?lang=zh_CN").get_data(as_text=True)
    assert f"银行转账 {deal.payment_reference}" in zh and "买方付款进入托管" in zh and "支付通道清算（银行转账）" in zh


def test_the_api_answers_in_the_language_asked(app, client, open_deal, parties):
    deal = _funded(open_deal, parties)
    headers = factories.auth_header(parties.buyer)
    english = client.get("/api/v1/notifications", headers={**headers, "Accept-Language": "en"}).get_json()
    funded = next(n for n in english["notifications"] if "escrow" in n["title"])
    assert funded["title"] == f"Deal #{deal.id}: Payment received and held in escrow"
    assert funded["body"].startswith("¥220,000 is held in escrow")
    chinese = client.get("/api/v1/notifications?lang=zh_CN", headers=headers).get_json()
    funded = next(n for n in chinese["notifications"] if n["id"] == funded["id"])
    assert funded["title"] == f"交易 #{deal.id}：付款已到账，资金由平台托管" and funded["body"].startswith("¥22万 已进入托管账户")

    body = client.get(f"/api/v1/deals/{deal.id}?lang=en", headers=headers).get_json()
    notes = {e["action"]: e["note"] for e in body["deal"]["events"]}
    assert notes["confirm_payment"] == f"Bank transfer {deal.payment_reference}"
    assert notes["open"] == "Bought at the fixed price"
    memos = [e["memo"] for e in client.get(f"/api/v1/deals/{deal.id}/ledger?lang=en", headers=headers)
             .get_json()["entries"]]
    assert memos == ["Buyer payment into escrow"]


def test_money_and_times_in_a_message_follow_the_reader(app):
    message = msg("%(amount)s / %(small)s", amount=money(PRICE), small=money(123_45))
    assert render(message, locale="en") == "¥220,000 / ¥123.45"
    assert render(message, locale="zh_CN") == "¥22万 / ¥123.45"
    assert str(message) == "¥22万 / ¥123.45"  # the text column keeps the Chinese


def test_rows_written_as_plain_text_still_display(app, client, open_deal, parties):
    """Rows from before messages (no JSON): shown as stored, and a ledger memo stored as a catalogue msgid is
    still translated, as the deal page did before."""
    deal = _funded(open_deal, parties)
    db.session.add(Notification(user_id=parties.buyer.id, kind="deal", title="旧通知：款项已到账", body="旧正文 ¥22万"))
    db.session.add(DealEvent(deal_id=deal.id, action="note", from_state=deal.state, to_state=deal.state,
                             note="旧的交易说明", created_at=utcnow()))
    ledger.post(f"deal:{deal.id}:old", "refund", [Leg("escrow", -100), Leg("buyer_refunds", 100)], deal=deal,
                memo="退款已到账")  # plain text, as every memo was written before
    db.session.commit()
    old = db.session.query(JournalEntry).filter_by(idempotency_key=f"deal:{deal.id}:old").one()
    assert old.memo_msg is None

    login(client, parties.buyer)
    page = client.get("/notifications?lang=en").get_data(as_text=True)
    assert "旧通知：款项已到账" in page and "旧正文 ¥22万" in page
    page = client.get(f"/deals/{deal.id}?lang=en").get_data(as_text=True)
    assert "旧的交易说明" in page and "Refund confirmed" in page
    memos = [e["memo"] for e in client.get(f"/api/v1/deals/{deal.id}/ledger?lang=en",
                                           headers=factories.auth_header(parties.buyer)).get_json()["entries"]]
    assert memos[-1] == "Refund confirmed"


def test_a_persons_own_words_are_never_translated(app, client, open_deal, parties):
    deal = _funded(open_deal, parties)
    deals.open_dispute(deal.id, parties.buyer, "退款已到账")  # a reason that happens to equal a msgid is still text
    db.session.commit()
    event = db.session.query(DealEvent).filter_by(deal_id=deal.id, action="dispute").one()
    assert event.note == "退款已到账" and event.note_msg is None
    notice = db.session.query(Notification).filter(Notification.user_id == deal.seller_id,
                                                   Notification.title.contains("争议")).one()
    assert notice.body_msg is None and notice.title_msg is not None
    login(client, parties.seller)
    page = client.get("/notifications?lang=en").get_data(as_text=True)
    assert "The other party has opened a dispute" in page and "退款已到账" in page and "Refund confirmed" not in page
    notes = [e["note"] for e in client.get(f"/api/v1/deals/{deal.id}?lang=en", headers=factories.auth_header(
        parties.seller)).get_json()["deal"]["events"] if e["action"] == "dispute"]
    assert notes == ["退款已到账"]


def test_mail_goes_in_the_recipients_language(app, outbox):
    app.config["SMTP_HOST"] = "127.0.0.1"
    english, chinese = factories.make_user("buyer", locale="en"), factories.make_user("buyer")
    db.session.commit()
    for user in (english, chinese):
        notify(user, "deal", msg("交易 #%(id)s：%(text)s", id=7, text={"key": "付款已到账，资金由平台托管"}),
               msg("%(amount)s 已付至您的账户。", amount=money(PRICE)), email=True)
    db.session.commit()
    sent = [(m["To"], m["Subject"], m.get_content().strip()) for m in outbox]
    assert (english.email, "Deal #7: Payment received and held in escrow",
            "¥220,000 has been paid into your account.") in sent
    assert (chinese.email, "交易 #7：付款已到账，资金由平台托管", "¥22万 已付至您的账户。") in sent

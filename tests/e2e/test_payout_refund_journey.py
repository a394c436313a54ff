"""Money leaving the platform, in a real browser (issue 15): a seller records its payout account, an operator
verifies it, a deal pays out into it through the payout queue; and a refund goes through the refund queue
(the buyer enters the account, the operator records the bank reference). The setup around it (listings,
the transfer documents, the dispute) goes through the API, as an integration would.

Screenshots at 1366 px and 390 px: test-artifacts/screenshots/payout-*.png, refund-*.png.
"""
import uuid
from datetime import datetime, timedelta, timezone

import requests

from tests.e2e.journey import PASSWORD, PDF, flash, fresh_application_number, fresh_uscc, shot, sign_in


def _beijing_today():
    """CNIPA dates its notices in Beijing time: from 16:00 UTC that is already tomorrow (date.today() is not)."""
    return datetime.now(timezone(timedelta(hours=8))).date().isoformat()


BANK = {"bank": "招商银行", "branch": "广州天河支行", "account_number": "6214 8302 0001 2345"}


def _api(base, token=None):
    session = requests.Session()
    if token:
        session.headers["Authorization"] = f"Bearer {token}"

    def call(method, path, **kw):
        response = session.request(method, base + "/api/v1" + path, timeout=30, **kw)
        assert response.status_code < 300, (method, path, response.status_code, response.text[:500])
        return response.json()

    return call


def _token(base, email):
    return _api(base)("POST", "/auth/token", json={"email": email, "password": PASSWORD})["token"]


def _listing(seller_api, operator_api, title, price_fen):
    body = {"kind": "patent", "title": title, "description": "已授权发明专利，可立即办理转让。",
            "deal_types": ["assignment"], "price_mode": "fixed", "price": price_fen,
            "rights": [{"patent": {"application_number": fresh_application_number(), "title": title,
                                   "ipc_codes": ["G01F 1/66"], "filing_date": "2020-04-28",
                                   "grant_date": "2021-12-10", "claims_count": 8, "legal_status": "granted"}}]}
    listing = seller_api("POST", "/listings", json=body)["listing"]
    seller_api("POST", f"/listings/{listing['id']}/submit")
    operator_api("POST", f"/listings/{listing['id']}/review", json={"decision": "approve"})
    return listing["id"]


def _both_widths(page, name):
    page.set_viewport_size({"width": 1366, "height": 900})
    shot(page, f"{name}-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, f"{name}-390")
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size({"width": 1366, "height": 900})
    return width


def test_payout_into_a_verified_account_and_a_refund_through_the_queue(live_server, flask_cli, new_page):
    base, _env = live_server
    tag = uuid.uuid4().hex[:6]
    org_name = f"广州穗流计量科技有限公司{tag}"
    emails = {role: f"{role}-{tag}@example.com" for role in ("seller", "buyer", "operator")}
    flask_cli("users", "create", "--email", emails["seller"], "--password", PASSWORD, "--name", "林晓峰",
              "--role", "seller", "--org-name", org_name, "--uscc", fresh_uscc(), "--region", "guangzhou")
    flask_cli("users", "create", "--email", emails["buyer"], "--password", PASSWORD, "--name", "王采购",
              "--role", "buyer")
    flask_cli("users", "create", "--email", emails["operator"], "--password", PASSWORD, "--name", "运营张敏",
              "--role", "operator")
    seller_api, buyer_api, operator_api = (_api(base, _token(base, emails[r])) for r in ("seller", "buyer", "operator"))
    sold = _listing(seller_api, operator_api, f"流体计量方法发明专利转让{tag}", 200_000_00)
    refunded = _listing(seller_api, operator_api, f"流量计温度补偿装置专利转让{tag}", 80_000_00)

    # --- the seller records the payout account; a name that is not the organisation's is refused --------
    seller = new_page()
    sign_in(seller, base, emails["seller"])
    seller.goto(base + "/account/organization")
    seller.click("main a:has-text('登记或查看收款账户')")
    for key, value in BANK.items():
        seller.fill(f"#{key}", value)
    seller.fill("#account_name", "别的公司有限公司")
    seller.click("main form button:has-text('提交核验')")
    assert "户名必须与收款方名称" in seller.inner_text("main")
    seller.fill("#account_name", org_name)
    seller.click("main form button:has-text('提交核验')")
    assert "收款账户已提交" in flash(seller)
    assert "待核验" in seller.inner_text("#payout-account-status")
    assert "•••• 2345" in seller.inner_text("#payout-account")
    assert _both_widths(seller, "payout-account-seller") <= 390

    # --- the operator verifies it in the queue --------------------------------------------------------
    operator = new_page()
    sign_in(operator, base, emails["operator"])
    operator.click("header a:has-text('运营后台')")
    assert int(operator.inner_text("#count-payout_accounts")) >= 1
    operator.click("a.queue-link:has(#count-payout_accounts)")
    row = operator.locator("main table tr", has_text=org_name)
    assert "6214830200012345" in row.inner_text()  # the operator sees the whole number
    assert _both_widths(operator, "payout-account-queue") <= 390  # nothing wider than a phone
    row.locator("button:has-text('核验通过')").click()
    assert "收款账户已核验" in flash(operator)
    seller.reload()
    assert "已核验" in seller.inner_text("#payout-account-status")

    # --- the buyer sees the fee before buying, buys, pays; the deal runs to release -------------------
    buyer = new_page()
    buyer.on("dialog", lambda dialog: dialog.accept())
    sign_in(buyer, base, emails["buyer"])
    buyer.goto(base + f"/listings/{sold}")
    quote = buyer.inner_text("#trade [data-fee-quote]")
    assert "¥200,000.00" in quote and "¥6,000.00" in quote and "¥194,000.00" in quote
    assert _both_widths(buyer, "payout-buy-panel") <= 390  # nothing wider than a phone
    buyer.click("#trade form.trade-form button[type=submit]")
    buyer.wait_for_url(f"{base}/deals/*")
    deal_id = int(buyer.url.rsplit("/", 1)[1])
    deal = buyer_api("GET", f"/deals/{deal_id}")["deal"]
    assert deal["fee_bps"] == 300 and deal["fee"] == 6_000_00
    for party_api in (seller_api, buyer_api):  # the contract, signed by both, before the payment is booked
        party_api("POST", f"/deals/{deal_id}/contract/sign", json={"password": PASSWORD})
    operator_api("POST", f"/deals/{deal_id}/confirm-payment",
                 json={"reference": deal["payment_reference"], "amount": deal["price"]})
    seller_api("POST", f"/deals/{deal_id}/transfer-filed", files={"document": ("受理通知书.pdf", PDF, "application/pdf")})
    seller_api("POST", f"/deals/{deal_id}/transfer-recorded",
               files={"document": ("手续合格通知书.pdf", PDF, "application/pdf")},
               data={"notice_number": "2026120400012345", "notice_date": _beijing_today()})
    operator_api("POST", f"/deals/{deal_id}/recordal/verify")
    buyer.reload()
    buyer.click(".deal-actions button:has-text('确认验收并放款')")
    assert "已确认验收" in flash(buyer)

    # --- the payout queue shows the verified account; the operator pays into it -----------------------
    operator.click("header a:has-text('运营后台')")
    operator.click("a.queue-link:has(#count-payouts)")
    payout_row = operator.locator("main table tr", has_text=f"#{deal_id}")
    assert "6214830200012345" in payout_row.inner_text() and "已核验" in payout_row.inner_text()
    assert "¥194,000.00" in payout_row.inner_text()
    assert _both_widths(operator, "payout-queue") <= 390  # nothing wider than a phone
    payout_row.locator(f"#pref-{deal_id}").fill(f"CMB{tag.upper()}0001")
    payout_row.locator("button:has-text('已付款')").click()
    assert "交易完成" in flash(operator)
    seller.goto(base + f"/deals/{deal_id}")
    assert "•••• 2345" in seller.inner_text("#deal-payout-account")
    assert "6214830200012345" not in seller.inner_text("main")
    _both_widths(seller, "payout-deal-completed")  # the deal page (its ledger table) is not ours to narrow here

    # --- a second deal is refunded after a dispute: the refund waits for the bank reference -------------
    deal2 = buyer_api("POST", f"/listings/{refunded}/purchase", json={"deal_type": "assignment"})["deal"]
    for party_api in (seller_api, buyer_api):
        party_api("POST", f"/deals/{deal2['id']}/contract/sign", json={"password": PASSWORD})
    operator_api("POST", f"/deals/{deal2['id']}/confirm-payment",
                 json={"reference": deal2["payment_reference"], "amount": deal2["price"]})
    buyer_api("POST", f"/deals/{deal2['id']}/dispute", json={"reason": "卖方表示无法办理转让登记"})
    operator_api("POST", f"/deals/{deal2['id']}/resolve", json={"outcome": "refund", "note": "卖方无法履约"})
    ledger = buyer_api("GET", f"/deals/{deal2['id']}/ledger")["balances"]
    assert ledger["refund_in_transit"] == 80_000_00 and ledger["refunded"] == 0

    buyer.goto(base + f"/deals/{deal2['id']}")
    assert "等待买方填写退款账户" in buyer.inner_text("#deal-refund")
    buyer.click("#deal-refund a:has-text('填写退款账户')")
    buyer.fill("#bank", "中国银行")
    buyer.fill("#branch", "广州分行")
    buyer.fill("#account_number", "6217 8570 0000 6789")
    buyer.fill("#account_name", "王采购")
    buyer.click("main form button:has-text('保存退款账户')")
    assert "退款账户已保存" in flash(buyer)
    _both_widths(buyer, "refund-deal-buyer")  # the deal page (its ledger table) is not ours to narrow here

    operator.click("header a:has-text('运营后台')")
    assert int(operator.inner_text("#count-refunds")) >= 1
    operator.click("a.queue-link:has(#count-refunds)")
    refund_row = operator.locator(f"#refund-{deal2['id']}")
    assert "6217857000006789" in refund_row.inner_text() and "¥80,000.00" in refund_row.inner_text()
    assert _both_widths(operator, "refund-queue") <= 390  # nothing wider than a phone
    refund_row.locator(f"#rref-{deal2['id']}").fill(f"CMB{tag.upper()}0001")  # the payout's reference: refused
    refund_row.locator("button:has-text('已退款')").click()
    assert "不能重复使用" in operator.inner_text("main")
    operator.locator(f"#rref-{deal2['id']}").fill(f"BOCR{tag.upper()}0002")
    operator.locator(f"#refund-{deal2['id']} button:has-text('已退款')").click()
    assert "退款入账" in flash(operator)
    ledger = buyer_api("GET", f"/deals/{deal2['id']}/ledger")["balances"]
    assert ledger["refunded"] == 80_000_00 and ledger["refund_in_transit"] == 0
    buyer.goto(base + f"/deals/{deal2['id']}")
    assert "已退款" in buyer.inner_text("#deal-refund")
    _both_widths(buyer, "refund-done-buyer")  # the deal page (its ledger table) is not ours to narrow here

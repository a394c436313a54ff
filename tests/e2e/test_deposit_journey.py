"""An auction with a deposit (保证金), in real browsers: two bidders pay their deposits by bank transfer (an
operator confirms them), bid, the auction closes, the loser's deposit is returned (an operator pays it back by
bank and records the reference), the winner never pays the balance, the deposit is forfeited and the seller is
compensated (the deposit less the platform fee), all as the published rule on the auction page says.

Screenshots at 1366 px and 390 px (test-artifacts/screenshots/deposit-*.png).
"""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.e2e.journey import PASSWORD, flash, fresh_application_number, fresh_uscc, shot, sign_in

BEIJING = timezone(timedelta(hours=8))
TITLE = "一种锂离子电池隔膜涂覆装置 实用新型专利竞拍（保证金）"
WIDE, PHONE = {"width": 1366, "height": 900}, {"width": 390, "height": 844}


def _both(page, name):
    """Screenshots at a laptop's and a phone's width."""
    page.set_viewport_size(WIDE)
    shot(page, f"{name}-1366")
    page.set_viewport_size(PHONE)
    shot(page, f"{name}-390")
    page.set_viewport_size(WIDE)


@pytest.mark.clock_jump  # runs the deadline job 9 days ahead: after the other journeys (tests/e2e/conftest.py)
def test_two_bidders_pay_deposits_the_winner_defaults_and_the_seller_is_compensated(live_server, flask_cli, new_page):
    base, _env = live_server
    tag = uuid.uuid4().hex[:8]
    org_name = f"东莞市涂覆新材料有限公司{tag[:4]}"
    users = {
        "seller": ("孙卖家", ["--role", "seller", "--org-name", org_name,
                            "--uscc", fresh_uscc("441900"), "--region", "dongguan"]),
        "operator": ("运营周敏", ["--role", "operator"]),
        "alice": ("吴竞买", ["--role", "buyer"]),
        "bob": ("郑竞买", ["--role", "buyer"]),
    }
    for key, (name, extra) in users.items():
        flask_cli("users", "create", "--email", f"{key}-{tag}@example.com", "--password", PASSWORD,
                  "--name", name, *extra)

    # --- the seller lists a utility model for auction asking a ¥10,000 deposit (5 % of the start) -----
    seller = new_page()
    sign_in(seller, base, f"seller-{tag}@example.com")
    seller.goto(base + "/my/listings")
    seller.click("main a.button:has-text('发布专利')")
    seller.fill("#f-rights-0-application_number", fresh_application_number(2021, "2"))
    seller.fill("#f-rights-0-title", "一种锂离子电池隔膜涂覆装置")
    seller.fill("#f-rights-0-filing_date", "2021-03-09")
    seller.fill("#f-rights-0-grant_date", "2021-11-30")
    seller.fill("#f-rights-0-claims_count", "9")
    seller.fill("#f-rights-0-ipc_codes", "H01M 50/403")
    seller.check("input[name=price_mode][value=auction]")
    seller.fill("#f-auction-start_price", "200000")
    seller.fill("#f-auction-min_increment", "10000")
    seller.fill("#f-auction-deposit_amount", "50000")  # 25 % of the start price: refused
    closes = (datetime.now(BEIJING) + timedelta(minutes=75)).replace(second=0, microsecond=0)
    seller.fill("#f-auction-ends_at", closes.strftime("%Y-%m-%dT%H:%M"))
    seller.fill("#f-title", TITLE)
    seller.click("button[name=then][value=submit]")
    assert "20%" in seller.inner_text("main")
    seller.fill("#f-auction-deposit_amount", "10000")
    seller.click("button[name=then][value=submit]")
    seller.wait_for_url(base + "/my/listings")
    assert "已保存并提交审核" in flash(seller)

    operator = new_page()
    sign_in(operator, base, f"operator-{tag}@example.com")
    operator.click("header a:has-text('运营后台')")
    operator.click("a.queue-link:has(#count-review)")
    operator.locator("article.review-item", has_text=TITLE).locator("button[value=approve]").click()
    assert f"已通过：{TITLE}" in flash(operator)

    # --- two bidders see the rule before paying, and no bid form until their deposit is held ----------
    bidders = {}
    for key in ("alice", "bob"):
        page = new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        sign_in(page, base, f"{key}-{tag}@example.com")
        page.locator("section.auctions article.listing-card", has_text=TITLE).locator("h3 a").click()
        rule = page.inner_text("#trade .deposit-rule")
        assert "¥10,000" in rule and "¥9,700" in rule and "¥300" in rule  # the forfeit split, before anyone pays
        assert page.locator("#trade #amount").count() == 0  # no bid form without a held deposit
        if key == "alice":
            _both(page, "deposit-auction-page")
        page.click("#trade button:has-text('交纳保证金')")
        assert page.inner_text("[data-field=deposit-status]") == "待交纳"
        reference = page.inner_text("code.pay-reference")
        assert reference.startswith("IPD")
        if key == "alice":
            _both(page, "deposit-bank-transfer")
        bidders[key] = (page, reference)

    # --- the operator matches both bank receipts --------------------------------------------------------
    operator.goto(base + "/operator/deposits")
    for key in ("alice", "bob"):
        reference = bidders[key][1]
        row = operator.locator("tr", has_text=reference)
        row.locator("input[name=reference]").fill(reference)
        row.locator("input[name=amount]").fill("10000")
        row.locator("button:has-text('确认')").click()
        assert "已确认到账" in flash(operator)

    # --- both bid; Bob leads -------------------------------------------------------------------------------
    for key, amount in (("alice", "200000"), ("bob", "210000")):
        page = bidders[key][0]
        page.reload()  # the deposit page: now held
        page.click("a:has-text('去出价')")
        assert "已交纳（托管中）" in page.inner_text("#trade [data-field=my-deposit]")
        page.fill("#amount", amount)
        page.click("#trade form.trade-form button:has-text('出价')")
        assert "出价成功" in flash(page)
    _both(bidders["bob"][0], "deposit-bidding")

    # --- the auction closes: Bob wins; Alice's deposit becomes a refund instruction -----------------------
    after_close = (datetime.now(timezone.utc) + timedelta(hours=4)).isoformat()
    flask_cli("deadlines", "run", "--now", after_close)
    operator.goto(base + "/operator/deposits")
    alice_row = operator.locator("tr", has_text=bidders["alice"][1])
    assert "¥10,000.00" in alice_row.inner_text()
    _both(operator, "deposit-operator-queue")
    # issue 15: one refund queue: the bank return is an instruction beside the deals' bank refunds
    alice_row.locator("a:has-text('在退款指令队列登记')").click()
    operator.wait_for_url("**/operator/refunds*")
    alice_row = operator.locator("tr[id^=deposit-refund-]", has_text=bidders["alice"][1])
    assert "¥10,000.00" in alice_row.inner_text() and "原路退回" in alice_row.inner_text()
    _both(operator, "deposit-refund-queue")
    alice_row.locator("input[name=reference]").fill("BOC2026120400017")
    alice_row.locator("button:has-text('已退款')").click()
    assert "退款已登记" in flash(operator)
    assert operator.locator("tr[id^=deposit-refund-]", has_text=bidders["alice"][1]).count() == 0

    alice = bidders["alice"][0]
    alice.goto(base + "/notifications")
    assert "保证金已退还" in alice.inner_text("main")

    bob = bidders["bob"][0]
    bob.goto(base + "/deals")
    bob.locator("main a", has_text=TITLE).first.click()
    assert "¥10,000" in bob.inner_text("[data-field=deposit-credit]")
    assert "¥20万" in bob.inner_text("main")  # the balance due: ¥210,000 − ¥10,000
    _both(bob, "deposit-deal-balance")

    # --- the seller signs the contract (so the lapse is Bob's alone) ------------------------------------
    deal_path = bob.url.split(base, 1)[1].split("?", 1)[0]
    seller.goto(base + deal_path + "/contract")
    seller.fill("#sign-password", PASSWORD)
    seller.click("form.contract-sign button[type=submit]")
    assert seller.locator(".contract-signatures").inner_text().count("孙卖家") == 1

    # --- Bob never pays: past the payment deadline the deal is cancelled and the deposit forfeited --------
    flask_cli("deadlines", "run", "--now", (datetime.now(timezone.utc) + timedelta(days=9)).isoformat())
    bob.reload()
    assert "已取消" in bob.inner_text("main")
    bob.goto(base + "/notifications")
    assert "保证金不予退还" in bob.inner_text("main")

    # The compensation goes by bank only into the seller's verified payout account (docs/payments.md): the
    # seller records one and the operator verifies it (through the API; the pages have their own journey).
    def api(email):
        token = requests.post(base + "/api/v1/auth/token", json={"email": email, "password": PASSWORD},
                              timeout=30).json()["token"]
        return {"Authorization": f"Bearer {token}"}

    account = requests.put(base + "/api/v1/payout-account", headers=api(f"seller-{tag}@example.com"), timeout=30,
                           json={"bank": "中国银行", "branch": "东莞分行", "account_number": "6222021000012345",
                                 "account_name": org_name})
    assert account.status_code == 201, account.text
    verified = requests.post(base + f"/api/v1/operator/payout-accounts/{account.json()['account']['id']}/verify",
                             headers=api(f"operator-{tag}@example.com"), timeout=30)
    assert verified.status_code == 200, verified.text

    operator.goto(base + "/operator/deposits")
    payout_row = operator.locator("tr", has_text=TITLE).filter(has_text="¥9,700.00")
    assert "¥300.00" in payout_row.inner_text()
    payout_row.locator("input[name=reference]").fill("ICBC2026121300042")
    payout_row.locator("button:has-text('已付款')").click()
    assert "卖方补偿已登记" in flash(operator)

    seller.goto(base + "/notifications")
    text = seller.inner_text("main")
    assert "买受人违约，保证金补偿" in text and "保证金补偿已支付" in text
    _both(seller, "deposit-seller-compensated")

"""Two bidders in two browsers bid on an auction in its final minutes: each bid extends the close
(anti-sniping), both pages show the new end time, and the outbid bidder is told in the notification centre.

The live server runs with ANTI_SNIPING_MINUTES=90 (tests/e2e/conftest.py) and auctions may not be published
closer than an hour before their end, so the seller sets the close 75 minutes ahead: the auction is then
inside its final window from the start, and no clock inside the server is touched.
"""
import re
import uuid
from datetime import datetime, timedelta, timezone

from tests.e2e.journey import PASSWORD, flash, fresh_application_number, fresh_uscc, shot, sign_in

BEIJING = timezone(timedelta(hours=8))
WINDOW = timedelta(minutes=90)  # ANTI_SNIPING_MINUTES of the live server
TITLE = "一种膜纸自动化印刷技术生产线结构 实用新型专利竞拍"


def _ends_at(page):
    """The close time the panel shows, as the page writes it (Beijing time, to the minute)."""
    return page.inner_text("#trade [data-field=ends-at]").strip()


def _parse(text):
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=BEIJING)


def test_two_bidders_extend_the_close_and_the_outbid_one_is_told(live_server, flask_cli, new_page):
    base, _env = live_server
    tag = uuid.uuid4().hex[:8]
    users = {
        "seller": ("陈卖家", ["--role", "seller", "--org-name", f"深圳市印捷包装机械有限公司{tag[:4]}",
                            "--uscc", fresh_uscc("440300"), "--region", "shenzhen"]),
        "operator": ("运营李娜", ["--role", "operator"]),
        "alice": ("赵竞买", ["--role", "buyer"]),
        "bob": ("钱竞买", ["--role", "buyer"]),
    }
    for key, (name, extra) in users.items():
        flask_cli("users", "create", "--email", f"{key}-{tag}@example.com", "--password", PASSWORD,
                  "--name", name, *extra)

    # --- the seller puts a utility model up for auction, closing 75 minutes from now -------------------
    seller = new_page()
    sign_in(seller, base, f"seller-{tag}@example.com")
    seller.click("header a:has-text('我的挂牌')")
    seller.click("main a.button:has-text('发布专利')")
    seller.fill("#f-rights-0-application_number", fresh_application_number(2021, "2"))
    seller.fill("#f-rights-0-title", "一种膜纸自动化印刷技术生产线结构")
    seller.fill("#f-rights-0-filing_date", "2021-05-18")
    seller.fill("#f-rights-0-grant_date", "2022-01-04")
    seller.fill("#f-rights-0-claims_count", "8")
    seller.fill("#f-rights-0-ipc_codes", "B41F 13/00")
    seller.check("input[name=price_mode][value=auction]")
    seller.fill("#f-auction-start_price", "200000")
    seller.fill("#f-auction-min_increment", "10000")
    closes = (datetime.now(BEIJING) + timedelta(minutes=75)).replace(second=0, microsecond=0)
    seller.fill("#f-auction-ends_at", closes.strftime("%Y-%m-%dT%H:%M"))
    seller.fill("#f-title", TITLE)
    seller.click("button[name=then][value=submit]")
    seller.wait_for_url(base + "/my/listings")
    assert "已保存并提交审核" in flash(seller)

    operator = new_page()
    sign_in(operator, base, f"operator-{tag}@example.com")
    operator.click("header a:has-text('运营后台')")
    operator.click("a.queue-link:has(#count-review)")
    operator.locator("article.review-item", has_text=TITLE).locator("button[value=approve]").click()
    assert f"已通过：{TITLE}" in flash(operator)

    # --- two bidders open the auction from the home page; Bob's browser is on Berlin time -------------
    alice = new_page()
    bob = new_page(timezone_id="Europe/Berlin")
    for page, key in ((alice, "alice"), (bob, "bob")):
        page.on("dialog", lambda dialog: dialog.accept())  # "确认出价？出价后不能撤回。"
        sign_in(page, base, f"{key}-{tag}@example.com")
        page.locator("section.auctions article.listing-card", has_text=TITLE).locator("h3 a").click()
        assert page.inner_text("h1").startswith(TITLE)
        assert _ends_at(page) == closes.strftime("%Y-%m-%d %H:%M")
        assert "结束前 90 分钟内有人出价" in page.inner_text("#trade .trade-note")
        assert page.inner_text("#trade [data-field=bid-count]") == "0"

    # --- Alice bids the start price inside the final window: the close moves to bid time + 90 minutes -
    assert alice.input_value("#amount") == "200000"
    before_bid = datetime.now(BEIJING)
    alice.click("#trade form.trade-form button[type=submit]")
    assert "出价成功" in flash(alice)
    assert alice.locator("#trade .trade-leading:visible").count() == 1
    extended = _parse(_ends_at(alice))
    assert extended > closes
    assert before_bid + WINDOW - timedelta(minutes=1) <= extended <= datetime.now(BEIJING) + WINDOW
    shot(alice, "auction-after-first-bid")

    # Bob's open page follows without a reload: bid count, new minimum and the new close, in Beijing time
    bob.wait_for_function("() => document.querySelector('[data-field=bid-count]').textContent === '1'",
                          timeout=25000)
    bob.wait_for_function("t => document.querySelector('[data-field=ends-at]').textContent.trim() === t",
                          arg=_ends_at(alice), timeout=25000)
    assert bob.inner_text("#trade [data-field=minimum-next-bid]") == "¥21万"
    # the listing's facts beside the panel follow too: one close time and one bid count on the page
    assert bob.inner_text("[data-live=ends-at]").strip() == _ends_at(alice)
    assert bob.inner_text("[data-live=bid-count]").strip() == "1"
    assert "trade-updated" in (bob.get_attribute("#trade", "class") or "")

    # --- Bob outbids her: the close moves again ------------------------------------------------------
    bob.fill("#amount", "210000")
    bob.click("#trade form.trade-form button[type=submit]")
    assert "出价成功" in flash(bob)
    assert bob.locator("#trade .trade-leading:visible").count() == 1
    assert bob.inner_text("#trade [data-field=bid-count]") == "2"
    assert _parse(_ends_at(bob)) >= extended
    assert "保留价" not in bob.inner_text(".listing-head")  # no reserve: nothing to say about one
    history = bob.locator("#trade ol.bid-history li")
    assert history.count() == 2
    assert "¥21万" in history.first.inner_text()
    shot(bob, "auction-after-second-bid")

    # --- Alice is told: one unread notification in the header and in the notification centre ---------
    alice.reload()
    assert alice.locator("#trade .trade-leading:visible").count() == 0  # the element stays for the live panel
    assert "您已被超越" in alice.inner_text("#trade [data-field=outbid]")
    assert alice.inner_text("header .notif-link .badge-count") == "1"
    alice.click("header a.notif-link")
    assert "未读 1 条" in alice.inner_text(".page-head")
    unread = alice.locator("li.notification.unread")
    assert unread.count() == 1
    assert re.search(rf"出价已被超过.*{TITLE}", unread.inner_text())
    shot(alice, "notifications-outbid")
    unread.locator("button:has-text('查看详情')").click()  # marks it read and opens the auction
    assert alice.inner_text("h1").startswith(TITLE)
    assert alice.locator("header .notif-link .badge-count").count() == 0

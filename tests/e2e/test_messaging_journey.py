"""Messages in a real browser (issue 17), at 1366 px and at 390 px: a buyer asks the seller about a listing (the
phone number typed stays hidden), the seller sees the unread count and answers, the buyer reads the answer on a
phone; the seller changes the published price and the listing shows it at once. No console errors, no failed
requests, no horizontal overflow at 390 px. Screenshots: test-artifacts/screenshots/messages-*.png."""
import uuid

from tests.e2e.journey import PASSWORD, failed_request, fresh_application_number, fresh_uscc, shot, sign_in

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def _page(browser, viewport, problems):
    context = browser.new_context(locale="zh-CN", viewport=viewport)
    context.set_default_timeout(15000)
    page = context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", failed_request(problems))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    return page


def _no_overflow(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def _api(page, base, method, path, token=None, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = page.request.fetch(base + path, method=method, headers=headers, **kwargs)
    assert response.status < 300, (path, response.status, response.text())
    return response.json()


def test_buyer_and_seller_talk_about_a_listing(live_server, flask_cli, browser):
    base, _env = live_server
    tag = uuid.uuid4().hex[:8]
    org_seller = f"广州市储能材料科技有限公司{tag[:4]}"
    title = f"高倍率磷酸铁锂正极材料专利转让{tag[:4]}"
    for key, name, extra in (
            ("buyer", "郑采购", ["--role", "buyer"]),
            ("seller", "黄卖家", ["--role", "seller", "--org-name", org_seller, "--uscc", fresh_uscc("440100"),
                                  "--region", "guangzhou"]),
            ("operator", "运营吴芳", ["--role", "operator"])):
        flask_cli("users", "create", "--email", f"{key}-{tag}@example.com", "--password", PASSWORD, "--name", name,
                  *extra)
    problems = []
    seller = _page(browser, DESKTOP, problems)
    seller.on("dialog", lambda dialog: dialog.accept())

    # the seller's listing, published (through the API: the wizard has journeys of its own)
    def token(key):
        return _api(seller, base, "POST", "/api/v1/auth/token",
                    data={"email": f"{key}-{tag}@example.com", "password": PASSWORD})["token"]

    listing = _api(seller, base, "POST", "/api/v1/listings", token("seller"), data={
        "kind": "patent", "title": title, "description": "循环寿命 6000 次，已完成中试。", "deal_types": ["assignment"],
        "price_mode": "fixed", "price": 680_000_00, "rights": [{"patent": {
            "application_number": fresh_application_number(2018), "title": "一种高倍率磷酸铁锂正极材料及其制备方法",
            "ipc_codes": ["H01M 4/58"], "filing_date": "2018-04-12", "grant_date": "2021-06-01", "claims_count": 9,
            "legal_status": "granted"}}]})["listing"]
    _api(seller, base, "POST", f"/api/v1/listings/{listing['id']}/submit", token("seller"))
    _api(seller, base, "POST", f"/api/v1/listings/{listing['id']}/review", token("operator"),
         data={"decision": "approve"})
    listing_url = f"{base}/listings/{listing['id']}"

    # --- the buyer asks, at 1366 px ------------------------------------------------------------------------
    buyer = _page(browser, DESKTOP, problems)
    sign_in(buyer, base, f"buyer-{tag}@example.com")
    buyer.goto(listing_url)
    assert f"seller-{tag}@example.com" not in buyer.content()  # no contact details before a deal
    buyer.click("main a.contact-seller")
    assert "成交前不显示联系方式" in buyer.inner_text("main")
    shot(buyer, "messages-compose-1366")
    buyer.fill("#message", "请问年费缴到哪年？可以开专票吗？我的电话 13800138000")
    buyer.click("#compose button[type=submit]")
    buyer.wait_for_url("**/messages/*")
    assert "请问年费缴到哪年" in buyer.inner_text("main")
    assert "13800138000" not in buyer.inner_text("main") and "联系方式成交后可见" in buyer.inner_text("main")

    # --- the seller sees the unread count, opens the inbox and answers ------------------------------------------
    sign_in(seller, base, f"seller-{tag}@example.com")
    # the header's count is the notification count: the approval and the message
    assert seller.locator("header .badge-count").first.inner_text().strip() == "2"
    seller.goto(base + "/messages")
    row = seller.locator("li.thread-row", has_text=title)
    assert row.locator(".badge-count").inner_text().strip() == "1"
    shot(seller, "messages-inbox-1366")
    row.locator("a").click()
    assert "请问年费缴到哪年" in seller.inner_text("main") and "13800138000" not in seller.content()
    seller.fill("#message", "年费已缴至 2027 年，可以开具增值税专用发票。")
    seller.click("#compose button[type=submit]")
    assert "可以开具增值税专用发票" in seller.inner_text("main")
    shot(seller, "messages-thread-1366")

    # --- the buyer reads it on a phone ------------------------------------------------------------------------
    phone = _page(browser, PHONE, problems)
    sign_in(phone, base, f"buyer-{tag}@example.com")
    phone.goto(base + "/messages")
    assert _no_overflow(phone), "the inbox overflows at 390 px"
    assert phone.locator("li.thread-row.unread", has_text=title).count() == 1
    shot(phone, "messages-inbox-390")
    phone.locator("li.thread-row", has_text=title).locator("a").click()
    assert "可以开具增值税专用发票" in phone.inner_text("main")
    assert _no_overflow(phone), "the thread overflows at 390 px"
    shot(phone, "messages-thread-390")
    phone.goto(listing_url)
    assert _no_overflow(phone)
    shot(phone, "messages-listing-390")

    # --- the seller changes the published price: it applies at once ----------------------------------------------
    seller.goto(listing_url + "/edit")
    assert "挂牌在售中" in seller.inner_text("main")
    seller.fill("#f-price", "62万")
    seller.click("main form button[name=action][value=save]:not(.sr-only)")
    seller.wait_for_url(listing_url)
    assert "修改已生效" in seller.inner_text("main")
    anonymous = _page(browser, DESKTOP, problems)
    anonymous.goto(listing_url)
    assert "62万" in anonymous.inner_text("main")
    assert not problems, problems

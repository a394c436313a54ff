"""The storefront look (issue 17) in a real browser at 1366×900 and 390×844: spec sheets, one price line,
the phone's 筛选 drawer, one-row header and buy bar, stacked operator tables, and the auction panel telling
an outbid bidder so without a reload. (Every main page at both sizes, with axe, overflow and console checks
and screenshots: test_page_walk.py.)

Screenshots of the states checked here: test-artifacts/screenshots/look-*.png."""
import json
import re
import urllib.request

import pytest

from tests.e2e.journey import failed_request, shot, sign_in

DEMO_PASSWORD = "demo-password-2026"
WIDE, PHONE = {"width": 1366, "height": 900}, {"width": 390, "height": 844}

@pytest.fixture(scope="module")
def demo(live_server, flask_cli):
    flask_cli("demo", "seed")
    return live_server[0]


def _api(base, method, path, body=None, token=None):
    request = urllib.request.Request(base + "/api/v1" + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _token(base, email):
    return _api(base, "POST", "/auth/token", {"email": email, "password": DEMO_PASSWORD})["token"]


def _watch(page):
    """Console errors, uncaught exceptions and failed requests of ``page`` (favicon included)."""
    problems = []
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("requestfailed", failed_request(problems, "failed"))
    return problems


def _fits(page, width):
    """No horizontal overflow: the document is no wider than the viewport."""
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll} px wide at {width} px"


def _listing(base, **query):
    hits = _api(base, "GET", "/search?per_page=50&" + "&".join(f"{k}={v}" for k, v in query.items()))["results"]
    return hits


def test_listing_page_is_a_spec_sheet_with_one_price_line(demo, new_page):
    page = new_page()
    page.set_viewport_size(WIDE)
    negotiable = [h for h in _listing(demo, price_mode="negotiable") if h["price"]][0]
    page.goto(demo + negotiable["url"])
    sheet = page.locator(".listing-head .spec-sheet")
    for label in ("权利人", "法律状态", "剩余期限", "类别", "交易方式", "卖方"):
        assert sheet.get_by_text(label, exact=True).count() == 1, label
    assert "年费" in sheet.inner_text() or "续展" in sheet.inner_text()
    head = page.locator(".listing-head .price-line").first.inner_text()
    assert "参考价" in head and "面议" not in head  # a negotiable listing with a price: a guide, not 面议 beside it
    pending = [h for h in _listing(demo, kind="patent") if h.get("right_status") == "pending"][0]
    page.goto(demo + pending["url"])
    assert "申请中" in page.locator(".spec-sheet").inner_text()
    assert not re.search(r"剩余 \d", page.locator(".spec-sheet").inner_text())  # no term left before the grant


def test_search_rows_carry_the_card_facts_and_auctions_count_down(demo, new_page):
    page = new_page()
    page.set_viewport_size(WIDE)
    page.goto(demo + "/search?price_mode=auction&sort=ending_soon")
    row = page.locator(".result-row").first
    text = row.inner_text()
    assert "次出价" in text and ("起拍价" in text or "当前价" in text)
    assert row.locator(".mono").count() == 1 and row.locator(".state").count() == 1  # number, status
    assert "权利人" in text
    countdown = row.locator(".countdown")
    first = countdown.inner_text()
    page.wait_for_timeout(1500)
    assert countdown.inner_text() != first  # it runs


def test_phone_search_shows_a_result_on_the_first_screen(demo, new_page):
    page = new_page()
    page.set_viewport_size(PHONE)
    page.goto(demo + "/search?q=%E7%94%B5%E6%B1%A0")
    drawer = page.locator("details.filter-drawer")
    assert drawer.get_attribute("open") is None  # filters folded behind 筛选
    box = page.locator(".result-row").first.bounding_box()
    assert box["y"] < PHONE["height"], f"first result starts at {box['y']} px"
    page.locator("details.filter-drawer > summary").click()
    assert page.locator(".search-facets .facet").first.is_visible()
    _fits(page, PHONE["width"])
    shot(page, "look-search-drawer-390")


def test_phone_listing_has_a_sticky_buy_bar_and_a_menu(demo, new_page):
    page = new_page()
    page.set_viewport_size(PHONE)
    fixed = _listing(demo, price_mode="fixed")[0]
    page.goto(demo + fixed["url"])
    bar = page.locator(".buybar")
    assert bar.is_visible() and "一口价" in bar.inner_text() and "立即购买" in bar.inner_text()
    page.mouse.wheel(0, 2000)
    page.wait_for_timeout(200)
    assert bar.bounding_box()["y"] + bar.bounding_box()["height"] <= PHONE["height"] + 1  # stays at the bottom
    assert not page.locator(".nav-links").is_visible()
    page.locator(".nav-menu > summary").click()
    assert page.locator("header").get_by_role("link", name="登录", exact=True).is_visible()
    page.set_viewport_size(WIDE)
    assert not bar.is_visible() and page.locator("header").get_by_role("link", name="登录", exact=True).is_visible()


def test_operator_tables_are_stacked_cards_on_a_phone(demo, new_page):
    """(Every operator page at both sizes, with no overflow: test_page_walk.py.)"""
    operator = new_page()
    sign_in(operator, demo, "operator@demo.ipmart.cn", DEMO_PASSWORD)
    operator.set_viewport_size(PHONE)
    operator.goto(demo + "/operator/audit")
    cells = operator.locator("table.data td")
    if cells.count():  # stacked: each cell carries its column's name and takes the card's width
        assert operator.locator("table.data.stack").count() >= 1
        assert cells.first.bounding_box()["width"] > 200


def test_outbid_bidder_sees_it_live_and_raises_by_one_step(demo, new_page):
    auctions = [h for h in _listing(demo, price_mode="auction") if h.get("auction_closed") is False]
    target = None
    for hit in auctions:
        listing = _api(demo, "GET", f"/listings/{hit['id']}")["listing"]
        if not listing["auction"].get("deposit_amount") and "星河" not in json.dumps(listing, ensure_ascii=False):
            target = listing
            break
    assert target is not None, "the demo tour has an auction without a deposit"
    page = new_page()
    page.set_viewport_size(WIDE)
    problems = _watch(page)
    sign_in(page, demo, "buyer@demo.ipmart.cn", DEMO_PASSWORD)
    page.goto(demo + f"/listings/{target['id']}")
    page.once("dialog", lambda d: d.accept())
    page.locator(".raise-form button").click()  # 加价一手: one tap bids the minimum
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-field=leading]").is_visible()
    assert page.locator("[data-field=outbid]").is_hidden()
    rival = _token(demo, "seller@demo.ipmart.cn")
    minimum = _api(demo, "GET", f"/listings/{target['id']}")["listing"]["auction"]
    amount = minimum["current_price"] + minimum["min_increment"]
    _api(demo, "POST", f"/listings/{target['id']}/bids", {"amount": amount}, rival)
    banner = page.locator("[data-field=outbid]")
    banner.wait_for(state="visible", timeout=30000)  # the panel polls every 10 s
    assert "您已被超越" in banner.inner_text()
    assert page.locator("[data-field=leading]").is_hidden()
    next_min = amount + minimum["min_increment"]
    assert page.locator("[data-field=raise-amount]").get_attribute("value") == str(next_min // 100)
    assert page.locator(".trade-form:not(.raise-form) input[name=amount]").input_value() == str(next_min // 100)
    assert page.locator("[data-field=bid-history] li").count() >= 2
    minimum_text = page.locator("[data-field=minimum-next-bid]").inner_text()
    assert minimum_text in page.locator(".amount-field .hint").inner_text()  # the hint's 至少 follows too
    assert minimum_text in page.locator("[data-field=raise-button]").inner_text()
    shot(page, "look-outbid-1366")
    page.set_viewport_size(PHONE)
    _fits(page, PHONE["width"])
    shot(page, "look-outbid-390")
    assert not problems, problems


def test_standing_pages_account_basics_and_prices_per_deal_type(demo, new_page):
    """Issue 17's account basics: the footer's pages, password reset, the personal-data page, and a listing
    priced per deal type, with the footer at the bottom of a short page (each page at both sizes: test_page_walk)."""
    page = new_page()
    problems = _watch(page)
    page.set_viewport_size(WIDE)
    page.goto(demo + "/help")
    footer = page.locator("footer.site-footer")
    for label in ("帮助中心", "交易规则", "联系我们", "用户协议", "隐私政策"):
        assert footer.get_by_role("link", name=label).count() == 1, label
    assert "3%" in page.locator("#fees + ul").inner_text()  # PLATFORM_FEE_BPS, not a copy
    # a short page: the footer's bottom edge is the window's
    page.goto(demo + "/password/forgot")
    box = footer.bounding_box()
    assert abs(box["y"] + box["height"] - WIDE["height"]) <= 1, box
    # asking for a reset says the same for any address, and changes nothing visible
    page.fill("#email", "nobody-at-all@example.com")
    page.click("main form button[type=submit]")
    assert "如果该邮箱已在知产超市注册" in page.inner_text("main")
    shot(page, "look-forgot-sent-1366")
    # registration asks for consent; without it, nothing is created
    page.goto(demo + "/register")
    page.fill("#email", "consent-check@example.com")
    page.fill("#password", "a-long-password-1")
    page.fill("#name", "未勾选")
    page.check("input[name=roles][value=buyer]")
    page.click("main form button[type=submit]")
    assert "请阅读并同意《用户协议》和《隐私政策》" in page.inner_text("#accept_terms-error")
    shot(page, "look-register-consent-1366")
    # the personal-data page and the account page's links
    sign_in(page, demo, "buyer@demo.ipmart.cn", DEMO_PASSWORD)
    page.goto(demo + "/account/credit")
    assert page.get_by_role("link", name="下载我的数据").count() == 1
    assert page.get_by_role("link", name="注销账号").count() == 1
    # a listing priced per deal type: each price under one label, nothing contradicting it
    both = [h for h in _listing(demo, price_mode="fixed") if h.get("prices")][0]
    page.goto(demo + both["url"])
    head = page.locator(".listing-head .price-line").first.inner_text()
    assert "一口价" in head and "转让" in head and "普通许可" in head and "参考价" not in head and "面议" not in head
    assert page.locator(".deal-price-quote tbody tr").count() == 2
    assert not problems, problems

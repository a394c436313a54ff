"""A buyer bids in a real browser while a rival bids over the API: the panel follows without a reload."""
import json
import urllib.request
import uuid


def _api(base, method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_panel_follows_a_rival_bid_and_takes_the_buyers_bid(live_server, flask_cli, new_page):
    base, _env = live_server
    flask_cli("demo", "seed")
    listing_id = None
    for candidate in range(1, 200):  # the demo catalogue's first open auction
        status, body = _api(base, "GET", f"/api/v1/listings/{candidate}")
        if status == 200 and body["listing"]["price_mode"] == "auction" and body["listing"]["status"] == "published" \
                and not body["listing"]["auction"]["closed"]:
            listing_id = candidate
            break
    assert listing_id, "the demo catalogue has no open auction"
    status, rival = _api(base, "POST", "/api/v1/auth/register", {
        "email": f"rival-{uuid.uuid4().hex[:8]}@example.com", "password": "a-long-password-1", "name": "竞买人乙",
        "roles": ["buyer"], "accept_terms": True})
    assert status == 201, rival

    page = new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the bid button asks "确认出价？"
    page.goto(base + "/login")
    page.fill("#email", "buyer@demo.ipmart.cn")
    page.fill("#password", "demo-password-2026")
    page.click("main form button[type=submit]")
    page.wait_for_url(base + "/")
    page.goto(f"{base}/listings/{listing_id}")
    panel = page.locator("#trade")
    before_count = panel.locator("[data-field=bid-count]").inner_text()
    left = panel.locator("[data-field=time-left]").inner_text()
    page.wait_for_function("t => document.querySelector('[data-field=time-left]').textContent !== t", arg=left)

    # the rival bids the minimum over the API; the open page shows it within one poll, without a reload
    minimum = _api(base, "GET", f"/api/v1/listings/{listing_id}")[1]["listing"]["auction"]
    amount = (minimum["current_price"] + minimum["min_increment"]) if minimum["current_price"] \
        else minimum["start_price"]
    status, body = _api(base, "POST", f"/api/v1/listings/{listing_id}/bids", {"amount": amount}, rival["token"])
    assert status == 201, body
    page.wait_for_function(
        "n => document.querySelector('[data-field=bid-count]').textContent === String(n)",
        arg=int(before_count) + 1, timeout=25000)
    assert "trade-updated" in (panel.get_attribute("class") or "")

    # the buyer's stale amount is refused beside the field, with the new minimum filled in; then it goes through
    page.fill("#amount", str(amount // 100))
    page.click("#trade form.trade-form button[type=submit]")
    page.wait_for_selector("#amount-error")
    assert "至少" in page.inner_text("#amount-error")
    page.click("#trade form.trade-form button[type=submit]")
    page.wait_for_selector(".flash-success")
    assert "出价成功" in page.inner_text(".flash-success")
    assert page.locator("#trade .trade-leading").count() == 1
    status, bids = _api(base, "GET", f"/api/v1/listings/{listing_id}/bids")
    assert bids["bids"][0]["amount"] == amount + minimum["min_increment"]

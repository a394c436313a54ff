"""Every main page, as the visitor, the buyer, the seller and the operator see it, at 1366×900 and 390×844
(issue 17): one browser, one signed-in context per role, each page at both sizes, and each must have

* a 200, no console error, no uncaught exception and no failed request;
* no horizontal overflow, and at 390 px a one-row header;
* no table column squeezed to a character or two, no badge broken over two lines;
* no axe-core violation (WCAG 2.1 A/AA).

The world is the demo tour plus what the roles do to it through the API (a purchase, an offer, a listing
message, a wanted ad); the journeys themselves are the other tests'. Full-page screenshots of every page at
both sizes go to ``$WALK_SCREENSHOTS`` (else the test's tmp folder), named ``<role>-<page>-<width>.png``:
people look at them (docs/demo.md says how to make them).
"""
import os
import time
import urllib.parse
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.e2e.journey import sign_in
from tests.e2e.test_accessibility import _problems as axe_problems
from tests.e2e.test_storefront_look import DEMO_PASSWORD, _api, _token, _watch

SIZES = ({"width": 1366, "height": 900}, {"width": 390, "height": 844})
STAR_RIVER = "深圳星河智能科技有限公司"  # the demo seller's organisation

# Layout faults axe does not see: a table cell squeezed to a character or two, a badge broken over two lines.
LAYOUT = """() => {
  const out = [];
  const visible = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  for (const cell of document.querySelectorAll('main td, main th')) {
    const text = cell.innerText.trim();
    if (!visible(cell) || text.length < 3) continue;
    const style = getComputedStyle(cell);
    const inner = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    if (inner < 2.5 * parseFloat(style.fontSize)) out.push(`narrow column (${Math.round(inner)} px): ${text.slice(0, 30)}`);
  }
  for (const badge of document.querySelectorAll('.badge, .state, .tag, .pill, .grade')) {
    if (!visible(badge) || !badge.innerText.trim()) continue;
    const lines = new Set([...badge.getClientRects()].map((r) => Math.round(r.top)));
    const style = getComputedStyle(badge);
    const line = parseFloat(style.lineHeight) || 1.5 * parseFloat(style.fontSize);
    const padding = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
    if (lines.size > 1 || badge.getBoundingClientRect().height - padding > 1.6 * line)
      out.push(`badge wraps: ${badge.innerText.trim().slice(0, 30)}`);
  }
  return out;
}"""


def _search(base, **query):
    return _api(base, "GET", "/search?per_page=50&" + urllib.parse.urlencode(query))["results"]


def _sellers(base, hits):
    """(hit, listing) of each search hit, with the listing's seller organisation."""
    for hit in hits:
        listing = _api(base, "GET", f"/listings/{hit['id']}")["listing"]
        yield hit, listing


def _own(base, hits):
    """The first hit the demo seller (深圳星河) offers, and its listing."""
    for hit, listing in _sellers(base, hits):
        if (listing.get("seller") or {}).get("organization") == STAR_RIVER:
            return hit, listing
    raise AssertionError("no listing of the demo seller among the hits")


@pytest.fixture(scope="module")
def world(live_server, flask_cli):
    """The demo tour, plus: the demo buyer bought a fixed-price listing of the demo seller, made an offer on
    one of its negotiable listings, asked about a listing, and posted a wanted ad the operator approved."""
    flask_cli("demo", "seed")
    base = live_server[0]
    buyer, operator = _token(base, "buyer@demo.ipmart.cn"), _token(base, "operator@demo.ipmart.cn")
    fixed, fixed_listing = _own(base, _search(base, price_mode="fixed", sort="newest"))
    deal = _api(base, "POST", f"/listings/{fixed['id']}/purchase", {"deal_type": fixed_listing["deal_types"][0]},
                buyer)["deal"]
    negotiable, negotiable_listing = _own(base, _search(base, price_mode="negotiable"))
    _api(base, "POST", f"/listings/{negotiable['id']}/offers",
         {"amount": 20_0000_00, "deal_type": negotiable_listing["deal_types"][0], "message": "可否分期付款？"}, buyer)
    thread = _api(base, "POST", f"/listings/{negotiable['id']}/messages",
                  {"message": "请问这件专利的年费缴到哪一年？是否有实施许可在身？"}, buyer)["thread"]
    ad = _api(base, "POST", "/wanted", {
        "kind": "patent", "title": "求购锂电池正极材料相关发明专利", "description": "用于储能电池量产，优先已授权发明，可转让或独占许可。",
        "keywords": ["锂电池", "正极材料"], "ipc": "H01M", "deal_types": ["assignment", "exclusive_license"],
        "negotiable": True, "region": "zhuhai", "expires_at": (date.today() + timedelta(days=30)).isoformat()},
        buyer)
    _api(base, "POST", f"/wanted/{ad['id']}/review", {"decision": "approve"}, operator)
    auction = [h for h in _search(base, price_mode="auction", sort="ending_soon") if not h.get("auction_closed")][0]
    trademark = _search(base, kind="trademark")[0]
    design = _search(base, kind="patent", q="外观设计")
    per_type = [h for h in _search(base, price_mode="fixed") if h.get("prices")][0]
    pending = [h for h in _search(base, kind="patent") if h.get("right_status") == "pending"][0]
    seller_user = _api(base, "GET", "/me", token=_token(base, "seller@demo.ipmart.cn"))["user"]
    return {"base": base, "deal": deal["id"], "fixed": fixed["id"], "negotiable": negotiable["id"],
            "thread": thread["id"], "wanted": ad["id"], "auction": auction["id"], "trademark": trademark["id"],
            "design": (design or [trademark])[0]["id"], "per_type": per_type["id"], "pending": pending["id"],
            "patent_number": fixed_listing["rights"][0]["number"], "seller": seller_user}


def _pages(w):
    """(role, name, path) of every main page."""
    deal, fixed = w["deal"], w["fixed"]
    visitor = [("home", "/"), ("search", "/search?q=%E7%94%B5%E6%B1%A0"),
               ("search-auctions", "/search?price_mode=auction&sort=ending_soon"),
               ("search-licence-price", "/search?deal_type=non_exclusive_license&price_max=10000000"),
               ("listing-fixed", f"/listings/{fixed}"), ("listing-negotiable", f"/listings/{w['negotiable']}"),
               ("listing-auction", f"/listings/{w['auction']}"), ("listing-trademark", f"/listings/{w['trademark']}"),
               ("listing-design", f"/listings/{w['design']}"), ("listing-per-type", f"/listings/{w['per_type']}"),
               ("listing-pending", f"/listings/{w['pending']}"),
               ("right", f"/rights/patent/{urllib.parse.quote(w['patent_number'])}"),
               ("stats", "/stats"), ("wanted", "/wanted"), ("wanted-ad", f"/wanted/{w['wanted']}"),
               ("open-licences", "/open-licences"), ("rubric", "/grades/rubric"), ("help", "/help"),
               ("rules", "/rules"), ("contact", "/contact"), ("terms", "/terms"), ("privacy-policy", "/privacy-policy"),
               ("login", "/login"), ("register", "/register"), ("forgot", "/password/forgot")]
    buyer = [("listing-fixed", f"/listings/{fixed}"), ("notifications", "/notifications"),
             ("account", "/account/credit"), ("password", "/account/password"), ("privacy", "/account/privacy"),
             ("deals", "/deals"), ("deal", f"/deals/{deal}"), ("contract", f"/deals/{deal}/contract"),
             ("tax", f"/deals/{deal}/tax"), ("buying", "/dashboard/buying"), ("saved", "/search/saved"),
             ("messages", "/messages"), ("thread", f"/messages/{w['thread']}"), ("wanted-mine", "/wanted/mine"),
             ("wanted-new", "/wanted/new"), ("licences", "/licences")]
    seller = [("my-listings", "/my/listings"), ("offers", "/dashboard/offers"), ("new-patent", "/listings/new"),
              ("new-trademark", "/listings/new?kind=trademark"), ("import", "/listings/import"),
              ("edit", f"/listings/{w['negotiable']}/edit"), ("open-licence", f"/listings/{w['negotiable']}/open-licence"),
              ("dataroom", f"/listings/{w['negotiable']}/dataroom"), ("organization", "/account/organization"),
              ("payout-account", "/account/payout-account"), ("deal", f"/deals/{deal}"), ("messages", "/messages"),
              ("thread", f"/messages/{w['thread']}"), ("finance", "/finance"),
              ("valuation-new", "/finance/valuations/new"), ("loan-new", "/finance/loans/new"),
              ("licences", "/licences")]
    operator = [("console", "/operator/"), ("review", "/operator/listings/review"), ("kyc", "/operator/kyc"),
                ("accounts", "/operator/accounts?q=demo"), ("user", f"/operator/users/{w['seller']['id']}"),
                ("organization", f"/operator/organizations/{w['seller']['organization']['id']}"),
                ("audit", "/operator/audit"), ("grading", "/operator/grading"),
                ("assess", f"/operator/grading/{w['negotiable']}"), ("calibration", "/operator/grading/calibration"),
                ("payments", "/operator/payments"), ("payouts", "/operator/payouts"),
                ("payout-accounts", "/operator/payout-accounts"), ("refunds", "/operator/refunds"),
                ("recordals", "/operator/recordals"), ("disputes", "/operator/disputes"),
                ("deposits", "/operator/deposits"), ("credit", "/operator/credit"),
                ("claims", "/operator/rights/claims"), ("wanted", "/operator/wanted"), ("stats", "/operator/stats"),
                ("finance", "/finance/operator"), ("deal", f"/deals/{deal}")]
    english = [("home", "/?lang=en"), ("search", "/search?q=battery"), ("listing-per-type", f"/listings/{w['per_type']}"),
               ("listing-auction", f"/listings/{w['auction']}"), ("privacy-policy", "/privacy-policy")]
    return {"visitor": visitor, "buyer@demo.ipmart.cn": buyer, "seller@demo.ipmart.cn": seller,
            "operator@demo.ipmart.cn": operator, "english": english}


ROLES = ("visitor", "buyer@demo.ipmart.cn", "seller@demo.ipmart.cn", "operator@demo.ipmart.cn", "english")


@pytest.mark.parametrize("role", ROLES, ids=[r.split("@")[0] for r in ROLES])
def test_every_main_page_at_both_sizes(world, browser, tmp_path, role):
    """One signed-in context per role (the visitor's and the English one signed out), each page at both sizes."""
    base = world["base"]
    folder = Path(os.environ.get("WALK_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    pages, problems, started = _pages(world)[role], [], time.monotonic()
    context = browser.new_context(locale="zh-CN", viewport=SIZES[0])
    context.set_default_timeout(15000)
    page = context.new_page()
    if "@" in role:
        sign_in(page, base, role, DEMO_PASSWORD)
    heard = _watch(page)  # console errors, uncaught exceptions, failed requests: emptied after each page
    who = role.split("@")[0]
    try:
        for size in SIZES:
            page.set_viewport_size(size)
            for name, path in pages:
                response = page.goto(base + path)
                found = [] if response.status == 200 else [f"HTTP {response.status}"]
                width = page.evaluate("document.documentElement.scrollWidth")
                if width > size["width"]:
                    found.append(f"{width} px wide")
                if size["width"] < 500 and page.locator("header.site-header").bounding_box()["height"] >= 80:
                    found.append("the header wraps")
                found += page.evaluate(LAYOUT) + axe_problems(page)
                page.evaluate("window.scrollTo(0, 0)")
                page.screenshot(path=str(folder / f"{who}-{name}-{size['width']}.png"), full_page=True)
                found += heard
                heard.clear()
                problems += [f"{who} {path} @{size['width']}: {f}" for f in found]
    finally:
        context.close()
    print(f"page walk, {who}: {len(pages) * 2} pages in {time.monotonic() - started:.0f} s, screenshots in {folder}")
    assert not problems, "\n".join(problems)

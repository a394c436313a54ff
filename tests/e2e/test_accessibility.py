"""Basic accessibility of the pages people use, checked in a real browser with axe-core (WCAG 2.1 A/AA):
labelled form fields, names for links and buttons, contrast, landmarks; and keyboard use with a
visible focus ring."""
import json
import urllib.request

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.e2e.journey import sign_in

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DEMO_PASSWORD = "demo-password-2026"


def _problems(page):
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": TAGS}})
    assert len(results.response["passes"]) >= 10, f"axe checked almost nothing on {page.url}"
    found = []
    for violation in results.response["violations"]:
        for node in violation["nodes"][:3]:
            found.append(f"{page.url} {violation['id']} ({violation['impact']}): {node['target']} "
                         f"{node.get('failureSummary', '')[:200]}")
    return found


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


def _a_deal(base):
    """The demo buyer buys a fixed-price demo listing (the API, as an integrator would): the deal page to check."""
    token = _api(base, "POST", "/auth/token", {"email": "buyer@demo.ipmart.cn", "password": DEMO_PASSWORD})["token"]
    hit = _api(base, "GET", "/search?price_mode=fixed&per_page=1")["results"][0]
    listing = _api(base, "GET", f"/listings/{hit['id']}")["listing"]
    deal = _api(base, "POST", f"/listings/{hit['id']}/purchase", {"deal_type": listing["deal_types"][0]}, token)
    return deal["deal"]["id"]


def _first_listing(page, base):
    page.goto(base + "/search?q=%E7%94%B5%E6%B1%A0")
    return page.locator(".result-list a").first.get_attribute("href")


def test_public_pages_pass_axe(demo, new_page):
    page = new_page()
    listing = _first_listing(page, demo)
    problems = []
    for path in ("/", "/search?q=%E7%94%B5%E6%B1%A0", listing, "/stats", "/login", "/register", "/?lang=en"):
        page.goto(demo + path)
        problems += _problems(page)
    assert not problems, "\n".join(problems)


def test_signed_in_pages_pass_axe(demo, new_page):
    problems = []
    page = new_page()
    sign_in(page, demo, "buyer@demo.ipmart.cn", DEMO_PASSWORD)
    deal = _a_deal(demo)
    for path in ("/notifications", "/account/credit", "/account/password", "/deals", f"/deals/{deal}",
                 f"/deals/{deal}/contract", "/dashboard/buying", "/search/saved", "/grades/rubric"):
        assert page.goto(demo + path).status == 200, path
        problems += _problems(page)
    page = new_page()
    sign_in(page, demo, "seller@demo.ipmart.cn", DEMO_PASSWORD)
    for path in ("/my/listings", "/dashboard/offers", "/listings/new", "/listings/import", "/account/organization", f"/deals/{deal}"):
        assert page.goto(demo + path).status == 200, path
        problems += _problems(page)
    page = new_page()
    sign_in(page, demo, "operator@demo.ipmart.cn", DEMO_PASSWORD)
    for path in ("/operator/", "/operator/kyc", "/operator/accounts?q=demo", "/operator/credit", "/operator/audit",
                 "/operator/stats", "/operator/listings/review", "/operator/grading", "/operator/payments",
                 "/operator/payouts", "/operator/disputes", f"/deals/{deal}"):
        assert page.goto(demo + path).status == 200, path
        problems += _problems(page)
    assert not problems, "\n".join(problems)


def test_keyboard_reaches_search_with_a_visible_focus_ring(demo, new_page):
    page = new_page()
    page.goto(demo + "/")
    page.keyboard.press("Tab")  # first stop: the skip link, shown when focused
    skip = page.evaluate("document.activeElement.className")
    assert "skip-link" in skip
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    page.goto(demo + "/")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('name')") == "q":
            break
    else:
        pytest.fail("Tab never reached the search box")
    ring = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return [s.outlineStyle, parseFloat(s.outlineWidth), s.boxShadow]; }""")
    assert (ring[0] != "none" and ring[1] >= 2) or ring[2] != "none", ring
    page.keyboard.type("电池")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?**")
    assert "电池" in page.inner_text("main")

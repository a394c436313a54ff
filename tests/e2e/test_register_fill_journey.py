"""The wizard asks the register while the seller types (issue 13), in a real browser at 1366 px and 390 px.

A natural person registers as a seller (no organisation). Typing a number an organisation holds shows the
refusal the save would give (409 held_by_another) with its two ways forward, before saving; typing a number
the register gives to the person fills the row's title, IPC classes and dates and says "已在登记簿中：
权利人 …". Without JavaScript, saving a known number alone still fills the register's data."""
import uuid

import requests

from tests.e2e.journey import PASSWORD, fresh_application_number, fresh_uscc, shot, sign_in


def _api_seller(base, name, organization=None):
    email = f"e2e-fill-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": PASSWORD, "name": name, "roles": ["seller"], "accept_terms": True}
    if organization:
        body["organization"] = organization
    res = requests.post(base + "/api/v1/auth/register", json=body, timeout=20)
    assert res.status_code == 201, res.text
    return email, {"Authorization": f"Bearer {res.json()['token']}"}


def _draft(base, headers, number, title):
    body = {"kind": "patent", "title": title + "转让", "deal_types": ["assignment"], "price_mode": "fixed",
            "price": 300_000_00, "rights": [{"patent": {
                "application_number": number, "title": title, "ipc_codes": ["H01M 4/36", "H01M 10/0525"],
                "filing_date": "2020-07-21", "grant_date": "2022-03-10", "legal_status": "granted",
                "claims_count": 8}}]}
    res = requests.post(base + "/api/v1/listings", json=body, headers=headers, timeout=20)
    assert res.status_code == 201, res.text
    return res.json()["listing"]["id"]


def _wizard(page, base, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(base + "/listings/new?kind=patent")
    return page.locator("[data-right-row='0']")


def test_the_wizard_fills_a_known_number_while_typing(live_server, new_page, browser):
    base, _env = live_server
    org_email, org_headers = _api_seller(base, "赵经理", {"name": "广州星河储能科技有限公司",
                                                       "uscc": fresh_uscc("440100"), "region": "guangzhou"})
    theirs = fresh_application_number()
    _draft(base, org_headers, theirs, "一种固态电解质及其制备方法")
    person_email, person_headers = _api_seller(base, "王小明")
    mine = fresh_application_number()
    _draft(base, person_headers, mine, "一种锂电池正极材料及其制备方法")

    for width in (1366, 390):
        page = new_page()
        sign_in(page, base, person_email)
        row = _wizard(page, base, width)
        note = row.locator("[data-register-note]")

        # Someone else's number: the 409 and its two ways forward, before saving.
        page.fill("#f-rights-0-application_number", theirs)
        page.locator("#f-rights-0-title").click()  # leaving the field asks at once
        page.wait_for_selector("[data-right-row='0'] .register-note-conflict")
        text = note.inner_text()
        assert "广州星河储能科技有限公司" in text and theirs in text and "委托书" in text
        assert note.locator("a").count() == 2
        assert note.locator(f"a[href='/rights/patent/{theirs}']").count() == 1
        shot(page, f"wizard-register-held-by-another-{width}")
        note.locator("a[href='#f-acts_for_holders']").click()
        assert page.evaluate("document.activeElement.id") == "f-acts_for_holders"

        # The person's own number: filled from the register while typing (a pause, no blur).
        page.fill("#f-rights-0-application_number", "")
        page.locator("#f-rights-0-application_number").press_sequentially(mine, delay=5)
        page.wait_for_selector("[data-right-row='0'] .register-note-known")
        assert "已在登记簿中：权利人 王小明" in note.inner_text()
        assert page.input_value("#f-rights-0-title") == "一种锂电池正极材料及其制备方法"
        assert page.input_value("#f-rights-0-filing_date") == "2020-07-21"
        assert page.input_value("#f-rights-0-grant_date") == "2022-03-10"
        assert page.input_value("#f-rights-0-ipc_codes") == "H01M 4/36, H01M 10/0525"
        assert page.input_value("#f-rights-0-claims_count") == "8"
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
        shot(page, f"wizard-register-known-{width}")

        # A number the register does not know yet.
        page.fill("#f-rights-0-application_number", fresh_application_number())
        page.locator("#f-rights-0-title").click()
        page.locator("[data-right-row='0'] [data-register-note]", has_text="尚无该号码").wait_for()

    # Without JavaScript the save fills the same data from the register (progressive enhancement).
    context = browser.new_context(java_script_enabled=False, locale="zh-CN", viewport={"width": 390, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, base, person_email)
        page.goto(base + "/listings/new?kind=patent")
        page.fill("#f-rights-0-application_number", mine)
        page.check("input[name=deal_types][value=non_exclusive_license]")
        page.check("input[name=price_mode][value=negotiable]")
        page.fill("#f-title", "锂电池正极材料专利普通许可")
        page.click("button[name=action][value=save]:not(.sr-only)")
        page.wait_for_url(lambda url: "/edit" in url or "/listings/" in url)
        assert "error-summary" not in page.content()
        page.goto(base + "/my/listings")
        assert "锂电池正极材料专利普通许可" in page.inner_text("main")
    finally:
        context.close()

"""A new seller registers with an organisation, switches language, signs out and back in — in a real browser."""
import uuid

from tests.e2e.journey import fresh_uscc


def test_seller_registers_switches_language_and_signs_out(live_server, new_page):
    base, _env = live_server
    page = new_page()
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    uscc = fresh_uscc("440300")  # nobody's yet (the demo catalogue may be loaded by another test)
    wrong = uscc[:-1] + ("0" if uscc[-1] != "0" else "1")
    page.goto(base + "/register")
    assert "注册" in page.title()
    page.fill("#email", email)
    page.fill("#password", "short")
    page.fill("#name", "陈经理")
    page.check("input[name=roles][value=seller]")
    page.fill("#org_name", "深圳市星河智能科技有限公司")
    page.fill("#org_uscc", wrong)  # wrong check character
    page.select_option("#org_region", "shenzhen")
    page.check("#accept_terms")
    page.click("main form button[type=submit]")
    # Errors are shown beside their fields and nothing is stored.
    assert "至少 10 个字符" in page.inner_text("#password-error")
    assert f"应为 {uscc[-1]}" in page.inner_text("#org_uscc-error")

    page.fill("#password", "a-long-password-1")
    page.fill("#org_uscc", uscc)
    page.click("main form button[type=submit]")
    page.wait_for_url(base + "/")
    assert "陈经理" in page.inner_text("header")

    page.click("a.lang-switch")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Sign out" in page.inner_text("header")
    page.goto(base + "/login")  # the choice is remembered
    assert page.locator("html").get_attribute("lang") == "en"
    page.click("header button:has-text('Sign out')")
    assert "Sign in" in page.inner_text("header")

    page.goto(base + "/login")
    page.fill("#email", email)
    page.fill("#password", "a-long-password-1")
    page.click("main form button[type=submit]")
    page.wait_for_url(base + "/")
    assert "陈经理" in page.inner_text("header")

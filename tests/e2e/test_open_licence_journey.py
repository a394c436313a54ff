"""Licensing in a real browser (issue 16): a patent holder declares an open licence (a royalty of 150 % is refused
on the form), a second organisation finds it through the header's 开放许可, takes it in one step, both sign and
the licensee pays the first year's minimum by bank transfer, confirmed by an operator; the licensee reports one
quarter's net sales (a negative figure is refused), sees where to pay, pays; the operator confirms it into escrow,
the licensor releases it and sees the income on 我的许可, both download their CSV. The header stays one row, and
the pages have no horizontal overflow and pass axe-core, at 1366 and at 390 px.

Set-up outside the browser (``_seed``): the two organisations are verified and the holder's granted patent is
listed and published (the KYC and review pages have journeys of their own), and, once the licence is taken, its
start is moved 100 days back so that its first quarter has ended (the server's clock cannot be moved)."""
import json
import subprocess
import sys
import uuid

from tests.e2e.conftest import ROOT
from tests.e2e.journey import PASSWORD, flash, fresh_application_number, fresh_uscc, shot, sign_in
from tests.e2e.test_accessibility import _problems as axe_problems

TITLE = "一种高镍三元锂电池正极材料及其制备方法"
DESKTOP, PHONE = {"width": 1366, "height": 900}, {"width": 390, "height": 844}

SEED = """
import json, sys
from wsgi import app
from marketplace.kernel.extensions import db
from marketplace.kernel.models import User
from tests import factories
args = json.loads(sys.argv[1])
with app.app_context():
    if args["act"] == "seed":
        holder = db.session.scalar(db.select(User).where(User.email == args["holder"]))
        taker = db.session.scalar(db.select(User).where(User.email == args["taker"]))
        holder.organization.verified = taker.organization.verified = True
        listing = factories.make_listing(holder, title=args["title"], number=args["number"], price=200_000_00,
                                         deal_types=("non_exclusive_license",))
        db.session.commit()
        print(listing.id)
    else:  # the licence began 100 days ago: its first quarter has ended
        from datetime import timedelta
        from escrow.royalty_models import Licence
        licence = db.session.get(Licence, args["licence"])
        shift = timedelta(days=100)
        licence.starts_on -= shift
        licence.ends_on -= shift
        licence.deal.license_start -= shift
        licence.deal.license_end -= shift
        db.session.commit()
        print(licence.id)
"""


def _seed(env, **args):
    out = subprocess.run([sys.executable, "-c", SEED, json.dumps(args)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return int(out.stdout.strip().splitlines()[-1])


def _page(browser, size):
    context = browser.new_context(locale="zh-CN", viewport=size)
    context.set_default_timeout(15000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.errors = errors
    return page


def _looks_right(page, name):
    """At this width: the header is one row, nothing overflows sideways, no console error, no axe-core (WCAG 2.1
    A/AA) violation; a screenshot."""
    assert page.locator("header.site-header").bounding_box()["height"] < 80, f"{name}: the header wraps"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), f"{name}: overflow"
    assert not page.errors, page.errors
    problems = axe_problems(page)
    assert not problems, "\n".join(problems)
    shot(page, name)


def test_declare_take_report_and_pay_an_open_licence(live_server, flask_cli, browser):
    base, env = live_server
    tag = uuid.uuid4().hex[:6]
    title = f"{TITLE}{tag}"
    holder_org, taker_org = f"广州华南理工技术转移有限公司{tag}", f"佛山市动力电池有限公司{tag}"
    for key, name, extra in (
            ("holder", "陈教授", ["--role", "seller", "--org-name", holder_org, "--uscc", fresh_uscc("440101")]),
            ("taker", "何厂长", ["--role", "buyer", "--org-name", taker_org, "--uscc", fresh_uscc("440600")]),
            ("operator", "运营周敏", ["--role", "operator"])):
        flask_cli("users", "create", "--email", f"{key}-{tag}@example.com", "--password", PASSWORD, "--name", name,
                  *extra)
    listing_id = _seed(env, act="seed", holder=f"holder-{tag}@example.com", taker=f"taker-{tag}@example.com",
                       title=title, number=fresh_application_number(2019))

    # --- the holder declares an open licence: 5 % of net sales, ¥10,000 a year at least, quarterly, 3 years ------
    holder = _page(browser, DESKTOP)
    sign_in(holder, base, f"holder-{tag}@example.com")
    holder.goto(f"{base}/listings/{listing_id}")
    holder.click("main a:has-text('声明开放许可')")
    holder.check("input[name=royalty_kind][value=percent]")
    holder.fill("#royalty_percent", "150")
    holder.fill("#yearly_minimum", "10000")
    holder.select_option("#period", "quarter")
    holder.fill("#term_years", "3")
    holder.click("main form button[type=submit]")
    assert "0–100%" in holder.inner_text("main")  # refused, naming the royalty
    holder.errors.clear()  # the refusal's 422 is logged by the browser
    holder.fill("#royalty_percent", "5")
    holder.click("main form button[type=submit]")
    assert "开放许可已声明" in flash(holder)
    assert "开放许可" in holder.inner_text(".open-licence-panel h2")
    _looks_right(holder, "open-licence-declared-1366")

    # --- a second organisation finds it from the header and takes it in one step ------------------------------
    taker = _page(browser, DESKTOP)
    sign_in(taker, base, f"taker-{tag}@example.com")
    taker.click("header a:has-text('开放许可')")
    card = taker.locator("li.card", has_text=title)
    assert "净销售额的 5%" in card.inner_text() and "¥10,000" in card.inner_text()
    _looks_right(taker, "open-licence-catalogue-1366")
    card.locator("h2 a").click()
    taker.click(".open-licence-panel button:has-text('接受条件，取得许可')")
    assert "已按公告条件取得开放许可" in flash(taker)
    deal_url = taker.url
    deal_id = int(deal_url.rsplit("/", 1)[1])

    for party in (holder, taker):  # both sign the contract, which states the open licence's terms
        party.goto(deal_url)
        party.click(".deal-paperwork a:has-text('审阅并签署合同')")
        assert "5%" in party.inner_text(".contract-document")
        party.fill("#sign-password", PASSWORD)
        party.click("form.contract-sign button[type=submit]")
        assert "已签署合同" in flash(party)
    taker.goto(deal_url)
    taker.click(".deal-actions button:has-text('付款')")
    assert taker.inner_text(".pay-offline .price") == "¥10,000.00"  # the first year's minimum, in advance
    reference = taker.inner_text("code.pay-reference").strip()

    taker.click("header a:has-text('我的许可')")
    licence_id = int(taker.locator("#held-table tbody tr").first.get_attribute("data-licence"))
    _seed(env, act="backdate", licence=licence_id)

    operator = _page(browser, DESKTOP)
    sign_in(operator, base, f"operator-{tag}@example.com")
    operator.click("header a:has-text('运营后台')")
    operator.click("a.queue-link:has(#count-payments)")
    row = operator.locator("main table tr", has_text=reference)
    row.locator(f"#ref-{deal_id}").fill(reference)
    row.locator(f"#amt-{deal_id}").fill("10000")
    row.locator("button:has-text('确认')").click()
    assert "已确认到账" in flash(operator)

    # --- the licensee reports the first quarter ---------------------------------------------------------------
    taker.click("header a:has-text('我的许可')")
    assert "报告截止" in taker.inner_text("#held-table")
    taker.click(f"#held-table a:has-text('#{licence_id}')")
    assert taker.inner_text("[data-field=licence-status]").startswith("有效")
    first = taker.locator("article.period[data-period='1']")
    first.locator("input[name=net_sales]").fill("-5")
    first.locator("button:has-text('报告销售额')").click()
    assert "销售额报告有误" in taker.inner_text("main .flash-error")
    taker.errors.clear()  # the refusal's 422
    first = taker.locator("article.period[data-period='1']")
    first.locator("input[name=net_sales]").fill("500,000")
    first.locator("input[name=note]").fill("2026年第一季度出货 2 万套")
    first.locator("button:has-text('报告销售额')").click()
    assert "销售额已报告" in flash(taker)
    first = taker.locator("article.period[data-period='1']")
    assert first.locator("[data-field=period-status]").inner_text() == "待付款"
    assert "¥50万" in first.inner_text() and "¥15,000" in first.inner_text()  # 5 % of ¥500,000, less the ¥10,000 paid in advance
    royalty_ref = first.locator(".pay-box code").last.inner_text().strip()
    assert royalty_ref.startswith("IPR")
    _looks_right(taker, "licence-reported-1366")

    # --- the operator confirms the bank transfer; the licensor accepts the report: released -------------------
    operator.goto(f"{base}/licences/{licence_id}")
    form = operator.locator("article.period[data-period='1'] form:has(button:has-text('确认到账'))")
    form.locator("input[name=reference]").fill(royalty_ref)
    form.locator("input[name=amount]").fill("15000")
    form.locator("button").click()
    assert "许可费已确认到账" in flash(operator)

    holder.click("header a:has-text('我的许可')")
    holder.click(f"#granted-table a:has-text('#{licence_id}')")
    holder.locator("article.period[data-period='1'] button:has-text('确认报告，放款')").click()
    assert "已确认" in flash(holder)
    assert holder.locator("article.period[data-period='1'] [data-field=period-status]").inner_text() == \
        "已放款给许可方"
    holder.click("header a:has-text('我的许可')")
    income = holder.locator("#income-table tr[data-kind=running]").first.inner_text()
    assert "¥50万" in income and "¥15,000" in income and "¥14,550" in income and "已放款给许可方" in income
    _looks_right(holder, "licences-licensor-1366")
    with holder.expect_download() as download:
        holder.click("a:has-text('下载 CSV（许可与每期收入）')")
    text = open(download.value.path(), encoding="utf-8-sig").read()
    assert "running" in text and "500000.00" in text and taker_org in text

    # --- the same pages on a phone --------------------------------------------------------------------------
    for page, name in ((taker, "licensee"), (holder, "licensor")):
        page.set_viewport_size(PHONE)
        page.goto(f"{base}/licences")
        _looks_right(page, f"licences-{name}-390")
        page.goto(f"{base}/licences/{licence_id}")
        _looks_right(page, f"licence-{name}-390")
    taker.goto(f"{base}/open-licences")
    _looks_right(taker, "open-licence-catalogue-390")
    taker.click("header summary:has-text('菜单')")
    assert taker.locator("header a:has-text('我的许可')").is_visible()
    assert taker.locator("header a:has-text('开放许可')").is_visible()
    shot(taker, "header-menu-390")
    taker.goto(f"{base}/stats")
    assert taker.inner_text("#stat-open-taken") != "0"
    for page in (holder, taker, operator):
        page.context.close()

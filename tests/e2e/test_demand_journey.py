"""The demand side in a real browser (issue 22): a buyer posts a wanted ad, an operator approves it, a seller's
new listing matches it (matched by `flask search sync`, outside any request), both are told, the seller answers,
the buyer asks for the data room and signs the NDA with its password, is granted access, downloads a watermarked
file, and the seller sees the log and revokes access. Also: the pages at 390 px wide have no horizontal overflow."""
import io
import uuid
from datetime import date, timedelta

from tests.e2e.journey import PASSWORD, flash, fresh_application_number, fresh_uscc, pdf_file, shot, sign_in

# A real patent's title and IPC (listings/data/cn_patents_title_ipc.csv style): a lithium-battery cathode.
PATENT_TITLE = "一种高镍三元锂电池正极材料及其制备方法"
IPC = "H01M 4/36"


def _pdf():
    """A well-formed one-page PDF (pypdf writes the cross-reference table the watermark needs)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _no_overflow(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_wanted_ad_match_answer_and_data_room(live_server, flask_cli, new_page, browser):
    base, _env = live_server
    tag = uuid.uuid4().hex[:8]
    org_buyer, org_seller = f"佛山市动力电池有限公司{tag[:4]}", f"深圳市正极材料科技有限公司{tag[:4]}"
    ad_title = f"求购锂电池正极材料发明专利{tag[:4]}"
    listing_title = f"高镍三元锂电池正极材料专利转让{tag[:4]}"
    for key, name, extra in (
            ("buyer", "何采购", ["--role", "buyer", "--org-name", org_buyer, "--uscc", fresh_uscc("440600"),
                                 "--region", "foshan"]),
            ("seller", "林卖家", ["--role", "seller", "--org-name", org_seller, "--uscc", fresh_uscc("440300"),
                                  "--region", "shenzhen"]),
            ("operator", "运营周敏", ["--role", "operator"])):
        flask_cli("users", "create", "--email", f"{key}-{tag}@example.com", "--password", PASSWORD, "--name", name,
                  *extra)

    # --- the buyer posts a wanted ad; a budget upside down is refused, naming the field ----------------
    buyer = new_page()
    sign_in(buyer, base, f"buyer-{tag}@example.com")
    buyer.click("header a:has-text('求购')")
    buyer.click("main a.button:has-text('发布求购')")
    buyer.fill("#title", ad_title)
    buyer.fill("#description", "用于动力电池量产，希望受让或独占许可。")
    buyer.fill("#keywords", "锂电池 正极材料")
    buyer.fill("#ipc", "H01M")
    buyer.check("input[name=deal_types][value=assignment]")
    buyer.fill("#budget_min", "2000000")
    buyer.fill("#budget_max", "100000")
    buyer.fill("#expires_at", (date.today() + timedelta(days=60)).isoformat())
    buyer.check("input[name=hide_name]")
    buyer.click("main form button[type=submit]")
    assert "最高预算不能低于最低预算" in buyer.inner_text("#budget_max-error")
    buyer.fill("#budget_min", "100000")
    buyer.fill("#budget_max", "2000000")
    buyer.click("main form button[type=submit]")
    assert "运营人员审核后公开" in flash(buyer)

    operator = new_page()
    sign_in(operator, base, f"operator-{tag}@example.com")
    operator.click("header a:has-text('运营后台')")
    operator.click("a.queue-link:has(#count-wanted)")
    operator.locator("section.card", has_text=ad_title).locator("button[value=approve]").click()
    assert "已审核" in flash(operator)
    flask_cli("search", "sync")

    # --- the seller lists a matching patent; the operator approves it ------------------------------------
    seller = new_page()
    seller.on("dialog", lambda dialog: dialog.accept())
    sign_in(seller, base, f"seller-{tag}@example.com")
    seller.goto(base + "/wanted")
    card = seller.locator("li.card", has_text=ad_title)
    assert "匿名买家" in card.inner_text() and org_buyer not in card.inner_text()
    seller.click("header a:has-text('我的挂牌')")
    seller.click("main a.button:has-text('发布专利')")
    seller.fill("#f-rights-0-application_number", fresh_application_number(2019))
    seller.fill("#f-rights-0-title", PATENT_TITLE)
    seller.fill("#f-rights-0-filing_date", "2019-05-14")
    seller.fill("#f-rights-0-grant_date", "2021-08-03")
    seller.select_option("#f-rights-0-legal_status", "granted")
    seller.fill("#f-rights-0-claims_count", "8")
    seller.fill("#f-rights-0-ipc_codes", IPC)
    seller.check("input[name=price_mode][value=fixed]")
    seller.fill("#f-price", "800000")
    seller.fill("#f-title", listing_title)
    seller.fill("#f-description", "高镍三元正极材料，循环寿命长。")
    seller.click("button[name=then][value=submit]")
    seller.wait_for_url(base + "/my/listings")
    operator.click("header a:has-text('运营后台')")
    operator.click("a.queue-link:has(#count-review)")
    operator.locator("article.review-item", has_text=listing_title).locator("button[value=approve]").click()
    assert f"已通过：{listing_title}" in flash(operator)
    flask_cli("search", "sync")  # matching runs here, not in the requests above

    # --- both are told; the buyer sees the match and why; the seller answers -------------------------------
    buyer.goto(base + "/notifications")
    assert ad_title in buyer.inner_text("main")
    buyer.goto(base + "/wanted/mine")
    buyer.click(f"main a:has-text('{ad_title}')")
    matches = buyer.inner_text("#matches")
    assert listing_title in matches and "H01M 4/36" in matches and "价格在预算内" in matches
    seller.goto(base + "/notifications")
    assert ad_title in seller.inner_text("main")
    seller.goto(base + "/wanted/mine")
    seller.click(f"main a:has-text('{ad_title}')")
    seller.select_option("#listing_id", label=listing_title)
    seller.fill("#message", "我方专利完全符合，资料室已备好检测报告。")
    seller.click("main form button:has-text('回应')")
    assert "买方会收到通知" in flash(seller)

    # --- the seller fills the data room --------------------------------------------------------------------
    seller.goto(base + "/my/listings")
    seller.click(f"main a:has-text('{listing_title}')")
    seller.click("main a:has-text('管理资料室')")
    seller.select_option("#category", "test_report")
    seller.set_input_files("#document", pdf_file("损坏的文件.pdf"))  # no xref: cannot be watermarked, refused
    seller.click("main form button:has-text('上传')")
    assert "文件无法读取" in flash(seller, "error")
    seller.select_option("#category", "test_report")
    seller.set_input_files("#document", {"name": "循环寿命检测报告.pdf", "mimeType": "application/pdf",
                                         "buffer": _pdf()})
    seller.click("main form button:has-text('上传')")
    assert "文件已上传" in flash(seller)
    room_url = seller.url

    # --- the buyer reads the answer, signs the NDA with its password, and waits for the grant ---------------
    buyer.goto(base + "/notifications")
    buyer.locator("li.notification", has_text="卖方用挂牌回应了您的求购").locator(
        ":is(a, button):has-text('查看详情')").first.click()
    assert "资料室已备好检测报告" in buyer.inner_text("main")
    buyer.click("main a:has-text('资料室')")
    assert "保密协议" in buyer.inner_text("main") and "循环寿命检测报告.pdf" not in buyer.inner_text("main")
    buyer.fill("#password", "not-my-password")
    buyer.click("main form button:has-text('签署并申请查阅')")
    assert "密码不正确" in flash(buyer, "error")
    buyer.fill("#password", PASSWORD)
    buyer.click("main form button:has-text('签署并申请查阅')")
    assert "等待卖方授权" in flash(buyer)

    seller.goto(room_url)
    seller.locator("tr", has_text=org_buyer).locator("button:has-text('授权')").click()
    assert "已授权查阅" in flash(seller)

    # --- the buyer downloads a watermarked file -------------------------------------------------------------
    buyer.reload()
    file_href = buyer.locator("main a:has-text('循环寿命检测报告.pdf')").get_attribute("href")
    with buyer.expect_download() as info:
        buyer.click("main a:has-text('循环寿命检测报告.pdf')")
    from pypdf import PdfReader

    text = PdfReader(io.BytesIO(open(info.value.path(), "rb").read())).pages[0].extract_text()
    assert org_buyer in text

    # --- the seller sees who saw what, and revokes --------------------------------------------------------------
    seller.reload()
    log = seller.locator("table.data").last.inner_text()
    assert org_buyer in log and "循环寿命检测报告.pdf" in log and "下载" in log
    shot(seller, "dataroom-seller")
    seller.locator("tr", has_text=org_buyer).locator("button:has-text('撤销')").click()
    assert "已撤销查阅权限" in flash(seller)
    assert buyer.request.get(base + file_href).status == 403  # after the revoke: refused (and logged)
    buyer.goto(room_url)
    assert "已撤销" in buyer.inner_text("main") and "循环寿命检测报告.pdf" not in buyer.inner_text("main")

    # --- narrow screens: no horizontal overflow ------------------------------------------------------------------
    for who, paths in ((seller, ("/wanted", "/wanted/mine", room_url.replace(base, ""))),
                       (buyer, ("/wanted/new", "/wanted/mine"))):
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                      storage_state=who.context.storage_state())
        try:
            narrow = context.new_page()
            for path in paths:
                narrow.goto(base + path)
                assert _no_overflow(narrow), path
                shot(narrow, "demand-390" + path.replace("/", "-"))
        finally:
            context.close()

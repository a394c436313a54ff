"""One patent from listing to a completed, paid-out deal, every step done in a real browser by the person
who would do it: a seller (registered with an organisation), an operator, and a buyer, each in their own
browser context. Asserts on what each of them sees.
"""
import re
import uuid
from datetime import datetime, timedelta, timezone

from tests.e2e.journey import (
    PASSWORD,
    flash,
    fresh_application_number,
    fresh_uscc,
    pdf_file,
    shot,
    sign_in,
)

# A real patent's title and IPC classes (listings/data/cn_patents_title_ipc.csv: CN111504366B, 发明授权).
PATENT_TITLE = "基于人工智能的流体输送系统精确计量方法及计量装置"
LISTING_TITLE = "流体输送系统精确计量方法及装置 发明专利转让"
IPC = "G01F 1/66, G01D 21/00"
QUERY = "流体输送"


def _status(page):
    return page.locator(".deal-head .status").inner_text()


def test_patent_from_listing_to_completed_deal(live_server, flask_cli, new_page):
    base, _env = live_server
    tag = uuid.uuid4().hex[:8]
    org_name = f"广州穗流计量科技有限公司{tag[:4]}"
    uscc = fresh_uscc()
    application_number = fresh_application_number()

    # --- the public statistics before ------------------------------------------------------------
    visitor = new_page()
    visitor.goto(base + "/stats")
    deals_before = int(visitor.inner_text("#stat-deals-total"))
    listings_before = int(visitor.inner_text("#stat-listings-total"))

    # --- seller registers with an organisation ----------------------------------------------------
    seller = new_page()
    seller.on("dialog", lambda dialog: dialog.accept())
    seller.goto(base + "/")
    seller.click("header a:has-text('注册')")
    seller.fill("#email", f"seller-{tag}@example.com")
    seller.fill("#password", PASSWORD)
    seller.fill("#name", "林晓峰")
    seller.check("input[name=roles][value=seller]")
    seller.fill("#org_name", org_name)
    seller.fill("#org_uscc", uscc)
    seller.select_option("#org_region", "guangzhou")
    seller.check("#accept_terms")
    seller.click("main form button[type=submit]")
    seller.wait_for_url(base + "/")
    assert "林晓峰" in seller.inner_text("header")

    # the seller uploads the business licence from the account page
    seller.click("header a.user-name")
    seller.click("main a:has-text('单位认证')")
    assert uscc in seller.inner_text("main")
    assert "未核验" in seller.inner_text("main")
    seller.set_input_files("#licence", pdf_file("营业执照.pdf"))
    seller.click("main form button:has-text('上传营业执照')")
    assert "营业执照已上传" in flash(seller)
    assert "等待运营人员核验" in seller.inner_text("main")

    # --- seller lists the patent, open to offers ---------------------------------------------------
    seller.click("header a:has-text('我的挂牌')")
    seller.click("main a.button:has-text('发布专利')")
    seller.fill("#f-rights-0-application_number", "ZL " + application_number)
    seller.fill("#f-rights-0-title", PATENT_TITLE)
    seller.fill("#f-rights-0-filing_date", "2020-04-28")
    seller.fill("#f-rights-0-grant_date", "2021-12-10")
    seller.select_option("#f-rights-0-legal_status", "granted")
    seller.fill("#f-rights-0-claims_count", "10")
    seller.fill("#f-rights-0-ipc_codes", IPC)
    seller.fill("#f-rights-0-abstract", "本发明公开了一种基于人工智能的流体输送系统精确计量方法，"
                                        "通过神经网络补偿温度与压力对流量计的影响，提高计量精度。")
    seller.check("input[name=price_mode][value=negotiable]")
    seller.fill("#f-price", "600000")
    seller.fill("#f-offer_floor", "350000")
    seller.fill("#f-title", LISTING_TITLE)
    seller.fill("#f-description", "**已授权发明专利**，可用于燃气、供水计量设备。\n\n- 权利要求 10 项\n- 无质押、无在先许可")
    seller.click("button[name=then][value=submit]")
    seller.wait_for_url(base + "/my/listings")
    assert "已保存并提交审核" in flash(seller)
    row = seller.locator("table.my-listings tr", has_text=LISTING_TITLE)
    assert row.locator(".status").inner_text() == "待审核"
    assert application_number in row.inner_text()

    # --- operator: verify the organisation, approve and grade the listing ---------------------------
    operator_email = f"ops-{tag}@example.com"
    flask_cli("users", "create", "--email", operator_email, "--password", PASSWORD, "--name", "运营张敏",
              "--role", "operator")
    operator = new_page()
    sign_in(operator, base, operator_email)
    operator.click("header a:has-text('运营后台')")
    assert int(operator.inner_text("#count-kyc")) >= 1
    assert int(operator.inner_text("#count-review")) >= 1
    shot(operator, "operator-console")

    operator.click("a.queue-link:has(#count-kyc)")
    operator.click(f"main table a:has-text('{org_name}')")
    assert "校验位正确" in operator.inner_text("main")
    assert "查看营业执照" in operator.inner_text("main")
    operator.check("input[name=decision][value=verify]")
    operator.click("main form button:has-text('保存核验结果')")
    assert "已核验" in operator.inner_text("main h1")

    operator.click("header a:has-text('运营后台')")
    operator.click("a.queue-link:has(#count-review)")
    item = operator.locator("article.review-item", has_text=LISTING_TITLE)
    assert "已认证" in item.inner_text()
    item.locator("button[value=approve]").click()
    assert f"已通过：{LISTING_TITLE}" in flash(operator)

    operator.click("header a:has-text('运营后台')")
    operator.click("a.queue-link:has(#count-grading)")
    operator.locator("table.grading-queue tr", has_text=LISTING_TITLE).locator("a.button").click()
    for score in operator.locator("form.grading-form input[type=number]").all():
        if not score.input_value():
            score.fill("7")
    operator.fill("#rationale", "已授权发明，权利要求10项，保护期剩余较长，计量领域应用广泛，技术成熟度较高。")
    operator.click("button[name=action][value=save]")
    graded = re.search(rf"已为「{LISTING_TITLE}」评级：([ABCD])（[\d.]+ 分）", flash(operator))
    assert graded, flash(operator)
    grade = graded.group(1)
    assert operator.locator("table.grading-queue tr", has_text=LISTING_TITLE).count() == 0

    # --- buyer registers, searches in Chinese, opens the listing, makes an offer ---------------------
    buyer = new_page()
    buyer.on("dialog", lambda dialog: dialog.accept())
    buyer.goto(base + "/register")
    buyer.fill("#email", f"buyer-{tag}@example.com")
    buyer.fill("#password", PASSWORD)
    buyer.fill("#name", "王采购")
    buyer.check("input[name=roles][value=buyer]")
    buyer.check("#accept_terms")
    buyer.click("main form button[type=submit]")
    buyer.wait_for_url(base + "/")
    assert LISTING_TITLE in buyer.inner_text("main")  # newest listings on the home page
    shot(buyer, "home")

    buyer.fill("#header-q", QUERY)
    buyer.press("#header-q", "Enter")
    buyer.wait_for_url(re.compile(r"/search\?"))
    assert re.search(rf"“{QUERY}” 共 \d+ 条结果", buyer.inner_text(".results-count"))
    hit = buyer.locator("ol.result-list li.result", has_text=LISTING_TITLE)
    assert hit.count() == 1
    assert hit.locator(".grade").inner_text().strip() == grade
    shot(buyer, "search-results")

    hit.locator("h3 a").click()
    assert buyer.inner_text("h1").startswith(LISTING_TITLE)
    assert "已认证企业" in buyer.inner_text(".seller-box")
    assert application_number in buyer.inner_text("main")
    assert buyer.locator(".listing-head .grade").first.inner_text().split()[-1] == grade
    holders = buyer.locator(".right-item .holders").first.inner_text()
    assert "权利人" in holders and org_name in holders  # the register's holder, shown on the listing
    shot(buyer, "listing-detail")
    buyer.click(".right-item .holders a")  # the right's own page in the register
    assert application_number in buyer.inner_text("main") and org_name in buyer.inner_text("ul.holders")
    assert "无" in buyer.inner_text("main")  # not pledged, no licence in force
    shot(buyer, "right-page")
    buyer.go_back()
    buyer.fill("#amount", "450000")
    buyer.check("input[name=deal_type][value=assignment]")
    buyer.fill("#message", "希望尽快完成转让登记。")
    buyer.click("#trade form.trade-form button[type=submit]")
    assert "报价已提交" in flash(buyer)
    assert "等待卖家答复" in buyer.inner_text("#trade")

    # --- seller accepts the offer: the deal opens ---------------------------------------------------
    seller.reload()
    assert seller.locator("header .notif-link .badge-count").count() == 1
    seller.click("header a:has-text('收到的报价')")
    offer_row = seller.locator("main table tr", has_text=LISTING_TITLE)
    assert "¥45万" in offer_row.inner_text()
    offer_row.locator("button:has-text('接受')").click()
    seller.wait_for_url(re.compile(r"/deals/\d+$"))
    assert "已接受报价" in flash(seller)
    deal_id = int(seller.url.rsplit("/", 1)[1])
    assert _status(seller) == "待付款"

    # --- both parties review and sign the contract (payment is due only then) -----------------------
    for party, name in ((seller, "seller"), (buyer, "buyer")):
        party.goto(f"{seller.url.rsplit('/deals/', 1)[0]}/deals/{deal_id}")
        assert "请审阅并签署合同" in party.inner_text(".deal-paperwork")
        party.click(".deal-paperwork a:has-text('审阅并签署合同')")
        assert "专利权转让合同" in party.inner_text(".contract-document h1")
        assert "¥450,000.00" in party.inner_text(".contract-document")
        party.fill("#sign-password", "not-my-password")
        party.click("form.contract-sign button[type=submit]")
        assert "密码不正确" in flash(party, "error") and party.locator("#sign-password").count() == 1  # unsigned
        party.fill("#sign-password", PASSWORD)
        party.click("form.contract-sign button[type=submit]")
        assert "已签署合同" in flash(party)
        shot(party, f"contract-signed-by-{name}")
    assert "双方已签署" in buyer.inner_text("main")
    for width in (390, 1366):  # the contract page on a phone and on a laptop
        buyer.set_viewport_size({"width": width, "height": 900})
        shot(buyer, f"contract-{width}")
    buyer.set_viewport_size({"width": 1280, "height": 900})
    with buyer.expect_download() as download_info:
        buyer.click("a:has-text('下载 PDF')")
    pdf_path = download_info.value.path()
    with open(pdf_path, "rb") as fh:
        assert fh.read(5) == b"%PDF-"
    buyer.click("a:has-text('返回交易')")

    # --- buyer pays by bank transfer ---------------------------------------------------------------
    buyer.click("header a:has-text('我的交易')")
    buyer.click(f"main table a:has-text('#{deal_id}')")
    assert _status(buyer) == "待付款"
    assert "轮到您处理" in buyer.inner_text(".deal-next")
    buyer.click(".deal-actions button:has-text('付款')")
    assert "银行转账付款" in buyer.inner_text("h1")
    assert buyer.inner_text(".pay-offline .price") == "¥450,000.00"
    reference = buyer.inner_text("code.pay-reference").strip()
    assert reference
    buyer.click("a:has-text('返回交易')")
    shot(buyer, "deal-awaiting-payment")

    # --- operator confirms the bank receipt in the payments queue ----------------------------------
    operator.click("header a:has-text('运营后台')")
    assert int(operator.inner_text("#count-payments")) >= 1
    operator.click("a.queue-link:has(#count-payments)")
    pay_row = operator.locator("main table tr", has_text=reference)
    pay_row.locator(f"#ref-{deal_id}").fill(reference)
    pay_row.locator(f"#amt-{deal_id}").fill("450000")
    pay_row.locator("button:has-text('确认')").click()
    assert "已确认到账" in flash(operator)
    assert operator.locator("main table tr", has_text=reference).count() == 0

    # --- seller files the transfer at CNIPA and uploads both notices ---------------------------------
    seller.click("header a:has-text('我的交易')")
    seller.click(f"main table a:has-text('#{deal_id}')")
    assert _status(seller) == "资金已托管"
    assert "¥450,000.00" in seller.inner_text("section[aria-labelledby=ledger-h]")
    seller.set_input_files("#file_transfer-document", pdf_file("受理通知书.pdf"))
    seller.click(".deal-actions form:has(#file_transfer-document) button[type=submit]")
    assert "受理回执已上传" in flash(seller)
    assert _status(seller) == "变更已提交"
    seller.set_input_files("#record_transfer-document", pdf_file("手续合格通知书.pdf"))
    seller.fill("#record_transfer-notice_number", "12AB")  # not the notice's 发文序号: refused, nothing stored
    seller.fill("#record_transfer-notice_date", datetime.now(timezone(timedelta(hours=8))).date().isoformat())
    seller.click(".deal-actions form:has(#record_transfer-document) button[type=submit]")
    assert "发文序号应为" in seller.inner_text(".deal-actions") and _status(seller) == "变更已提交"
    seller.set_input_files("#record_transfer-document", pdf_file("手续合格通知书.pdf"))
    seller.fill("#record_transfer-notice_number", "2026120400012345")
    seller.click(".deal-actions form:has(#record_transfer-document) button[type=submit]")
    assert "等待平台核对" in flash(seller)
    assert _status(seller) == "登记待平台核对"
    for width in (390, 1366):
        seller.set_viewport_size({"width": width, "height": 900})
        shot(seller, f"recordal-submitted-{width}")
    seller.set_viewport_size({"width": 1280, "height": 900})

    # --- operator verifies the recordal details against the notice: inspection starts -------------------
    operator.goto(f"{seller.url.rsplit('/deals/', 1)[0]}/operator/recordals")
    item = operator.locator("main section", has_text=f"#{deal_id}")
    assert "发文序号 2026120400012345" in item.inner_text()
    shot(operator, "recordal-queue")
    item.locator("button:has-text('核对无误')").click()
    assert "买方验收期开始" in flash(operator)
    seller.reload()
    assert _status(seller) == "变更已登记"
    assert seller.locator("ul.deal-docs li").count() == 2

    # --- buyer accepts: escrow releases to the seller ------------------------------------------------
    buyer.reload()
    assert _status(buyer) == "变更已登记"
    buyer.click(".deal-actions button:has-text('确认验收并放款')")
    assert "已确认验收" in flash(buyer)
    assert _status(buyer) == "已放款"

    # --- the seller records its payout account; the operator verifies it (issue 15) ---------------------
    seller.goto(base + "/account/payout-account")
    seller.fill("#bank", "中国工商银行")
    seller.fill("#branch", "广州天河支行")
    seller.fill("#account_number", "3602 0012 0920 0123 456")
    seller.fill("#account_name", org_name)
    seller.click("main form button:has-text('提交核验')")
    assert "收款账户已提交" in flash(seller)
    operator.goto(base + "/operator/payout-accounts")
    operator.locator("main table tr", has_text=org_name).locator("button:has-text('核验通过')").click()
    assert "收款账户已核验" in flash(operator)

    # --- operator marks the payout paid -----------------------------------------------------------
    operator.click("header a:has-text('运营后台')")
    assert int(operator.inner_text("#count-payouts")) >= 1
    operator.click("a.queue-link:has(#count-payouts)")
    payout_row = operator.locator("main table tr", has_text=LISTING_TITLE)
    assert "¥436,500.00" in payout_row.inner_text()  # 450,000 less the 3 % platform fee
    payout_row.locator(f"#pref-{deal_id}").fill(f"BOC{tag.upper()}")
    payout_row.locator("button:has-text('已付款')").click()
    assert "交易完成" in flash(operator)

    seller.goto(base + f"/deals/{deal_id}")
    assert _status(seller) == "已完成"
    assert "交易已结束" in seller.inner_text(".deal-next")
    assert "已付款" in seller.inner_text("section[aria-labelledby=facts-h]")
    buyer.reload()
    assert _status(buyer) == "已完成"
    shot(buyer, "deal-completed")

    # --- the register follows the recorded assignment: the buyer holds the patent now ------------
    buyer.goto(base + f"/rights/patent/{application_number}")
    assert org_name not in buyer.inner_text("ul.holders") and "王采购" in buyer.inner_text("ul.holders")
    assert "转让（平台交易）" in buyer.inner_text("ol.history")
    shot(buyer, "right-after-assignment")

    # --- the public statistics count it --------------------------------------------------------------
    visitor.reload()
    assert int(visitor.inner_text("#stat-deals-total")) == deals_before + 1
    assert int(visitor.inner_text("#stat-listings-total")) == listings_before + 1
    shot(visitor, "stats")

"""The finance desk in a real browser (issue 23): an SME values a patent; applies for a loan pledging a patent
and a trademark; a bank offers and the SME accepts; the pledge is registered and the register shows it; an
assignment of the pledged patent is refused; the loan is repaid and the pledge released; a voucher pays part of
the valuation's review fee and, on a deal the SME sells, part of the platform fee; the issuer's report shows both.
Pages at 1366 and 390 px (no overflow)."""
import uuid
from datetime import datetime, timedelta, timezone

import requests

from tests.e2e.journey import PASSWORD, flash, fresh_application_number, fresh_uscc, pdf_file, shot, sign_in

BEIJING = timezone(timedelta(hours=8))


def _widths(page, name):
    page.set_viewport_size({"width": 1366, "height": 900})
    shot(page, f"{name}-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, f"{name}-390")
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size({"width": 1366, "height": 900})
    return width


def test_value_pledge_repay_and_pay_with_a_voucher(live_server, flask_cli, new_page):
    base, _env = live_server
    tag = uuid.uuid4().hex[:6]
    people = {
        "sme": ["--role", "seller", "--org-name", f"广州市晶石新能源科技有限公司{tag}", "--uscc", fresh_uscc("440106"),
                "--region", "guangzhou"],
        "op": ["--role", "operator"],
        "bank": ["--role", "buyer", "--org-name", f"招商银行广州分行{tag}", "--uscc", fresh_uscc("440104"),
                 "--region", "guangzhou"],
        "issuer": ["--role", "buyer", "--org-name", f"广州市市场监督管理局创新券项目{tag}", "--uscc", fresh_uscc("440103"),
                   "--region", "guangzhou"],
        "buyer": ["--role", "buyer"],
    }
    emails = {key: f"{key}-{tag}@example.com" for key in people}
    for key, extra in people.items():
        flask_cli("users", "create", "--email", emails[key], "--password", PASSWORD, "--name", key, *extra)

    def api(email):
        token = requests.post(base + "/api/v1/auth/token", json={"email": email, "password": PASSWORD},
                              timeout=30).json()["token"]
        return {"Authorization": f"Bearer {token}"}

    op_api = api(emails["op"])
    for key, role in (("bank", "bank"), ("issuer", "voucher_issuer")):
        me = requests.get(base + "/api/v1/me", headers=api(emails[key]), timeout=30).json()
        r = requests.post(base + "/api/v1/finance/roles", headers=op_api, timeout=30,
                          json={"user_id": me["user"]["id"] if "user" in me else me["id"], "role": role, "grant": True})
        assert r.status_code == 200, r.text

    # every organisation uploads its licence and an operator verifies it (banks and issuers act only verified)
    operator = new_page()
    operator.on("dialog", lambda dialog: dialog.accept())  # dangerous acts ask first (data-confirm)
    sign_in(operator, base, emails["op"])
    pages = {}
    for key in ("sme", "bank", "issuer"):
        page = pages[key] = new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        sign_in(page, base, emails[key])
        page.goto(base + "/account/organization")
        page.set_input_files("#licence", pdf_file("licence.pdf"))
        page.click("main form button:has-text('上传营业执照')")
        me = requests.get(base + "/api/v1/me", headers=api(emails[key]), timeout=30).json()
        org_id = (me.get("user") or me)["organization"]["id"]
        operator.goto(base + f"/operator/organizations/{org_id}")
        operator.check("input[name=decision][value=verify]")
        operator.click("main form button:has-text('保存核验结果')")
    sme, bank = pages["sme"], pages["bank"]

    # the SME's patent and trademark enter the register through a listing draft of its own
    sme_api = api(emails["sme"])
    number = fresh_application_number(2021, "1")
    mark = str(40_000_000 + int(tag, 16) % 9_000_000)
    for right, kind in (({"patent": {"application_number": number, "title": "一种固态电解质薄膜及其制备方法",
                                     "ipc_codes": ["H01M 10/0562"], "filing_date": "2021-04-02",
                                     "grant_date": "2023-06-13", "claims_count": 8, "legal_status": "granted"}}, "patent"),
                        ({"trademark": {"registration_number": mark, "mark_text": "晶石", "nice_classes": [9],
                                        "similar_groups": ["0901"], "goods": ["计算机程序（可下载软件）"],
                                        "registration_date": "2019-05-07", "status": "registered"}}, "trademark")):
        r = requests.post(base + "/api/v1/listings", headers=sme_api, timeout=30, json={
            "kind": kind, "title": f"草稿{tag}{kind}", "description": "草稿", "deal_types": ["assignment"],
            "price_mode": "negotiable", "rights": [right]})
        assert r.status_code == 201, r.text
        if kind == "patent":
            draft_id = r.json()["listing"]["id"]

    # 1. the SME values the patent
    sme.goto(base + "/finance")
    sme.click("main a:has-text('新建估值')")
    sme.check(f"input[name=rights][value='patent:{number}']")
    sme.fill("#life", "5")
    sme.fill("#rev", "1,000,000\n1200000\n1400000\n1400000\n1200000")
    sme.fill("#rr", "5")
    sme.fill("#dr", "100")
    sme.click("main form button[type=submit]")
    assert "应大于 0 且小于 100" in sme.inner_text("main")  # refused beside the field
    sme.fill("#dr", "12")
    sme.check(f"input[name=rights][value='patent:{number}']")
    sme.click("main form button[type=submit]")
    assert "自评报告" in sme.inner_text("main") and "敏感性分析" in sme.inner_text("main")
    assert _widths(sme, "finance-valuation") <= 390
    valuation_url = sme.url

    # 2. the loan application pledges the patent and the trademark, sent to the bank
    sme.goto(base + "/finance/loans/new")
    sme.check(f"input[name=rights][value='patent:{number}']")
    sme.check(f"input[name=rights][value='trademark:{mark}']")
    sme.fill("#amount", "2,000,000")
    sme.fill("#term", "12")
    sme.fill("#purpose", "扩大固态电解质薄膜中试线产能")
    sme.select_option("#val", index=1)
    sme.check(f"label:has-text('招商银行广州分行{tag}') input[name=banks]")
    sme.click("main form button[type=submit]")
    assert "融资申请已提交" in flash(sme)
    loan_url = sme.url
    assert _widths(sme, "finance-loan-sme") <= 390

    # 3. the bank sees it in its queue, offers; the SME accepts
    bank.goto(base + "/finance/bank")
    bank.click(f"main a[href='{loan_url[len(base):]}']")
    assert "晶石" in bank.inner_text("main") and "一种固态电解质薄膜" in bank.inner_text("main")
    bank.fill("#o-amount", "1,800,000")
    bank.fill("#o-rate", "365")
    bank.fill("#o-term", "12")
    bank.fill("#o-cond", "按季付息，到期还本")
    bank.click("main form button:has-text('提交报价')")
    assert "已办理" in flash(bank)
    assert _widths(bank, "finance-loan-bank") <= 390
    sme.reload()
    sme.click("main button:has-text('接受此报价')")
    assert "已接受报价" in flash(sme)

    # 4. the bank enters the pledge registration, an operator verifies it: the register shows the pledge
    today = datetime.now(BEIJING).date().isoformat()
    bank.reload()
    bank.fill("#pl-n", f"Y2026440{tag}")
    bank.fill("#pl-d", today)
    bank.click("main form button:has-text('登记质押登记信息')")
    operator.goto(loan_url)
    operator.click("main form button:has-text('核验质押登记')")
    assert "质押已登记" in operator.inner_text("main h1")
    sme.goto(base + f"/rights/patent/{number}")
    assert "已质押" in sme.inner_text("main")

    # 5. an assignment of the pledged patent is refused (no pledgee consent)
    r = requests.post(base + f"/api/v1/listings/{draft_id}/submit", headers=sme_api, timeout=30)
    assert r.status_code == 422 and "pledge_consent" in r.json()["error"]["fields"], r.text

    # 6. the bank marks the loan repaid; the SME enters the release; the operator verifies: pledge lifted
    bank.goto(loan_url)
    bank.click("main form button:has-text('确认贷款已还清')")
    sme.goto(loan_url)
    sme.fill("#rel-n", f"ZX2026440{tag}")
    sme.fill("#rel-d", today)
    sme.click("main form button:has-text('登记注销登记信息')")
    operator.goto(loan_url)
    operator.click("main form button:has-text('核验注销登记')")
    assert "质押已注销" in operator.inner_text("main h1")
    sme.goto(base + f"/rights/patent/{number}")
    assert "已质押" not in sme.inner_text("main")

    # 7. the issuer creates a voucher batch; the voucher pays part of the valuation's review fee
    issuer = pages["issuer"]
    issuer.goto(base + "/finance/issuer")
    issuer.fill("#p", "2026 年广州市知识产权创新券")
    issuer.fill("#f", "1500")
    issuer.fill("#vf", "2026-01-01")
    issuer.fill("#vu", "2099-12-31")
    issuer.check("input[name=services][value=valuation_review]")
    issuer.check("input[name=services][value=deal_fee]")
    issuer.select_option("#rg", ["guangzhou"])
    issuer.click("main form button:has-text('发放')")
    assert "已发放创新券批次" in flash(issuer)
    sme.goto(valuation_url)
    sme.click("main button:has-text('申请运营或注册评估师复核签署')")
    sme.goto(base + "/finance/vouchers")
    sme.fill("main input[id^=a-]", "1000")
    sme.click("main button:has-text('用创新券支付')")
    assert "已用创新券支付" in flash(sme)
    assert "¥1,000" in sme.inner_text("main")  # ¥2,000 fee, ¥1,000 by voucher: ¥1,000 still due

    # … and part of the platform fee of a deal the SME sells (¥100,000: fee ¥3,000), set aside until release
    buyer_api, op_api = api(emails["buyer"]), api(emails["op"])
    r = requests.post(base + "/api/v1/listings", headers=sme_api, timeout=30, json={
        "kind": "patent", "title": f"固态电池隔膜专利转让{tag}", "deal_types": ["assignment"], "price_mode": "fixed",
        "price": 100_000_00, "description": "一种固态电池隔膜的制备方法，已授权发明专利，适用于动力电池与储能电池的量产工艺。",
        "rights": [{"patent": {"application_number": fresh_application_number(2020, "1"), "title": "一种固态电池隔膜及其制备方法",
                               "ipc_codes": ["H01M 50/403"], "filing_date": "2020-03-02", "grant_date": "2022-08-16",
                               "claims_count": 9, "legal_status": "granted"}}]})
    assert r.status_code == 201, r.text
    listing_id = r.json()["listing"]["id"]
    assert requests.post(base + f"/api/v1/listings/{listing_id}/submit", headers=sme_api, timeout=30).status_code == 200
    r = requests.post(base + f"/api/v1/listings/{listing_id}/review", headers=op_api, timeout=30,
                      json={"decision": "approve"})
    assert r.status_code == 200, r.text
    r = requests.post(base + f"/api/v1/listings/{listing_id}/purchase", headers=buyer_api, timeout=30,
                      json={"deal_type": "assignment"})
    assert r.status_code == 201, r.text
    deal = r.json()["deal"]
    for headers in (buyer_api, sme_api):
        r = requests.post(base + f"/api/v1/deals/{deal['id']}/contract/sign", headers=headers, timeout=30,
                          json={"password": PASSWORD})
        assert r.status_code == 200, r.text
    pay = requests.post(base + f"/api/v1/deals/{deal['id']}/pay", headers=buyer_api, timeout=30).json()
    r = requests.post(base + f"/api/v1/deals/{deal['id']}/confirm-payment", headers=op_api, timeout=30,
                      json={"reference": pay["reference"], "amount": 100_000_00})
    assert r.status_code == 200, r.text
    sme.goto(base + "/finance/vouchers")
    form = sme.locator(f"form[action$='/finance/deals/{deal['id']}/voucher']")
    form.locator("input[name=amount]").fill("500")
    form.locator("button").click()
    assert "已用创新券支付平台服务费" in flash(sme)
    assert "¥500" in sme.inner_text(f"[data-field=held-{deal['id']}]")
    assert _widths(sme, "finance-vouchers") <= 390
    r = requests.post(base + f"/api/v1/deals/{deal['id']}/transfer-filed", headers=sme_api, timeout=30,
                      files={"document": ("receipt.pdf", pdf_file("receipt.pdf")["buffer"], "application/pdf")})
    assert r.status_code == 200, r.text
    r = requests.post(base + f"/api/v1/deals/{deal['id']}/transfer-recorded", headers=sme_api, timeout=30,
                      data={"notice_number": "2026120600012345", "notice_date": today},
                      files={"document": ("notice.pdf", pdf_file("notice.pdf")["buffer"], "application/pdf")})
    assert r.status_code == 200, r.text
    r = requests.post(base + f"/api/v1/deals/{deal['id']}/recordal/verify", headers=op_api, timeout=30)
    assert r.status_code == 200, r.text
    r = requests.post(base + f"/api/v1/deals/{deal['id']}/accept", headers=buyer_api, timeout=30)
    assert r.status_code == 200, r.text
    ledger = requests.get(base + f"/api/v1/deals/{deal['id']}/ledger", headers=sme_api, timeout=30).json()
    assert ledger["balances"]["fee_by_voucher"] == 500_00 and ledger["balances"]["platform_fee"] == 3_000_00
    assert ledger["balances"]["seller_payable"] == 100_000_00 - 3_000_00 + 500_00  # the programme paid ¥500 of it
    sme.goto(base + f"/deals/{deal['id']}")
    assert "¥500.00" in sme.inner_text("[data-field=fee-by-voucher]")

    issuer.goto(base + "/finance/issuer")
    text = issuer.inner_text("main")
    assert "¥1,500" in text and f"广州市晶石新能源科技有限公司{tag}" in text  # ¥1,000 review fee + ¥500 deal fee
    assert "交易服务费：¥500" in text and "估值报告复核费：¥1,000" in text
    assert _widths(issuer, "finance-issuer") <= 390

"""The finance desk's pages: forms show refusals beside the field and write nothing; the flow works by hand."""
from finance.models import LoanApplication, Valuation
from marketplace.kernel.extensions import db
from tests.conftest import login

from .conftest import api


def test_the_valuation_form_refuses_a_bad_rate_beside_the_field(client, desk):
    login(client, desk.sme)
    r = client.post("/finance/valuations/new", data={"rights": f"patent:{desk.patent.number}", "revenues": "100000\n100000",
                                                     "royalty_rate": "8", "discount_rate": "100", "life_years": "2"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "应大于 0 且小于 100" in page and 'class="error"' in page
    assert db.session.query(Valuation).count() == 0


def test_the_valuation_form_makes_a_report_marked_self_assessment(client, desk):
    login(client, desk.sme)
    r = client.post("/finance/valuations/new", data={
        "rights": [f"patent:{desk.patent.number}", f"trademark:{desk.trademark.number}"],
        "revenues": "100,000\n120000\n¥150,000", "royalty_rate": "10", "discount_rate": "10", "life_years": "3"})
    assert r.status_code == 302
    v = db.session.query(Valuation).one()
    assert v.revenues == [100_000_00, 120_000_00, 150_000_00]
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "自评报告" in page and "敏感性分析" in page and "市场比较" in page
    assert client.get(f"/finance/valuations/{v.id}.pdf").data.startswith(b"%PDF")


def test_a_loan_by_hand_and_the_bank_sees_it(client, desk):
    login(client, desk.sme)
    r = client.post("/finance/loans/new", data={"rights": [f"patent:{desk.patent.number}"], "amount": "300,000",
                                                "term_months": "12", "purpose": "购置检测设备",
                                                "banks": str(desk.bank.organization_id)})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    a = db.session.query(LoanApplication).one()
    assert a.amount == 300_000_00
    bank = client.application.test_client()
    login(bank, desk.bank)
    assert str(a.id) in bank.get("/finance/bank").get_data(as_text=True)
    r = bank.post(f"/finance/loans/{a.id}/offer", data={"amount": "250000", "rate_bps": "385", "term_months": "12"})
    assert r.status_code == 302
    page = client.get(f"/finance/loans/{a.id}").get_data(as_text=True)
    assert "接受此报价" in page and "3.85%" in page


def test_a_bad_loan_form_shows_why_and_writes_nothing(client, desk):
    login(client, desk.sme)
    r = client.post("/finance/loans/new", data={"rights": [f"patent:{desk.patent.number}"], "amount": "abc",
                                                "term_months": "12", "purpose": "购置检测设备"})
    assert r.status_code == 422 and "不是有效的金额" in r.get_data(as_text=True)
    assert db.session.query(LoanApplication).count() == 0


def test_the_stats_page_shows_financing(client, desk):
    assert "知识产权质押融资" in client.get("/stats").get_data(as_text=True)


def test_the_pages_switch_to_english(client, desk):
    login(client, desk.sme)
    page = client.get("/finance?lang=en").get_data(as_text=True)
    assert "Financing" in page and "融资服务" not in page
    page = client.get("/finance/valuations/new").get_data(as_text=True)
    assert "Discount rate" in page


def test_the_vouchers_page_lists_an_smes_voucher(client, desk):
    api(client, desk.issuer, "POST", "/voucher-batches", json={
        "programme": "深圳市知识产权创新券", "face_value": 800_00, "valid_from": "2026-01-01", "valid_until": "2099-12-31",
        "services": ["valuation_review"], "regions": ["shenzhen"]})
    login(client, desk.sme)
    page = client.get("/finance/vouchers").get_data(as_text=True)
    assert "深圳市知识产权创新券" in page and "¥800" in page


def test_the_holder_attaches_a_report_to_its_listing_by_hand_and_not_to_anothers(client, desk):
    from tests import factories

    mine = factories.make_listing(desk.sme)
    theirs = factories.make_listing(desk.other_sme)
    db.session.commit()
    r = api(client, desk.sme, "POST", "/valuations", json={
        "rights": desk.rights(desk.patent), "revenues": [100_000_00] * 3, "royalty_rate": "8",
        "discount_rate": "10", "life_years": 3})
    vid = r.get_json()["valuation"]["id"]
    login(client, desk.sme)
    page = client.get(f"/finance/valuations/{vid}").get_data(as_text=True)
    assert f'<option value="{mine.id}"' in page and f'<option value="{theirs.id}"' not in page
    r = client.post(f"/finance/valuations/{vid}/attach", data={"listing_id": str(theirs.id)}, follow_redirects=True)
    assert "只能附在本单位" in r.get_data(as_text=True) and db.session.get(Valuation, vid).listing_id is None
    assert client.post(f"/finance/valuations/{vid}/attach", data={"listing_id": str(mine.id)}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Valuation, vid).listing_id == mine.id
    client.post(f"/finance/valuations/{vid}/attach", data={"listing_id": ""})
    db.session.expire_all()
    assert db.session.get(Valuation, vid).listing_id is None

"""The issue's path, through the API: value a patent, apply for a loan pledging a patent and a trademark, a bank
offers and the SME accepts, the pledge is registered and shows in the register, an assignment of the pledged
patent is refused, the loan is repaid and the pledge released, a voucher pays part of a platform fee and the
issuer's report shows it."""
from datetime import date

from escrow import ledger
from listings import rules
from listings.models import Right
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import local, utcnow
from tests import factories

from .conftest import api


def _today():
    return local(utcnow()).date().isoformat()


def test_the_whole_finance_path(client, desk):
    # 1. the SME values its patent
    r = api(client, desk.sme, "POST", "/valuations", json={
        "rights": desk.rights(desk.patent), "revenues": [100_000_00] * 5, "royalty_rate": "10",
        "discount_rate": "10", "life_years": 5})
    assert r.status_code == 201, r.get_json()
    valuation = r.get_json()["valuation"]
    # 10 % of ¥100,000 a year for 5 years at 10 %: 10,000 × 3.790786769… = ¥37,907.87
    assert valuation["value"] == 3_790_787
    assert valuation["self_assessment"] is True

    # 2. it applies for a loan pledging a patent and a trademark, sent to one bank
    r = api(client, desk.sme, "POST", "/loans", json={
        "rights": desk.rights(), "amount": 30_000_00, "term_months": 12, "purpose": "购置生产设备、补充流动资金",
        "valuation_id": valuation["id"], "banks": [desk.bank.organization_id], "listed": False})
    assert r.status_code == 201, r.get_json()
    application = r.get_json()["application"]
    assert [x["kind"] for x in application["rights"]] == ["patent", "trademark"]

    # the bank sees it in its queue, with the register status; the other bank does not
    queue = api(client, desk.bank, "GET", "/loans/queue").get_json()["applications"]
    assert [a["id"] for a in queue] == [application["id"]]
    assert queue[0]["rights"][0]["holders"] == [desk.sme.organization.name]
    assert api(client, desk.other_bank, "GET", "/loans/queue").get_json()["applications"] == []
    assert api(client, desk.other_bank, "GET", f"/loans/{application['id']}").status_code == 404

    # 3. the bank asks, the SME answers, the bank offers and the SME accepts
    aid = application["id"]
    assert api(client, desk.bank, "POST", f"/loans/{aid}/questions", json={"body": "请提供近两年的审计报告"}).status_code == 200
    assert api(client, desk.sme, "POST", f"/loans/{aid}/answers", json={
        "bank_organization_id": desk.bank.organization_id, "body": "已补充上传"}).status_code == 200
    r = api(client, desk.bank, "POST", f"/loans/{aid}/offers", json={
        "amount": 25_000_00, "rate_bps": 385, "term_months": 12, "conditions": "按季付息"})
    assert r.status_code == 200, r.get_json()
    offer_id = r.get_json()["application"]["offers"][0]["id"]
    r = api(client, desk.sme, "POST", f"/offers/{offer_id}/accept")
    assert r.status_code == 200 and r.get_json()["application"]["status"] == "accepted"

    # 4. the pledge registration is entered, verified, and the register shows the pledge
    r = api(client, desk.bank, "POST", f"/loans/{aid}/registration", json={"number": "Y2026440000123", "date": _today()})
    assert r.status_code == 200, r.get_json()
    assert not db.session.get(Right, desk.patent.id).pledged  # not before an operator verified it
    r = api(client, desk.operator, "POST", f"/loans/{aid}/registration/verify")
    assert r.status_code == 200 and r.get_json()["application"]["status"] == "pledged"
    for right in (desk.patent, desk.trademark):
        right = db.session.get(Right, right.id)
        assert right.pledged
        pledge = right.encumbrances_in_force("pledge")[0]
        assert pledge.party_name == desk.bank.organization.name and pledge.registration_number == "Y2026440000123"
    page = client.get(f"/rights/patent/{desk.patent.number}").get_data(as_text=True)
    assert "已质押" in page  # the public register page says pledged (the pledgee is in the history for parties)
    events = [e.action for e in db.session.get(Right, desk.patent.id).events]
    assert "pledged" in events

    # 5. an assignment of the pledged patent is refused without the pledgee's consent
    listing = factories.make_listing(desk.sme, number=desk.patent.number, status="draft", deal_types=("assignment",))
    problems = rules.problems(listing, "submit", deal_type="assignment")
    assert "pledge_consent" in [p.rule for p in problems]
    db.session.rollback()

    # 6. the bank marks the loan repaid, the release is entered and verified: the pledge is lifted
    assert api(client, desk.bank, "POST", f"/loans/{aid}/repaid").status_code == 200
    r = api(client, desk.sme, "POST", f"/loans/{aid}/release", json={"number": "ZX2026440000045", "date": _today()})
    assert r.status_code == 200, r.get_json()
    r = api(client, desk.operator, "POST", f"/loans/{aid}/release/verify")
    assert r.status_code == 200 and r.get_json()["application"]["status"] == "released"
    assert not db.session.get(Right, desk.patent.id).pledged
    assert not db.session.get(Right, desk.trademark.id).pledged
    stats = api(client, None, "GET", "/stats").get_json()
    # one loan's amount is not published (the statistics' rule: fewer than min_cell loans are withheld)
    assert stats["loans_granted"] == 1 and stats["amount_granted"] is None and stats["min_cell"] == 3

    # 7. a voucher pays part of a platform fee (the valuation's review fee); the issuer's report shows it
    r = api(client, desk.issuer, "POST", "/voucher-batches", json={
        "programme": "2026 年广东省知识产权创新券", "face_value": 1_500_00, "valid_from": "2026-01-01",
        "valid_until": "2099-12-31", "services": ["valuation_review"], "regions": ["shenzhen"]})
    assert r.status_code == 201, r.get_json()
    batch = r.get_json()["batch"]
    assert api(client, desk.sme, "POST", f"/valuations/{valuation['id']}/review").status_code == 200
    charge = api(client, desk.sme, "GET", "/charges").get_json()["charges"][0]
    assert charge["amount"] == 2000_00
    r = api(client, desk.sme, "POST", f"/charges/{charge['id']}/voucher", json={"batch_id": batch["id"], "amount": 1_500_00})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["charge"]["outstanding"] == 500_00
    r = api(client, desk.operator, "POST", f"/charges/{charge['id']}/transfer", json={"reference": "BOC2026120501", "amount": 500_00})
    assert r.status_code == 200 and r.get_json()["charge"]["status"] == "paid"
    report = api(client, desk.issuer, "GET", "/voucher-report").get_json()
    assert report["total"] == 1_500_00 and report["per_sme"] == {desk.sme.organization.name: 1_500_00}
    assert report["per_service"] == {"valuation_review": 1_500_00}
    csv = api(client, desk.issuer, "GET", "/voucher-report.csv").get_data(as_text=True)
    assert desk.sme.organization.uscc in csv and ",150000," in csv

    # the valuer signs the report off once the fee is paid
    r = api(client, desk.valuer, "POST", f"/valuations/{valuation['id']}/sign-off", json={"note": "输入合理，方法适当"})
    assert r.status_code == 200 and r.get_json()["valuation"]["self_assessment"] is False

    # money: the ledger balances, the programme owes what its vouchers paid, nothing was created
    assert ledger.unbalanced_entries() == []
    balances = ledger.account_balances()
    issuer_org = desk.issuer.organization_id
    assert balances[f"voucher_due:{issuer_org}"]["CNY"] == -1_500_00
    assert balances["platform_revenue"]["CNY"] == 2000_00
    r = api(client, desk.operator, "POST", "/voucher-settlements", json={
        "issuer_organization_id": issuer_org, "reference": "GDZF2026120601"})
    assert r.get_json() == {"amount": 1_500_00, "count": 1}
    balances = ledger.account_balances()
    assert balances[f"voucher_due:{issuer_org}"]["CNY"] == 0
    assert balances[f"voucher_paid:{issuer_org}"]["CNY"] == -1_500_00
    assert date.today().year >= 2026

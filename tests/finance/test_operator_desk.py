"""The operators' finance desk (/finance/operator): the money steps that were API-only — a fee's bank transfer,
a programme's reimbursement, the finance roles — by hand, each allowed for operators and refused (nothing
changed) for everyone else and for bad input; a seller pays a deal's fee by voucher from the vouchers page."""
from escrow import deals
from finance import vouchers
from finance.models import ServiceCharge, VoucherRedemption
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditLog, User
from marketplace.web.operator import queue_counts
from tests import factories
from tests.conftest import login

PAGE = "/finance/operator"


def _charge(desk, amount=2000_00):
    charge = ServiceCharge(organization_id=desk.sme.organization_id, service="valuation_review", amount=amount)
    db.session.add(charge)
    db.session.commit()
    return charge.id


def _redeemed(desk, amount=300_00):
    batch = vouchers.create_batch(desk.issuer, {"programme": "2026 年创新券", "face_value": 1000_00,
                                                "valid_from": "2026-01-01", "valid_until": "2099-12-31",
                                                "services": ["valuation_review"], "regions": ["shenzhen"]})
    charge = _charge(desk)
    vouchers.redeem(desk.sme, batch.id, charge, amount)
    db.session.commit()
    return charge


def _charge_state(charge_id):
    db.session.expire_all()
    c = db.session.get(ServiceCharge, charge_id)
    return c.paid_by_transfer, c.status, c.transfer_reference


def test_the_desk_is_for_operators_and_counts_on_the_console(client, desk):
    _redeemed(desk)
    for user in (desk.sme, desk.bank, desk.issuer, desk.valuer):
        login(client, user)
        assert client.get(PAGE).status_code == 403
    login(client, desk.operator)
    page = client.get(PAGE).get_data(as_text=True)
    assert desk.issuer.organization.name in page and "¥300" in page and "确认到账" in page
    assert queue_counts()["finance"] == 2  # the charge's rest to confirm, the programme to reimburse
    assert 'id="count-finance"' in client.get("/operator/").get_data(as_text=True)


def test_an_operator_confirms_a_fees_transfer_and_a_wrong_amount_changes_nothing(client, desk):
    charge = _redeemed(desk)
    login(client, desk.operator)
    before = _charge_state(charge)
    r = client.post(f"/finance/operator/charges/{charge}/transfer", data={"reference": "BOC20261206", "amount": "1"},
                    follow_redirects=True)
    assert "到账金额与应付余额不符" in r.get_data(as_text=True) and _charge_state(charge) == before
    r = client.post(f"/finance/operator/charges/{charge}/transfer", data={"reference": "BOC20261206", "amount": "1,700"})
    assert r.status_code == 302 and _charge_state(charge) == (1700_00, "paid", "BOC20261206")
    # not an operator: 403, nothing changed
    other = _charge(desk)
    login(client, desk.sme)
    assert client.post(f"/finance/operator/charges/{other}/transfer",
                       data={"reference": "BOC1111", "amount": "2,000"}).status_code == 403
    assert _charge_state(other) == (0, "due", None)


def test_an_operator_records_a_reimbursement_once(client, desk):
    _redeemed(desk)
    body = {"issuer_organization_id": str(desk.issuer.organization_id), "reference": "GDZF20261206"}
    login(client, desk.issuer)
    assert client.post("/finance/operator/settlements", data=body).status_code == 403
    assert vouchers.totals_in_ledger(desk.issuer.organization_id) == {"due": 300_00, "paid": 0}
    login(client, desk.operator)
    assert client.post("/finance/operator/settlements", data=body).status_code == 302
    assert vouchers.totals_in_ledger(desk.issuer.organization_id) == {"due": 0, "paid": 300_00}
    r = client.post("/finance/operator/settlements", data=body, follow_redirects=True)
    assert "没有待兑付的创新券" in r.get_data(as_text=True)
    assert vouchers.totals_in_ledger(desk.issuer.organization_id) == {"due": 0, "paid": 300_00}


def test_an_operator_grants_and_removes_a_finance_role(client, desk):
    user = factories.make_user("buyer")
    db.session.commit()
    login(client, desk.operator)
    r = client.post("/finance/operator/roles", data={"email": "nobody@example.com", "role": "bank", "grant": "1"},
                    follow_redirects=True)
    assert "没有该邮箱的用户" in r.get_data(as_text=True)
    r = client.post("/finance/operator/roles", data={"email": user.email, "role": "lender", "grant": "1"},
                    follow_redirects=True)
    assert "角色设置有误" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).roles == ["buyer"]
    assert client.post("/finance/operator/roles", data={"email": user.email, "role": "valuer", "grant": "1"}).status_code == 302
    db.session.expire_all()
    assert "valuer" in db.session.get(User, user.id).roles
    assert db.session.query(AuditLog).filter_by(action="user.finance_role", object_id=user.id).count() == 1
    client.post("/finance/operator/roles", data={"email": user.email, "role": "valuer", "grant": "0"})
    db.session.expire_all()
    assert "valuer" not in db.session.get(User, user.id).roles
    login(client, desk.sme)
    assert client.post("/finance/operator/roles", data={"email": desk.sme.email, "role": "valuer",
                                                        "grant": "1"}).status_code == 403
    db.session.expire_all()
    assert "valuer" not in db.session.get(User, desk.sme.id).roles


def test_a_seller_pays_a_deal_fee_by_voucher_from_the_vouchers_page(client, desk):
    buyer = factories.make_user("buyer")
    listing = factories.make_listing(desk.sme, price=100_000_00, deal_types=("assignment",))
    deal = deals.open_deal(listing, buyer, 100_000_00, "assignment", "purchase")
    batch = vouchers.create_batch(desk.issuer, {"programme": "深圳创新券", "face_value": 1000_00,
                                                "valid_from": "2026-01-01", "valid_until": "2099-12-31",
                                                "services": ["platform_fee"], "regions": ["shenzhen"]})
    db.session.commit()
    login(client, desk.sme)
    page = client.get("/finance/vouchers").get_data(as_text=True)
    assert f"/finance/deals/{deal.id}/voucher" in page and "¥3,000" in page
    r = client.post(f"/finance/deals/{deal.id}/voucher", data={"batch_id": str(batch.id), "amount": "5,000"},
                    follow_redirects=True)
    assert "超出" in r.get_data(as_text=True) and db.session.query(VoucherRedemption).count() == 0
    r = client.post(f"/finance/deals/{deal.id}/voucher", data={"batch_id": str(batch.id), "amount": "800"},
                    follow_redirects=True)
    assert r.status_code == 200 and f'data-field="held-{deal.id}">¥800' in r.get_data(as_text=True)
    # the deal page offers it to the seller
    assert "/finance/vouchers#deal-fees" in client.get(f"/deals/{deal.id}").get_data(as_text=True)

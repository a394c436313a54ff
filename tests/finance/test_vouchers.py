"""Innovation vouchers: eligibility, validity, services, single use, value; every redemption booked as the
programme's money in balanced entries; refusals move no money."""
from datetime import timedelta

import pytest

from escrow import ledger
from escrow.models import JournalEntry
from finance import valuation, vouchers
from finance.models import ServiceCharge, Voucher, VoucherRedemption
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import local, utcnow
from tests import factories
from tests.probes import nothing_changes

from .conftest import api


def _batch(client, desk, **kw):
    body = {"programme": "2026 年广东省知识产权创新券", "face_value": 1_000_00, "valid_from": "2026-01-01",
            "valid_until": "2099-12-31", "services": ["valuation_review"], "regions": ["shenzhen"]}
    body.update(kw)
    r = api(client, desk.issuer, "POST", "/voucher-batches", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["batch"]["id"]


def _charge(desk, user=None, amount=2000_00):
    user = user or desk.sme
    charge = ServiceCharge(organization_id=user.organization_id, service="valuation_review", amount=amount)
    db.session.add(charge)
    db.session.commit()
    return charge.id


def _money():
    db.session.expire_all()
    return (db.session.query(JournalEntry).count(), db.session.query(VoucherRedemption).count(),
            [(v.used, v.closed) for v in db.session.query(Voucher).order_by(Voucher.id)],
            [(c.paid_by_voucher, c.status) for c in db.session.query(ServiceCharge).order_by(ServiceCharge.id)])


def _redeem(client, user, charge_id, batch_id, amount):
    return api(client, user, "POST", f"/charges/{charge_id}/voucher", json={"batch_id": batch_id, "amount": amount})


def test_only_verified_issuers_create_batches(client, desk):
    desk.issuer.organization.verified = False
    db.session.commit()
    for user in (desk.issuer, desk.sme, desk.bank, desk.operator):
        with nothing_changes():  # no batch, no voucher
            r = api(client, user, "POST", "/voucher-batches", json={
                "programme": "某项目", "face_value": 100, "valid_from": "2026-01-01", "valid_until": "2099-01-01",
                "services": ["valuation_review"], "regions": ["shenzhen"]})
        assert r.status_code == 403 and r.get_json()["error"]["code"], r.get_json()


@pytest.mark.parametrize("change,field", [
    ({"face_value": 0}, "face_value"), ({"valid_until": "2025-12-31"}, "valid_until"),
    ({"valid_from": "2026-13-01"}, "valid_from"), ({"services": ["lunch"]}, "services"),
    ({"regions": ["atlantis"]}, "regions"), ({"regions": [], "organization_ids": []}, "regions"),
    ({"organization_ids": [987654]}, "organization_ids"), ({"single_use": "no"}, "single_use"),
])
def test_bad_batches_are_refused_naming_the_field(client, desk, change, field):
    body = {"programme": "某项目", "face_value": 100, "valid_from": "2026-01-01", "valid_until": "2099-01-01",
            "services": ["valuation_review"], "regions": ["shenzhen"], **change}
    r = api(client, desk.issuer, "POST", "/voucher-batches", json=body)
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"], r.get_json()


def test_a_voucher_pays_part_of_a_fee_booked_as_the_programmes_money(client, desk):
    batch = _batch(client, desk)
    charge = _charge(desk)
    r = _redeem(client, desk.sme, charge, batch, 600_00)
    assert r.status_code == 200 and r.get_json()["charge"]["outstanding"] == 1400_00
    r = _redeem(client, desk.sme, charge, batch, 400_00)
    assert r.status_code == 200 and r.get_json()["charge"]["outstanding"] == 1000_00
    mine = api(client, desk.sme, "GET", "/vouchers").get_json()["vouchers"]
    assert mine[0]["remaining"] == 0
    assert ledger.unbalanced_entries() == []
    due = ledger.account_balances()[f"voucher_due:{desk.issuer.organization_id}"]["CNY"]
    assert due == -1000_00 == -sum(r.amount for r in db.session.query(VoucherRedemption))
    assert vouchers.totals_in_ledger(desk.issuer.organization_id) == {"due": 1000_00, "paid": 0}


def test_a_voucher_is_not_used_twice_beyond_its_value(client, desk):
    batch = _batch(client, desk)
    charge = _charge(desk)
    assert _redeem(client, desk.sme, charge, batch, 1000_00).status_code == 200
    before = _money()
    r = _redeem(client, desk.sme, charge, batch, 1)
    assert r.status_code == 422 and "amount" in r.get_json()["error"]["fields"]
    assert _money() == before


def test_a_single_use_voucher_is_used_once(client, desk):
    batch = _batch(client, desk, single_use=True)
    charge = _charge(desk)
    assert _redeem(client, desk.sme, charge, batch, 300_00).status_code == 200
    before = _money()
    assert _redeem(client, desk.sme, charge, batch, 100_00).status_code == 409
    assert _money() == before


def test_over_the_charge_is_refused(client, desk):
    batch = _batch(client, desk, face_value=5000_00)
    charge = _charge(desk, amount=2000_00)
    before = _money()
    r = _redeem(client, desk.sme, charge, batch, 2000_01)
    assert r.status_code == 422 and _money() == before


def test_an_expired_or_future_voucher_is_refused(client, desk):
    today = local(utcnow()).date()
    batch = _batch(client, desk, valid_from=(today + timedelta(days=3)).isoformat())
    charge = _charge(desk)
    before = _money()
    assert _redeem(client, desk.sme, charge, batch, 100).status_code == 409
    assert _money() == before
    # after the batch's last day
    from finance.models import VoucherBatch

    row = db.session.get(VoucherBatch, batch)
    row.valid_from, row.valid_until = today - timedelta(days=30), today - timedelta(days=1)
    db.session.commit()
    before = _money()
    assert _redeem(client, desk.sme, charge, batch, 100).status_code in (404, 409)
    assert _money() == before


def test_an_ineligible_sme_or_service_is_refused(client, desk):
    batch = _batch(client, desk, regions=[], organization_ids=[desk.other_sme.organization_id])
    charge = _charge(desk)
    before = _money()
    assert _redeem(client, desk.sme, charge, batch, 100).status_code == 404
    assert _money() == before
    other_batch = _batch(client, desk, services=["deal_fee"])
    assert _redeem(client, desk.sme, charge, other_batch, 100).status_code == 409
    assert _money() == before


def test_a_voucher_is_not_transferable_nor_usable_on_anothers_charge(client, desk):
    batch = _batch(client, desk)
    theirs = _charge(desk, user=desk.other_sme)
    before = _money()
    assert _redeem(client, desk.sme, theirs, batch, 100).status_code == 404
    # a natural person, a bank and an issuer hold no vouchers
    for user in (desk.bank, desk.issuer, factories.make_user("seller", org=False)):
        db.session.commit()
        assert _redeem(client, user, theirs, batch, 100).status_code in (403, 404)
    assert _money() == before


def test_the_issuers_report_is_its_own(client, desk):
    batch = _batch(client, desk)
    charge = _charge(desk)
    _redeem(client, desk.sme, charge, batch, 250_00)
    other_issuer = factories.make_user("voucher_issuer", org=factories.make_org(name="深圳市创新券项目"))
    db.session.commit()
    assert api(client, other_issuer, "GET", "/voucher-report").get_json()["total"] == 0
    assert api(client, desk.issuer, "GET", "/voucher-report").get_json()["total"] == 250_00
    for user in (desk.sme, desk.bank):
        assert api(client, user, "GET", "/voucher-report").status_code == 403
        assert api(client, user, "GET", "/voucher-report.csv").status_code == 403
    csv = api(client, desk.issuer, "GET", "/voucher-report.csv").get_data(as_text=True)
    assert csv.splitlines()[0].startswith("redemption_id,date,programme,sme")


def test_settlement_only_by_operators_and_once(client, desk):
    batch = _batch(client, desk)
    _redeem(client, desk.sme, _charge(desk), batch, 250_00)
    body = {"issuer_organization_id": desk.issuer.organization_id, "reference": "GDZF20261206"}
    before = _money()
    for user in (desk.sme, desk.issuer, desk.bank):
        assert api(client, user, "POST", "/voucher-settlements", json=body).status_code == 403
    assert _money() == before
    assert api(client, desk.operator, "POST", "/voucher-settlements", json=body).status_code == 200
    assert api(client, desk.operator, "POST", "/voucher-settlements", json=body).status_code == 409
    assert vouchers.totals_in_ledger(desk.issuer.organization_id) == {"due": 0, "paid": 250_00}


def test_a_transfer_must_match_what_is_outstanding(client, desk):
    charge = _charge(desk)
    before = _money()
    r = api(client, desk.operator, "POST", f"/charges/{charge}/transfer", json={"reference": "BOC1234", "amount": 1})
    assert r.status_code == 422 and _money() == before
    assert api(client, desk.sme, "POST", f"/charges/{charge}/transfer",
               json={"reference": "BOC1234", "amount": 2000_00}).status_code == 403
    assert _money() == before


def test_the_review_fee_follows_the_setting(app, desk):
    app.config["FINANCE_REVIEW_FEE"] = 1234_00
    assert valuation.review_fee() == 1234_00

"""Innovation vouchers pay (part of) a deal's platform fee (finance.deal_fees): set aside while the deal runs,
booked as the programme's money at release (the seller is paid that much more), given back when the deal ends
unsold; refusals (not the seller, over the fee or the voucher, expired, ineligible, another service, used
twice, too late) change nothing. The books are checked with the invariants' own checks."""
from datetime import timedelta

import pytest

from escrow import deals, ledger
from escrow.models import Deal, JournalEntry
from finance import deal_fees, vouchers
from finance.models import ServiceCharge, Voucher, VoucherBatch, VoucherRedemption
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import local, utcnow
from tests import factories
from tests.escrow.conftest import Parties, drive
from tests.invariants import checks

from .conftest import api, make_issuer

PRICE = 1_000_000_00  # fee at 3 %: ¥30,000


@pytest.fixture
def parties(app):
    p = Parties(factories.make_user("buyer"), factories.make_user("seller"), factories.make_user("operator"))
    p.issuer = make_issuer()
    p.colleague = factories.make_user("seller", org=p.seller.organization)
    p.other_seller = factories.make_user("seller")
    db.session.commit()
    return p


@pytest.fixture
def deal(parties):
    listing = factories.make_listing(parties.seller, price=PRICE, deal_types=("assignment",))
    deal = deals.open_deal(listing, parties.buyer, PRICE, "assignment", "purchase")
    factories.sign_contract(deal)
    db.session.commit()
    assert deal.fee == 30_000_00
    return deal


def _batch(client, parties, **kw):
    body = {"programme": "2026 年深圳市知识产权创新券", "face_value": 10_000_00, "valid_from": "2026-01-01",
            "valid_until": "2099-12-31", "services": ["deal_fee"], "regions": ["shenzhen"]}
    body.update(kw)
    r = api(client, parties.issuer, "POST", "/voucher-batches", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["batch"]["id"]


def _pay(client, user, deal_id, batch_id, amount):
    return api(client, user, "POST", f"/deals/{deal_id}/voucher", json={"batch_id": batch_id, "amount": amount})


def _state():
    """Everything a refused act must leave alone."""
    db.session.expire_all()
    return (db.session.query(JournalEntry).count(),
            [(r.amount, r.status) for r in db.session.query(VoucherRedemption).order_by(VoucherRedemption.id)],
            [(v.used, v.closed) for v in db.session.query(Voucher).order_by(Voucher.id)],
            [(c.paid_by_voucher, c.status) for c in db.session.query(ServiceCharge).order_by(ServiceCharge.id)])


def _books(*deal_ids):
    db.session.expire_all()
    checks.check_books(deal_ids)
    checks.check_vouchers()


def test_a_voucher_pays_part_of_the_fee_the_programme_pays_at_release(client, parties, deal):
    batch = _batch(client, parties)
    r = _pay(client, parties.seller, deal.id, batch, 4_000_00)
    assert r.status_code == 200, r.get_json()
    charge = r.get_json()["charge"]
    assert charge["deal_id"] == deal.id and charge["held_by_voucher"] == 4_000_00 and charge["status"] == "due"
    # set aside, not booked: the voucher shows less, the programme owes nothing yet
    assert api(client, parties.seller, "GET", "/vouchers").get_json()["vouchers"][0]["remaining"] == 6_000_00
    report = api(client, parties.issuer, "GET", "/voucher-report").get_json()
    assert report["total"] == 0 and report["held"] == 4_000_00
    assert vouchers.totals_in_ledger(parties.issuer.organization_id) == {"due": 0, "paid": 0}
    _books(deal.id)

    drive(deal.id, "released", parties, sign=False)
    deal = db.session.get(Deal, deal.id)
    balances = ledger.deal_balances(deal)
    assert balances["platform_fee"] == deal.fee == 30_000_00  # the platform earns its whole fee …
    assert balances["fee_by_voucher"] == 4_000_00  # … of which the programme paid ¥4,000
    assert deal.payout_amount == PRICE - 30_000_00 + 4_000_00 == balances["seller_payable"]
    assert vouchers.totals_in_ledger(parties.issuer.organization_id) == {"due": 4_000_00, "paid": 0}
    report = api(client, parties.issuer, "GET", "/voucher-report").get_json()
    assert report["total"] == 4_000_00 and report["held"] == 0 and report["per_service"] == {"deal_fee": 4_000_00}
    csv = api(client, parties.issuer, "GET", "/voucher-report.csv").get_data(as_text=True)
    assert f",deal_fee,400000,{charge['id']},no,,booked,{deal.id}" in csv
    _books(deal.id)

    drive_payout = deals.mark_payout_paid(deal.id, "BOC20261206001", parties.operator)
    db.session.commit()
    assert drive_payout.state == "completed" and ledger.deal_balances(deal)["paid_out"] == deal.payout_amount
    # the programme reimburses: once, then nothing is owed
    body = {"issuer_organization_id": parties.issuer.organization_id, "reference": "GDZF20261206"}
    assert api(client, parties.operator, "POST", "/voucher-settlements", json=body).get_json() == {
        "amount": 4_000_00, "count": 1}
    assert vouchers.totals_in_ledger(parties.issuer.organization_id) == {"due": 0, "paid": 4_000_00}
    _books(deal.id)


def test_a_platform_fee_voucher_covers_the_deal_fee_and_a_charge_route_leads_to_the_deal(client, parties, deal):
    batch = _batch(client, parties, services=["platform_fee"])
    charge = _pay(client, parties.seller, deal.id, batch, 1_000_00).get_json()["charge"]
    # the charges route takes the deal's fee too (same rules, under the deal's lock)
    r = api(client, parties.seller, "POST", f"/charges/{charge['id']}/voucher", json={"batch_id": batch, "amount": 500})
    assert r.status_code == 200 and r.get_json()["charge"]["held_by_voucher"] == 1_000_00 + 500
    # a deal's fee is taken from the escrow, never confirmed by bank transfer
    before = _state()
    r = api(client, parties.operator, "POST", f"/charges/{charge['id']}/transfer",
            json={"reference": "BOC0001", "amount": r.get_json()["charge"]["outstanding"]})
    assert r.status_code == 409 and _state() == before


def test_a_deal_that_ends_unsold_gives_the_voucher_back(client, parties, deal):
    batch = _batch(client, parties, single_use=True)
    assert _pay(client, parties.seller, deal.id, batch, 2_500_00).status_code == 200
    drive(deal.id, "refunded", parties, sign=False)
    db.session.expire_all()
    voucher = db.session.query(Voucher).one()
    assert (voucher.used, voucher.closed) == (0, False)  # a single-use voucher whose use did not happen
    assert db.session.query(ServiceCharge).one().status == "cancelled"
    assert db.session.query(VoucherRedemption).one().status == "returned"
    assert ledger.deal_balances(db.session.get(Deal, deal.id))["fee_by_voucher"] == 0
    assert api(client, parties.issuer, "GET", "/voucher-report").get_json()["total"] == 0
    _books(deal.id)


def test_a_split_charges_the_fee_on_the_share_and_the_voucher_keeps_the_rest(client, parties, deal):
    batch = _batch(client, parties, face_value=30_000_00)
    assert _pay(client, parties.seller, deal.id, batch, 20_000_00).status_code == 200
    drive(deal.id, "disputed", parties, sign=False)
    deals.resolve_dispute(deal.id, parties.operator, "split", seller_share=PRICE // 2)  # fee ¥15,000
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    assert deal.fee == 15_000_00 and ledger.deal_balances(deal)["fee_by_voucher"] == 15_000_00
    assert deal.payout_amount == PRICE // 2  # the programme paid the whole fee
    assert db.session.query(Voucher).one().used == 15_000_00
    _books(deal.id)


def test_a_claim_upheld_after_release_then_a_refund_returns_the_programmes_money(client, parties, deal):
    batch = _batch(client, parties)
    assert _pay(client, parties.seller, deal.id, batch, 3_000_00).status_code == 200
    drive(deal.id, "released", parties, sign=False)
    deals.stop_for_upheld_claim(deal.id, "法院判决权利归第三人所有")
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    assert deal.state == "disputed" and ledger.deal_balances(deal)["escrow"] == PRICE
    _books(deal.id)
    deals.resolve_dispute(deal.id, parties.operator, "release")  # released again: the voucher's part still counts
    db.session.commit()
    assert ledger.deal_balances(deal)["fee_by_voucher"] == 3_000_00 and deal.payout_amount == PRICE - 27_000_00
    _books(deal.id)


def test_a_claim_upheld_after_release_and_a_refund_reverse_the_booked_use(client, parties, deal):
    batch = _batch(client, parties)
    assert _pay(client, parties.seller, deal.id, batch, 3_000_00).status_code == 200
    drive(deal.id, "released", parties, sign=False)
    deals.stop_for_upheld_claim(deal.id, "法院判决权利归第三人所有")
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    if deal.recorded_at is not None:  # recorded: the refund waits for the transfer back
        deals.resolve_dispute(deal.id, parties.operator, "refund")
        db.session.commit()
        deals.confirm_reversal(deal.id, parties.operator)
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    assert deal.state == "refunded"
    assert ledger.deal_balances(deal)["fee_by_voucher"] == 0 and ledger.deal_balances(deal)["platform_fee"] == 0
    assert db.session.query(Voucher).one().used == 0
    assert vouchers.totals_in_ledger(parties.issuer.organization_id) == {"due": 0, "paid": 0}
    _books(deal.id)


@pytest.mark.parametrize("case", ["buyer", "colleague", "stranger", "operator", "over_fee", "over_voucher",
                                  "expired", "future", "ineligible", "service", "twice", "released", "no_batch",
                                  "zero"])
def test_refusals_change_nothing(client, parties, deal, case):
    today = local(utcnow()).date()
    kw = {}
    if case == "over_fee":
        kw["face_value"] = 50_000_00
    if case == "future":
        kw["valid_from"] = (today + timedelta(days=3)).isoformat()
    if case == "ineligible":
        kw = {"regions": [], "organization_ids": [parties.other_seller.organization_id]}
    if case == "service":
        kw["services"] = ["valuation_review"]
    if case == "twice":
        kw["single_use"] = True
    batch = _batch(client, parties, **kw)
    if case == "expired":
        row = db.session.get(VoucherBatch, batch)
        row.valid_from, row.valid_until = today - timedelta(days=30), today - timedelta(days=1)
        db.session.commit()
    if case == "twice":
        assert _pay(client, parties.seller, deal.id, batch, 100_00).status_code == 200
    if case == "released":
        drive(deal.id, "released", parties, sign=False)
    who = {"buyer": parties.buyer, "colleague": parties.colleague, "stranger": parties.other_seller,
           "operator": parties.operator}.get(case, parties.seller)
    amount = {"over_fee": 30_000_01, "over_voucher": 10_000_01, "zero": 0}.get(case, 100_00)
    before = _state()
    r = _pay(client, who, deal.id, 987654 if case == "no_batch" else batch, amount)
    expected = {"buyer": 403, "colleague": 404, "stranger": 404, "operator": 403, "over_fee": 422,
                "over_voucher": 422, "expired": 409, "future": 409, "ineligible": 404, "service": 409, "twice": 409,
                "released": 409, "no_batch": 404, "zero": 422}[case]
    assert r.status_code == expected, r.get_json()
    assert "error" in r.get_json()
    assert _state() == before
    _books(deal.id)


def test_payable_deals_are_the_sellers_running_ones(parties, deal):
    assert [d.id for d in deal_fees.payable_deals(parties.seller)] == [deal.id]
    assert deal_fees.payable_deals(parties.buyer) == [] and deal_fees.payable_deals(parties.colleague) == []

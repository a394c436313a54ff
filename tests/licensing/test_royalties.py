"""Royalties through escrow (issue 16): two reporting periods of an open licence with the first year's minimum
paid in advance, each reported, computed, paid, held, released less the fee and paid out; the refusals that
store nothing; rounding; the yearly minimum; a late report's reminder and credit record; the recordal reminders;
negotiated terms; and the register's licence ending with the licence."""
import io
from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from escrow import deals, ledger, royalties
from escrow.deadlines import run_deadlines
from escrow.fees import platform_fee
from escrow.royalty_models import RoyaltyPeriod
from listings.models import Encumbrance, RightEvent
from marketplace.kernel.credit_models import CreditRecord
from marketplace.kernel.extensions import db
from marketplace.kernel.models import Notification
from marketplace.kernel.timeutil import SHANGHAI, utcnow
from tests import factories
from tests.invariants.checks import check_royalties
from tests.probes import nothing_changes

from .conftest import take_and_pay

PDF = factories.PDF


def _utc_after(day, days=1):
    """Noon in Beijing ``days`` after the date ``day``, as naive UTC (the platform's clock)."""
    local_noon = datetime.combine(day + timedelta(days=days), time(12, 0), tzinfo=SHANGHAI)
    return local_noon.astimezone(timezone.utc).replace(tzinfo=None)


@pytest.fixture
def licence(people, declared):
    decl = declared()
    _deal, licence = take_and_pay(decl, people.takers[0], people.operator)
    assert licence.status == "active"
    return licence


def _report(client, licence, period, user, body):
    return client.post(f"/api/v1/licences/{licence.id}/periods/{period.id}/report", json=body,
                       headers=factories.auth_header(user))


def test_two_periods_reported_paid_held_released_and_paid_out(app, client, people, licence, monkeypatch):
    taker, holder, operator = people.takers[0], people.holder, people.operator
    p1, p2 = licence.periods[0], licence.periods[1]
    assert len(licence.periods) == 12 and p1.kind == "running" and p1.licence_year == 1
    assert licence.periods[4].licence_year == 2
    now = _utc_after(p2.ends_on)
    monkeypatch.setattr(royalties, "utcnow", lambda: now)
    # Q1: ¥1,000,000 of sales at 5 % = ¥50,000, covered by the ¥100,000 minimum paid in advance: nothing due.
    r = _report(client, licence, p1, taker, {"net_sales": 1_000_000_00, "note": "一季度"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["period"]["amount"] == 0 and r.get_json()["period"]["status"] == "settled"
    # Q2, with an attachment: ¥3,000,000 → ¥150,000 this year so far, ¥100,000 already paid: ¥100,000 due.
    r = client.post(f"/api/v1/licences/{licence.id}/periods/{p2.id}/report",
                    data={"net_sales": "300000000", "attachment": (io.BytesIO(PDF), "sales.pdf")},
                    headers=factories.auth_header(taker), content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()
    period = r.get_json()["period"]
    assert period["amount"] == 100_000_00 and period["status"] == "awaiting_payment" and period["has_attachment"]
    fee = platform_fee(100_000_00, licence.deal.fee_bps)
    assert period["fee"] == fee
    pay = client.get(f"/api/v1/licences/{licence.id}/periods/{p2.id}/payment", headers=factories.auth_header(taker))
    assert pay.status_code == 200 and pay.get_json()["payment"]["reference"].startswith("IPR")
    ref = pay.get_json()["payment"]["reference"]
    # The operator confirms the bank transfer: held in royalty_escrow.
    r = client.post(f"/api/v1/operator/royalties/{p2.id}/confirm", json={"reference": ref, "amount": 100_000_00},
                    headers=factories.auth_header(operator))
    assert r.status_code == 200 and r.get_json()["period"]["status"] == "held"
    assert ledger.account_balances()["royalty_escrow"]["CNY"] == 100_000_00
    check_royalties()
    # The licensor accepts: released less the fee at the deal's rate.
    r = client.post(f"/api/v1/licences/{licence.id}/periods/{p2.id}/release", headers=factories.auth_header(holder))
    assert r.status_code == 200 and r.get_json()["period"]["status"] == "released"
    r = client.post(f"/api/v1/operator/royalties/{p2.id}/payout", json={"reference": "BOC2026120500001"},
                    headers=factories.auth_header(operator))
    assert r.status_code == 200 and r.get_json()["period"]["status"] == "paid_out"
    balances = ledger.account_balances()
    assert balances["royalty_escrow"]["CNY"] == 0
    check_royalties()
    # The ledger shows each period on the licence page.
    from tests.conftest import login

    html = login(client, holder).get(f"/licences/{licence.id}").get_data(as_text=True)
    assert "第 2 期许可费到账" in html and "第 2 期许可费放款" in html and "第 2 期许可费付给许可方" in html
    rows = dict((p.id, [e.kind for e in es]) for p, es in royalties.ledger_rows(licence))
    assert rows[p2.id] == ["royalty_fund", "royalty_release", "royalty_payout"] and rows[p1.id] == []
    assert fee > 0 and balances["platform_revenue"]["CNY"] >= fee


def _stored(period):
    db.session.expire_all()
    p = db.session.get(RoyaltyPeriod, period.id)
    return (p.status, p.net_sales, p.amount, p.reported_at)


@pytest.mark.parametrize("body,status,field", [
    ({"net_sales": -1}, 422, "net_sales"),
    ({"net_sales": 10**15}, 422, "net_sales"),
    ({"net_sales": True}, 422, "net_sales"),
    ({"net_sales": "100"}, 422, "net_sales"),
    ({"net_sales": 12.5}, 422, "net_sales"),
    ({"net_sales": 100, "note": "长" * 501}, 422, "note"),
])
def test_bad_figures_are_refused_and_nothing_is_stored(app, client, people, licence, monkeypatch, body, status, field):
    p1 = licence.periods[0]
    monkeypatch.setattr(royalties, "utcnow", lambda: _utc_after(p1.ends_on))
    before = _stored(p1)
    r = _report(client, licence, p1, people.takers[0], body)
    assert r.status_code == status and field in r.get_json()["error"]["fields"]
    assert _stored(p1) == before


def test_a_period_that_has_not_ended_cannot_be_reported(app, client, people, licence):
    p1 = licence.periods[0]
    before = _stored(p1)
    r = _report(client, licence, p1, people.takers[0], {"net_sales": 100})
    assert r.status_code == 409 and p1.ends_on.isoformat() in r.get_json()["error"]["message"]
    assert _stored(p1) == before


def test_a_second_report_for_the_same_period_is_refused(app, client, people, licence, monkeypatch):
    p1 = licence.periods[0]
    monkeypatch.setattr(royalties, "utcnow", lambda: _utc_after(p1.ends_on))
    assert _report(client, licence, p1, people.takers[0], {"net_sales": 100}).status_code == 200
    before = _stored(p1)
    r = _report(client, licence, p1, people.takers[0], {"net_sales": 999_999})
    assert r.status_code == 409 and _stored(p1) == before


def test_periods_are_reported_in_order(app, client, people, licence, monkeypatch):
    _p1, p2 = licence.periods[0], licence.periods[1]
    monkeypatch.setattr(royalties, "utcnow", lambda: _utc_after(p2.ends_on))
    r = _report(client, licence, p2, people.takers[0], {"net_sales": 100})
    assert r.status_code == 409 and _stored(p2)[0] == "open"


def test_only_the_licensee_reports(app, client, people, licence, monkeypatch):
    p1 = licence.periods[0]
    monkeypatch.setattr(royalties, "utcnow", lambda: _utc_after(p1.ends_on))
    assert _report(client, licence, p1, people.holder, {"net_sales": 100}).status_code == 403
    assert _report(client, licence, p1, people.takers[1], {"net_sales": 100}).status_code == 404
    assert _report(client, licence, p1, people.operator, {"net_sales": 100}).status_code == 403
    assert _stored(p1)[0] == "open"


def test_confirming_a_wrong_reference_or_amount_books_nothing(app, client, people, licence, monkeypatch):
    p1 = licence.periods[0]
    monkeypatch.setattr(royalties, "utcnow", lambda: _utc_after(p1.ends_on))
    # ¥3,000,000 of sales: ¥150,000 royalty, ¥100,000 paid in advance → ¥50,000 due
    assert _report(client, licence, p1, people.takers[0], {"net_sales": 3_000_000_00}).status_code == 200
    db.session.refresh(p1)
    assert p1.amount == 50_000_00
    for body, field in (({"reference": "IPR0000000000", "amount": p1.amount}, "reference"),
                        ({"reference": p1.payment_reference, "amount": p1.amount - 1}, "amount")):
        r = client.post(f"/api/v1/operator/royalties/{p1.id}/confirm", json=body,
                        headers=factories.auth_header(people.operator))
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"]
    r = client.post(f"/api/v1/operator/royalties/{p1.id}/confirm",
                    json={"reference": p1.payment_reference, "amount": p1.amount},
                    headers=factories.auth_header(people.takers[0]))
    assert r.status_code == 403
    assert ledger.find_entry(f"royalty:{p1.id}:fund") is None and _stored(p1)[0] == "awaiting_payment"
    # the licensee cannot release, and nothing held cannot be released
    r = client.post(f"/api/v1/licences/{licence.id}/periods/{p1.id}/release",
                    headers=factories.auth_header(people.holder))
    assert r.status_code == 409
    check_royalties()


def test_royalties_round_half_a_fen_up():
    assert royalties.royalty_of(1, 5_000) == 1  # 0.5 fen → 1
    assert royalties.royalty_of(1, 4_999) == 0  # 0.4999 fen → 0
    assert royalties.royalty_of(3, 5_000) == 2  # 1.5 → 2
    assert royalties.royalty_of(123_456_789, 275) == 3_395_062  # 3,395,061.6975 → 3,395,062


def _negotiated(people, terms, *, sign=True):
    listing = factories.make_listing(people.holder, deal_types=("non_exclusive_license",))
    deal = deals.open_deal(listing, people.takers[1], 20_000_00, "non_exclusive_license", "purchase")
    db.session.commit()
    licence = royalties.set_terms(deal.id, people.holder, terms)
    db.session.commit()
    if sign:
        factories.sign_contract(deal)
        deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, people.operator)
        db.session.commit()
        run_deadlines(utcnow())
    return deal, licence


def test_the_yearly_minimum_tops_up_the_years_last_period(app, people):
    deal, licence = _negotiated(people, {"royalty_bps": 500, "period": "year", "yearly_minimum": 100_000_00})
    assert licence.status == "active" and len(licence.periods) >= 3 and not licence.advance_credit
    p1 = licence.periods[0]
    royalties.report(licence.id, p1.id, people.takers[1], 1_000_000_00, now=_utc_after(p1.ends_on))
    db.session.commit()
    assert p1.amount == 100_000_00  # royalty ¥50,000 < minimum ¥100,000: the minimum is due
    p2 = licence.periods[1]
    royalties.report(licence.id, p2.id, people.takers[1], 4_000_000_00, now=_utc_after(p2.ends_on))
    db.session.commit()
    assert p2.amount == 200_000_00  # royalty ¥200,000 ≥ minimum: the royalty
    check_royalties()


def test_negotiated_terms_are_written_into_the_contract_until_it_is_signed(app, client, people):
    from escrow import contracts

    deal, licence = _negotiated(people, {"royalty_bps": 275, "period": "quarter", "sublicensing": True,
                                         "instalments": [{"due_on": "2027-06-30", "amount": 5_000_00}]}, sign=False)
    text = contracts.contract_of(deal).text
    assert "2.75%" in text and "可以分许可" in text and "2027-06-30" in text
    headers = factories.auth_header(people.holder)
    db.session.commit()
    for body, field in (({"royalty_bps": 0, "period": "year"}, "royalty_bps"),
                        ({"royalty_bps": 10_001, "period": "year"}, "royalty_bps"),
                        ({"royalty_bps": 100}, "period"),
                        ({"instalments": [{"due_on": "2027-13-01", "amount": 1}]}, "instalments[0].due_on")):
        r = client.put(f"/api/v1/deals/{deal.id}/royalty-terms", json=body, headers=headers)
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"], r.get_json()
    r = client.put(f"/api/v1/deals/{deal.id}/royalty-terms", json={"royalty_bps": 100, "period": "year"},
                   headers=factories.auth_header(people.takers[1]))
    assert r.status_code == 403
    db.session.refresh(licence)
    assert licence.royalty_bps == 275
    factories.sign_contract(deal)
    db.session.commit()
    r = client.put(f"/api/v1/deals/{deal.id}/royalty-terms", json={"royalty_bps": 100, "period": "year"},
                   headers=factories.auth_header(people.holder))
    assert r.status_code == 409
    db.session.refresh(licence)
    assert licence.royalty_bps == 275 and contracts.contract_of(deal).text == text


def test_an_open_licences_terms_cannot_be_renegotiated(app, client, people, licence):
    headers = factories.auth_header(people.holder)
    with nothing_changes():  # the licence keeps the published terms
        r = client.put(f"/api/v1/deals/{licence.deal_id}/royalty-terms", json={"royalty_bps": 100, "period": "year"},
                       headers=headers)
    assert r.status_code == 409 and "开放许可按公告的条件实施" in r.get_json()["error"]["message"]


def _notices(user, text):
    return db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == user.id,
                                                                      Notification.title.contains(text)))


def test_a_late_report_is_reminded_then_becomes_a_credit_record(app, people, licence):
    taker = people.takers[0]
    p1 = licence.periods[0]
    run_deadlines(_utc_after(p1.due_on, 0))
    assert _notices(taker, "逾期提醒") == 0  # due today: not late yet
    run_deadlines(_utc_after(p1.due_on, 1))
    assert _notices(taker, "逾期提醒") == 1 and _notices(people.holder, "逾期提醒") == 1
    run_deadlines(_utc_after(p1.due_on, 2))
    assert _notices(taker, "逾期提醒") == 1  # once
    assert db.session.scalar(select(func.count(CreditRecord.id))) == 0  # still within the grace period
    run_deadlines(_utc_after(p1.due_on, 31))
    record = db.session.scalar(select(CreditRecord).where(CreditRecord.user_id == taker.id))
    assert record is not None and record.violation == "non_performance" and record.level == "warned"
    assert str(licence.id) in record.description
    run_deadlines(_utc_after(p1.due_on, 40))
    assert db.session.scalar(select(func.count(CreditRecord.id))) == 1


def test_a_report_in_time_brings_no_reminder(app, people, licence):
    p1 = licence.periods[0]
    royalties.report(licence.id, p1.id, people.takers[0], 0, now=_utc_after(p1.ends_on))
    db.session.commit()
    run_deadlines(_utc_after(p1.due_on, 40))
    assert _notices(people.takers[0], "逾期提醒") == 0 and db.session.scalar(select(func.count(CreditRecord.id))) == 0


def test_the_recordal_is_reminded_to_both_parties_then_flagged_overdue(app, people, licence):
    due = licence.recordal_due_on
    run_deadlines(_utc_after(due, -31))
    assert _notices(people.holder, "备案") == 0
    run_deadlines(_utc_after(due, -29))
    assert _notices(people.holder, "请办理许可合同备案") == 1 and _notices(people.takers[0], "请办理许可合同备案") == 1
    run_deadlines(_utc_after(due, 1))
    assert _notices(people.holder, "备案已逾期") == 1 and _notices(people.takers[0], "备案已逾期") == 1


def test_when_the_licence_ends_the_registers_licence_ends_with_it(app, people, licence):
    from tests.escrow.conftest import PNG, upload

    deal = licence.deal
    deals.file_transfer(deal.id, people.holder, upload())
    factories.record_and_verify(deal, people.holder, people.operator, upload(PNG, "notice.png"))
    db.session.commit()
    right = deal.listing.rights[0]
    enc = db.session.scalar(select(Encumbrance).where(Encumbrance.deal_id == deal.id))
    assert enc is not None and enc.ended_at is None and enc.licence_type == "non_exclusive"
    run_deadlines(_utc_after(licence.ends_on, 0))
    db.session.refresh(licence)
    assert licence.status == "active"  # the last day is still in the licence
    run_deadlines(_utc_after(licence.ends_on, 1))
    db.session.refresh(licence)
    db.session.refresh(enc)
    assert licence.status == "ended" and enc.ended_at is not None
    assert db.session.scalar(select(RightEvent).where(RightEvent.right_id == right.id,
                                                      RightEvent.action == "licence_ended")) is not None
    assert not [e for e in right.licences_in_force(licence.ends_on + timedelta(days=1)) if e.deal_id == deal.id]


def test_an_unpaid_open_licence_deal_never_starts(app, people, declared):
    from listings import open_licence as ol

    decl = declared()
    deal, licence = ol.take(decl.id, people.takers[2])
    db.session.commit()
    deals.cancel_deal(deal.id, people.takers[2])
    db.session.commit()
    run_deadlines(utcnow())
    db.session.refresh(licence)
    assert licence.status == "void" and licence.periods == []
    # the organisation may take the licence again
    ol.take(decl.id, people.takers[2])
    db.session.commit()


def test_the_html_report_form_refuses_a_bad_figure_and_accepts_a_good_one(app, client, people, licence, monkeypatch):
    from tests.conftest import login

    p1 = licence.periods[0]
    monkeypatch.setattr(royalties, "utcnow", lambda: _utc_after(p1.ends_on))
    monkeypatch.setattr("escrow.licensing_views._today", lambda: p1.ends_on + timedelta(days=1))
    login(client, people.takers[0])
    page = client.get(f"/licences/{licence.id}").get_data(as_text=True)
    assert "报告销售额" in page
    r = client.post(f"/licences/{licence.id}/periods/{p1.id}/report", data={"net_sales": "-5"})
    assert r.status_code == 422 and _stored(p1)[0] == "open"
    r = client.post(f"/licences/{licence.id}/periods/{p1.id}/report",
                    data={"net_sales": "1,000,000.00", "attachment": (FileStorage(io.BytesIO(PDF), "s.pdf"))},
                    content_type="multipart/form-data")
    assert r.status_code == 302 and _stored(p1)[:2] == ("settled", 1_000_000_00)


def test_the_last_period_is_reported_and_reminded_after_the_licence_ended(app, people, declared):
    """Regression (the royalty state machine): a licence that ended refused the report of its last period, due
    30 days after the end, and the deadline job stopped reminding its late periods."""
    decl = declared({"royalty_kind": "percent", "royalty_bps": 1_000, "yearly_minimum": 1_00, "period": "year",
                     "term_years": 1})
    _deal, licence = take_and_pay(decl, people.takers[0], people.operator)
    (last,) = licence.periods
    run_deadlines(_utc_after(licence.ends_on, 1))
    db.session.refresh(licence)
    assert licence.status == "ended"
    run_deadlines(_utc_after(last.due_on, 1))
    assert _notices(people.takers[0], "逾期提醒") == 1
    royalties.report(licence.id, last.id, people.takers[0], 50_000_00, now=_utc_after(last.due_on, 2))
    db.session.commit()
    assert last.status == "awaiting_payment" and last.amount == 5_000_00 - 1_00  # 10 %, less the minimum paid
    check_royalties()


def test_a_negotiated_licence_deal_gets_its_licence_and_its_end_ends_the_register_entry(app, people):
    """A paid licence deal whose parties never opened the licence page still has its licence tracked."""
    from tests.escrow.conftest import PNG, upload

    listing = factories.make_listing(people.holder, deal_types=("non_exclusive_license",))
    deal = deals.open_deal(listing, people.takers[1], 20_000_00, "non_exclusive_license", "purchase")
    db.session.commit()
    factories.sign_contract(deal)
    deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, people.operator)
    deals.file_transfer(deal.id, people.holder, upload())
    factories.record_and_verify(deal, people.holder, people.operator, upload(PNG, "notice.png"))
    db.session.commit()
    assert royalties.licence_of(deal) is None
    run_deadlines(utcnow())
    licence = royalties.licence_of(deal)
    assert licence is not None and licence.status == "active" and licence.periods == []
    run_deadlines(_utc_after(licence.ends_on, 1))
    db.session.refresh(licence)
    enc = db.session.scalar(select(Encumbrance).where(Encumbrance.deal_id == deal.id))
    assert licence.status == "ended" and enc.ended_at is not None


def test_a_late_payment_is_reminded_then_becomes_a_credit_record(app, people, licence):
    """Reported in time but not paid: the payment's due date brings the reminder, the grace period the record."""
    taker = people.takers[0]
    p1, p2 = licence.periods[:2]
    royalties.report(licence.id, p1.id, taker, 1_000_000_00, now=_utc_after(p1.ends_on))
    royalties.report(licence.id, p2.id, taker, 3_000_000_00, now=_utc_after(p2.ends_on))
    db.session.commit()
    assert p2.status == "awaiting_payment"
    run_deadlines(_utc_after(p2.payment_due_on, 0))
    assert _notices(taker, "逾期提醒") == 0  # due today: not late yet
    run_deadlines(_utc_after(p2.payment_due_on, 1))
    assert _notices(taker, "逾期提醒") == 1 and _notices(people.holder, "逾期提醒") == 1
    run_deadlines(_utc_after(p2.payment_due_on, 30))
    assert db.session.scalar(select(func.count(CreditRecord.id))) == 0  # within the grace period
    run_deadlines(_utc_after(p2.payment_due_on, 31))
    record = db.session.scalar(select(CreditRecord).where(CreditRecord.user_id == taker.id))
    assert record is not None and record.violation == "non_performance" and "付款" in record.description


def test_a_payment_in_time_brings_no_reminder_and_no_record(app, people, licence):
    taker = people.takers[0]
    p1, p2 = licence.periods[:2]
    royalties.report(licence.id, p1.id, taker, 1_000_000_00, now=_utc_after(p1.ends_on))
    royalties.report(licence.id, p2.id, taker, 3_000_000_00, now=_utc_after(p2.ends_on))
    db.session.commit()
    royalties.confirm_payment(p2.id, p2.payment_reference, p2.amount, people.operator,
                              now=_utc_after(p2.payment_due_on, 0))
    db.session.commit()
    run_deadlines(_utc_after(p2.payment_due_on, 40))
    assert _notices(taker, "逾期提醒") == 0 and db.session.scalar(select(func.count(CreditRecord.id))) == 0


def test_a_recorded_licence_gets_no_recordal_reminder(app, people, licence):
    from tests.escrow.conftest import PNG, upload

    deal = licence.deal
    deals.file_transfer(deal.id, people.holder, upload())
    factories.record_and_verify(deal, people.holder, people.operator, upload(PNG, "notice.png"))
    db.session.commit()
    due = licence.recordal_due_on
    run_deadlines(_utc_after(due, -29))
    run_deadlines(_utc_after(due, 1))
    assert _notices(people.holder, "备案") == 0 and _notices(people.takers[0], "备案") == 0

"""The licensing dashboards (issue 16): the licensor sees licences granted, reports due and received and income
per period; the licensee sees licences held, the next report due and the payment history; both download them as
CSV, each only their own side; the licensee sees where to pay a period."""
import csv
import io
from datetime import timedelta

from escrow import royalties
from marketplace.kernel.extensions import db
from marketplace.kernel.money import format_yuan
from tests import factories
from tests.conftest import login

from .conftest import take_and_pay
from .test_royalties import _utc_after


def _csv(client, side):
    r = client.get(f"/licences.csv?side={side}")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Cache-Control"] == "no-store"
    return list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))


def _two_periods(people, declared, monkeypatch):
    """An open licence (5 %, ¥100,000 minimum paid in advance, quarterly) with Q1 and Q2 reported; Q2 paid and
    released. Returns the licence."""
    decl = declared()
    _deal, licence = take_and_pay(decl, people.takers[0], people.operator)
    p1, p2 = licence.periods[:2]
    taker = people.takers[0]
    royalties.report(licence.id, p1.id, taker, 1_000_000_00, now=_utc_after(p1.ends_on))
    royalties.report(licence.id, p2.id, taker, 3_000_000_00, now=_utc_after(p2.ends_on))
    db.session.commit()
    royalties.confirm_payment(p2.id, p2.payment_reference, p2.amount, people.operator, now=_utc_after(p2.ends_on, 2))
    royalties.release(licence.id, p2.id, people.holder, now=_utc_after(p2.ends_on, 3))
    db.session.commit()
    monkeypatch.setattr("escrow.licensing_views._today", lambda: p2.ends_on + timedelta(days=5))
    return licence


def test_the_licensor_sees_licences_granted_reports_and_income_per_period(app, client, people, declared,
                                                                         monkeypatch):
    licence = _two_periods(people, declared, monkeypatch)
    p2 = licence.periods[1]
    login(client, people.holder)
    page = client.get("/licences").get_data(as_text=True)
    assert "我许可出去的" in page and "我取得的许可" not in page
    assert people.takers[0].organization.name in page
    net = p2.amount - p2.fee
    assert "已放款给您" in page and format_yuan(licence.deal.price - licence.deal.fee) in page
    assert format_yuan(net) in page
    rows = _csv(client, "licensor")
    assert [r["payment"] for r in rows][:3] == ["upfront", "running", "running"]
    q2 = rows[2]
    assert q2["net_sales_cny"] == "3000000.00" and q2["amount_cny"] == "100000.00" and q2["status"] == "released"
    assert q2["net_to_licensor_cny"] == f"{net // 100}.{net % 100:02d}"
    assert q2["licensee"] == people.takers[0].organization.name
    assert len(rows) == 1 + len(licence.periods)
    # the licensor holds no licence: the licensee's CSV is empty but for its heading
    assert _csv(client, "licensee") == []


def test_the_licensee_sees_the_next_report_due_and_the_payment_history(app, client, people, declared, monkeypatch):
    licence = _two_periods(people, declared, monkeypatch)
    p3 = licence.periods[2]
    login(client, people.takers[0])
    page = client.get("/licences").get_data(as_text=True)
    assert "我取得的许可" in page and "我许可出去的" not in page
    assert f"报告截止 {p3.due_on}" in page and "付款记录" in page
    rows = _csv(client, "licensee")
    paid = [r for r in rows if r["paid_at"]]
    assert [r["payment"] for r in paid] == ["upfront", "running"]
    assert rows[0]["licensor"] == licence.deal.seller_name and rows[0]["amount_cny"] == "100000.00"
    assert _csv(client, "licensor") == []


def test_another_user_sees_no_licence_of_others(app, client, people, declared, monkeypatch):
    _two_periods(people, declared, monkeypatch)
    login(client, people.takers[1])
    page = client.get("/licences").get_data(as_text=True)
    assert "您还没有许可" in page
    assert _csv(client, "licensor") == [] and _csv(client, "licensee") == []


def test_the_csv_needs_a_side_and_a_session(app, client, people):
    assert client.get("/licences.csv?side=licensor").status_code == 302  # to the login page
    login(client, people.holder)
    assert client.get("/licences.csv").status_code == 404
    assert client.get("/licences.csv?side=everyone").status_code == 404


def test_a_cell_that_a_spreadsheet_would_run_is_defused(app, client, people, declared, monkeypatch):
    licence = _two_periods(people, declared, monkeypatch)
    licence.deal.listing.title = "=HYPERLINK(\"http://evil.example\")"
    db.session.commit()
    login(client, people.holder)
    assert _csv(client, "licensor")[0]["listing"].startswith("'=")


def test_the_licensee_sees_the_bank_details_for_a_period_to_pay(app, client, people, declared, monkeypatch):
    decl = declared()
    _deal, licence = take_and_pay(decl, people.takers[0], people.operator)
    p1, p2 = licence.periods[:2]
    royalties.report(licence.id, p1.id, people.takers[0], 1_000_000_00, now=_utc_after(p1.ends_on))
    royalties.report(licence.id, p2.id, people.takers[0], 3_000_000_00, now=_utc_after(p2.ends_on))
    db.session.commit()
    login(client, people.takers[0])
    page = client.get(f"/licences/{licence.id}").get_data(as_text=True)
    bank = app.config["PLATFORM_BANK"]
    assert bank["account_number"] in page and p2.payment_reference in page and "银行转账付款" in page
    login(client, people.holder)  # the licensor is told the reference, not asked to pay
    page = client.get(f"/licences/{licence.id}").get_data(as_text=True)
    assert "银行转账付款" not in page and p2.payment_reference in page


def test_the_dashboard_starts_a_paid_licence_and_lists_only_periods_begun(app, client, people, declared):
    """Paid a minute ago, before any ``flask deadlines run``: 我的许可 shows the licence in force (not 待生效)."""
    from escrow import deals
    from listings import open_licence as ol

    decl = declared()
    deal, licence = ol.take(decl.id, people.takers[0])
    db.session.commit()
    factories.sign_contract(deal)
    deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, people.operator)
    db.session.commit()
    assert licence.status == "pending"
    login(client, people.takers[0])
    page = client.get("/licences").get_data(as_text=True)
    db.session.refresh(licence)
    assert licence.status == "active" and "待生效" not in page
    assert f"报告截止 {licence.periods[0].due_on}" in page
    rows = page.split('id="payments-table"', 1)[1]
    assert rows.count('data-kind="running"') == 1  # the quarter under way; the eleven to come are not history
    assert len(_csv(client, "licensee")) == 1 + len(licence.periods)  # the CSV has the whole schedule

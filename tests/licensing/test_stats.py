"""Licensing on /stats (issue 16): open-licence declarations, licences taken and the royalty volume, equal to what
the database holds; the volume is withheld while fewer than MIN_CELL licences make it up (one licensee's royalties,
and so its sales, would show), on the page, in the CSV and in the API; operators see it."""
import csv
import io

from escrow import royalties
from listings import open_licence as ol
from marketplace.kernel.extensions import db
from marketplace.kernel.models import User
from marketplace.kernel.money import format_yuan
from marketplace.web import stats
from tests.conftest import login

from .conftest import FIXED_TERMS, take_and_pay
from .test_royalties import _utc_after


def _pay_first_period(licence, people):
    """Report Q1 and Q2 (5 % of ¥3,000,000 in Q2: ¥100,000 due after the advance) and pay Q2 into escrow."""
    p1, p2 = licence.periods[:2]
    taker = db.session.get(User, licence.licensee_id)
    royalties.report(licence.id, p1.id, taker, 1_000_000_00, now=_utc_after(p1.ends_on))
    royalties.report(licence.id, p2.id, taker, 3_000_000_00, now=_utc_after(p2.ends_on))
    db.session.commit()
    royalties.confirm_payment(p2.id, p2.payment_reference, p2.amount, people.operator, now=_utc_after(p2.ends_on, 2))
    db.session.commit()
    return p2.amount


def _public(client):
    return client.get("/api/v1/licensing/stats").get_json()


def test_declarations_and_licences_taken_are_counted(app, client, people, declared):
    assert _public(client)["open_licences_declared"] == 0
    first = declared()
    second = declared(FIXED_TERMS)
    take_and_pay(first, people.takers[0], people.operator)
    take_and_pay(second, people.takers[1], people.operator)
    ol.take(first.id, people.takers[2])  # taken but not paid: not counted as taken
    ol.withdraw(second.id, people.holder)
    db.session.commit()
    data = _public(client)
    assert data["open_licences_declared"] == 2 and data["open_licences_open"] == 1
    assert data["open_licences_taken"] == 2 and data["licences_in_force"] == 2
    assert data["royalty_periods_paid"] == 0 and data["royalty_volume"] is None
    page = client.get("/stats").get_data(as_text=True)
    assert 'id="stat-open-declared">2<' in page and 'id="stat-open-taken">2<' in page


def test_the_royalty_volume_is_withheld_below_min_cell_licences(app, client, people, declared):
    decl = declared()
    paid = []
    for i in range(stats.MIN_CELL):
        _deal, licence = take_and_pay(decl, people.takers[i], people.operator)
        paid.append(_pay_first_period(licence, people))
        data = _public(client)
        assert data["royalty_periods_paid"] == i + 1
        if i + 1 < stats.MIN_CELL:
            # one or two licensees: their royalties (and so their sales) would be read off the total
            assert data["royalty_volume"] is None
            page = client.get("/stats").get_data(as_text=True)
            assert "不公开（少于 3 个许可）" in page and format_yuan(sum(paid)) not in page
            text = client.get("/stats.csv").get_data(as_text=True)
            assert f"{sum(paid) // 100}." not in text
            assert stats.operator_stats()["licensing"]["royalty_volume"] == sum(paid)  # operators see it
    data = _public(client)
    assert data["royalty_volume"] == sum(paid) == 3 * 100_000_00
    page = client.get("/stats").get_data(as_text=True)
    assert 'id="stat-royalty-volume">¥30万<' in page
    rows = {(r["dimension"], r["key"]): r for r in csv.DictReader(
        io.StringIO(client.get("/stats.csv").get_data(as_text=True).lstrip("\ufeff")))}
    assert rows[("licensing", "royalty_volume")]["value_cny"] == "300000.00"
    assert rows[("licensing", "open_licences_taken")]["count"] == "3"


def test_the_operator_page_shows_the_volume(app, client, people, declared):
    decl = declared()
    _deal, licence = take_and_pay(decl, people.takers[0], people.operator)
    amount = _pay_first_period(licence, people)
    login(client, people.operator)
    page = client.get("/operator/stats").get_data(as_text=True)
    assert "许可费总额" in page and "不公开（少于" not in page.split('id="stat-licensing"', 1)[1]
    assert stats.operator_stats()["licensing"]["royalty_volume"] == amount

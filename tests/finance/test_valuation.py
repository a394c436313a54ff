"""Valuation by the income method: the formula (exact, and its properties under Hypothesis), the input rules
(each refusal names the field and writes nothing), the market cross-check threshold, the report's privacy."""
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finance import valuation
from finance.models import Valuation
from marketplace.kernel.errors import ValidationError
from marketplace.kernel.extensions import db
from tests import factories

from .conftest import api, make_patent, make_trademark

revenues_st = st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=30)
rate_st = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100"), places=2)
discount_st = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99.99"), places=2)


def test_a_worked_example_to_the_fen():
    # 10 % × ¥100,000 a year for 3 years at 8 %: 10,000 × (1/1.08 + 1/1.08² + 1/1.08³) = ¥25,770.97
    assert valuation.present_value([100_000_00] * 3, Decimal("10"), Decimal("8")) == 2_577_097


def test_rounding_is_half_up_once_after_the_sum():
    # each year's term is ¥0.005 (half a fen): rounding each would give 1 + 1 = 2 fen, the sum is 1 fen exactly
    assert valuation.present_value([1], Decimal("50"), Decimal("0.0001")) == 0  # 0.49995 fen: down
    assert valuation.present_value([1, 0], Decimal("100"), Decimal("99")) == 1  # 0.5025… fen: half up


@settings(max_examples=60, deadline=None)
@given(revenues=revenues_st, rate=rate_st, d1=discount_st, d2=discount_st)
def test_value_falls_as_the_discount_rate_rises(revenues, rate, d1, d2):
    low, high = sorted((d1, d2))
    assert valuation.present_value(revenues, rate, low) >= valuation.present_value(revenues, rate, high)


@settings(max_examples=60, deadline=None)
@given(revenues=revenues_st, r1=rate_st, r2=rate_st, d=discount_st)
def test_value_rises_with_the_royalty_rate(revenues, r1, r2, d):
    low, high = sorted((r1, r2))
    assert valuation.present_value(revenues, low, d) <= valuation.present_value(revenues, high, d)


@settings(max_examples=60, deadline=None)
@given(revenues=revenues_st, rate=rate_st, d=discount_st, extra=st.integers(min_value=0, max_value=10**12),
       year=st.integers(min_value=0, max_value=29))
def test_more_revenue_never_lowers_the_value(revenues, rate, d, extra, year):
    more = list(revenues)
    more[year % len(more)] += extra
    assert valuation.present_value(more, rate, d) >= valuation.present_value(revenues, rate, d)


@settings(max_examples=60, deadline=None)
@given(revenues=revenues_st, rate=rate_st, d=discount_st)
def test_value_is_between_zero_and_the_undiscounted_royalties(revenues, rate, d):
    value = valuation.present_value(revenues, rate, d)
    undiscounted = sum(Decimal(r) * rate / 100 for r in revenues)
    assert 0 <= value <= undiscounted + Decimal("0.5")


@settings(max_examples=40, deadline=None)
@given(revenues=revenues_st, rate=rate_st, d=discount_st)
def test_the_sensitivity_table_centre_is_the_value_and_rows_fall(revenues, rate, d):
    table = valuation.sensitivity(revenues, rate, d)
    assert table["rows"][1]["cells"][1]["value"] == valuation.present_value(revenues, rate, d)
    for col in range(3):
        values = [row["cells"][col]["value"] for row in table["rows"] if row["cells"][col]["value"] is not None]
        assert values == sorted(values, reverse=True)


@pytest.fixture
def holder(app):
    user = factories.make_user("seller")
    patent = make_patent(user)
    db.session.commit()
    return user, patent


def _body(patent, **kw):
    body = {"rights": [{"kind": "patent", "number": patent.number}], "revenues": [50_000_00] * 5,
            "royalty_rate": "8", "discount_rate": "12", "life_years": 5}
    body.update(kw)
    return body


@pytest.mark.parametrize("change,field", [
    ({"revenues": [-1, 0, 0, 0, 0]}, "revenues[0]"),
    ({"discount_rate": "0"}, "discount_rate"),
    ({"discount_rate": "100"}, "discount_rate"),
    ({"discount_rate": "-3"}, "discount_rate"),
    ({"discount_rate": "NaN"}, "discount_rate"),
    ({"royalty_rate": "100.5"}, "royalty_rate"),
    ({"royalty_rate": "1e3"}, "royalty_rate"),
    ({"life_years": 0}, "life_years"),
    ({"life_years": 31, "revenues": [1] * 31}, "life_years"),
    ({"life_years": 20, "revenues": [1] * 20}, "life_years"),  # filed 2017: an invention's term ends in 2037
    ({"revenues": [1, 2]}, "revenues"),
    ({"rights": []}, "rights"),
    ({"rights": [{"kind": "patent", "number": "201710000000.0"}]}, "rights[0]"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(client, holder, change, field):
    user, patent = holder
    r = api(client, user, "POST", "/valuations", json=_body(patent, **change))
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert db.session.query(Valuation).count() == 0


def test_life_is_bounded_by_the_rights_remaining_term(holder):
    user, patent = holder
    today = date(2030, 7, 21)  # the invention filed 2017-07-21 ends 2037-07-21: 7 years left
    assert valuation.remaining_years(patent, today) == 7
    assert valuation.remaining_years(patent, date(2030, 1, 1)) == 8  # a part year counts as a year
    assert valuation.remaining_years(patent, date(2037, 7, 21)) == 0
    valuation.clean(_body(patent, life_years=7, revenues=[1] * 7), user, today)
    with pytest.raises(ValidationError) as exc:
        valuation.clean(_body(patent, life_years=8, revenues=[1] * 8), user, today)
    assert "life_years" in exc.value.fields


def test_a_right_of_another_holder_is_refused(client, holder):
    _user, patent = holder
    stranger = factories.make_user("seller")
    db.session.commit()
    r = api(client, stranger, "POST", "/valuations", json=_body(patent))
    assert r.status_code == 422 and "rights[0]" in r.get_json()["error"]["fields"]
    assert db.session.query(Valuation).count() == 0


def test_a_portfolio_of_a_patent_and_a_trademark(client, holder):
    user, patent = holder
    mark = make_trademark(user)
    db.session.commit()
    body = _body(patent, rights=[{"kind": "patent", "number": patent.number},
                                 {"kind": "trademark", "number": mark.number}])
    r = api(client, user, "POST", "/valuations", json=body)
    assert r.status_code == 201
    got = r.get_json()["valuation"]
    assert [x["kind"] for x in got["rights"]] == ["patent", "trademark"]
    assert got["comparables"]["basis"] == ["IPC H01M", "尼斯第 9 类"]


def _completed_deal(price, ipc="H01M 4/58"):
    from escrow.models import Deal

    seller = factories.make_user("seller")
    buyer = factories.make_user("buyer")
    listing = factories.make_listing(seller, status="sold")
    listing.rights[0].ipc_codes = [ipc]
    deal = Deal(listing_id=listing.id, buyer_id=buyer.id, seller_id=seller.id, deal_type="assignment",
                source="purchase", price=price, fee=0, fee_bps=0, state="completed")
    db.session.add(deal)
    db.session.flush()
    return deal


def test_the_market_cross_check_shows_prices_from_three_comparable_deals(holder):
    _user, patent = holder
    _completed_deal(100_000_00)
    _completed_deal(300_000_00)
    _completed_deal(999_000_00, ipc="G06F 16/00")  # another subclass: not comparable
    db.session.commit()
    two = valuation.comparables([patent])
    assert two["count"] == 2 and not two["enough"] and "median" not in two
    _completed_deal(200_000_00)
    db.session.commit()
    three = valuation.comparables([patent])
    assert three["enough"] and (three["low"], three["median"], three["high"]) == (100_000_00, 200_000_00, 300_000_00)


def test_the_report_is_private_to_the_holder(client, holder):
    user, patent = holder
    vid = api(client, user, "POST", "/valuations", json=_body(patent)).get_json()["valuation"]["id"]
    colleague = factories.make_user("buyer", org=user.organization)
    stranger = factories.make_user("seller")
    bank = factories.make_user("bank", org=factories.make_org(name="工商银行"))
    operator = factories.make_user("operator")
    db.session.commit()
    for reader in (colleague, operator):
        r = api(client, reader, "GET", f"/valuations/{vid}")
        assert r.status_code == 200 and r.get_json()["valuation"]["id"] == vid
    for other in (stranger, bank):
        for path in (f"/valuations/{vid}", f"/valuations/{vid}.pdf"):
            r = api(client, other, "GET", path)
            assert r.status_code == 404 and patent.number not in r.get_data(as_text=True)
            assert r.get_json()["error"]["code"] == "not_found"
    anonymous = api(client, None, "GET", f"/valuations/{vid}")
    assert anonymous.status_code == 401 and "valuation" not in anonymous.get_json()


def test_attaching_to_a_published_listing_shows_the_report_to_its_viewers(client, holder):
    user, patent = holder
    vid = api(client, user, "POST", "/valuations", json=_body(patent)).get_json()["valuation"]["id"]
    listing = factories.make_listing(user, number=patent.number)
    others_listing = factories.make_listing(factories.make_user("seller"))
    buyer = factories.make_user("buyer")
    db.session.commit()
    r = api(client, user, "POST", f"/valuations/{vid}/attach", json={"listing_id": others_listing.id})
    assert r.status_code == 422 and db.session.get(Valuation, vid).listing_id is None
    assert api(client, buyer, "GET", f"/valuations/{vid}").status_code == 404
    assert api(client, user, "POST", f"/valuations/{vid}/attach", json={"listing_id": listing.id}).status_code == 200
    assert api(client, buyer, "GET", f"/valuations/{vid}").status_code == 200
    assert api(client, buyer, "POST", f"/valuations/{vid}/attach", json={"listing_id": None}).status_code == 403
    assert db.session.get(Valuation, vid).listing_id == listing.id


def test_sign_off_needs_the_fee_paid_and_a_signer_from_another_side(client, holder):
    user, patent = holder
    vid = api(client, user, "POST", "/valuations", json=_body(patent)).get_json()["valuation"]["id"]
    valuer = factories.make_user("valuer")
    own_operator = factories.make_user("operator", org=user.organization)
    db.session.commit()
    # not asked for review yet: the valuer does not even see it
    assert api(client, valuer, "POST", f"/valuations/{vid}/sign-off", json={"note": "同意"}).status_code == 404
    assert api(client, user, "POST", f"/valuations/{vid}/review").status_code == 200
    assert api(client, user, "POST", f"/valuations/{vid}/review").status_code == 409
    r = api(client, valuer, "POST", f"/valuations/{vid}/sign-off", json={"note": "同意"})
    assert r.status_code == 409  # the review fee is not paid
    assert api(client, own_operator, "POST", f"/valuations/{vid}/sign-off", json={"note": "同意"}).status_code == 403
    assert api(client, user, "POST", f"/valuations/{vid}/sign-off", json={"note": "同意"}).status_code == 403
    assert db.session.get(Valuation, vid).status == "review_requested"
    charge = api(client, user, "GET", "/charges").get_json()["charges"][0]
    operator = factories.make_user("operator")
    db.session.commit()
    assert api(client, operator, "POST", f"/charges/{charge['id']}/transfer",
               json={"reference": "ICBC20261205", "amount": charge["amount"]}).status_code == 200
    r = api(client, valuer, "POST", f"/valuations/{vid}/sign-off", json={"note": "输入与方法合理"})
    assert r.status_code == 200
    v = db.session.get(Valuation, vid)
    assert v.status == "signed_off" and v.signer_role == "valuer"


def test_the_pdf_report_shows_the_inputs_and_the_self_assessment_mark(client, holder):
    user, patent = holder
    vid = api(client, user, "POST", "/valuations", json=_body(patent)).get_json()["valuation"]["id"]
    r = api(client, user, "GET", f"/valuations/{vid}.pdf")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    import io

    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(r.data)).pages)
    assert "自评报告" in text and "8%" in text and "12%" in text

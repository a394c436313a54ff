"""The fee (issue 15): fixed on the deal when it opens, shown before anyone commits, computed in one place."""
import pytest

from escrow import deals, fees, ledger
from escrow.models import Deal
from marketplace.kernel.extensions import db
from tests import factories
from tests.escrow.conftest import drive


def test_a_settings_change_mid_deal_does_not_change_the_deals_fee(app, open_deal, parties):
    app.config["PLATFORM_FEE_BPS"] = 300
    deal = open_deal(price=1_000_000_00)
    assert deal.fee_bps == 300 and deal.fee == 3_000_000
    app.config["PLATFORM_FEE_BPS"] = 500  # the platform raises its fee while the deal runs
    deal = drive(deal.id, "completed", parties)
    balances = ledger.deal_balances(deal)
    assert deal.fee == 3_000_000 and balances["platform_fee"] == 3_000_000
    assert balances["paid_out"] == 1_000_000_00 - 3_000_000
    later = open_deal(price=1_000_000_00)  # a deal opened now gets the new rate
    assert later.fee_bps == 500 and later.fee == 5_000_000


def test_a_split_charges_the_deals_rate_on_the_sellers_share(app, open_deal, parties):
    app.config["PLATFORM_FEE_BPS"] = 250
    deal = drive(open_deal(price=10_000_00).id, "disputed", parties)
    app.config["PLATFORM_FEE_BPS"] = 900
    deals.resolve_dispute(deal.id, parties.operator, "split", 6_000_00)
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    assert deal.fee == fees.platform_fee(6_000_00, 250) == 15_000 and deal.payout_amount == 6_000_00 - 15_000


@pytest.mark.parametrize("price,fee", [(1, 0), (17, 1), (50, 2), (1_000_000_00, 3_000_000)])
def test_quote_is_price_fee_and_net(app, price, fee):
    assert fees.quote(price, 300) == {"price": price, "fee_bps": 300, "fee": fee, "seller_net": price - fee}


@pytest.mark.parametrize("bad", [None, 0, -5, "100", True, 1.5])
def test_quote_of_no_price_is_none(app, bad):
    assert fees.quote(bad) is None


def test_quote_api_and_listing_json_carry_fee_and_net(app, client, seller):
    body = client.get("/api/v1/fees/quote?price=1000000").get_json()
    assert body == {"price": 1_000_000, "fee_bps": 300, "fee": 30_000, "seller_net": 970_000}
    for bad in ("", "-1", "0", "abc", "1e5", "9" * 20, "²", "١٢"):
        response = client.get(f"/api/v1/fees/quote?price={bad}")
        assert response.status_code == 422 and response.get_json()["error"]["code"] == "validation_error"
    listing = factories.make_listing(seller, price=500_000_00)
    db.session.commit()
    shown = client.get(f"/api/v1/listings/{listing.id}").get_json()
    shown = shown.get("listing", shown)
    assert shown["fees"] == {"price": 500_000_00, "fee_bps": 300, "fee": 1_500_000, "seller_net": 500_000_00 - 1_500_000}


def test_fee_and_net_shown_on_the_form_buy_panel_and_offer_form(app, client, as_user, seller, buyer):
    as_user(seller)
    form = client.get("/listings/new").get_data(as_text=True)
    assert "data-fee-quote" in form and 'data-fee-input="price"' in form and "3.00%" in form
    fixed = factories.make_listing(seller, price=123_456_78)
    negotiable = factories.make_listing(seller, price=None, price_mode="negotiable")
    db.session.commit()
    as_user(buyer)
    page = client.get(f"/listings/{fixed.id}").get_data(as_text=True)
    fee = fees.platform_fee(123_456_78, 300)
    assert "¥123,456.78" in page and f"¥{(123_456_78 - fee) // 100:,}.{(123_456_78 - fee) % 100:02d}" in page
    offer_page = client.get(f"/listings/{negotiable.id}").get_data(as_text=True)
    assert "data-fee-quote" in offer_page and "data-fee-input=" in offer_page


def test_seller_sees_the_net_of_each_offer_received(app, client, as_user, seller, buyer):
    from escrow import trading

    listing = factories.make_listing(seller, price=None, price_mode="negotiable")
    db.session.commit()
    trading.make_offer(listing.id, buyer, 50_000_00, "assignment", "诚意报价")
    db.session.commit()
    as_user(seller)
    page = client.get("/dashboard/offers").get_data(as_text=True)
    assert "卖方实收" in page and "¥48,500.00" in page  # 50,000 less 3 %

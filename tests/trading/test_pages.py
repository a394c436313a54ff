"""The panels on the listing page, their form posts, and the two dashboards."""
from datetime import timedelta

import pytest

from escrow import trading
from escrow.models import Deal
from listings.models import Offer
from marketplace.kernel.extensions import db
from tests import factories


def page(client, listing):
    r = client.get(f"/listings/{listing.id}")
    assert r.status_code == 200
    return r.get_data(as_text=True)


def test_auction_panel_for_a_buyer(client, as_user, auction_listing, buyers):
    trading.place_bid(auction_listing.id, buyers[1], 1_000_00)
    db.session.commit()
    as_user(buyers[0])
    html = page(client, auction_listing)
    assert 'id="trade"' in html and "data-trade-panel" in html
    assert "js/trading.js" in html and "<script>" not in html  # no inline script (CSP)
    assert "¥1,000" in html and "¥1,100" in html  # current price, minimum next bid
    assert "未达到保留价" in html and "¥2,000" not in html  # the reserve itself is never shown
    assert buyers[1].masked_name in html and buyers[1].name not in html
    assert f'action="/listings/{auction_listing.id}/bid"' in html
    assert 'value="1100"' in html  # the amount field starts at the minimum


def test_panel_for_anonymous_and_seller(client, as_user, auction_listing, seller):
    html = page(client, auction_listing)
    assert "登录后购买、报价或出价" in html and "/bid\"" not in html
    as_user(seller)
    html = page(client, auction_listing)
    assert "本单位的挂牌" in html and f'/listings/{auction_listing.id}/bid"' not in html


def test_bid_form_post(client, as_user, auction_listing, buyers):
    as_user(buyers[0])
    r = client.post(f"/listings/{auction_listing.id}/bid", data={"amount": "1,000"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/listings/{auction_listing.id}#trade")
    db.session.expire_all()
    assert auction_listing.auction.current_price == 1_000_00
    assert "出价成功" in client.get(f"/listings/{auction_listing.id}").get_data(as_text=True)


@pytest.mark.parametrize("amount,message", [("1050", "至少 ¥1,100"), ("1100.005", "金额最多两位小数"),
                                            ("abc", "不是有效的金额"), ("0", "应为正整数"), ("", "必填")])
def test_refused_bid_shows_the_reason_beside_the_field(client, as_user, auction_listing, buyers, amount, message):
    trading.place_bid(auction_listing.id, buyers[1], 1_000_00)
    db.session.commit()
    as_user(buyers[0])
    r = client.post(f"/listings/{auction_listing.id}/bid", data={"amount": amount})
    assert r.status_code == 302
    html = page(client, auction_listing)
    assert message in html and 'class="field amount-field has-error"' in html
    db.session.expire_all()
    assert auction_listing.auction.bid_count == 1


def test_bid_on_closed_auction_flashes(client, as_user, auction_listing, buyers):
    trading.run_market_deadlines(auction_listing.auction.ends_at)
    as_user(buyers[0])
    client.post(f"/listings/{auction_listing.id}/bid", data={"amount": "5000"})
    html = client.get("/dashboard/buying").get_data(as_text=True)  # an expired listing's page is not public
    assert "当前不可交易" in html and auction_listing.auction.bid_count == 0


def test_buy_now_form(client, as_user, fixed_listing, buyers):
    as_user(buyers[0])
    html = page(client, fixed_listing)
    assert "立即购买" in html and 'value="non_exclusive_license"' in html
    r = client.post(f"/listings/{fixed_listing.id}/buy", data={"deal_type": "assignment"})
    deal = db.session.query(Deal).one()
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/deals/{deal.id}")
    as_user(buyers[1])
    r = client.post(f"/listings/{fixed_listing.id}/buy", data={"deal_type": "non_exclusive_license"})
    assert r.status_code == 302 and db.session.query(Deal).count() == 1
    assert "当前不可交易" in page(client, fixed_listing)


def test_offer_counter_accept_through_pages(client, as_user, negotiable_listing, buyers, seller):
    as_user(buyers[0])
    client.post(f"/listings/{negotiable_listing.id}/offer",
                data={"amount": "9000", "deal_type": "assignment", "message": ""})
    # issue 14: declined without naming the floor (the message used to say "卖家设定的最低报价 ¥10,000")
    assert "卖家未接受这个报价金额" in page(client, negotiable_listing)
    assert db.session.query(Offer).count() == 0
    client.post(f"/listings/{negotiable_listing.id}/offer",
                data={"amount": "12000", "deal_type": "assignment", "message": "含技术服务"})
    offer = db.session.query(Offer).one()
    assert offer.amount == 12_000_00 and "等待卖家答复" in page(client, negotiable_listing)

    as_user(seller)
    html = client.get("/dashboard/offers").get_data(as_text=True)
    assert "含技术服务" in html and buyers[0].masked_name in html and f"/offers/{offer.id}/counter" in html
    r = client.post(f"/offers/{offer.id}/counter", data={"amount": "15000", "next": "/dashboard/offers"})
    assert r.status_code == 302 and r.headers["Location"] == "/dashboard/offers"
    counter = db.session.query(Offer).filter_by(parent_id=offer.id).one()

    as_user(buyers[0])
    html = client.get("/dashboard/buying").get_data(as_text=True)
    assert "卖家还价" in html and f"/offers/{counter.id}/accept" in html
    assert "卖家还价 ¥15,000" in page(client, negotiable_listing)
    r = client.post(f"/offers/{counter.id}/accept", data={})
    deal = db.session.query(Deal).one()
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/deals/{deal.id}")
    assert deal.price == 15_000_00


def test_seller_offers_page_needs_seller(client, as_user, buyers):
    as_user(buyers[0])
    refused = client.get("/dashboard/offers")
    assert refused.status_code == 403 and "<h1>收到的报价" not in refused.get_data(as_text=True)
    own = client.get("/dashboard/buying")
    assert own.status_code == 200 and "<h1>我的买入</h1>" in own.get_data(as_text=True)


def test_pages_need_login(client, auction_listing):
    r = client.get("/dashboard/buying")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = client.post(f"/listings/{auction_listing.id}/bid", data={"amount": "1000"})
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_buyer_dashboard_lists_bids_and_won_auctions(client, as_user, seller, buyers, now):
    won = factories.make_listing(seller, price_mode="auction", title="一种无线充电装置",
                                 auction={"ends_at": now + timedelta(hours=1), "start_price": 500_00, "min_increment": 100_00})
    lost = factories.make_listing(seller, price_mode="auction", title="一种电池管理系统",
                                  auction={"ends_at": now + timedelta(days=2), "start_price": 500_00, "min_increment": 100_00})
    db.session.commit()
    trading.place_bid(won.id, buyers[0], 600_00)
    trading.place_bid(lost.id, buyers[0], 600_00)
    trading.place_bid(lost.id, buyers[1], 700_00)
    db.session.commit()
    trading.run_market_deadlines(won.auction.ends_at)
    deal = db.session.query(Deal).one()
    as_user(buyers[0])
    html = client.get("/dashboard/buying").get_data(as_text=True)
    assert "一种无线充电装置" in html and f"/deals/{deal.id}" in html and "中标" in html
    assert "一种电池管理系统" in html and "已被超过" in html


def test_csrf_is_required_on_panel_forms(app, client, as_user, auction_listing, buyers):
    app.config["WTF_CSRF_ENABLED"] = True
    as_user(buyers[0])
    r = client.post(f"/listings/{auction_listing.id}/bid", data={"amount": "1000"})
    assert r.status_code in (302, 400)
    db.session.expire_all()
    assert auction_listing.auction.bid_count == 0


def test_panel_in_english(client, as_user, auction_listing, buyers):
    as_user(buyers[0])
    client.get("/lang/en")
    html = page(client, auction_listing)
    assert "Minimum bid" in html and "Time left" in html and "Reserve not met" in html
    client.post(f"/listings/{auction_listing.id}/bid", data={"amount": "10"})
    assert "The bid is below the current minimum bid of ¥1,000" in page(client, auction_listing)


def test_operator_reviewing_a_pending_auction_sees_the_page(client, as_user, seller, operator, now):
    listing = factories.make_listing(seller, status="pending_review", price_mode="auction",
                                     auction={"ends_at": now + timedelta(days=2)})
    db.session.commit()
    as_user(operator)
    html = page(client, listing)
    assert "当前不可交易" in html and "/bid\"" not in html

"""The auction panel's live state (issue 17): 您已被超越 on the page and in GET /listings/<id>/auction-live,
one-tap 加价一手 (a bid of exactly the minimum next bid), and bids typed in 万元."""
from escrow import trading
from listings.models import Bid
from marketplace.kernel.extensions import db

from .test_pages import page


def live(client, listing):
    r = client.get(f"/listings/{listing.id}/auction-live")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    return r.get_json()


def test_outbid_bidder_is_told_on_the_page_and_live(client, as_user, auction_listing, buyers):
    trading.place_bid(auction_listing.id, buyers[0], 1_000_00)
    db.session.commit()
    as_user(buyers[0])
    state = live(client, auction_listing)
    assert state["leading"] is True and state["outbid"] is False
    html = page(client, auction_listing)
    assert 'data-field="outbid" role="alert" hidden' in html  # the banner is there for the script, hidden
    trading.place_bid(auction_listing.id, buyers[1], 1_200_00)
    db.session.commit()
    state = live(client, auction_listing)
    assert state["outbid"] is True and state["leading"] is False
    assert state["minimum_next_bid"] == 1_300_00 and state["minimum_next_bid_input"] == "1300"
    assert state["current_price_text"] == "¥1,200" and state["bid_count"] == 2
    assert [b["amount_text"] for b in state["bids"]] == ["¥1,200", "¥1,000"]
    assert all(buyers[1].name not in b["bidder"] for b in state["bids"])  # masked
    html = page(client, auction_listing)
    assert "您已被超越" in html and 'data-field="outbid" role="alert" hidden' not in html
    assert 'value="1300"' in html and "加价一手：出价 ¥1,300" in html


def test_a_viewer_who_never_bid_is_not_outbid(client, as_user, auction_listing, buyers):
    trading.place_bid(auction_listing.id, buyers[1], 1_000_00)
    db.session.commit()
    as_user(buyers[2])
    assert live(client, auction_listing)["outbid"] is False
    assert client.get(f"/listings/{auction_listing.id}/auction-live").get_json()["leading"] is False
    client.get("/logout")


def test_anonymous_gets_public_facts_only(client, auction_listing):
    state = live(client, auction_listing)
    assert state["leading"] is False and state["outbid"] is False and "reserve_price" not in state


def test_live_state_refused_for_a_listing_that_is_no_auction(client, fixed_listing):
    for listing_id in (fixed_listing.id, 999999):
        r = client.get(f"/listings/{listing_id}/auction-live")
        assert r.status_code == 404 and "current_price" not in r.get_data(as_text=True)


def test_raise_one_step_and_wan_amounts(client, as_user, auction_listing, buyers):
    trading.place_bid(auction_listing.id, buyers[1], 1_000_00)
    db.session.commit()
    as_user(buyers[0])
    r = client.post(f"/listings/{auction_listing.id}/bid", data={"amount": "0.11万"})  # ¥1,100: the minimum
    assert r.status_code == 302
    db.session.expire_all()
    assert auction_listing.auction.current_price == 1_100_00 and auction_listing.auction.leader_id == buyers[0].id
    count = db.session.query(Bid).count()
    client.post(f"/listings/{auction_listing.id}/bid", data={"amount": "0.0000001万"})  # refused: below the fen
    db.session.expire_all()
    assert db.session.query(Bid).count() == count and auction_listing.auction.current_price == 1_100_00
    assert "六位小数" in page(client, auction_listing)

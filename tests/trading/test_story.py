"""The issue's "done when", as a new user would try it: over the API and ``flask deadlines run``."""
from datetime import timedelta

from escrow.models import Deal
from listings.models import Auction
from marketplace.kernel.extensions import db
from marketplace.kernel.models import Notification
from marketplace.kernel.timeutil import iso, parse_iso, utcnow
from tests import factories
from tests.trading.conftest import api


def test_last_minute_bidding_war_then_deadlines_run_opens_the_winners_deal(client, runner, seller, buyers):
    listing = factories.make_listing(seller, price_mode="auction", auction={
        "start_price": 1_000_00, "min_increment": 100_00, "reserve_price": 1_500_00,
        "ends_at": utcnow() + timedelta(minutes=3)})
    db.session.commit()
    original_close = listing.auction.ends_at
    url = f"/api/v1/listings/{listing.id}/bids"

    first = api(client, buyers[0], "post", url, {"amount": 1_000_00}).get_json()["auction"]
    moved_once = parse_iso(first["ends_at"])
    assert moved_once > original_close  # a bid in the last 5 minutes moves the close
    second = api(client, buyers[1], "post", url, {"amount": 1_100_00})
    assert second.status_code == 201
    r = api(client, buyers[0], "post", url, {"amount": 1_150_00})  # below current + increment
    assert r.status_code == 409 and r.get_json()["error"]["minimum_amount"] == 1_200_00
    final = api(client, buyers[0], "post", url, {"amount": 1_600_00}).get_json()["auction"]
    closes_at = parse_iso(final["ends_at"])
    assert closes_at >= moved_once and final["reserve_met"] is True
    assert db.session.query(Notification).filter_by(user_id=buyers[1].id, kind="outbid").count() == 1

    # before the (moved) close nothing happens; at it the winner gets a deal; a second run changes nothing
    out = runner.invoke(args=["deadlines", "run", "--now", iso(closes_at - timedelta(seconds=1))])
    assert out.exit_code == 0, out.output
    assert "auctions_sold: 0" in out.output
    out = runner.invoke(args=["deadlines", "run", "--now", iso(closes_at)])
    assert out.exit_code == 0, out.output
    assert "auctions_sold: 1" in out.output
    out = runner.invoke(args=["deadlines", "run", "--now", iso(closes_at + timedelta(minutes=1))])
    assert "auctions_sold: 0" in out.output

    db.session.expire_all()
    deal = db.session.query(Deal).one()
    assert (deal.buyer_id, deal.price, deal.source) == (buyers[0].id, 1_600_00, "auction")
    assert db.session.get(Auction, listing.auction.id).outcome == "sold"
    r = api(client, buyers[0], "get", f"/api/v1/deals/{deal.id}")
    assert r.status_code == 200 and r.get_json()["deal"]["state"] == "awaiting_payment"
    r = api(client, buyers[1], "post", url, {"amount": 5_000_00})
    assert r.status_code == 409


def test_negotiation_with_one_counter_over_the_api(client, seller, buyers):
    listing = factories.make_listing(seller, price_mode="negotiable", price=None)
    db.session.commit()
    offer = api(client, buyers[0], "post", f"/api/v1/listings/{listing.id}/offers",
                {"amount": 80_000_00, "deal_type": "assignment", "message": "希望含技术交底"}).get_json()["offer"]
    other = api(client, buyers[1], "post", f"/api/v1/listings/{listing.id}/offers",
                {"amount": 70_000_00, "deal_type": "non_exclusive_license"}).get_json()["offer"]
    counter = api(client, seller, "post", f"/api/v1/offers/{offer['id']}/counter",
                  {"amount": 90_000_00, "message": "含三个月技术支持"}).get_json()["offer"]
    deal = api(client, buyers[0], "post", f"/api/v1/offers/{counter['id']}/accept").get_json()["deal"]
    assert (deal["price"], deal["deal_type"], deal["state"]) == (90_000_00, "assignment", "awaiting_payment")
    r = api(client, seller, "post", f"/api/v1/offers/{other['id']}/accept")
    assert r.status_code == 409  # declined automatically when the counter was accepted
    assert db.session.query(Notification).filter_by(user_id=buyers[1].id, kind="offer").count() == 1

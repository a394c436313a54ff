"""Concurrent bids and buy-nows, on the file SQLite database and on PostgreSQL (TEST_DATABASE_URL).

Each thread has its own app context, hence its own session and connection to the
same database; a barrier releases them together. Both the services and the HTTP
API (a test client per thread) are raced.
"""
import random
import threading

import pytest

from escrow import trading
from escrow.models import Deal
from listings import bidding
from listings.models import Auction, Bid, Listing
from marketplace.kernel.errors import Conflict, DomainError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import User
from tests import factories
from tests.trading.conftest import quick_buyer

K = 8


def race(app, n, work):
    """Run ``work(i)`` in ``n`` threads released together; return their results (or exceptions)."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        with app.test_request_context():
            try:
                barrier.wait(timeout=30)
                results[i] = work(i)
            except Exception as exc:  # noqa: BLE001 - the test inspects it
                db.session.rollback()
                results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results


def _committed(fn):
    def work(i):
        result = fn(i)
        db.session.commit()
        return result
    return work


def check_auction_invariants(listing_id, accepted):
    """current price = highest accepted bid, bid_count = accepted, each bid beats the last by the increment."""
    db.session.expire_all()
    listing = db.session.get(Listing, listing_id)
    auction = db.session.get(Auction, listing.auction.id)
    bids = db.session.query(Bid).filter_by(auction_id=auction.id).order_by(Bid.id).all()
    assert sorted(b.amount for b in bids) == sorted(accepted)
    assert auction.bid_count == len(bids) == len(accepted)
    assert auction.current_price == max(accepted) == bids[-1].amount
    assert auction.leader_id == bids[-1].bidder_id
    for earlier, later in zip(bids, bids[1:], strict=False):
        assert later.amount >= earlier.amount + auction.min_increment
    assert bids[0].amount >= auction.start_price
    return auction


@pytest.fixture
def bidder_ids(app):
    ids = [quick_buyer().id for _ in range(K)]
    db.session.commit()
    return ids


def test_same_amount_bids_only_one_wins(app, auction_listing, bidder_ids):
    listing_id = auction_listing.id

    def bid(i):
        return trading.place_bid(listing_id, db.session.get(User, bidder_ids[i]), 1_000_00).amount

    results = race(app, K, _committed(bid))
    accepted = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(accepted) == 1 and len(refused) == K - 1, results
    assert all(r.extra["minimum_amount"] == 1_100_00 for r in refused)
    check_auction_invariants(listing_id, accepted)


def test_bidding_war_keeps_price_and_increment_right(app, auction_listing, bidder_ids):
    """Every bidder keeps raising from what it last saw; many bids collide and lose."""
    listing_id = auction_listing.id

    def war(i):
        rng = random.Random(i)
        taken = []
        refused = 0
        known_minimum = 1_000_00
        for _ in range(8):
            amount = known_minimum + rng.choice([0, 0, 1, 50_00, 100_00])
            try:
                bid = trading.place_bid(listing_id, db.session.get(User, bidder_ids[i]), amount)
                db.session.commit()
                taken.append(bid.amount)
                known_minimum = amount + 100_00
            except Conflict as exc:
                db.session.rollback()
                refused += 1
                known_minimum = exc.extra.get("minimum_amount", known_minimum)
        return taken, refused

    results = race(app, K, war)
    assert not [r for r in results if isinstance(r, Exception)], results
    accepted = [amount for taken, _refused in results for amount in taken]
    assert accepted and sum(r for _t, r in results) > 0  # there was contention
    check_auction_invariants(listing_id, accepted)


def test_concurrent_buy_now_opens_exactly_one_deal(app, fixed_listing, bidder_ids):
    listing_id = fixed_listing.id

    def buy(i):
        return trading.buy_now(listing_id, db.session.get(User, bidder_ids[i]), "assignment").id

    results = race(app, K, _committed(buy))
    deals = [r for r in results if isinstance(r, int)]
    assert len(deals) == 1, results
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, int))
    db.session.expire_all()
    assert db.session.query(Deal).count() == 1
    assert db.session.get(Listing, listing_id).status == "reserved"


def test_concurrent_offer_acceptances_open_one_deal(app, negotiable_listing, seller, bidder_ids):
    offers = [trading.make_offer(negotiable_listing.id, db.session.get(User, uid), 20_000_00 + n, "assignment").id
              for n, uid in enumerate(bidder_ids[:4])]
    db.session.commit()
    seller_id = seller.id

    def accept(i):
        return trading.accept_offer(offers[i], db.session.get(User, seller_id)).id

    results = race(app, len(offers), _committed(accept))
    assert len([r for r in results if isinstance(r, int)]) == 1, results
    db.session.expire_all()
    assert db.session.query(Deal).count() == 1


# --- over HTTP: a test client per thread -------------------------------------------------------

@pytest.fixture
def tokens(app, bidder_ids):
    values = [factories.token_for(db.session.get(User, uid)) for uid in bidder_ids]
    db.session.commit()
    return values


def _post(app, token, url, body):
    response = app.test_client().post(url, json=body, headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.get_json()


def test_http_buy_now_race_has_one_winner(app, fixed_listing, tokens):
    url = f"/api/v1/listings/{fixed_listing.id}/purchase"
    results = race(app, K, lambda i: _post(app, tokens[i], url, {"deal_type": "assignment"}))
    statuses = sorted(status for status, _body in results)
    assert statuses == [201] + [409] * (K - 1), results
    db.session.expire_all()
    assert db.session.query(Deal).count() == 1


def test_http_bid_race(app, auction_listing, tokens):
    url = f"/api/v1/listings/{auction_listing.id}/bids"

    def bidder(i):
        accepted, refused, minimum = [], 0, 1_000_00
        for _ in range(6):
            status, body = _post(app, tokens[i], url, {"amount": minimum})
            if status == 201:
                accepted.append(body["bid"]["amount"])
                minimum = body["auction"]["minimum_next_bid"]
                assert body["auction"]["current_price"] == body["bid"]["amount"]
            else:
                assert status == 409, body
                refused += 1
                minimum = body["error"]["minimum_amount"]
        return accepted, refused

    results = race(app, K, bidder)
    assert not [r for r in results if isinstance(r, Exception)], results
    accepted = [a for taken, _r in results for a in taken]
    assert sum(r for _a, r in results) > 0
    check_auction_invariants(auction_listing.id, accepted)
    body = app.test_client().get(url).get_json()
    assert sorted(b["amount"] for b in body["bids"]) == sorted(accepted)


def test_services_never_leave_a_half_bid(app, auction_listing, bidder_ids):
    """A refused bid in a race changes nothing: no Bid row without the auction counting it."""
    listing_id = auction_listing.id

    def bid(i):
        try:
            return trading.place_bid(listing_id, db.session.get(User, bidder_ids[i]), 1_000_00 + i).amount
        except DomainError:
            db.session.rollback()
            raise
        finally:
            db.session.commit()

    results = race(app, K, bid)
    accepted = [r for r in results if isinstance(r, int)]
    auction = check_auction_invariants(listing_id, accepted)
    assert bidding.minimum_next_bid(auction) == auction.current_price + auction.min_increment

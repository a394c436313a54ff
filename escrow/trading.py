"""The acts that turn a listing into a deal: buy now, accept an offer, close an auction.

Each takes the listing's row lock (``listings.locking.lock_listing``), checks the
bidding rules (``listings.bidding``) and opens the deal through the single entry
point ``escrow.deals.open_deal``, all in the caller's transaction (flush, no commit).
The one exception is ``run_market_deadlines``, a batch job: it commits each auction
it closes on its own, so a lock is held briefly and one failure does not undo the rest.

Decisions written down here:
- ``open_deal`` tells both parties about the new deal; these acts add only what is
  particular to them (the auction's winner, the offer's maker and the other offerers).
- An auction sells the listing's first deal type (``deal_types[0]``); the panel says so.
- An auction that ends without a bid at or above the reserve is ``unsold`` and the
  listing becomes ``expired``; the seller and the top bidder are told. The seller may
  relist it (``listings.service.relist_listing``: a new draft with the same rights and
  auction terms; the expired listing and its auction stay as history). A won auction
  whose deal is later cancelled or refunded also leaves the listing ``expired``
  (``escrow.deals._listing_back_on_market``). An auction whose listing is no longer published (withdrawn, say) closes as
  ``cancelled`` without touching the listing.
"""
import logging

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from listings import bidding, lifecycle
from listings.locking import lock_listing
from listings.models import Auction
from marketplace.kernel.credit import ensure_can, seller_may_sell
from marketplace.kernel.errors import Conflict, DomainError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import money, msg
from marketplace.kernel.models import User
from marketplace.kernel.notify import notify
from marketplace.kernel.timeutil import utcnow

from . import deals, deposits
from .deals import open_deal
from .models import Deal

log = logging.getLogger(__name__)

# Re-exported so views and the API call one module for every trading act.
place_bid = bidding.place_bid
make_offer = bidding.make_offer
counter_offer = bidding.counter_offer
decline_offer = bidding.decline_offer


def deal_path(deal_id):
    return f"/deals/{deal_id}"


def open_reservations(buyer):
    """How many of ``buyer``'s deals are opened and not yet paid (``awaiting_payment``)."""
    return db.session.execute(
        select(func.count(Deal.id)).where(Deal.buyer_id == buyer.id, Deal.state == "awaiting_payment")
    ).scalar_one()


def check_reservation_cap(buyer):
    """No cornering: a buyer holds at most ``MAX_OPEN_RESERVATIONS`` unpaid deals at once (409 naming the limit).

    Called after the listing's lock is taken: on SQLite that lock is the database's write lock,
    so two purchases by one buyer are counted one after the other; on PostgreSQL the buyer's
    row is locked too, for the same reason.
    """
    if db.session.get_bind().dialect.name != "sqlite":
        db.session.get(User, buyer.id, with_for_update=True)
    cap = current_app.config["MAX_OPEN_RESERVATIONS"]
    held = open_reservations(buyer)
    if held >= cap:
        raise Conflict(_("您已有 %(held)s 笔待付款的交易，最多同时保留 %(cap)s 笔：请先付款或取消其中一笔再下单",
                         held=held, cap=cap), limit=cap, open_reservations=held)


def buy_now(listing_id, buyer, deal_type, now=None):
    """Buy a fixed-price listing at the price of ``deal_type`` (``Listing.price_for``); returns the opened Deal.

    Two buyers racing: the row lock lets one through, the other then finds the
    listing ``reserved`` and gets a 409. A buyer already holding
    ``MAX_OPEN_RESERVATIONS`` unpaid deals is refused (409) before anything changes.
    """
    bidding.check_id(listing_id)
    ensure_can(buyer, "buy")
    listing = lock_listing(listing_id)
    check_reservation_cap(buyer)
    now = now or utcnow()
    bidding.check_may_trade(listing, buyer, "fixed")
    bidding.check_deal_type(listing, deal_type)
    price = listing.price_for(deal_type)
    if not price:
        raise Conflict(_("该挂牌没有标价"))
    return open_deal(listing, buyer, price, deal_type, "purchase", None, now=now, actor=buyer)


def accept_offer(offer_id, actor, now=None):
    """Accept an open offer (the seller a buyer's offer, or the buyer a seller's counter).

    Reserves the listing, opens the deal at the offer's amount and deal type, and
    declines every other open offer on the listing with a notification.
    """
    offer = bidding.get_offer(offer_id, actor, lock=True)
    listing = offer.listing
    now = now or utcnow()
    bidding.check_answerable(offer, listing, actor, now)
    bidding.check_seller_side_may_answer(offer, listing, actor)
    bidding.check_terms_still_hold(offer, listing)
    buyer = db.session.get(User, offer.buyer_id)
    try:
        ensure_can(buyer, "buy")
    except DomainError as exc:
        if buyer.id == actor.id:
            raise
        raise Conflict(_("买方账户当前不能购买，无法接受此报价")) from exc
    if buyer.id == actor.id:
        check_reservation_cap(buyer)  # the buyer accepting a counter reserves, as buy-now does
    deal = open_deal(listing, buyer, offer.amount, offer.deal_type, "offer", offer.id, now=now, actor=actor)
    # A non-exclusive licence leaves the listing on sale: the other buyers' negotiations go on.
    bidding.mark_offer_accepted(offer, listing, now, link=deal_path(deal.id),
                                decline_others=deals.reserves_listing(deal))
    return deal


def close_auction(listing_id, now=None):
    """Close one due auction under the row lock; return its outcome, or None if nothing was due.

    Closing twice changes nothing: a closed auction (or one whose close moved
    past ``now``) is left alone.
    """
    now = now or utcnow()
    listing = lock_listing(listing_id)
    auction = bidding.fresh_auction(listing)
    if auction is None or auction.closed_at is not None or auction.ends_at > now:
        return None
    if listing.status != "published":
        auction.closed_at = now
        auction.outcome = "cancelled"
        deposits.settle_auction(auction, "cancelled", now=now)
        db.session.flush()
        return "cancelled"
    if auction.current_price is None or not auction.reserve_met:
        bidding.close_auction_without_sale(listing, auction, now)
        deposits.settle_auction(auction, "unsold", now=now)
        return "unsold"
    if not seller_may_sell(listing):
        # Nobody buys from a blacklisted seller (issue 14): the auction closes without a deal and the
        # listing expires; the leader and the seller are told.
        auction.closed_at = now
        auction.outcome = "cancelled"
        lifecycle.transition(listing, "close_unsold")
        for user_id in (auction.leader_id, listing.seller_id):
            notify(user_id, "auction_end", msg(N_("拍卖已取消：%(title)s"), title=listing.title),
                   msg(N_("卖方当前不能交易，本次拍卖不成交，不会创建交易。")), link=bidding.listing_path(listing.id))
        deposits.settle_auction(auction, "cancelled", now=now)
        db.session.flush()
        return "cancelled"
    winner = db.session.get(User, auction.leader_id)
    deal_type = listing.deal_types[0]
    auction.closed_at = now
    auction.outcome = "sold"
    deal = open_deal(listing, winner, auction.current_price, deal_type, "auction", auction.id, now=now, actor=winner)
    deposits.settle_auction(auction, "sold", deal, now=now)  # the winner's deposit counts towards the price
    price = money(auction.current_price, listing.currency)
    notify(winner.id, "auction_end", msg(N_("恭喜中标：%(title)s"), title=listing.title),
           msg(N_("您以 %(price)s 赢得拍卖，交易已创建，请在付款期限内付款。"), price=price), link=deal_path(deal.id))
    return "sold"


def close_due_auctions(now=None):
    """Close every auction due at ``now``, each in its own committed transaction; return counts."""
    now = now or utcnow()
    counts = {"sold": 0, "unsold": 0, "cancelled": 0, "failed": 0}
    for listing_id in bidding.due_auction_listing_ids(now):
        try:
            outcome = close_auction(listing_id, now)
            db.session.commit()
        except DomainError:
            db.session.rollback()
            log.exception("closing the auction of listing %s failed", listing_id)
            counts["failed"] += 1
            continue
        if outcome:
            counts[outcome] += 1
    return counts


def expire_stale_offers(now=None):
    """Expire offers past their expiry (committed); return how many."""
    count = bidding.expire_offers(now or utcnow())
    db.session.commit()
    return count


def run_market_deadlines(now):
    """Market deadlines for ``flask deadlines run``: close due auctions, expire stale offers."""
    counts = close_due_auctions(now)
    report = {
        "auctions_sold": counts["sold"],
        "auctions_unsold": counts["unsold"],
        "auctions_cancelled": counts["cancelled"],
        "offers_expired": expire_stale_offers(now),
    }
    if counts["failed"]:
        report["auctions_failed"] = counts["failed"]
    return report



def won_auctions(user):
    """Auctions ``user`` won, each with the deal it opened: ``[(auction, deal)]``, newest first."""
    rows = db.session.execute(
        select(Auction, Deal).join(Deal, (Deal.source == "auction") & (Deal.source_id == Auction.id))
        .where(Auction.leader_id == user.id, Auction.outcome == "sold", Deal.buyer_id == user.id)
        .order_by(Auction.closed_at.desc())
    ).all()
    return [(auction, deal) for auction, deal in rows]

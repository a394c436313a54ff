"""Every trading act, in one place: bid, offer, counter, decline, accept, buy now, close an auction.

The rules these acts check (amounts, who may trade, minimum next bid, anti-sniping, offer floors and
caps, who answers an offer) and the reads a listing page needs are ``listings.bidding``; the acts live
here, in the package that opens deals, so the import points one way (escrow -> listings) and no act
has to reach up from ``listings`` into ``escrow``.

Each act takes the listing's row lock (``listings.locking.lock_listing``), checks the
bidding rules (``listings.bidding``), changes the auction, bids or offers and, where the act
sells, opens the deal through the single entry point ``escrow.deals.open_deal``, all in the
caller's transaction (flush, no commit).
The one exception is ``run_market_deadlines``, a batch job: it commits each auction
it closes on its own, so a lock is held briefly and one failure does not undo the rest.

Decisions written down here (the rules' own decisions are in ``listings.bidding``):
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
from listings.models import Auction, Bid, Listing, Offer
from marketplace.kernel.credit import ensure_can, seller_may_sell
from marketplace.kernel.errors import Conflict, DomainError, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import moment, money, msg
from marketplace.kernel.models import User
from marketplace.kernel.money import display_yuan
from marketplace.kernel.notify import notify
from marketplace.kernel.timeutil import iso, utcnow

from . import deals, deposits
from .deals import open_deal
from .models import Deal

log = logging.getLogger(__name__)


# --- buy now --------------------------------------------------------------------------------------

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


# --- bids -----------------------------------------------------------------------------------------

def _peek_minimum(listing_id):
    """Minimum next bid for an error body, read without a lock; None where none is public."""
    listing = db.session.get(Listing, listing_id)
    if listing is None or listing.status != "published" or listing.auction is None:
        return None
    return bidding.minimum_next_bid(listing.auction)


def place_bid(listing_id, bidder, amount, now=None):
    """Place ``bidder``'s bid of ``amount`` fen on the auction of listing ``listing_id``.

    Runs under the listing's row lock, so concurrent bids are taken one at a time:
    each sees the price the previous one left. Returns the new Bid; the auction's
    ``current_price``, ``leader_id``, ``bid_count`` and ``ends_at`` are updated.
    """
    bidding.check_id(listing_id)
    try:
        amount = bidding.whole_fen(amount)
    except ValidationError as exc:
        minimum = _peek_minimum(listing_id)
        if minimum is not None:
            exc.extra["minimum_amount"] = minimum
        raise
    ensure_can(bidder, "bid")
    listing = lock_listing(listing_id)
    now = now or utcnow()
    bidding.check_may_trade(listing, bidder, "auction")
    auction = bidding.fresh_auction(listing)
    if auction is None:
        raise Conflict(_("该挂牌没有拍卖"))
    if auction.closed_at is not None or now >= auction.ends_at:
        raise Conflict(_("拍卖已结束"), ends_at=iso(auction.ends_at))
    if auction.starts_at is not None and now < auction.starts_at:
        raise Conflict(_("拍卖尚未开始，开始时间 %(at)s", at=iso(auction.starts_at)), starts_at=iso(auction.starts_at))
    bidding.check_deposit(auction, bidder)
    minimum = bidding.minimum_next_bid(auction)
    if amount < minimum:
        raise Conflict(_("出价低于当前最低可出价 %(minimum)s", minimum=display_yuan(minimum, listing.currency)),
                       fields={"amount": _("至少 %(minimum)s", minimum=display_yuan(minimum, listing.currency))},
                       minimum_amount=minimum)

    previous_leader = auction.leader_id
    bid = Bid(auction_id=auction.id, bidder_id=bidder.id, amount=amount, created_at=now)
    db.session.add(bid)
    auction.current_price = amount
    auction.leader_id = bidder.id
    auction.bid_count = (auction.bid_count or 0) + 1
    auction.ends_at = bidding.close_after_bid(auction, now)  # anti-sniping
    if previous_leader is not None and previous_leader != bidder.id:
        notify(previous_leader, "outbid", msg(N_("您的出价已被超过：%(title)s"), title=listing.title),
               msg(N_("当前价 %(price)s，最低可出价 %(minimum)s。"),
                 price=money(amount, listing.currency),
                 minimum=money(bidding.minimum_next_bid(auction), listing.currency)),
               link=bidding.listing_path(listing.id))
    db.session.flush()
    return bid


# --- offers ---------------------------------------------------------------------------------------

def make_offer(listing_id, buyer, amount, deal_type, message=None, now=None):
    """A buyer's offer on a negotiable listing; returns the new open Offer."""
    bidding.check_id(listing_id)
    amount = bidding.whole_fen(amount)  # a bad amount never carries the floor either
    message = bidding.clean_message(message)
    ensure_can(buyer, "offer")
    listing = lock_listing(listing_id)
    now = now or utcnow()
    bidding.check_may_trade(listing, buyer, "negotiable")
    bidding.check_deal_type(listing, deal_type)
    bidding.check_open_offer_cap(buyer, listing)
    bidding.check_floor(listing, amount)
    for earlier in db.session.execute(
            select(Offer).where(Offer.listing_id == listing.id, Offer.buyer_id == buyer.id, Offer.status == "open")
    ).scalars():
        earlier.status = "withdrawn"
        earlier.decided_at = now
    offer = Offer(listing_id=listing.id, buyer_id=buyer.id, made_by="buyer", amount=amount, deal_type=deal_type,
                  message=message, status="open", created_at=now, expires_at=now + bidding.offer_days())
    db.session.add(offer)
    db.session.flush()
    notify(listing.seller_id, "offer", msg(N_("收到新报价：%(title)s"), title=listing.title),
           msg(N_("%(buyer)s 报价 %(amount)s，有效期至 %(until)s。"), buyer=buyer.masked_name,
             amount=money(amount, listing.currency), until=moment(offer.expires_at)),
           link="/dashboard/offers")
    return offer


def counter_offer(offer_id, actor, amount, message=None, now=None):
    """Answer an open offer with a new amount: a new Offer row (``parent_id``), the old one ``countered``."""
    amount = bidding.whole_fen(amount)
    message = bidding.clean_message(message)
    offer = bidding.get_offer(offer_id, actor, lock=True)
    listing = offer.listing
    now = now or utcnow()
    bidding.check_answerable(offer, listing, actor, now)
    bidding.check_seller_side_may_answer(offer, listing, actor)
    made_by = "seller" if offer.made_by == "buyer" else "buyer"
    if made_by == "buyer":
        ensure_can(actor, "offer")
        bidding.check_floor(listing, amount)
    offer.status = "countered"
    offer.decided_at = now
    counter = Offer(listing_id=listing.id, buyer_id=offer.buyer_id, parent_id=offer.id, made_by=made_by,
                    amount=amount, deal_type=offer.deal_type, message=message, status="open", created_at=now,
                    expires_at=now + bidding.offer_days())
    db.session.add(counter)
    db.session.flush()
    if made_by == "seller":
        notify(offer.buyer_id, "offer", msg(N_("卖家还价：%(title)s"), title=listing.title),
               msg(N_("卖家还价 %(amount)s，请在 %(until)s 前答复。"),
                 amount=money(amount, listing.currency), until=moment(counter.expires_at)),
               link="/dashboard/buying")
    else:
        notify(listing.seller_id, "offer", msg(N_("买家还价：%(title)s"), title=listing.title),
               msg(N_("%(buyer)s 还价 %(amount)s。"), buyer=actor.masked_name,
                 amount=money(amount, listing.currency)),
               link="/dashboard/offers")
    return counter


def decline_offer(offer_id, actor, now=None):
    """The answering side declines an open offer; the maker is told."""
    offer = bidding.get_offer(offer_id, actor, lock=True)
    listing = offer.listing
    now = now or utcnow()
    if not bidding.may_answer(offer, actor, listing):
        raise PermissionDenied(_("只能由对方答复这条报价"))
    if offer.status != "open":
        raise Conflict(_("报价已处理（状态：%(status)s）", status=offer.status), status=offer.status)
    bidding.check_seller_side_may_answer(offer, listing, actor)
    offer.status = "declined"
    offer.decided_at = now
    maker = offer.buyer_id if offer.made_by == "buyer" else listing.seller_id
    notify(maker, "offer", msg(N_("报价被拒绝：%(title)s"), title=listing.title),
           msg(N_("您 %(amount)s 的报价被对方拒绝。"), amount=money(offer.amount, listing.currency)),
           link=bidding.listing_path(listing.id))
    db.session.flush()
    return offer


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
    mark_offer_accepted(offer, listing, now, link=deal_path(deal.id), decline_others=deals.reserves_listing(deal))
    return deal


def mark_offer_accepted(offer, listing, now, link=None, decline_others=True):
    """Record the acceptance and (unless the listing stays on sale) decline every other open offer on the
    listing, telling their buyers."""
    offer.status = "accepted"
    offer.decided_at = now
    maker = offer.buyer_id if offer.made_by == "buyer" else listing.seller_id
    notify(maker, "offer", msg(N_("报价已被接受：%(title)s"), title=listing.title),
           msg(N_("成交价 %(amount)s，交易已创建。"), amount=money(offer.amount, listing.currency)), link=link)
    others = db.session.execute(
        select(Offer).where(Offer.listing_id == listing.id, Offer.status == "open", Offer.id != offer.id)
    ).scalars().all() if decline_others else []
    for other in others:
        other.status = "declined"
        other.decided_at = now
        notify(other.buyer_id, "offer", msg(N_("报价未被接受：%(title)s"), title=listing.title),
               msg(N_("卖家已与其他买家成交，您的报价已自动失效。")), link=bidding.listing_path(listing.id))
    db.session.flush()
    return len(others)


def expire_offers(now):
    """Mark open offers past their expiry as expired and tell their makers; return how many."""
    stale = db.session.execute(
        select(Offer).where(Offer.status == "open", Offer.expires_at <= now).order_by(Offer.id)
    ).scalars().all()
    for offer in stale:
        offer.status = "expired"
        offer.decided_at = now
        maker = offer.buyer_id if offer.made_by == "buyer" else offer.listing.seller_id
        notify(maker, "offer", msg(N_("报价已过期：%(title)s"), title=offer.listing.title),
               msg(N_("对方未在有效期内答复您 %(amount)s 的报价。"),
                 amount=money(offer.amount, offer.listing.currency)),
               link=bidding.listing_path(offer.listing_id))
    db.session.flush()
    return len(stale)


# --- closing auctions, and the deadlines job ------------------------------------------------------

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
        close_auction_without_sale(listing, auction, now)
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


def close_auction_without_sale(listing, auction, now):
    """Close an auction that did not sell: no bid, or the reserve not met. The listing expires."""
    auction.closed_at = now
    auction.outcome = "unsold"
    if listing.status == "published":
        lifecycle.transition(listing, "close_unsold")
    if auction.current_price is None:
        body = msg(N_("拍卖在截止时没有收到出价，挂牌已到期。您可以在“我的挂牌”中重新发布（复制为新的草稿，"
                  "可调整起拍价和结束时间后提交审核）。"))
    else:
        body = msg(N_("最高出价 %(price)s 未达到保留价，未成交，挂牌已到期。您可以在“我的挂牌”中重新发布"
                  "（复制为新的草稿，可调整保留价和结束时间后提交审核）。"),
                 price=money(auction.current_price, listing.currency))
        notify(auction.leader_id, "auction_end", msg(N_("拍卖未成交：%(title)s"), title=listing.title),
               msg(N_("您的最高出价未达到卖家的保留价，本次拍卖未成交。")), link=bidding.listing_path(listing.id))
    notify(listing.seller_id, "auction_end", msg(N_("拍卖未成交：%(title)s"), title=listing.title), body,
           link=bidding.listing_path(listing.id))
    db.session.flush()


def due_auction_listing_ids(now):
    """Listings whose auction is due to close at ``now`` and not yet closed."""
    return db.session.execute(
        select(Auction.listing_id).where(Auction.closed_at.is_(None), Auction.ends_at <= now).order_by(Auction.id)
    ).scalars().all()


def close_due_auctions(now=None):
    """Close every auction due at ``now``, each in its own committed transaction; return counts."""
    now = now or utcnow()
    counts = {"sold": 0, "unsold": 0, "cancelled": 0, "failed": 0}
    for listing_id in due_auction_listing_ids(now):
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
    count = expire_offers(now or utcnow())
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

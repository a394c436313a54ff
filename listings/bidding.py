"""Bidding and negotiation rules (docs/design.md "Price modes and bidding"), and the reads a listing page needs.

Plain functions that check the rules and raise typed domain errors, or read auctions, bids and
offers for pages; they change no row and never commit. Every act that applies them (bid, offer,
counter, decline, accept, buy now, close an auction, expire offers) is ``escrow.trading``: the acts
sit with the deals they open, so ``escrow`` imports ``listings`` and never the other way.

Decisions written down here (the acts in ``escrow.trading`` apply them):
- Amounts are integer fen, positive and below ``MAX_AMOUNT``; anything else (100.5,
  "100", true) is a 422. A losing bid or offer is a 409 carrying ``minimum_amount``.
- Next minimum bid: the start price until the first bid, then current price + increment.
  The leader may raise their own bid (to reach the reserve, say) under the same rule.
- Anti-sniping: a bid at or after ``ends_at - window`` moves ``ends_at`` to bid time +
  window (``ANTI_SNIPING_MINUTES``, default 5). The close never moves earlier.
- Offers live ``OFFER_DAYS`` (default 7). A counter-offer is a new row pointing at the
  offer it answers (``parent_id``); the answered one becomes ``countered``. Either party
  may counter the other's open offer; only the party who did not make an offer may
  accept, decline or counter it. A buyer's new offer on a listing withdraws their earlier
  open thread on it, so each buyer has at most one live offer per listing.
- Offers are taken on negotiable (面议) listings only; the seller's ``offer_floor`` binds buyers,
  and is never told: an offer below it is declined with a message that names no amount.
- A buyer keeps at most ``MAX_OPEN_OFFERS`` negotiations open at once.
- The seller, and anyone of the seller's organisation, cannot bid on, offer for or buy
  the listing (403). Listings nobody but the seller may see are a 404; a listing that
  is visible but not ``published`` (reserved, sold, expired, withdrawn) is a 409.
"""
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from marketplace.kernel import labels
from marketplace.kernel.credit import ensure_can, seller_may_sell
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.money import display_yuan
from marketplace.kernel.numbers import NumberError, parse_int
from marketplace.kernel.timeutil import utcnow

from .lifecycle import can_view
from .locking import lock_listing
from .models import DEAL_TYPES, Auction, AuctionDeposit, Bid, Listing, Offer

MAX_AMOUNT = 10**13  # fen: 1000亿元, far above any IP deal, far below BIGINT
MAX_MESSAGE = 2000
# A buyer acting on a listing that was never on the market is told it does not exist; one that was
# (withdrawn, expired, sold…) gets a 409 saying it cannot be traded now. Who may SEE a listing and
# its bids is lifecycle.can_view, the one visibility rule.
NEVER_PUBLISHED = ("draft", "pending_review", "rejected")
MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns: a larger id in a URL names nothing (and must not reach PostgreSQL)


# --- amounts and parties ------------------------------------------------------------------

def whole_fen(value, field="amount"):
    """Return ``value`` as a positive integer number of fen, or raise a 422 naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(_("金额必须是以分为单位的整数"), {field: _("应为正整数（单位：分）")})
    if isinstance(value, float) and not value.is_integer():  # also NaN and ±inf
        raise ValidationError(_("金额必须是以分为单位的整数"), {field: _("不能有小数：金额以分为单位")})
    try:
        value = parse_int(value)  # bounded: a 10**400 int or 1e300 float is refused without work on its digits
    except NumberError:
        raise ValidationError(_("金额过大"), {field: _("不能超过 %(max)s", max=display_yuan(MAX_AMOUNT))}) from None
    if value <= 0:
        raise ValidationError(_("金额必须大于零"), {field: _("应为正整数（单位：分）")})
    if value > MAX_AMOUNT:
        raise ValidationError(_("金额过大"), {field: _("不能超过 %(max)s", max=display_yuan(MAX_AMOUNT))})
    return value


def is_seller_side(listing, user):
    """The listing's seller, or a seller of the same organisation."""
    if user is None:
        return False
    if user.id == listing.seller_id:
        return True
    return bool(user.organization_id) and user.organization_id == listing.organization_id and user.has_role("seller")


def is_own_organisation(listing, user):
    """The seller or anyone of the seller's organisation: may not buy, bid or offer."""
    return user.id == listing.seller_id or (
        bool(user.organization_id) and user.organization_id == listing.organization_id)


def check_may_trade(listing, user, price_mode):
    """The checks every buying act shares: visible, not one's own, the right mode, published."""
    if listing.status in NEVER_PUBLISHED and not is_seller_side(listing, user):
        raise NotFound(_("挂牌不存在"))
    if not user.has_role("buyer"):
        raise PermissionDenied(_("需要买家身份才能购买、报价或出价"))
    if is_own_organisation(listing, user):
        raise PermissionDenied(_("不能购买、报价或竞拍本单位的挂牌"))
    if listing.status != "published":
        raise Conflict(_("该挂牌当前不可交易（状态：%(status)s）", status=listing.status), status=listing.status)
    if listing.price_mode != price_mode:
        raise Conflict(_("该挂牌的交易方式是“%(mode)s”", mode=labels.label(labels.PRICE_MODE, listing.price_mode)),
                       price_mode=listing.price_mode)


def check_deal_type(listing, deal_type):
    """Return ``deal_type`` if the listing offers it; 422 otherwise."""
    if not isinstance(deal_type, str) or deal_type not in DEAL_TYPES:
        raise ValidationError(_("交易方式无效"), {"deal_type": _("可选：%(choices)s", choices=", ".join(DEAL_TYPES))})
    if deal_type not in (listing.deal_types or []):
        raise ValidationError(_("该挂牌不提供此交易方式"),
                              {"deal_type": _("可选：%(choices)s", choices=", ".join(listing.deal_types or []))})
    return deal_type


def clean_message(message):
    if message is None:
        return None
    if not isinstance(message, str):
        raise ValidationError(_("留言必须是文本"), {"message": _("应为字符串")})
    message = message.strip()
    if len(message) > MAX_MESSAGE:
        raise ValidationError(_("留言过长"), {"message": _("最多 %(n)s 个字符", n=MAX_MESSAGE)})
    return message or None


def check_id(row_id, message=None):
    """404 for an id no row can have, before it reaches the database."""
    if not isinstance(row_id, int) or not 0 < row_id <= MAX_ROW_ID:
        raise NotFound(message or _("挂牌不存在"))
    return row_id


def listing_path(listing_id):
    return f"/listings/{listing_id}"


# --- auctions ---------------------------------------------------------------------------

class DepositRequired(Conflict):
    """The auction asks for a deposit (保证金) and the bidder has none held (``escrow.deposits``)."""

    code = "deposit_required"


def check_deposit(auction, bidder):
    """An auction with a deposit takes bids only from bidders whose deposit is held in escrow."""
    if not auction.deposit_amount:
        return
    status = db.session.execute(select(AuctionDeposit.status).where(
        AuctionDeposit.auction_id == auction.id, AuctionDeposit.bidder_id == bidder.id)).scalar_one_or_none()
    if status != "held":
        raise DepositRequired(_("本场拍卖须先交纳保证金 %(amount)s，到账后才能出价",
                                amount=display_yuan(auction.deposit_amount, auction.listing.currency)),
                              deposit_amount=auction.deposit_amount, deposit_status=status)


def minimum_next_bid(auction):
    """The lowest amount the next bid may have."""
    if auction.current_price is None:
        return auction.start_price
    return auction.current_price + auction.min_increment


def anti_sniping_window():
    return timedelta(minutes=current_app.config["ANTI_SNIPING_MINUTES"])


def close_after_bid(auction, now):
    """The auction's close once a bid is taken at ``now`` (anti-sniping): a bid within the window before
    the close moves it to ``now`` + the window; the close never moves earlier."""
    window = anti_sniping_window()
    if now >= auction.ends_at - window:
        return max(auction.ends_at, now + window)
    return auction.ends_at


def time_left(auction, now=None):
    """Seconds until the close (0 once due)."""
    now = now or utcnow()
    return max(0, int((auction.ends_at - now).total_seconds()))


def fresh_auction(listing):
    """The listing's auction re-read from the database (call after taking the lock)."""
    return db.session.execute(
        select(Auction).where(Auction.listing_id == listing.id).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def accepted_bids(listing_id, viewer=None, limit=200):
    """Accepted bids, newest first, for the public history (404 where the listing is not visible)."""
    listing = db.session.get(Listing, check_id(listing_id))
    if listing is None or not can_view(viewer, listing):  # the one visibility rule (lifecycle.can_view)
        raise NotFound(_("挂牌不存在"))
    if listing.auction is None:
        return []
    return recent_bids(listing.auction, limit)


def has_bid(auction, user):
    """Whether ``user`` has placed any accepted bid on ``auction`` (one query; the outbid banner asks)."""
    if user is None:
        return False
    return db.session.execute(
        select(Bid.id).where(Bid.auction_id == auction.id, Bid.bidder_id == user.id).limit(1)
    ).first() is not None


def recent_bids(auction, limit=5):
    """The auction's latest accepted bids (the caller has checked the viewer may see the listing)."""
    return db.session.execute(
        select(Bid).where(Bid.auction_id == auction.id).order_by(Bid.id.desc()).limit(limit)
        .options(selectinload(Bid.bidder))
    ).scalars().all()


# --- offers -----------------------------------------------------------------------------

def offer_days():
    return timedelta(days=current_app.config["OFFER_DAYS"])


def offer_recipient_id(offer, listing=None):
    """Who answers this offer: the seller for a buyer's offer, the buyer for a counter."""
    listing = listing or offer.listing
    return listing.seller_id if offer.made_by == "buyer" else offer.buyer_id


def is_offer_party(offer, user, listing=None):
    listing = listing or offer.listing
    return user is not None and (user.id == offer.buyer_id or is_seller_side(listing, user))


def may_answer(offer, user, listing=None):
    """True when ``user`` is the side that did not make ``offer``."""
    listing = listing or offer.listing
    if offer.made_by == "buyer":
        return is_seller_side(listing, user)
    return user.id == offer.buyer_id


def get_offer(offer_id, user, lock=False):
    """The offer if ``user`` is a party to it (or an operator); 404 otherwise.

    With ``lock`` the listing's row lock is taken first and the offer re-read.
    """
    offer = db.session.get(Offer, check_id(offer_id, _("报价不存在")))
    if offer is None or not (is_offer_party(offer, user) or (user is not None and user.is_operator)):
        raise NotFound(_("报价不存在"))
    if lock:
        lock_listing(offer.listing_id)
        offer = db.session.get(Offer, offer_id, populate_existing=True)
    return offer


def check_answerable(offer, listing, user, now):
    """The offer is open, unexpired, on a published listing, and ``user`` is the side to answer it."""
    if not may_answer(offer, user, listing):
        raise PermissionDenied(_("只能由对方答复这条报价"))
    if offer.status != "open":
        raise Conflict(_("报价已处理（状态：%(status)s）", status=offer.status), status=offer.status)
    if now >= offer.expires_at:
        raise Conflict(_("报价已过期"), status="expired")
    if listing.status != "published":
        raise Conflict(_("该挂牌当前不可交易（状态：%(status)s）", status=listing.status), status=listing.status)


def check_seller_side_may_answer(offer, listing, actor):
    """A blacklisted seller (the user, or the listing's organisation) answers no offer: no counter,
    accept or decline (403). Only the seller's side is checked here; a buyer answering a counter is
    checked by the buyer's own rules (and ``open_deal`` refuses to sell for a blacklisted seller)."""
    if offer.made_by != "buyer":
        return
    ensure_can(actor, "sell")
    if not seller_may_sell(listing):
        raise PermissionDenied(_("挂牌单位的信用等级为“黑名单”，不能答复报价"), credit_level="blacklisted")


def check_terms_still_hold(offer, listing):
    """Accepting re-reads the listing's current terms: still negotiable and still offering the deal type
    the offer was made for (409 with the reason otherwise). The rule book is checked again by
    ``escrow.deals.open_deal`` (``rules.enforce(listing, "deal", deal_type=…)``)."""
    if listing.price_mode != "negotiable":
        raise Conflict(_("挂牌的交易方式已改变，这条报价不能再接受"), price_mode=listing.price_mode)
    if offer.deal_type not in (listing.deal_types or []):
        raise Conflict(_("挂牌已不提供这条报价的交易方式，不能再接受"), deal_type=offer.deal_type)


def check_floor(listing, amount):
    """An offer below the seller's floor is declined. The floor (最低报价) is the seller's secret:
    the answer names neither the amount nor a ``minimum_amount``, only that this amount is not taken."""
    if listing.offer_floor and amount < listing.offer_floor:
        raise Conflict(_("卖家未接受这个报价金额，请调整后再报价"),
                       fields={"amount": _("该金额未被卖家接受")}, declined=True)


def check_open_offer_cap(buyer, listing):
    """No cornering: a buyer keeps at most ``MAX_OPEN_OFFERS`` negotiations open at once (409 naming the limit).

    Each negotiation (one buyer, one listing) has one open offer, the buyer's or the seller's
    counter; the buyer's open thread on ``listing`` does not count, since a new offer replaces it.
    """
    cap = current_app.config["MAX_OPEN_OFFERS"]
    held = db.session.execute(
        select(func.count(Offer.id)).where(Offer.buyer_id == buyer.id, Offer.status == "open",
                                           Offer.listing_id != listing.id)
    ).scalar_one()
    if held >= cap:
        raise Conflict(_("您已有 %(held)s 个进行中的报价，最多同时 %(cap)s 个：请等待答复或报价到期后再报价",
                         held=held, cap=cap), limit=cap, open_offers=held)


# --- reading, for pages -----------------------------------------------------------------------

def visible_listing(listing_id, user):
    """The listing if ``user`` may act on it (it was on the market, or it is their own side's); 404 otherwise.
    The act itself then refuses what is no longer for sale with a 409 and its reason."""
    listing = db.session.get(Listing, check_id(listing_id))
    if listing is None or (listing.status in NEVER_PUBLISHED and not is_seller_side(listing, user)):
        raise NotFound(_("挂牌不存在"))
    return listing


def open_offers_on(listing):
    return db.session.execute(
        select(Offer).where(Offer.listing_id == listing.id, Offer.status == "open").order_by(Offer.id)
    ).scalars().all()


def open_thread_offer(listing, buyer):
    """The open offer in ``buyer``'s negotiation on ``listing`` (theirs, or the seller's counter), if any."""
    return db.session.execute(
        select(Offer).where(Offer.listing_id == listing.id, Offer.buyer_id == buyer.id, Offer.status == "open")
        .order_by(Offer.id.desc()).limit(1)
    ).scalar_one_or_none()


def _threads(offers):
    """Group offers into negotiations, one per (listing, buyer): ``{"listing", "tip", "history"}``, newest first."""
    threads = {}
    for offer in offers:
        thread = threads.setdefault((offer.listing_id, offer.buyer_id),
                                    {"listing": offer.listing, "buyer": offer.buyer, "history": []})
        thread["history"].append(offer)
    for thread in threads.values():
        thread["history"].sort(key=lambda o: o.id)
        thread["tip"] = thread["history"][-1]
    return sorted(threads.values(), key=lambda t: t["tip"].id, reverse=True)


def offer_threads_of_buyer(buyer):
    offers = db.session.execute(select(Offer).where(Offer.buyer_id == buyer.id)).scalars().all()
    return _threads(offers)


def offers_received(seller, open_only=True):
    """Negotiations on the listings of ``seller``'s organisation (their own listings without one)."""
    owner = (Listing.organization_id == seller.organization_id) if seller.organization_id else (
        Listing.seller_id == seller.id)
    offers = db.session.execute(
        select(Offer).join(Listing, Offer.listing_id == Listing.id).where(owner)
    ).scalars().all()
    threads = _threads(offers)
    if open_only:
        threads = [t for t in threads if t["tip"].status == "open"]
    return threads


def bidding_summary(bidder, now=None):
    """Auctions ``bidder`` has bid on: ``{"listing", "auction", "my_best", "leading", "closed"}``, newest first."""
    now = now or utcnow()
    rows = db.session.execute(
        select(Auction, func.max(Bid.amount), func.max(Bid.id).label("last"))
        .join(Bid, Bid.auction_id == Auction.id).where(Bid.bidder_id == bidder.id)
        .group_by(Auction.id).order_by(func.max(Bid.id).desc())
    ).all()
    return [{"listing": auction.listing, "auction": auction, "my_best": best,
             "leading": auction.leader_id == bidder.id,
             "closed": auction.closed_at is not None or now >= auction.ends_at}
            for auction, best, _last in rows]

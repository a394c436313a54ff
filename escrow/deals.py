"""The single entry point that turns a listing into a deal.

Buy-now, an accepted offer and a won auction all end here (see ``escrow.trading``).
The escrow issue builds the payment, transfer and release steps on the deal this opens.
"""
from datetime import timedelta

from flask import current_app

from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.timeutil import utcnow

from .fees import platform_fee
from .models import Deal, DealEvent


def open_deal(listing, buyer, price, deal_type, source, source_id=None, now=None, actor=None):
    """Open a deal for ``listing`` with ``buyer`` at ``price`` fen and reserve the listing.

    The caller must hold the listing's row lock (``listings.locking.lock_listing``)
    and have checked its own rules (price mode, bids, offers); this checks the
    rules every path shares and flushes, in the caller's transaction.
    """
    now = now or utcnow()
    if listing.status != "published":
        raise Conflict("该挂牌当前不可交易", status=listing.status)
    if buyer.id == listing.seller_id or (buyer.organization_id and buyer.organization_id == listing.organization_id):
        raise Conflict("不能购买本单位的挂牌")
    if deal_type not in listing.deal_types:
        raise Conflict("该挂牌不提供此交易方式", fields={"deal_type": f"可选：{', '.join(listing.deal_types)}"})
    deal = Deal(
        listing=listing, buyer_id=buyer.id, seller_id=listing.seller_id, organization_id=listing.organization_id,
        deal_type=deal_type, source=source, source_id=source_id, price=price, fee=platform_fee(price),
        currency=listing.currency, state="awaiting_payment", created_at=now,
        payment_due_at=now + timedelta(days=current_app.config["PAYMENT_DAYS"]),
    )
    if deal_type != "assignment":
        deal.license_territory = listing.license_territory or "中国大陆"
        deal.license_field = listing.license_field or "不限"
        deal.license_start = (now + timedelta(hours=8)).date()
        years = listing.license_years or 3
        deal.license_end = deal.license_start.replace(year=deal.license_start.year + years)
    listing.status = "reserved"
    db.session.add(deal)
    db.session.flush()
    db.session.add(DealEvent(deal_id=deal.id, actor_id=(actor or buyer).id, action="open", from_state=None,
                             to_state="awaiting_payment", note=source, created_at=now))
    db.session.flush()
    return deal

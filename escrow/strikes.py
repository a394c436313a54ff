"""Unpaid reservations count against the buyer (issue 14, "no cornering").

A deal that lapses unpaid (``deals.expire_unpaid``) or that its buyer cancels before paying
(``deals.cancel_deal`` by the buyer from ``awaiting_payment``) is a *strike*. The strikes are
the deals' own events (``expire_payment``; ``cancel`` from ``awaiting_payment`` by the buyer),
so nothing new is stored to count them. After ``UNPAID_STRIKES`` (default 3) within
``UNPAID_STRIKE_DAYS`` (default 180) the system records a ``non_performance`` credit record
that sets the buyer's level to ``restricted`` (no purchases, bids or listings:
``marketplace.kernel.credit.BLOCKED``), through the credit mechanism operators use: the buyer sees it
on their credit page, may appeal it, and an operator may revoke it or restore the level.

Strikes before the latest such record are spent: after a revoked record (or an operator's
restoration) the buyer starts counting afresh. An operator's cancel is not a strike (the
operator decides then); neither is a cancel after payment (the seller missed the deadline).
A buyer whose own level is already restricted or blacklisted gets no new record (the level is
never lowered).
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, or_, select

from marketplace.kernel.credit import record_system_finding
from marketplace.kernel.credit_models import CreditRecord
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import msg
from marketplace.kernel.models import User
from marketplace.kernel.notify import notify

from .models import Deal, DealEvent


def _is_strike():
    return or_(DealEvent.action == "expire_payment",
               (DealEvent.action == "cancel") & (DealEvent.from_state == "awaiting_payment")
               & (DealEvent.actor_id == Deal.buyer_id))


def counting_since(buyer, now):
    """The start of the window strikes are counted in: ``UNPAID_STRIKE_DAYS`` ago, or the latest
    system record for unpaid reservations if that is later."""
    since = now - timedelta(days=current_app.config["UNPAID_STRIKE_DAYS"])
    spent = db.session.execute(
        select(func.max(CreditRecord.created_at)).where(
            CreditRecord.user_id == buyer.id, CreditRecord.violation == "non_performance",
            CreditRecord.operator_id.is_(None))
    ).scalar_one_or_none()
    return max(since, spent) if spent is not None else since


def unpaid_strikes(buyer, now):
    """How many of ``buyer``'s reservations went unpaid in the window (see ``counting_since``)."""
    return db.session.execute(
        select(func.count(DealEvent.id)).join(Deal, Deal.id == DealEvent.deal_id)
        .where(Deal.buyer_id == buyer.id, _is_strike(), DealEvent.created_at > counting_since(buyer, now))
    ).scalar_one()


def count_unpaid(deal, now):
    """Called after ``deal``'s unpaid cancel or lapse was recorded: tell the buyer the count and,
    at ``UNPAID_STRIKES``, restrict them. Returns the credit record written, or None."""
    buyer = db.session.get(User, deal.buyer_id)
    limit = current_app.config["UNPAID_STRIKES"]
    strikes = unpaid_strikes(buyer, now)
    days = current_app.config["UNPAID_STRIKE_DAYS"]
    if strikes < limit:
        notify(buyer, "credit", msg(N_("未付款记录：交易 #%(id)s"), id=deal.id),
               msg(N_("这是您 %(days)s 天内第 %(strikes)s 笔未付款的交易（下单后取消或逾期未付）。达到 %(limit)s 笔后账户将被限制购买、出价和发布挂牌。"), days=days, strikes=strikes, limit=limit), link=f"/deals/{deal.id}")
        return None
    return record_system_finding(
        buyer, "non_performance", "restricted",
        f"{days} 天内 {strikes} 笔交易下单后未付款（取消或逾期），最近一笔为交易 #{deal.id}。"
        "账户已受限：不能购买、出价或发布挂牌。如有异议请提交申诉。",
        deal_id=deal.id, now=now)

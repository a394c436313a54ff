"""Gateway calls outside every lock: intent, then call, then book (issue 15, "No double payout").

A refund or a Connect payout is never asked of the provider while a deal (or deposit) row is locked.
Three steps, each its own transaction:

1. **Intent** — in the locked transaction of the act (a release, a refund decided by an operator, a
   cancel…) the deal records what is owed and under which idempotency key: ``payout_status =
   'requested'`` (key ``deal:{id}:payout``), or ``refund_status = 'requested'`` with the ledger moving
   the amount escrow → ``refunds_in_transit`` (key ``deal:{id}:refund``; a won auction's deposit part:
   ``deal:{id}:deposit_refund``). ``after_commit`` queues the call; nothing else happens yet.
2. **Call** — after that transaction commits (``_run_after_commit``, like the after-commit e-mail in
   ``marketplace.kernel.notify``), the gateway is asked with no lock held, in a fresh session. A call whose
   earlier outcome is unknown (a timeout, a lost connection) is first looked up at the provider by the
   deal's transfer group or the refund's idempotency key (reconciliation), then retried under the
   same idempotency key, so the provider answers with the first transfer or refund instead of a second.
3. **Book** — the deal is locked again and the answer booked (``deal:{id}:payout``,
   ``deal:{id}:refund``…), once: an intent already settled (by a webhook, by the sweep) is left alone.
   A failed or unknown answer keeps the intent (``requested``), flags the deal for operators and waits
   for the next sweep (``failed``): nobody may record a payout by hand while a gateway payout is
   outstanding.

A crash between 1 and 2 (the process dies after the commit) loses nothing: the intent is in the
database, and ``send_pending`` (run by ``flask deadlines run``) makes every outstanding call again.
"""
import logging

from flask import current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.timeutil import utcnow

log = logging.getLogger(__name__)
QUEUE = "gateway_calls_after_commit"


def connect_payout(deal):
    """The seller is paid by a Stripe Connect transfer (a gateway call); otherwise by an operator's bank
    transfer into the verified payout account (``escrow.payouts``), which needs no call."""
    return deal.gateway != "offline" and deal.organization is not None and bool(deal.organization.stripe_account_id)


def after_commit(kind, object_id, now=None):
    """Queue the gateway call ``kind`` for ``object_id``: made once the caller's transaction commits."""
    db.session.info.setdefault(QUEUE, []).append((kind, object_id, now))


@event.listens_for(Session, "after_commit")
def _run_after_commit(session):
    if session.in_nested_transaction():
        return
    queued = session.info.pop(QUEUE, None)
    if not queued or not has_app_context():
        return
    app = current_app._get_current_object()
    with app.app_context():  # a session of its own: the committed one may not emit SQL any more
        for kind, object_id, now in dict.fromkeys(queued):
            try:
                RUNNERS[kind](object_id, now)
            except Exception:  # noqa: BLE001 - the intent stays in the database: the sweep retries it
                db.session.rollback()
                log.warning("gateway call %s %s failed; left for the sweep", kind, object_id, exc_info=True)


@event.listens_for(Session, "after_rollback")
def _forget(session):
    session.info.pop(QUEUE, None)


def _end_read():
    """End the read-only transaction before the provider is asked (nothing written, no lock taken)."""
    db.session.rollback()


# --- the seller's payout -----------------------------------------------------------------------------

def send_deal_payout(deal_id, now=None):
    """Make (or reconcile) the Connect payout of a deal whose payout is ``requested``; book the answer."""
    from . import deals
    from .gateways.base import GatewayResult
    from .gateways.stripe_gateway import PaymentProviderError
    from .models import Deal

    now = now or utcnow()
    deal = db.session.get(Deal, deal_id, populate_existing=True)
    if deal is None or deal.payout_status not in OUTSTANDING:
        _end_read()
        return "nothing to send"
    gateway = deals.get_gateway(deal.gateway)
    key, amount, group = f"deal:{deal.id}:payout", deal.payout_amount, f"deal-{deal.id}"
    tried_before = deal.payout_status == "failed"  # the earlier call's outcome is unknown
    _end_read()
    result = None
    if tried_before and hasattr(gateway, "list_transfers"):
        try:  # reconciliation first: did the earlier call move the money after all?
            found = [t for t in gateway.list_transfers(group) if not t.get("reversed")]
        except PaymentProviderError as exc:
            result = GatewayResult(ok=False, message=exc.message)
        else:
            if found:
                result = GatewayResult(ok=True, reference=found[0]["id"], raw=found[0])
    if result is None:
        deal = db.session.get(Deal, deal_id)
        result = gateway.payout(deal, amount, key)  # Stripe replays the first answer under the same key
        _end_read()
    deal = deals.lock_deal(deal_id)
    if deal.payout_status not in OUTSTANDING:  # settled meanwhile (a webhook, another sweep)
        db.session.rollback()
        return "already settled"
    outcome = deals.book_payout_result(deal, result, now)
    db.session.commit()
    return outcome


PAYOUT_FLAG = N_("向卖方转账结果未知")  # the start of Deal.flagged while a payout is unsettled
OUTSTANDING = ("requested", "failed")  # an intent not yet called, or called with a failed or unknown outcome


# --- refunds -----------------------------------------------------------------------------------------

def send_deal_refund(deal_id, now=None):
    """Send the refund of a deal whose refund is ``requested`` (money in transit); book the answer."""
    from . import deals
    from .models import Deal

    now = now or utcnow()
    deal = db.session.get(Deal, deal_id, populate_existing=True)
    if deal is None or deal.refund_status not in OUTSTANDING:
        _end_read()
        return "nothing to send"
    gateway = deals.get_gateway(deal.gateway)
    result = gateway.refund(deal, deal.refund_amount, f"deal:{deal.id}:refund")
    _end_read()
    deal = deals.lock_deal(deal_id)
    if deal.refund_status not in OUTSTANDING:
        db.session.rollback()
        return "already settled"
    outcome = deals.book_refund_result(deal, result, now)
    db.session.commit()
    return outcome


def send_deposit_part_refund(deal_id, now=None):
    """Send the part of a deal's refund drawn on the won auction's deposit payment (by card)."""
    from . import deals, deposits
    from .gateways import get_gateway
    from .models import Deal

    now = now or utcnow()
    deal = db.session.get(Deal, deal_id, populate_existing=True)
    deposit = deposits.credited_deposit(deal) if deal is not None else None
    if deposit is None or not deposits.deposit_part_outstanding(deal, deposit):
        _end_read()
        return "nothing to send"
    result = get_gateway(deposit.gateway).refund(deposit, deposit.refunded_with_deal, f"deal:{deal.id}:deposit_refund")
    _end_read()
    deal = deals.lock_deal(deal_id)
    deposit = deposits.credited_deposit(deal)
    if not deposits.deposit_part_outstanding(deal, deposit):
        db.session.rollback()
        return "already settled"
    outcome = deposits.book_deposit_part_result(deal, deposit, result, now)
    db.session.commit()
    return outcome


RUNNERS = {"deal_payout": send_deal_payout, "deal_refund": send_deal_refund,
           "deal_deposit_refund": send_deposit_part_refund}


def send_pending(now=None):
    """The sweep (``flask deadlines run``): every outstanding intent, called (or reconciled) and booked.

    Picks up intents whose after-commit call never ran (a crash) or failed (an outage, a timeout)."""
    from . import deposits
    from .models import Deal

    now = now or utcnow()
    db.session.commit()
    report = {"gateway_payouts_sent": 0, "gateway_refunds_sent": 0}
    payouts = db.session.execute(select(Deal.id).where(Deal.payout_status.in_(OUTSTANDING))
                                 .order_by(Deal.id)).scalars().all()
    refunds = db.session.execute(select(Deal.id).where(Deal.refund_status.in_(OUTSTANDING))
                                 .order_by(Deal.id)).scalars().all()
    parts = deposits.deals_with_deposit_part_outstanding()
    db.session.rollback()
    for runner, ids, key in ((send_deal_payout, payouts, "gateway_payouts_sent"),
                             (send_deal_refund, refunds, "gateway_refunds_sent"),
                             (send_deposit_part_refund, parts, "gateway_refunds_sent")):
        for deal_id in ids:
            try:
                if runner(deal_id, now) in ("payout booked", "refund booked", "refund pending"):
                    report[key] += 1
            except Exception:  # noqa: BLE001 - one deal that cannot move does not hold back the others
                db.session.rollback()
                log.warning("sweep: %s for deal %s failed", runner.__name__, deal_id, exc_info=True)
    return report

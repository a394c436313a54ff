"""``flask deadlines run``: everything that happens because time passed. Safe to run twice."""
from listings.service import expire_due_listings
from marketplace.kernel import jobs
from marketplace.kernel.extensions import db
from marketplace.kernel.observability import DEADLINE_ACTIONS, DEADLINE_RUNS
from marketplace.kernel.timeutil import utcnow

from . import deals, deposits, gateway_calls, royalties, trading


def run_deadlines(now):
    """Apply every deadline due at ``now``; return counts of what was done.

    Market deadlines (auctions that are due, offers that expired) come first, because
    closing an auction opens a deal whose own deadlines then start. Listings whose rights'
    term has ended leave the market last (an auction with bids closes first).
    """
    report = {}
    try:
        report.update(trading.run_market_deadlines(now))
        report.update(deals.enforce_deal_deadlines(now))
        # issue 16: licences start and end, royalty reminders, credit, release
        report.update(royalties.run_royalty_deadlines(now))
        report["listings_expired"] = len(expire_due_listings(now))
        db.session.commit()
    except Exception:
        DEADLINE_RUNS.labels("error").inc()
        raise
    DEADLINE_RUNS.labels("ok").inc()
    for kind, value in report.items():
        if isinstance(value, int) and value:
            DEADLINE_ACTIONS.labels(kind).inc(value)
    # Deposits decided above (returns at a close, forfeits of unpaid deals) go out through their gateways
    # now that those decisions are committed: no provider call while a listing or a deal is locked.
    # Deal payouts and refunds whose after-commit gateway call never ran (a crash) or failed (an outage):
    # reconciled with the provider and sent again under their idempotency keys (escrow.gateway_calls).
    report.update(gateway_calls.send_pending(now))
    report["deposits_returned"] = deposits.send_returns(now)
    report["deposit_forfeits_paid"] = deposits.send_forfeit_payouts(now)
    return report


@jobs.job("deadlines")
def deadlines_job():
    """The periodic run in worker mode (marketplace.kernel.jobs.PERIODIC)."""
    return {k: v for k, v in run_deadlines(utcnow()).items() if isinstance(v, int)}

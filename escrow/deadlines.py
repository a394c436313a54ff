"""``flask deadlines run``: everything that happens because time passed. Safe to run twice."""


def run_deadlines(now):
    """Apply every deadline due at ``now``; return counts of what was done.

    Market deadlines (auctions that are due, offers that expired) come first, because
    closing an auction opens a deal whose own deadlines then start.
    """
    from . import deals, trading

    report = {}
    report.update(trading.run_market_deadlines(now))
    report.update(deals.enforce_deal_deadlines(now))
    return report

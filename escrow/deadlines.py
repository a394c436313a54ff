"""``flask deadlines run``: everything that happens because time passed. Safe to run twice."""


def run_deadlines(now):
    """Apply every deadline due at ``now``; return counts of what was done."""
    report = {}
    return report

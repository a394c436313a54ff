"""Hypothesis profiles for the invariant tests.

``invariants`` (the default suite, SQLite): a bounded run that finishes in well under a minute.
``ci`` (``HYPOTHESIS_PROFILE=ci``, run by ``.ci/extra`` on PostgreSQL): more and longer runs.
The profile is chosen here, for this folder only, so other areas' Hypothesis tests keep their own settings.
"""
import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    # In CI the runs are derandomised: a failure found there is reproducible, not a flake (issue 15).
    "derandomize": bool(os.environ.get("CI")),
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("invariants", max_examples=25, stateful_step_count=30, **_COMMON)
settings.register_profile("ci", max_examples=60, stateful_step_count=40, **_COMMON)


def invariant_settings(ci_budget=None):
    """The chosen profile. ``ci_budget`` (max examples, steps) caps the ci profile for a machine whose every step
    checks a whole ledger (the voucher machine): its ci run must end inside .ci/extra's time bound."""
    name = os.environ.get("HYPOTHESIS_PROFILE", "invariants")
    try:
        chosen = settings.get_profile(name)
    except Exception:  # another tool's profile name: keep the bounded default
        return settings.get_profile("invariants")
    if name == "ci" and ci_budget:
        return settings(chosen, max_examples=ci_budget[0], stateful_step_count=ci_budget[1])
    return chosen

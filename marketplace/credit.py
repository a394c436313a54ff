"""Credit (失信惩戒) rules every domain package applies before letting someone act.

Levels: good, warned, restricted, blacklisted (the worse of the user's and the
organisation's). Restricted: no new listings or bids. Blacklisted: cannot list,
bid, offer or buy. Open deals continue under operator watch.
The operator console records the levels (see the operator issue).
"""
from .errors import PermissionDenied

BLOCKED = {
    "restricted": {"list", "bid"},
    "blacklisted": {"list", "bid", "offer", "buy"},
}
ACTION_LABELS = {"list": "发布挂牌", "bid": "出价竞拍", "offer": "报价", "buy": "购买"}


def ensure_can(user, action):
    """Raise PermissionDenied when the user's credit level forbids ``action`` (list, bid, offer, buy)."""
    level = user.effective_credit_level
    if action in BLOCKED.get(level, ()):
        label = {"restricted": "受限", "blacklisted": "黑名单"}[level]
        raise PermissionDenied(f"账户信用等级为“{label}”，不能{ACTION_LABELS[action]}。如有异议请在信用记录页提交申诉。",
                               credit_level=level)

"""What a buyer reads first about a right and a price (issue 17): the spec sheet's derived lines.

Template globals registered on the listings blueprint (``register(bp)``); pure functions of the loaded
objects, so a card, a search row and the listing page say the same thing and no page runs a query per item.

* ``right_state(right)``: the legal state in a word and the term left, or 申请中 for a pending application
  (a term counted from filing means nothing before the grant);
* ``fee_state(right)``: the annuity (年费) of a granted patent or the renewal (续展) of a trademark, with its
  grace period (6 months, ``models.register.GRACE_MONTHS``);
* ``price_view(listing)``: the one price line of a listing: its label (一口价 / 参考价 / 面议 / 起拍价 / 当前价),
  the amount, and for an auction the bid count and the close, never two labels that contradict each other.
"""
from datetime import date, datetime

from flask_babel import gettext as _

from marketplace.kernel.labels import DEAL_TYPE, label
from marketplace.kernel.money import display_yuan, yuan_input
from marketplace.kernel.timeutil import local, utcnow

from .models.listing import prices_by_deal_type
from .models.register import _add_months
from .vocab import DEAD_LEGAL_STATUSES, DEAD_TM_STATUSES

RENEWAL_WINDOW_MONTHS = 12  # a trademark renewal may be filed in the 12 months before the term ends (商标法第四十条)


def _today():
    return local(utcnow()).date()


def term_left(ends, today):
    """"剩余 12 年 3 个月" from an end date (已届满 once past)."""
    if ends <= today:
        return _("已届满")
    months = (ends.year - today.year) * 12 + ends.month - today.month - (1 if ends.day < today.day else 0)
    years, months = divmod(max(months, 0), 12)
    if years and months:
        return _("剩余 %(y)s 年 %(m)s 个月", y=years, m=months)
    if years:
        return _("剩余 %(y)s 年", y=years)
    if months:
        return _("剩余 %(m)s 个月", m=months)
    return _("剩余 %(d)s 天", d=(ends - today).days)


def right_state(right, today=None):
    """{"label", "tone" (ok | pending | bad), "term" (text or ""), "ends" (date or None), "pending" (bool)}."""
    code = right.legal_status if right.kind == "patent" else right.tm_status
    return state_of(right.kind, code, None if code == "pending" else right.term_end(), today)


def state_of(kind, code, ends, today=None):
    """``right_state`` from plain values (a search row carries the first right's status code and end of term)."""
    today = today or _today()
    from .service import LEGAL_STATUSES, TM_STATUSES

    labels, dead = (LEGAL_STATUSES, DEAD_LEGAL_STATUSES) if kind == "patent" else (TM_STATUSES, DEAD_TM_STATUSES)
    if isinstance(ends, str):
        ends = date.fromisoformat(ends)
    if code == "pending":
        label = _("申请中（审查中）") if kind == "patent" else _("申请中")
        return {"label": label, "tone": "pending", "term": _("申请中"), "ends": None, "pending": True}
    label = _(labels.get(code, code or "")) or _("未登记")
    tone = "bad" if code in dead or (ends and ends <= today) else "ok"
    term = term_left(ends, today) if ends and code not in dead else ""
    return {"label": label, "tone": tone, "term": term, "ends": ends, "pending": False}


def fee_state(right, today=None):
    """The annuity or renewal line: {"text", "tone" (ok | warn | bad | unknown)} or None when it does not apply."""
    today = today or _today()
    if right.kind == "patent":
        if right.legal_status != "granted":
            return None
        due = right.annuity_paid_until
        if due is None:
            return {"text": _("年费缴纳情况未登记，交易前请核实"), "tone": "unknown"}
        if today <= due:
            return {"text": _("年费已缴至 %(date)s", date=due.isoformat()), "tone": "ok"}
        grace = _add_months(due, 6)
        if today <= grace:
            return {"text": _("年费逾期未缴，滞纳期至 %(date)s（需补缴滞纳金）", date=grace.isoformat()), "tone": "warn"}
        return {"text": _("年费逾期超过滞纳期，专利权可能已终止"), "tone": "bad"}
    if right.tm_status != "registered":
        return None
    end = right.term_end()
    if end is None:
        return None
    opens = _add_months(end, -RENEWAL_WINDOW_MONTHS)
    if today < opens:
        return {"text": _("有效期至 %(end)s，%(opens)s 起可续展", end=end.isoformat(), opens=opens.isoformat()),
                "tone": "ok"}
    if today <= end:
        return {"text": _("已进入续展期，须在 %(end)s 前续展", end=end.isoformat()), "tone": "warn"}
    grace = _add_months(end, 6)
    if today <= grace:
        return {"text": _("已过有效期，宽展期至 %(date)s", date=grace.isoformat()), "tone": "warn"}
    return {"text": _("未续展，注册已到期"), "tone": "bad"}


def price_view(listing, now=None):
    """The listing's one price line.

    {"label": 一口价 | 参考价 | 面议 | 起拍价 | 当前价, "amount": "¥26万" or "", "mode": price mode,
     "bid_count", "ends_at", "closed"} (the last three for auctions). A negotiable listing with a price shows it as
    参考价 (a guide, offers welcome), without one as 面议 alone; a fixed price is 一口价; an auction shows 起拍价 until
    the first bid and 当前价 after it. One label, never 参考价 beside 面议 or 一口价 beside 当前价. A listing whose deal
    types have prices of their own (``Listing.deal_prices``) carries them in ``per_type`` under that one label.
    """
    out = {"mode": listing.price_mode, "amount": "", "bid_count": None, "ends_at": None, "closed": False,
           "per_type": per_type(prices_by_deal_type(listing.price_mode, getattr(listing, "deal_types", None),
                                                    getattr(listing, "deal_prices", None), listing.price),
                                listing.currency)}
    auction = listing.auction if listing.price_mode == "auction" else None
    if auction is not None:
        now = now or utcnow()
        out["bid_count"] = auction.bid_count or 0
        out["ends_at"] = auction.ends_at
        out["closed"] = auction.closed_at is not None or now >= auction.ends_at
        if auction.current_price:
            out.update(label=_("当前价"), amount=display_yuan(auction.current_price, listing.currency))
        else:
            out.update(label=_("起拍价"), amount=display_yuan(auction.start_price, listing.currency))
    elif listing.price_mode == "fixed" and listing.price:
        out.update(label=_("一口价"), amount=display_yuan(listing.price, listing.currency))
    elif listing.price or out["per_type"]:
        out.update(label=_("参考价"), amount=display_yuan(listing.price, listing.currency) if listing.price else "")
    else:
        out.update(label=_("面议"))
    return out


def per_type(pairs, currency="CNY"):
    """``[{"deal_type", "label", "amount"}]`` from ``[(deal_type, fen or None)]``: a listing offered for assignment
    and licences at different prices shows each under the one label (一口价 or 参考价): 转让 ¥26万 · 普通许可 ¥5万.
    A deal type without a price (a negotiable listing) reads 面议. Empty when one price covers every deal type."""
    pairs = [(p["deal_type"], p["price"]) if isinstance(p, dict) else p for p in pairs or []]  # a search row's dicts
    return [{"deal_type": d, "label": label(DEAL_TYPE, d),
             "amount": display_yuan(p, currency) if p else _("面议")} for d, p in pairs]


def countdown(ends_at, now=None):
    """"2 天 03:04:05" until ``ends_at`` (UTC), or 已结束; the server's first text, static/js keeps it running."""
    now = now or utcnow()
    left = max(0, int((ends_at - now).total_seconds()))
    if not left:
        return _("已结束")
    days, rest = divmod(left, 86400)
    clock = "%02d:%02d:%02d" % (rest // 3600, rest % 3600 // 60, rest % 60)
    return (_("%(n)s 天", n=days) + " " + clock) if days else clock


def parse_utc(text):
    """"2026-12-08T10:00:00" (UTC, as a search row carries it) → a naive UTC datetime; None when unreadable."""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except (TypeError, ValueError):
        return None


def register(bp):
    for fn in (right_state, state_of, fee_state, price_view, countdown, per_type):
        bp.add_app_template_global(fn)
    bp.add_app_template_filter(parse_utc)
    bp.add_app_template_filter(yuan_input)


"""The spec sheet's derived lines (listings/facts.py): one price label, 申请中 instead of a term, annuity/renewal."""
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest

from listings import facts
from listings.models import Right

TODAY = date(2026, 12, 5)


def listing(mode, price=None, auction=None):
    return SimpleNamespace(price_mode=mode, price=price, currency="CNY", auction=auction)


@pytest.mark.parametrize("mode,price,label,amount", [
    ("fixed", 26_000_000, "一口价", "¥26万"), ("negotiable", 26_500_000, "参考价", "¥26.5万"),
    ("negotiable", None, "面议", ""),
])
def test_one_label_per_price(app, mode, price, label, amount):
    with app.test_request_context():
        view = facts.price_view(listing(mode, price))
    assert (view["label"], view["amount"], view["bid_count"]) == (label, amount)[:2] + (None,)


def test_auction_shows_start_then_current_price_with_bids(app):
    now = datetime(2026, 12, 5, 12, 0)
    auction = SimpleNamespace(current_price=None, start_price=100_000_00, bid_count=0,
                              ends_at=now + timedelta(days=2, hours=3), closed_at=None)
    with app.test_request_context():
        assert facts.price_view(listing("auction", auction=auction), now)["label"] == "起拍价"
        auction.current_price, auction.bid_count = 120_000_00, 3
        view = facts.price_view(listing("auction", price=5, auction=auction), now)
        assert (view["label"], view["amount"], view["bid_count"], view["closed"]) == ("当前价", "¥12万", 3, False)
        assert facts.countdown(auction.ends_at, now) == "2 天 03:00:00"
        assert facts.countdown(now, now) == "已结束"


def test_pending_application_has_no_term_left(app):
    right = Right(kind="patent", patent_type="invention", legal_status="pending", filing_date=date(2024, 3, 1))
    with app.test_request_context():
        state = facts.right_state(right, TODAY)
        assert state["pending"] and state["term"] == "申请中" and state["ends"] is None
        assert facts.fee_state(right, TODAY) is None
        granted = Right(kind="patent", patent_type="invention", legal_status="granted", filing_date=date(2024, 3, 1),
                        annuity_paid_until=date(2027, 3, 1))
        state = facts.right_state(granted, TODAY)
        assert state["tone"] == "ok" and state["term"] == "剩余 17 年 2 个月" and state["ends"] == date(2044, 3, 1)


@pytest.mark.parametrize("paid_until,tone,text", [
    (date(2027, 3, 1), "ok", "年费已缴至 2027-03-01"), (date(2026, 9, 1), "warn", "滞纳期至 2027-03-01"),
    (date(2026, 3, 1), "bad", "可能已终止"), (None, "unknown", "未登记"),
])
def test_annuity_states(app, paid_until, tone, text):
    right = Right(kind="patent", patent_type="utility_model", legal_status="granted", filing_date=date(2020, 3, 1),
                  annuity_paid_until=paid_until)
    with app.test_request_context():
        fee = facts.fee_state(right, TODAY)
    assert fee["tone"] == tone and text in fee["text"]


@pytest.mark.parametrize("registered,tone,text", [
    (date(2020, 6, 1), "ok", "2029-06-01 起可续展"), (date(2017, 6, 1), "warn", "须在 2027-06-01 前续展"),
    (date(2016, 9, 1), "warn", "宽展期至 2027-03-01"), (date(2016, 3, 1), "bad", "未续展"),
])
def test_trademark_renewal_states(app, registered, tone, text):
    right = Right(kind="trademark", tm_status="registered", registration_date=registered)
    with app.test_request_context():
        fee = facts.fee_state(right, TODAY)
    assert fee["tone"] == tone and text in fee["text"]

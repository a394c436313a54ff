"""A deal carried through escrow's own services shows up in the statistics, and a blacklisted
buyer keeps an open deal under watch (DESIGN: open deals continue under operator watch)."""
from datetime import timedelta

import pytest

from escrow import deals
from listings.locking import lock_listing
from marketplace.kernel import credit
from marketplace.kernel.errors import PermissionDenied
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow
from marketplace.web import stats
from marketplace.web.operator import queue_counts
from tests import factories
from tests.operator.conftest import file_storage


def _open(seller, buyer, price, now):
    listing = factories.make_listing(seller, price=price)
    db.session.commit()
    lock_listing(listing.id)
    deal = deals.open_deal(listing, buyer, price, "assignment", "purchase", now=now)
    factories.sign_contract(deal, now=now)
    db.session.commit()
    return deal


def test_completed_deal_is_counted(client, seller, buyer, operator):
    start = utcnow() - timedelta(days=60)
    deal = _open(seller, buyer, 200_000_00, start)
    instructions = deals.start_payment(deal.id, buyer, now=start)
    deals.confirm_offline_payment(deal.id, instructions["reference"], deal.price, operator,
                                  now=start + timedelta(days=1))
    deals.file_transfer(deal.id, seller, file_storage("受理回执.pdf"), now=start + timedelta(days=5))
    factories.record_and_verify(deal, seller, operator, file_storage("手续合格通知书.pdf"),
                                now=start + timedelta(days=31))
    deals.accept(deal.id, buyer, now=start + timedelta(days=33))
    db.session.commit()
    assert queue_counts()["payouts"] == 1
    deals.mark_payout_paid(deal.id, "BANK-20260101-0001", operator, now=start + timedelta(days=34))
    db.session.commit()
    assert deal.state == "completed"
    assert queue_counts()["payouts"] == 0

    data = stats.public_stats()
    assert data["deals"]["count"] == 1
    assert data["deals"]["by_month"][0]["value"] is None  # one deal: its price stays private
    assert data["recordal"]["count"] == 1 and data["recordal"]["median_days"] == 30.0
    html = client.get("/stats").get_data(as_text=True)
    assert 'id="stat-deals-total">1<' in html and "¥20万" not in html


def test_blacklisted_buyer_is_refused_but_open_deal_is_watched(client, as_user, seller, buyer, operator):
    deal = _open(seller, buyer, 50_000_00, utcnow())
    credit.record_violation(operator, buyer, "fraud", "blacklisted", "伪造付款凭证")
    db.session.commit()
    assert queue_counts()["watched"] == 1
    with pytest.raises(PermissionDenied, match="黑名单"):
        credit.ensure_can(buyer, "buy")
    # the deal goes on: the buyer may still pay for it
    instructions = deals.start_payment(deal.id, buyer)
    deals.confirm_offline_payment(deal.id, instructions["reference"], deal.price, operator)
    db.session.commit()
    assert deal.state == "funded"
    as_user(operator)
    assert f"#{deal.id}" in client.get("/operator/").get_data(as_text=True)

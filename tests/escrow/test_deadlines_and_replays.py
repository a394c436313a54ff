"""Deadlines with an explicit ``now``, gateway payment/refund replays, and concurrent actions on one deal."""
import threading
from datetime import timedelta

import pytest

from escrow import deals, ledger
from escrow.deals import PaymentMismatch
from escrow.gateways.base import GatewayResult
from escrow.models import Deal, DealEvent, JournalEntry
from marketplace.kernel.errors import Conflict, DomainError
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow
from tests.escrow.conftest import drive, settle_bank_refund

T0 = utcnow().replace(microsecond=0)


def _deal(id_):
    db.session.expire_all()
    return db.session.get(Deal, id_)


def test_unpaid_deal_is_cancelled_by_the_deadline_and_the_listing_returns(app, open_deal):
    deal = open_deal(now=T0)
    assert deal.payment_due_at == T0 + timedelta(days=7)
    before = deals.enforce_deal_deadlines(T0 + timedelta(days=7) - timedelta(seconds=1))
    assert before["deals_cancelled_unpaid"] == 0 and _deal(deal.id).state == "awaiting_payment"
    report = deals.enforce_deal_deadlines(T0 + timedelta(days=7))
    assert report["deals_cancelled_unpaid"] == 1
    deal = _deal(deal.id)
    assert deal.state == "cancelled" and deal.listing.status == "published"
    assert deal.events[-1].action == "expire_payment" and deal.events[-1].actor_id is None
    again = deals.enforce_deal_deadlines(T0 + timedelta(days=8))  # safe to run twice
    assert again["deals_cancelled_unpaid"] == 0
    assert ledger.deal_balances(deal)["escrow"] == 0


def test_inspection_lapse_releases(app, open_deal, parties):
    deal = drive(open_deal().id, "transfer_recorded", parties, now=T0)
    ends = T0 + timedelta(days=14)
    assert _deal(deal.id).inspection_ends_at == ends
    assert deals.enforce_deal_deadlines(ends - timedelta(minutes=1))["deals_released"] == 0
    with pytest.raises(Conflict):
        deals.lapse_inspection(deal.id, now=ends - timedelta(minutes=1))
    db.session.rollback()
    assert deals.enforce_deal_deadlines(ends)["deals_released"] == 1
    deal = _deal(deal.id)
    assert deal.state == "released" and deal.payout_status == "pending"
    assert ledger.deal_balances(deal)["seller_payable"] == deal.price - deal.fee
    assert deals.enforce_deal_deadlines(ends + timedelta(days=1))["deals_released"] == 0


def test_overdue_transfer_lets_the_buyer_cancel_for_a_full_refund(app, open_deal, parties):
    deal = drive(open_deal().id, "funded", parties, now=T0)
    due = T0 + timedelta(days=90)
    with pytest.raises(Conflict) as info:
        deals.cancel_deal(deal.id, parties.buyer, now=due - timedelta(days=1))
    assert "期限届满前" in info.value.message
    db.session.rollback()
    report = deals.enforce_deal_deadlines(due)
    assert report["transfers_overdue"] == 1 and _deal(deal.id).state == "funded"
    assert deals.enforce_deal_deadlines(due + timedelta(days=1))["transfers_overdue"] == 0  # told once
    deals.cancel_deal(deal.id, parties.buyer, reason="卖方未办理", now=due + timedelta(days=2))
    db.session.commit()
    deal = _deal(deal.id)
    assert deal.state == "refunded" and deal.listing.status == "published"
    balances = ledger.deal_balances(deal)
    # a bank refund is in transit until an operator records the bank's reference (refund queue)
    assert balances["escrow"] == 0 and balances["refund_in_transit"] == deal.price and balances["refunded"] == 0
    settle_bank_refund(deal.id, parties)
    balances = ledger.deal_balances(_deal(deal.id))
    assert balances["refunded"] == deal.price and balances["refund_in_transit"] == 0


def test_deadlines_cli_accepts_now(app, runner, open_deal):
    deal = open_deal(now=T0)
    later = (T0 + timedelta(days=8)).isoformat() + "+00:00"
    result = runner.invoke(args=["deadlines", "run", "--now", later])
    assert result.exit_code == 0, result.output
    assert "deals_cancelled_unpaid: 1" in result.output
    assert _deal(deal.id).state == "cancelled"


# --- gateway confirmations -------------------------------------------------------------------------

def test_replayed_gateway_payment_books_nothing(app, open_deal):
    deal = open_deal(price=50_000)
    deals.record_gateway_payment(deal.id, 50_000, "cny", "fake_stripe", "pi_1")
    db.session.commit()
    for _ in range(3):
        again = deals.record_gateway_payment(deal.id, 50_000, "CNY", "fake_stripe", "pi_1")
        db.session.commit()
        assert again.state == "funded"
    assert db.session.query(JournalEntry).filter_by(deal_id=deal.id).count() == 1
    assert db.session.query(DealEvent).filter_by(deal_id=deal.id, action="confirm_payment").count() == 1
    assert ledger.deal_balances(_deal(deal.id))["received"] == 50_000


@pytest.mark.parametrize("amount,currency", [(49_999, "CNY"), (50_000, "USD")])
def test_gateway_payment_mismatch_flags_and_books_nothing(app, open_deal, amount, currency):
    deal = open_deal(price=50_000)
    with pytest.raises(PaymentMismatch):
        deals.record_gateway_payment(deal.id, amount, currency, "fake_stripe", "pi_x")
    db.session.commit()  # the caller keeps the flag
    deal = _deal(deal.id)
    assert deal.state == "awaiting_payment" and deal.flagged and "pi_x" in deal.flagged
    assert db.session.query(JournalEntry).count() == 0


def test_flagged_deals_are_listed_for_operators(app, client, as_user, open_deal, parties):
    deal = open_deal(price=50_000)
    with pytest.raises(PaymentMismatch):
        deals.record_gateway_payment(deal.id, 1, "CNY", "fake_stripe", "pi_small")
    db.session.commit()
    as_user(parties.operator)
    html = client.get("/operator/disputes").get_data(as_text=True)
    assert "pi_small" in html and f"#{deal.id}" in html


def test_payment_for_a_cancelled_deal_is_flagged_not_booked(app, open_deal, parties):
    deal = drive(open_deal().id, "cancelled", parties)
    with pytest.raises(PaymentMismatch):
        deals.record_gateway_payment(deal.id, deal.price, "CNY", "fake_stripe", "pi_late")
    db.session.commit()
    assert "需将款项退还买方" in _deal(deal.id).flagged
    assert db.session.query(JournalEntry).count() == 0


class PendingGateway:
    """A gateway whose refunds and payouts the provider confirms later (like Stripe)."""

    name = "pending_test"

    def start_payment(self, deal, attempt):
        return {"gateway": self.name}

    def refund(self, deal, amount, key):
        return GatewayResult(ok=True, reference="re_1", pending=True)

    def payout(self, deal, amount, key):
        return GatewayResult(ok=True, reference="tr_1", pending=False)


def test_pending_refund_is_booked_once_when_confirmed(app, open_deal, parties, monkeypatch):
    deal = drive(open_deal(price=10_000).id, "disputed", parties)
    monkeypatch.setattr(deals, "get_gateway", lambda name=None: PendingGateway())
    deals.resolve_dispute(deal.id, parties.operator, "refund")
    db.session.commit()
    deal = _deal(deal.id)
    balances = ledger.deal_balances(deal)
    assert deal.state == "refunded" and deal.refund_status == "pending"
    assert balances["escrow"] == 0 and balances["refund_in_transit"] == 10_000 and balances["refunded"] == 0
    with pytest.raises(PaymentMismatch):
        deals.record_gateway_refund(deal.id, 9_000, "re_1")
    db.session.rollback()
    for _ in range(2):
        deals.record_gateway_refund(deal.id, 10_000, "re_1")
        db.session.commit()
    balances = ledger.deal_balances(_deal(deal.id))
    assert balances["refund_in_transit"] == 0 and balances["refunded"] == 10_000
    assert db.session.query(JournalEntry).filter_by(deal_id=deal.id, kind="refund").count() == 1


def test_synchronous_payout_completes_at_release(app, open_deal, parties, monkeypatch):
    """A provider that pays at once (a Connect transfer): asked after the release commits, booked then."""
    deal = drive(open_deal(price=10_000).id, "transfer_recorded", parties)
    deal.gateway = PendingGateway.name  # a provider, not the bank transfer (whose payout is an instruction)
    db.session.commit()
    monkeypatch.setattr(deals, "get_gateway", lambda name=None: PendingGateway())
    deals.accept(deal.id, parties.buyer)
    db.session.commit()
    deal = _deal(deal.id)
    assert deal.state == "completed" and deal.payout_reference == "tr_1" and deal.listing.status == "sold"
    assert [e.action for e in deal.events][-2:] == ["accept", "payout_paid"]
    # a replayed payout confirmation is ignored
    deals.record_gateway_payout(deal.id, "tr_1")
    db.session.commit()
    assert db.session.query(JournalEntry).filter_by(deal_id=deal.id, kind="payout").count() == 1


def test_failed_payout_is_flagged_for_an_operator(app, open_deal, parties, monkeypatch):
    class Failing(PendingGateway):
        def payout(self, deal, amount, key):
            return GatewayResult(ok=False, message="seller account not found")

    deal = drive(open_deal().id, "transfer_recorded", parties)
    monkeypatch.setattr(deals, "get_gateway", lambda name=None: Failing())
    deals.accept(deal.id, parties.buyer)
    db.session.commit()
    deal = _deal(deal.id)
    assert deal.state == "released" and deal.payout_status == "failed" and "seller account" in deal.flagged
    deals.mark_payout_paid(deal.id, "BOC-manual", parties.operator)
    db.session.commit()
    assert _deal(deal.id).state == "completed"


def test_start_payment_counts_attempts(app, open_deal, parties):
    deal = open_deal()
    first = deals.start_payment(deal.id, parties.buyer)
    second = deals.start_payment(deal.id, parties.buyer)
    db.session.commit()
    assert (first["attempt"], second["attempt"]) == (1, 2)
    assert first["reference"] == deal.payment_reference


def test_gateway_is_chosen_when_the_deal_opens(app, open_deal):
    assert open_deal().gateway == "offline"
    app.config["STRIPE_SECRET_KEY"] = "sk_test_x"
    try:
        assert open_deal().gateway == "stripe"
    finally:
        app.config["STRIPE_SECRET_KEY"] = None


# --- concurrency ------------------------------------------------------------------------------------

def test_two_concurrent_acceptances_apply_once(app, open_deal, parties):
    """Two requests accept the same deal at once: one applies, the other is refused; money moves once."""
    deal = drive(open_deal().id, "transfer_recorded", parties)
    deal_id, buyer_id = deal.id, parties.buyer.id
    db.session.remove()
    barrier = threading.Barrier(2)
    outcomes = []

    def worker(action):
        with app.app_context():
            barrier.wait()
            try:
                action()
                db.session.commit()
                outcomes.append("applied")
            except DomainError as exc:
                db.session.rollback()
                outcomes.append(exc.status)
            except Exception as exc:  # noqa: BLE001  (a lost update must not pass silently)
                db.session.rollback()
                outcomes.append(type(exc).__name__)
            finally:
                db.session.remove()

    from marketplace.kernel.models import User

    threads = [
        threading.Thread(target=worker, args=(lambda: deals.accept(deal_id, db.session.get(User, buyer_id)),)),
        threading.Thread(target=worker, args=(lambda: deals.open_dispute(deal_id, db.session.get(User, buyer_id),
                                                                         "同时提出的争议请求"),)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(map(str, outcomes)) == ["409", "applied"], outcomes
    deal = _deal(deal_id)
    assert deal.state in ("released", "disputed")
    assert len(ledger.deal_entries(deal_id)) == (2 if deal.state == "released" else 1)

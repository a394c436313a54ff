"""Issue 15: no gateway call while a deal row is locked; intent, then call, then book; the crash window.

Every call the fake Stripe receives is probed from a second database connection: the deal's row must be
lockable at that moment (``FOR UPDATE NOWAIT`` on PostgreSQL, ``BEGIN IMMEDIATE`` with no wait on SQLite),
and the intent must already be committed (what that other connection reads).
"""
import pytest
from sqlalchemy import text

from escrow import deals, gateway_calls, ledger
from escrow.gateways.stripe_gateway import PaymentProviderError
from escrow.models import JournalEntry
from marketplace.kernel.errors import Conflict, ValidationError
from marketplace.kernel.extensions import db
from tests import factories

from .conftest import make_deal, refresh


def _committed(deal_id):
    """(payout_status, refund_status) as another connection reads them: what is committed."""
    with db.engine.connect() as conn:
        return tuple(conn.execute(text("SELECT payout_status, refund_status FROM deals WHERE id = :id"),
                                  {"id": deal_id}).one())


def _row_is_free(deal_id):
    """True when another connection could lock the deal's row right now, without waiting."""
    raw = db.engine.raw_connection()
    try:
        if db.engine.dialect.name == "sqlite":
            driver = raw.driver_connection
            driver.execute("PRAGMA busy_timeout = 0")
            try:
                driver.execute("BEGIN IMMEDIATE")
            except Exception:  # noqa: BLE001 - "database is locked": somebody holds the write lock
                return False
            driver.execute("ROLLBACK")
            return True
        cursor = raw.cursor()
        try:
            cursor.execute("SELECT id FROM deals WHERE id = %s FOR UPDATE NOWAIT", (deal_id,))
        except Exception:  # noqa: BLE001 - lock_not_available
            raw.rollback()
            return False
        raw.rollback()
        return True
    finally:
        raw.close()


@pytest.fixture
def probed(fake_stripe, monkeypatch):
    """The fake Stripe, recording for every refund, payout and payment start whether the deal's row was free
    and what was committed at that moment."""
    seen = []

    def wrap(name):
        original = getattr(fake_stripe, name)

        def call(payable, *args, **kwargs):
            deal_id = getattr(payable, "deal_id", None) if name == "refund" and hasattr(payable, "bidder_id") \
                else payable.id
            seen.append((name, deal_id, _row_is_free(deal_id), _committed(deal_id)))
            return original(payable, *args, **kwargs)
        monkeypatch.setattr(fake_stripe, name, call)

    for name in ("start_payment", "refund", "payout"):
        wrap(name)
    return seen


def _funded(fake, price=30_000_00, account=None):
    deal = make_deal(price=price, gateway="fake_stripe", stripe_account_id=account)
    pi_id = deals.start_payment(deal.id, deal.buyer)["payment_intent_id"]
    db.session.commit()
    fake.confirm(pi_id)
    deals.record_gateway_payment(deal.id, deal.price, "CNY", "fake_stripe", pi_id)
    db.session.commit()
    return refresh(deal)


def _disputed(fake, **kw):
    deal = _funded(fake, **kw)
    deals.open_dispute(deal.id, deal.buyer, "权利存在瑕疵，请平台裁决")
    db.session.commit()
    return deal, factories.make_user("operator")


def test_payment_start_refund_and_payout_are_asked_with_no_lock_held(app, fake_stripe, probed):
    deal, operator = _disputed(fake_stripe, account="acct_1Probe")
    assert probed[0][:3] == ("start_payment", deal.id, True)
    deals.resolve_dispute(deal.id, operator, "split", seller_share=10_000_00)
    db.session.commit()
    calls = {name: (free, committed) for name, deal_id, free, committed in probed if deal_id == deal.id}
    # each call came after the intent was committed, with the deal's row free
    assert calls["refund"] == (True, ("requested", "requested"))
    assert calls["payout"][0] is True and calls["payout"][1][0] == "requested"
    deal = refresh(deal)
    balances = ledger.deal_balances(deal)
    assert deal.state == "completed" and deal.refund_status == "refunded" and deal.payout_status == "paid"
    assert balances["refunded"] == 20_000_00 and balances["refund_in_transit"] == 0 and balances["escrow"] == 0
    assert len(fake_stripe.refunds) == 1 and len(fake_stripe.transfers) == 1


def test_a_refused_act_calls_nothing(app, fake_stripe, probed):
    deal, operator = _disputed(fake_stripe)
    before = len(probed)
    with pytest.raises(ValidationError):
        deals.resolve_dispute(deal.id, operator, "split", seller_share=deal.price)  # a share of the whole price
    db.session.rollback()
    assert len(probed) == before and fake_stripe.refunds == {} and refresh(deal).state == "disputed"


def test_crash_after_the_refund_intent_commits_the_sweep_sends_it_once(app, fake_stripe, probed):
    deal, operator = _disputed(fake_stripe)
    deals.resolve_dispute(deal.id, operator, "refund")
    db.session.info.pop(gateway_calls.QUEUE)  # the process dies right after the commit
    db.session.commit()
    deal = refresh(deal)
    balances = ledger.deal_balances(deal)
    assert deal.state == "refunded" and deal.refund_status == "requested" and fake_stripe.refunds == {}
    assert balances["escrow"] == 0 and balances["refund_in_transit"] == deal.price  # nothing lost, in transit
    assert gateway_calls.send_pending()["gateway_refunds_sent"] == 1
    assert gateway_calls.send_pending()["gateway_refunds_sent"] == 0
    deal = refresh(deal)
    assert deal.refund_status == "refunded" and len(fake_stripe.refunds) == 1
    assert ledger.deal_balances(deal)["refunded"] == deal.price
    assert [p for p in probed if p[0] == "refund"][0][2:] == (True, (None, "requested"))


def test_crash_after_the_payout_intent_commits_nobody_pays_by_hand_and_the_sweep_pays_once(app, fake_stripe):
    deal, operator = _disputed(fake_stripe, account="acct_1Crash")
    deals.resolve_dispute(deal.id, operator, "release")
    db.session.info.pop(gateway_calls.QUEUE)
    db.session.commit()
    deal = refresh(deal)
    assert deal.state == "released" and deal.payout_status == "requested" and fake_stripe.transfers == {}
    entries = db.session.query(JournalEntry).filter_by(deal_id=deal.id).count()
    with pytest.raises(Conflict):  # an outstanding gateway payout: no manual payout, nothing changes
        deals.mark_payout_paid(deal.id, "BOC20261205001", operator)
    db.session.rollback()
    assert refresh(deal).payout_status == "requested"
    assert db.session.query(JournalEntry).filter_by(deal_id=deal.id).count() == entries
    assert gateway_calls.send_pending()["gateway_payouts_sent"] == 1
    assert gateway_calls.send_pending()["gateway_payouts_sent"] == 0
    deal = refresh(deal)
    assert deal.state == "completed" and len(fake_stripe.transfers) == 1
    assert deal.payout_reference == next(iter(fake_stripe.transfers))


def test_a_transfer_whose_answer_was_lost_is_found_not_made_twice(app, fake_stripe, monkeypatch):
    """Stripe made the transfer but the answer never came (a timeout): the outcome is unknown. The sweep looks
    the transfer up by the deal's transfer group and books it; it never asks for a second one."""
    deal, operator = _disputed(fake_stripe, account="acct_1Lost")
    create = fake_stripe._create_transfer

    def made_then_lost(params):
        create(params)
        raise PaymentProviderError("Read timed out")
    monkeypatch.setattr(fake_stripe, "_create_transfer", made_then_lost)
    deals.resolve_dispute(deal.id, operator, "release")
    db.session.commit()
    deal = refresh(deal)
    assert deal.payout_status == "failed" and deal.flagged.startswith(gateway_calls.PAYOUT_FLAG)
    assert len(fake_stripe.transfers) == 1 and ledger.deal_balances(deal)["paid_out"] == 0
    monkeypatch.setattr(fake_stripe, "_create_transfer", create)
    creates = sum(1 for op, _p, _k in fake_stripe.requests if op == "transfers.create")
    assert gateway_calls.send_pending()["gateway_payouts_sent"] == 1
    deal = refresh(deal)
    assert deal.state == "completed" and deal.flagged is None and len(fake_stripe.transfers) == 1
    assert sum(1 for op, _p, _k in fake_stripe.requests if op == "transfers.create") == creates  # none asked
    assert ledger.deal_balances(deal)["paid_out"] == deal.payout_amount


def test_a_refund_during_an_outage_is_kept_in_transit_and_retried(app, fake_stripe):
    deal, operator = _disputed(fake_stripe)
    fake_stripe.outage = True
    deals.resolve_dispute(deal.id, operator, "refund")
    db.session.commit()  # the decision stands; the refund waits for the provider
    deal = refresh(deal)
    assert deal.state == "refunded" and deal.refund_status == "failed" and "退款未能发起" in deal.flagged
    assert ledger.deal_balances(deal)["refund_in_transit"] == deal.price
    assert gateway_calls.send_pending()["gateway_refunds_sent"] == 0  # still down
    fake_stripe.outage = False
    assert gateway_calls.send_pending()["gateway_refunds_sent"] == 1
    deal = refresh(deal)
    assert deal.refund_status == "refunded" and len(fake_stripe.refunds) == 1
    assert ledger.deal_balances(deal)["refunded"] == deal.price


def test_the_probe_sees_a_held_lock(app, fake_stripe):
    """The probe itself: while this session holds the deal's lock, another connection cannot take it."""
    deal = make_deal(gateway="fake_stripe")
    deals.lock_deal(deal.id)
    assert _row_is_free(deal.id) is False
    db.session.rollback()
    assert _row_is_free(deal.id) is True

"""Ledger invariants: balanced entries enforced by the database, append-only postings, idempotent keys,
balances derived from postings, escrow zero in every terminal state."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from escrow import deals, ledger
from escrow.ledger import Leg, UnbalancedEntry
from escrow.models import JournalEntry, Posting
from marketplace.kernel.extensions import db
from tests.escrow.conftest import drive


def _account(code):
    return ledger._account_id(code)


def _raw_entry(key, amounts, currency="CNY"):
    """Insert an entry and its postings with raw SQL, as a buggy or hostile writer would."""
    escrow, clearing = _account("escrow"), _account("gateway_clearing:offline")
    db.session.commit()
    conn = db.session.connection()
    conn.execute(text("INSERT INTO ledger_entries (idempotency_key, kind, memo, created_at) "
                      "VALUES (:k, 'test', '', CURRENT_TIMESTAMP)"), {"k": key})
    entry_id = conn.execute(text("SELECT id FROM ledger_entries WHERE idempotency_key = :k"), {"k": key}).scalar()
    for account, amount in zip((clearing, escrow, escrow), amounts, strict=False):
        conn.execute(text("INSERT INTO ledger_postings (entry_id, account_id, amount, currency) "
                          "VALUES (:e, :a, :m, :c)"), {"e": entry_id, "a": account, "m": amount, "c": currency})
    return entry_id


def test_database_refuses_to_commit_an_unbalanced_entry(app):
    _raw_entry("raw:unbalanced", [-100, 99])
    with pytest.raises((IntegrityError, DBAPIError)):
        db.session.commit()
    db.session.rollback()
    assert db.session.query(JournalEntry).filter_by(idempotency_key="raw:unbalanced").count() == 0
    assert db.session.query(Posting).count() == 0


def test_database_refuses_a_single_sided_entry(app):
    _raw_entry("raw:one-leg", [500])
    with pytest.raises((IntegrityError, DBAPIError)):
        db.session.commit()
    db.session.rollback()
    assert db.session.query(Posting).count() == 0


def test_database_commits_a_balanced_raw_entry(app):
    _raw_entry("raw:balanced", [-100, 60, 40])
    db.session.commit()
    assert ledger.unbalanced_entries() == []
    assert db.session.query(Posting).count() == 3


def test_postings_and_entries_cannot_be_edited_or_deleted(app):
    _raw_entry("raw:fixed", [-100, 100])
    db.session.commit()
    for statement in ("UPDATE ledger_postings SET amount = amount * 2",
                      "DELETE FROM ledger_postings",
                      "UPDATE ledger_entries SET memo = 'changed'",
                      "DELETE FROM ledger_entries"):
        with pytest.raises((IntegrityError, DBAPIError)):
            db.session.execute(text(statement))
            db.session.flush()
        db.session.rollback()
    assert sorted(p.amount for p in db.session.query(Posting)) == [-100, 100]


def test_python_refuses_unbalanced_legs_before_the_database(app):
    with pytest.raises(UnbalancedEntry):
        ledger.post("x:1", "test", [Leg("escrow", 100), Leg("gateway_clearing:offline", -99)])
    with pytest.raises(UnbalancedEntry):
        ledger.post("x:2", "test", [Leg("escrow", 100)])


def test_same_key_books_once(app):
    legs = [Leg("gateway_clearing:offline", -5), Leg("escrow", 5)]
    first, created = ledger.post("x:once", "test", legs)
    again, created_again = ledger.post("x:once", "test", legs)
    db.session.commit()
    assert created and not created_again and first.id == again.id
    assert db.session.query(Posting).count() == 2


def test_unique_key_is_enforced_by_the_database(app):
    ledger.post("x:dup", "test", [Leg("gateway_clearing:offline", -5), Leg("escrow", 5)])
    db.session.commit()
    db.session.add(JournalEntry(idempotency_key="x:dup", kind="test"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize("state", ["completed", "cancelled", "refunded"])
def test_escrow_is_zero_in_every_terminal_state(app, open_deal, parties, state):
    deal = drive(open_deal().id, state, parties)
    balances = ledger.deal_balances(deal)
    assert balances["escrow"] == 0
    assert balances["seller_payable"] == 0
    accounted = (balances["escrow"] + balances["seller_payable"] + balances["platform_fee"] + balances["paid_out"]
                 + balances["refunded"] + balances["refund_in_transit"])
    assert accounted == balances["received"]
    assert ledger.unbalanced_entries() == []


def test_ledger_api_shows_where_every_fen_went(app, client, open_deal, parties):
    from tests.factories import auth_header

    deal = drive(open_deal(price=1_234_567).id, "completed", parties)
    headers = auth_header(parties.buyer)
    db.session.commit()
    body = client.get(f"/api/v1/deals/{deal.id}/ledger", headers=headers).get_json()
    fee = (1_234_567 * 300 + 5_000) // 10_000
    assert body["balances"] == {"escrow": 0, "seller_payable": 0, "platform_fee": fee, "refunded": 0,
                                "refund_in_transit": 0, "paid_out": 1_234_567 - fee, "received": 1_234_567,
                                "fee_by_voucher": 0}  # no innovation voucher paid part of this fee (issue 23)
    assert [e["key"] for e in body["entries"]] == [f"deal:{deal.id}:fund", f"deal:{deal.id}:release",
                                                   f"deal:{deal.id}:payout"]
    for entry in body["entries"]:
        assert sum(p["amount"] for p in entry["postings"]) == 0


# --- a Hypothesis run: random, repeated and re-ordered operations never create or lose money ---------

OPERATIONS = ["pay", "pay_again", "file", "record", "accept", "dispute", "refund", "split", "release", "payout",
              "payout_again", "cancel", "lapse"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.sampled_from(OPERATIONS), min_size=1, max_size=12),
       share=st.integers(min_value=1, max_value=999_999))
def test_random_operations_keep_the_ledger_whole(app, open_deal, parties, later, ops, share):
    from marketplace.kernel.errors import DomainError
    from tests.escrow.conftest import PNG, upload

    deal = open_deal(price=1_000_000)
    p = parties
    far = later(days=400)
    actions = {
        "pay": lambda: deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, p.operator),
        "pay_again": lambda: deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, p.operator),
        "file": lambda: deals.file_transfer(deal.id, p.seller, upload()),
        "record": lambda: deals.record_transfer(deal.id, p.seller, upload(PNG, "n.png")),
        "accept": lambda: deals.accept(deal.id, p.buyer),
        "dispute": lambda: deals.open_dispute(deal.id, p.seller, "买方拒绝验收无理由"),
        "refund": lambda: deals.resolve_dispute(deal.id, p.operator, "refund"),
        "split": lambda: deals.resolve_dispute(deal.id, p.operator, "split", share),
        "release": lambda: deals.resolve_dispute(deal.id, p.operator, "release"),
        "payout": lambda: deals.mark_payout_paid(deal.id, "BANK-1", p.operator),
        "payout_again": lambda: deals.mark_payout_paid(deal.id, "BANK-1", p.operator),
        "cancel": lambda: deals.cancel_deal(deal.id, p.buyer, now=far),
        "lapse": lambda: deals.lapse_inspection(deal.id, now=far),
    }
    for op in ops:
        try:
            actions[op]()
            db.session.commit()
        except DomainError:
            db.session.rollback()
        db.session.refresh(deal)
        balances = ledger.deal_balances(deal)
        assert ledger.unbalanced_entries() == []
        assert balances["received"] in (0, deal.price)
        assert sum(v for k, v in balances.items() if k != "received") == balances["received"]
        assert min(balances.values()) >= 0
        if deal.is_terminal:
            assert balances["escrow"] == 0

"""The refund queue (issue 15): an offline refund is an instruction until the bank reference is recorded.

The deal reaches ``refunded`` when the refund is decided, with the money in transit (the rule Stripe's
pending refunds follow); the refund is booked to the buyer only when an operator records the bank's
reference, once, under a reference never used before.
"""
import pytest
from sqlalchemy import func, select

from escrow import deals, ledger, refunds
from escrow.models import Deal, JournalEntry
from escrow.payout_models import RefundInstruction
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from tests import factories
from tests.escrow.conftest import drive, settle_bank_refund

ACCOUNT = {"bank": "中国建设银行", "branch": "北京海淀支行", "account_number": "6217 0000 1000 2345"}


def _refunded_deal(open_deal, parties, price=1_000_000_00):
    deal = drive(open_deal(price=price).id, "disputed", parties)
    deals.resolve_dispute(deal.id, parties.operator, "refund", note="卖方无法办理")
    db.session.commit()
    return db.session.get(Deal, deal.id)


def _entries():
    return db.session.execute(select(func.count(JournalEntry.id))).scalar_one()


def test_bank_refund_waits_for_the_bank_reference(app, open_deal, parties):
    deal = _refunded_deal(open_deal, parties)
    assert deal.state == "refunded" and deal.refund_status == "pending"
    instruction = refunds.instruction_of(deal.id)
    assert instruction.status == "awaiting_account" and instruction.amount == deal.price
    assert instruction.reason == "争议裁决：退款"
    balances = ledger.deal_balances(deal)
    assert balances["refund_in_transit"] == deal.price and balances["refunded"] == 0

    # the operator cannot book it before the buyer has said where the money goes
    before = _entries()
    with pytest.raises(Conflict):
        refunds.mark_paid(deal.id, "BOCR-20261204-01", parties.operator)
    db.session.rollback()
    assert _entries() == before

    refunds.enter_account(deal.id, parties.buyer, **ACCOUNT, account_name=parties.buyer.name)
    db.session.commit()
    refunds.mark_paid(deal.id, "BOCR-20261204-01", parties.operator)
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    balances = ledger.deal_balances(deal)
    assert balances["refunded"] == deal.price and balances["refund_in_transit"] == 0
    assert deal.refund_status == "refunded" and deal.refund_reference == "BOCR-20261204-01"
    assert [e.action for e in deal.events][-1] == "refund_confirmed"
    assert deal.events[-1].actor_id == parties.operator.id

    # twice: refused, nothing booked again
    before = _entries()
    with pytest.raises(Conflict):
        refunds.mark_paid(deal.id, "BOCR-20261204-02", parties.operator)
    db.session.rollback()
    assert _entries() == before
    with pytest.raises(Conflict):  # nor can the account change after the money has gone
        refunds.enter_account(deal.id, parties.buyer, **ACCOUNT, account_name=parties.buyer.name)


def test_refund_reference_may_not_be_reused(app, open_deal, parties):
    first = _refunded_deal(open_deal, parties)
    settle_bank_refund(first.id, parties, reference="BOCR-SAME-0001")
    second = _refunded_deal(open_deal, parties)
    refunds.enter_account(second.id, parties.buyer, **ACCOUNT, account_name=parties.buyer.name)
    db.session.commit()
    before = _entries()
    with pytest.raises(ValidationError) as info:
        refunds.mark_paid(second.id, "BOCR-SAME-0001", parties.operator)
    assert "reference" in info.value.fields
    db.session.rollback()
    assert _entries() == before and refunds.instruction_of(second.id).status == "ready"
    for bad in ("", "x", "<script>", "a" * 101, None):
        with pytest.raises(ValidationError):
            refunds.mark_paid(second.id, bad, parties.operator)
        db.session.rollback()
    assert ledger.deal_balances(db.session.get(Deal, second.id))["refunded"] == 0


def test_refund_account_must_be_the_buyers_and_well_formed(app, open_deal, parties):
    deal = _refunded_deal(open_deal, parties)
    with pytest.raises(ValidationError) as info:
        refunds.enter_account(deal.id, parties.buyer, **ACCOUNT, account_name="第三方有限公司")
    assert "account_name" in info.value.fields
    db.session.rollback()
    with pytest.raises(ValidationError):
        refunds.enter_account(deal.id, parties.buyer, **{**ACCOUNT, "account_number": "12-34"},
                              account_name=parties.buyer.name)
    db.session.rollback()
    assert refunds.instruction_of(deal.id).account_number is None
    with pytest.raises(PermissionDenied):
        refunds.enter_account(deal.id, parties.seller, **ACCOUNT, account_name=parties.seller.name)
    db.session.rollback()
    stranger = factories.make_user("buyer")
    with pytest.raises(NotFound):
        refunds.enter_account(deal.id, stranger, **ACCOUNT, account_name=stranger.name)


def test_only_an_operator_not_a_party_records_a_refund(app, open_deal, parties):
    deal = _refunded_deal(open_deal, parties)
    refunds.enter_account(deal.id, parties.buyer, **ACCOUNT, account_name=parties.buyer.name)
    db.session.commit()
    for who in (parties.buyer, parties.seller, None):
        with pytest.raises(PermissionDenied):
            refunds.mark_paid(deal.id, "BOCR-NOPE-0001", who)
        db.session.rollback()
    assert refunds.instruction_of(deal.id).status == "ready"


def test_split_refund_goes_through_the_queue_too(app, open_deal, parties):
    deal = drive(open_deal(price=1_000_00).id, "disputed", parties)
    deals.resolve_dispute(deal.id, parties.operator, "split", 600_00)
    db.session.commit()
    instruction = refunds.instruction_of(deal.id)
    assert instruction.amount == 400_00 and "按比例" in instruction.reason
    settle_bank_refund(deal.id, parties)
    balances = ledger.deal_balances(db.session.get(Deal, deal.id))
    assert balances["refunded"] == 400_00 and balances["refund_in_transit"] == 0


def test_no_instruction_for_a_deal_never_funded(app, open_deal, parties):
    deal = open_deal()
    deals.cancel_deal(deal.id, parties.buyer)
    db.session.commit()
    assert refunds.instruction_of(deal.id) is None
    assert db.session.execute(select(func.count(RefundInstruction.id))).scalar_one() == 0


# --- pages and API ---------------------------------------------------------------------------------

def test_refund_through_the_pages(app, client, as_user, open_deal, parties):
    deal = _refunded_deal(open_deal, parties)
    as_user(parties.buyer)
    page = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert f"/deals/{deal.id}/refund-account" in page
    bad = client.post(f"/deals/{deal.id}/refund-account", data={**ACCOUNT, "account_name": "别人"})
    assert bad.status_code == 422 and "户名" in bad.get_data(as_text=True)
    ok = client.post(f"/deals/{deal.id}/refund-account", data={**ACCOUNT, "account_name": parties.buyer.name})
    assert ok.status_code == 302
    assert client.get("/operator/refunds").status_code == 403
    as_user(parties.seller)
    assert client.get(f"/deals/{deal.id}/refund-account").status_code == 403
    as_user(parties.operator)
    queue = client.get("/operator/refunds").get_data(as_text=True)
    assert "6217000010002345" in queue and f'action="/deals/{deal.id}/refund-paid"' in queue
    bad = client.post(f"/deals/{deal.id}/refund-paid", data={"refund-reference": "?"})
    assert bad.status_code == 422
    done = client.post(f"/deals/{deal.id}/refund-paid", data={"refund-reference": "BOCR-PAGE-0001"})
    assert done.status_code == 302
    assert ledger.deal_balances(db.session.get(Deal, deal.id))["refunded"] == deal.price
    assert f'action="/deals/{deal.id}/refund-paid"' not in client.get("/operator/refunds").get_data(as_text=True)


def test_refund_through_the_api(app, client, open_deal, parties):
    deal = _refunded_deal(open_deal, parties)
    buyer_h, op_h = factories.auth_header(parties.buyer), factories.auth_header(parties.operator)
    seller_h = factories.auth_header(parties.seller)
    db.session.commit()
    shown = client.get(f"/api/v1/deals/{deal.id}/refund", headers=buyer_h).get_json()["refund"]
    assert shown["status"] == "awaiting_account" and shown["amount"] == deal.price
    put = client.put(f"/api/v1/deals/{deal.id}/refund-account", headers=buyer_h,
                     json={**ACCOUNT, "account_name": parties.buyer.name})
    assert put.status_code == 200 and put.get_json()["refund"]["account"]["account_number"] == "•••• 2345"
    assert client.post(f"/api/v1/deals/{deal.id}/refund-paid", headers=seller_h,
                       json={"reference": "BOCR-API-0001"}).status_code == 403
    queue = client.get("/api/v1/operator/refunds", headers=op_h).get_json()["refunds"]
    assert queue[0]["account"]["account_number"] == "6217000010002345"
    paid = client.post(f"/api/v1/deals/{deal.id}/refund-paid", headers=op_h, json={"reference": "BOCR-API-0001"})
    assert paid.status_code == 200 and paid.get_json()["refund"]["status"] == "paid"
    again = client.post(f"/api/v1/deals/{deal.id}/refund-paid", headers=op_h, json={"reference": "BOCR-API-0002"})
    assert again.status_code == 409

"""The whole transition table, generated from ``escrow.machine.TABLE``: every state × action × role.

For each (state, action) a fresh deal is driven along real transitions to the state, for
each role in turn, then the action is attempted through its real entry point (the JSON
API for people, the service with ``actor=None`` for the system). The table says what must
happen: applied (the deal moves to the row's state), ignored (200, nothing changes), or
refused with 403 / 409 (404 for a stranger) and nothing changes.
"""
from datetime import timedelta

import pytest

from escrow import contracts, deals, machine, recordal
from escrow.models import DEAL_STATES, Deal, DealEvent, Document, JournalEntry
from marketplace.kernel.errors import DomainError
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow
from tests import factories
from tests.escrow.conftest import PDF, drive, upload

PEOPLE = ("buyer", "seller", "operator", "stranger")
ROLES = PEOPLE + ("system",)
SYSTEM_ONLY = {a for a in machine.ACTIONS if machine.roles_for_action(a) == {"system"}}
RESOLVE = {"resolve_release": {"outcome": "release"}, "resolve_refund": {"outcome": "refund"},
           "resolve_split": {"outcome": "split"}}
PATHS = {"pay": "pay", "confirm_payment": "confirm-payment", "cancel": "cancel", "file_transfer": "transfer-filed",
         "record_transfer": "transfer-recorded", "accept": "accept", "dispute": "dispute",
         "resolve_release": "resolve", "resolve_refund": "resolve", "resolve_split": "resolve",
         "payout_paid": "payout-paid", "confirm_reversal": "confirm-reversal",
         "sign_contract": "contract/sign", "confirm_filing": "confirm-filing", "verify_recordal": "recordal/verify",
         "reject_recordal": "recordal/reject"}


def expected(state, action, role):
    """(status, next state) the table prescribes."""
    if role == "stranger":
        return 404, state
    row = machine.TABLE.get((state, action))
    if row is not None and role in row.roles:
        return 200, state if row.to == machine.IGNORED else row.to
    if row is None and role in machine.roles_for_action(action):
        return 409, state
    return 403, state


def snapshot(deal_id):
    db.session.expire_all()
    deal = db.session.get(Deal, deal_id)
    count = lambda model: db.session.query(model).filter_by(deal_id=deal_id).count()  # noqa: E731
    return {"state": deal.state, "version": deal.version, "events": count(DealEvent),
            "entries": count(JournalEntry), "documents": count(Document), "listing": deal.listing.status,
            "flagged": deal.flagged, "payout": deal.payout_status, "refund": deal.refund_status}


def _request(client, deal, action, headers):
    url = f"/api/v1/deals/{deal.id}/{PATHS[action]}"
    if action in ("file_transfer", "record_transfer"):
        details = factories.recordal_details(deal) if action == "record_transfer" else {}
        return client.post(url, headers=headers, data={"document": (upload().stream, "doc.pdf"), **details},
                           content_type="multipart/form-data")
    body = {
        "confirm_payment": {"reference": deal.payment_reference, "amount": deal.price},
        "dispute": {"reason": "登记的权利人名称与合同不一致"},
        "payout_paid": {"reference": "BOC-2026-0001"},
        "cancel": {"reason": "测试取消"},
        "sign_contract": {"password": factories.PASSWORD},
        "reject_recordal": {"reason": "发文序号与通知书不一致"},
    }.get(action)
    if action in RESOLVE:
        body = dict(RESOLVE[action], seller_share=deal.price // 3)
    return client.post(url, headers=headers, json=body) if body is not None else client.post(url, headers=headers)


def _as_system(deal, action, far):
    calls = {
        "pay": lambda: deals.start_payment(deal.id, None),
        "confirm_payment": lambda: deals.record_gateway_payment(deal.id, deal.price, deal.currency, "offline",
                                                                "sys-ref-1"),
        "cancel": lambda: deals.cancel_deal(deal.id, None, now=far),
        "expire_payment": lambda: deals.expire_unpaid(deal.id, now=far),
        "file_transfer": lambda: deals.file_transfer(deal.id, None, upload()),
        "record_transfer": lambda: deals.record_transfer(deal.id, None, upload()),
        "accept": lambda: deals.accept(deal.id, None),
        "lapse_inspection": lambda: deals.lapse_inspection(deal.id, now=far),
        "dispute": lambda: deals.open_dispute(deal.id, None, "系统不能提出争议"),
        "payout_paid": lambda: deals.mark_payout_paid(deal.id, "tr_123", None),
        "confirm_reversal": lambda: deals.confirm_reversal(deal.id, None),
        "claim_upheld": lambda: deals.stop_for_upheld_claim(deal.id, "权属异议 #1 成立", now=far),
        "sign_contract": lambda: contracts.sign(deal.id, None, factories.PASSWORD),
        "confirm_filing": lambda: recordal.confirm_filing(deal.id, None),
        "verify_recordal": lambda: recordal.verify(deal.id, None),
        "reject_recordal": lambda: recordal.reject(deal.id, None, "系统不能退回登记"),
    }
    for action_name, params in RESOLVE.items():
        calls[action_name] = (lambda p: lambda: deals.resolve_dispute(deal.id, None, p["outcome"],
                                                                      deal.price // 3))(params)
    try:
        calls[action]()
        db.session.commit()
        return 200
    except DomainError as exc:
        db.session.rollback()
        return exc.status


def _past_deadlines(deal_id):
    """Every deadline already passed, so guarded rows (deadline-dependent) are satisfied."""
    deal = db.session.get(Deal, deal_id)
    past = utcnow() - timedelta(days=1)
    deal.payment_due_at = past
    if deal.transfer_due_at:
        deal.transfer_due_at = past
    if deal.inspection_ends_at:
        deal.inspection_ends_at = past
    db.session.commit()


CASES = [(state, action, role) for state in DEAL_STATES for action in machine.ACTIONS for role in ROLES]


def _attempt(client, deal_id, action, role, users, headers, far):
    deal = db.session.get(Deal, deal_id)
    if role == "system":
        return _as_system(deal, action, far)
    response = _request(client, deal, action, headers[role])
    if response.status_code != 200:
        assert response.get_json()["error"]["message"], (role, response.get_json())
    return response.status_code


@pytest.mark.parametrize("state", DEAL_STATES)
def test_every_action_and_role(app, client, open_deal, parties, state):
    """All (action, role) pairs in one state. Refusals and ignored duplicates must change nothing, so
    they share one deal; every pair the table allows gets a fresh deal and must reach the row's state."""
    stranger = factories.make_user("buyer", "seller")
    db.session.commit()
    users = {"buyer": parties.buyer, "seller": parties.seller, "operator": parties.operator, "stranger": stranger}
    headers = {role: factories.auth_header(user) for role, user in users.items()}
    db.session.commit()
    far = utcnow() + timedelta(days=1000)

    def fresh(action=None):
        # signing needs an unsigned contract; the joint filing exists only for a trademark assignment
        unsigned = action == "sign_contract"
        deal = drive(open_deal(kind="trademark" if action == "confirm_filing" else "patent", signed=not unsigned).id,
                     state, parties, sign=not unsigned)
        _past_deadlines(deal.id)
        return deal.id

    shared = fresh()
    problems = []
    tried = 0
    for _state, action, role in [c for c in CASES if c[0] == state]:
        want_status, want_state = expected(state, action, role)
        if action in SYSTEM_ONLY and role != "system":
            # no entry point lets a person try; the table itself must refuse them
            if role != "stranger":
                deal = db.session.get(Deal, shared)
                try:
                    machine.check(deal.state, action, deals.roles_of(deal, users[role]))
                    problems.append((action, role, "allowed by the table"))
                except DomainError as exc:
                    if exc.status != want_status:
                        problems.append((action, role, exc.status, want_status))
            continue
        row = machine.TABLE.get((state, action))
        changes = want_status == 200 and row.to != machine.IGNORED
        deal_id = fresh(action) if changes else shared
        before = snapshot(deal_id)
        status = _attempt(client, deal_id, action, role, users, headers, far)
        tried += 1
        after = snapshot(deal_id)
        if status != want_status:
            problems.append((action, role, status, want_status))
        elif not changes and after != before:
            problems.append((action, role, "changed something", before, after))
        elif changes and (after["state"] != want_state or after["events"] <= before["events"]):
            problems.append((action, role, "did not apply", after["state"], want_state))
    assert tried
    assert problems == []


def test_table_is_consistent():
    for (state, _action), row in machine.TABLE.items():
        assert row.roles <= set(ROLES)
        assert state in DEAL_STATES
    for state in ("completed", "cancelled", "refunded"):
        assert not machine.actions_for(state, set(ROLES)), state


def test_pdf_fixture_is_a_pdf():
    from marketplace.kernel.uploads import sniff

    assert sniff(PDF) == "pdf"
